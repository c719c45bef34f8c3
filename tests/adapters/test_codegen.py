"""Generated files with adapters: the classes appear only when used, and the file is ruff-clean."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from archspec.codegen.emit import emit_code
from archspec.nn.model import build_model
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec
from archspec.spec.shrink import shrink
from tests.codegen.helpers import exec_source, needs_ruff, ruff_problems
from tests.nn.helpers import randomize_

SECTIONS = {
    "dora-dropout": {
        "kind": "dora",
        "r": 4,
        "alpha": 16.0,
        "dropout": 0.1,
        "targets": ["q_proj", "v_proj"],
    },
    "rslora-overrides": {
        "r": 4,
        "rslora": True,
        "targets": ["all-linear", "lm_head"],
        "layers": [1],
        "overrides": {"down_proj": {"r": 2, "alpha": 3.0}},
    },
}


def _spec(section: dict) -> ModelSpec:
    data = shrink(load_spec("llama2-7b")).model_dump(mode="json")
    return ModelSpec.model_validate({**data, "adapters": section})


def test_plain_specs_have_no_adapter_classes() -> None:
    assert "LoRA" not in emit_code(load_spec("llama2-7b"))


@needs_ruff
@pytest.mark.parametrize("name", SECTIONS)
def test_generated_file_is_ruff_clean(name: str, tmp_path: Path) -> None:
    source = emit_code(_spec(SECTIONS[name]))
    assert ("class DoRALinear(nn.Linear)" in source) == (name == "dora-dropout")
    file = tmp_path / "model.py"
    file.write_text(source)
    assert ruff_problems(file) == ""


@pytest.mark.parametrize("name", SECTIONS)
def test_generated_trains_like_runtime(name: str) -> None:
    """One training-mode backward (dropout off by seeding both alike is not possible, so p=0
    here): the same gradients on every adapter tensor."""
    section = {**SECTIONS[name], "dropout": 0.0}
    spec = _spec(section)
    torch.manual_seed(0)
    runtime = randomize_(build_model(spec))
    generated = exec_source(emit_code(spec)).build_model()
    generated.load_state_dict(runtime.state_dict(), strict=True)
    x = torch.randint(0, spec.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    for model in (runtime, generated):
        model(x).logsumexp(-1).mean().backward()
    grads = {n: p.grad for n, p in generated.named_parameters() if p.requires_grad}
    assert grads and all(".lora_" in n for n in grads)
    for n, p in runtime.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(grads[n], p.grad, atol=1e-5, rtol=1e-5)
