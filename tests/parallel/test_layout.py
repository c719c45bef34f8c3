"""The parallel layout, the divisibility checks and the `plan` / `validate --tp` commands:
torch-free, except where a built module is the reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.cli.main import main
from archspec.parallel.layout import STYLES, parallel_layout, tp_problems
from archspec.parallel.memory import param_shapes, plan_memory
from archspec.plan.lower import lower
from archspec.spec.load import load_spec, spec_from_text
from archspec.spec.parallel_checks import tp_issues
from archspec.spec.shipped import shipped_names

SHIPPED = [name for name in shipped_names() if load_spec(name).encoder is None]
"""Tensor parallelism refuses encoder-decoder specs (see the test below)."""


def test_tensor_parallelism_refuses_encoder_decoder_clearly() -> None:
    from archspec.errors import UsageError

    plan = lower(load_spec("flan-t5-small"))
    with pytest.raises(UsageError, match="tensor parallelism does not support encoder-decoder"):
        parallel_layout(plan)
    assert tp_problems(plan, 2)


def test_layout_and_planner_import_no_torch() -> None:
    code = (
        "import sys, archspec.parallel.layout, archspec.parallel.memory, archspec.cli.plan\n"
        "import archspec.spec.parallel_checks\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", SHIPPED)
def test_layout_names_real_modules_with_known_styles(name: str) -> None:
    plan = lower(load_spec(name))
    layout = parallel_layout(plan)
    shapes = dict(param_shapes(plan))
    modules = {p.rpartition(".")[0] for p in shapes} | {"lm_head"}  # tied: no own weight
    for path, style in layout.styles:
        assert style in STYLES
        kids = [m for m in modules if m == path or m.startswith(path + ".")]
        assert kids or style == "norm", f"{path} owns no parameters"  # OLMo: parameter-free LN
    assert len(layout.layer_blocks) == plan.n_layers
    # Every matrix is split or knowingly replicated (MoE), never forgotten.
    split = {
        p for p, s in layout.styles if s in ("colwise", "rowwise", "vocab_embed", "vocab_head")
    }
    replicated = {p for p, s in layout.styles if s == "replicated"}
    for param, shape in shapes.items():
        module = param.rpartition(".")[0]
        if len(shape) == 2 and module != "pos_embed":
            assert module in split or module.rpartition(".")[0] in replicated, param


def test_validate_tp_reports_every_size_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "gemma2-9b", "--tp", "3"])
    err = capsys.readouterr().err
    assert code == 1
    assert "gemma2-9b.yaml:20:3: attention.n_heads: n_heads (16) does not divide by tp (3)" in err
    assert "ffn.hidden_dim (14336) does not divide by tp (3)" in err
    assert "vocab_size: the vocabulary rows (256000)" in err and "padded_vocab_size: 256128" in err
    assert main(["validate", "gemma2-9b", "--tp", "8"]) == 0


def test_kv_heads_that_do_not_divide_suggest_replicating_them(tmp_path: Path) -> None:
    spec = tmp_path / "gqa.yaml"
    spec.write_text(
        "extends: llama3-8b\nname: gqa\nattention:\n  n_kv_heads: 2\n", encoding="utf-8"
    )
    (issue,) = tp_issues(spec, 8)
    assert (issue.file, issue.line, issue.path) == (str(spec), 4, ("attention", "n_kv_heads"))
    assert "n_kv_heads: 8" in issue.message and "1, 2" in issue.message


def test_a_layer_override_is_blamed_at_its_own_line(tmp_path: Path) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text(
        "extends: llama3-8b\nname: odd\nlayer_overrides:\n  - layers: [3]\n"
        "    ffn:\n      hidden_dim: 1001\n",
        encoding="utf-8",
    )
    (issue,) = tp_issues(spec, 2)
    assert issue.path == ("layer_overrides", 0, "ffn", "hidden_dim") and issue.line == 6


def test_unsplittable_parts_are_named() -> None:
    assert [p for p, _ in tp_problems(lower(load_spec("olmo2-7b")), 2)] == [
        ("attention", "qk_norm", "scope")
    ]
    gpt2 = [p for p, _ in tp_problems(lower(load_spec("gpt2")), 2)]
    assert gpt2 == [("padded_vocab_size",), ("position", "kind")]
    mixtral = lower(load_spec("mixtral-8x7b"))
    assert tp_problems(mixtral, 8) == []  # 8 experts, replicated: their count is free
    assert tp_problems(mixtral, 16)  # 8 kv heads


def test_planner_terms_follow_the_parallel_degrees() -> None:
    plan = lower(load_spec("llama3-8b"))
    one = plan_memory(plan, dtype="bf16", seq=4096)
    assert one.weights == plan.n_params * 2 and one.grads == one.weights
    assert one.optimizer_state == 2 * one.weights + 4 * len(param_shapes(plan))
    fsdp = plan_memory(plan, dp=8, dtype="bf16", seq=4096)
    assert one.weights / 8 <= fsdp.weights < one.weights / 8 + 2 * 10**6  # padding to dp rows
    assert fsdp.activations > one.activations  # plus the root's gathered head
    tp = plan_memory(plan, tp=8, dtype="bf16", seq=4096)
    assert tp.activations < one.activations / 3
    ckpt = plan_memory(plan, tp=8, dtype="bf16", seq=4096, checkpointing=True)
    assert ckpt.activations < tp.activations / 3
    assert tp.kv_cache == one.kv_cache // 8 == 32 * 2 * 1 * 128 * 4096 * 2


def test_plan_command_prints_terms_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "llama3-8b", "--devices", "8", "--tp", "8", "--dp", "1", "--seq", "4096"]
    assert main([*argv, "--device-memory", "80GiB"]) == 0
    out = capsys.readouterr().out
    assert "activations" in out and "fits in 80.00 GiB" in out
    assert main([*argv, "--device-memory", "4GiB"]) == 0
    assert "does not fit" in capsys.readouterr().out
    assert main([*argv, "--json", "--checkpointing"]) == 0
    data = json.loads(capsys.readouterr().out)
    backward = data["activations"] + data["backward_buffers"]
    step = data["grads"] + data["optimizer_temp"]
    assert data["total"] == data["weights"] + data["optimizer_state"] + max(backward, step)
    assert data["backward_buffers"] == 2 * 4096 * 128256 * 4  # cross-entropy's two float32 grads
    assert main(["plan", "llama3-8b", "--devices", "6", "--tp", "4"]) == 2
    assert main(["plan", "llama3-8b", "--tp", "3"]) == 1


def test_spec_from_text_still_validates_without_parallel_fields() -> None:
    spec = spec_from_text(load_spec("gemma-2b").model_dump_json())
    assert tp_problems(lower(spec), 1) == []
