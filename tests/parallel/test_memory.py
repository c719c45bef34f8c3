"""The memory planner against built modules in one process: exact parameter shapes, and the
activations autograd keeps within 10 % (the distributed cases are in test_training.py)."""

from __future__ import annotations

import pytest

from archspec.parallel.memory import activation_bytes, param_shapes
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from archspec.spec.shipped import shipped_names
from archspec.spec.shrink import shrink

torch = pytest.importorskip("torch")

from archspec.nn.model import build_model  # noqa: E402
from tests.parallel.worker import saved_bytes  # noqa: E402


@pytest.mark.parametrize("name", shipped_names())
def test_planner_shapes_and_activations_match_the_module(name: str) -> None:
    spec = shrink(load_spec(name), d_model=64, n_layers=2, vocab_size=128)
    plan = lower(spec)
    torch.manual_seed(0)
    model = build_model(spec)
    assert dict(param_shapes(plan)) == {n: tuple(p.shape) for n, p in model.named_parameters()}
    b, s = 2, 32
    tokens = torch.randint(0, 128, (b, s + 1), generator=torch.Generator().manual_seed(0))
    measured = saved_bytes(model, tokens[:, :-1], tokens[:, 1:])
    assert activation_bytes(plan, 1, 1, b, s, 4) == pytest.approx(measured, rel=0.10)


@pytest.mark.parametrize("name", ["llama3-8b", "gemma2-9b", "mixtral-8x7b"])
def test_activations_in_bf16(name: str) -> None:
    spec = shrink(load_spec(name), d_model=64, n_layers=2, vocab_size=128)
    model = build_model(spec, dtype=torch.bfloat16)
    tokens = torch.randint(0, 128, (2, 33), generator=torch.Generator().manual_seed(0))
    measured = saved_bytes(model, tokens[:, :-1], tokens[:, 1:])
    assert activation_bytes(lower(spec), 1, 1, 2, 32, 2) == pytest.approx(measured, rel=0.10)
