"""Every shipped architecture compiles with torch.compile(fullgraph=True): no graph breaks."""

from __future__ import annotations

import pytest
import torch

import archspec
from archspec.spec.shipped import shipped_names
from archspec.spec.shrink import shrink
from tests.nn.helpers import logits


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped_names())
def test_fullgraph_compile(name: str) -> None:
    spec = shrink(archspec.load_spec(name))
    torch.manual_seed(0)
    model = archspec.build_model(spec).eval()
    ids = torch.randint(0, spec.vocab_size, (2, 16))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(logits(compiled, ids), logits(model, ids), atol=1e-5, rtol=1e-5)
