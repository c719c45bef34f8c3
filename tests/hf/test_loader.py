"""Loading and exporting checkpoints without the transformers reference: name tables, transforms,
strict checking, tied heads, prefix-less and legacy checkpoints, and the import/export commands.

Checkpoints here are written by archspec's own exporter (`to_hf_state_dict` + `spec_to_hf_config`),
so these tests need torch and safetensors but not transformers; `test_parity.py` holds the same
tables against the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from archspec.cli.main import main
from archspec.errors import CheckpointError, UsageError
from archspec.hf.config import spec_to_hf_config
from archspec.hf.loader import (
    from_hf,
    load_checkpoint,
    load_pretrained,
    load_state_dict_into,
    to_hf,
    to_hf_state_dict,
)
from archspec.hf.weights import (
    NAME_TABLES,
    CheckpointMismatch,
    Rule,
    archspec_shapes,
    name_table,
    rules,
)
from archspec.nn.model import build_model
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge
from archspec.spec.shipped import shipped_names
from tests.nn.helpers import logits as forward
from tests.strategies import specs

_BASE: dict[str, Any] = {
    "name": "tiny",
    "vocab_size": 64,
    "d_model": 32,
    "n_layers": 2,
    "max_seq_len": 32,
    "dtype": "float32",
    "attention": {"n_heads": 4, "n_kv_heads": 2},
    "ffn": {"activation": "swiglu", "hidden_dim": 48},
}
FAMILY_SPECS: dict[str, dict[str, Any]] = {
    "llama": {},
    "gpt2": {
        "bias": True,
        "norm": {"kind": "layernorm", "eps": 1e-5},
        "position": {"kind": "learned"},
        "attention": {"n_kv_heads": None},
        "ffn": {"activation": "gelu_tanh", "hidden_dim": 128},
        "head": {"tie_embeddings": True},
    },
    "falcon": {
        "bias": True,
        "norm": {"kind": "layernorm", "eps": 1e-5},
        "ffn": {"activation": "gelu", "hidden_dim": 128},
        "block": {"parallel_residual": True, "shared_norm": False},
        "head": {"tie_embeddings": True},
    },
    "mixtral": {
        "norm": {"kind": "rmsnorm", "eps": 1e-5},
        "position": {"kind": "rope", "theta": 1e6},
        "ffn": {"moe": {"n_experts": 3, "experts_per_token": 2}},
    },
}
"""Tiny specs that export exactly to each family (llama: `_BASE` as is)."""


def family_spec(model_type: str, **changes: Any) -> ModelSpec:
    return ModelSpec.model_validate(
        deep_merge(deep_merge(_BASE, FAMILY_SPECS[model_type]), changes)
    )


def perturbed_model(spec: ModelSpec, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model


def write_hf(
    folder: Path, model: torch.nn.Module, spec: ModelSpec, **export: Any
) -> dict[str, torch.Tensor]:
    """An HF folder (config.json + model.safetensors) holding ``model``."""
    folder.mkdir(parents=True, exist_ok=True)
    state = to_hf_state_dict(model, spec, **export)
    save_file(state, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(spec_to_hf_config(spec), indent=2))
    return state


def logits(model: torch.nn.Module, seed: int = 3) -> torch.Tensor:
    ids = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(ids)


# --- shapes and tables, torch-free side --------------------------------------------------------


@settings(max_examples=25)
@given(spec=specs())
def test_archspec_shapes_are_the_built_modules_state_dict(spec: ModelSpec) -> None:
    model = build_model(spec, device="meta")
    built = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert archspec_shapes(lower(spec), include_tied=True) == built


def test_every_supported_family_has_a_name_table() -> None:
    from archspec.hf.config import SUPPORTED_MODEL_TYPES

    for model_type in SUPPORTED_MODEL_TYPES:
        assert model_type in name_table(model_type).model_types
    assert len({t for table in NAME_TABLES for t in table.model_types}) == sum(
        len(table.model_types) for table in NAME_TABLES
    )


def test_unknown_family_is_named_with_the_known_ones() -> None:
    with pytest.raises(CheckpointError, match="no weight-name table for model_type 'bert'.*llama"):
        name_table("bert")


def test_a_tensor_the_family_cannot_hold_is_an_error() -> None:
    spec = family_spec("gpt2", attention={"o_bias": False})  # fine: c_proj bias simply absent
    rules(lower(spec), name_table("gpt2"))
    qkv_mixed = family_spec("gpt2", attention={"k_bias": False})
    with pytest.raises(CheckpointError, match=r"no place for 4 tensor\(s\).*attn\.q_proj\.bias"):
        rules(lower(qkv_mixed), name_table("gpt2"))
    sandwich = family_spec("llama", block={"placement": "sandwich"})
    with pytest.raises(CheckpointError, match="attn_post_norm"):
        rules(lower(sandwich), name_table("llama"))


# --- the transforms ----------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    groups=st.integers(1, 4),
    per_group=st.integers(1, 3),
    head_dim=st.integers(1, 4),
    width=st.integers(1, 5),
    bias=st.booleans(),
)
def test_grouped_qkv_splits_back_what_it_joins(
    groups: int, per_group: int, head_dim: int, width: int, bias: bool
) -> None:
    rest = () if bias else (width,)
    q = torch.randn(groups * per_group * head_dim, *rest)
    k, v = torch.randn(groups * head_dim, *rest), torch.randn(groups * head_dim, *rest)
    rule = Rule(("qkv",), ("q", "k", "v"), "grouped_qkv", groups=groups)
    (fused,) = to_hf(rule, [q, k, v])
    # Group g holds its query heads, then its key head, then its value head (Falcon's layout).
    block = (per_group + 2) * head_dim
    first = fused[:block]
    assert torch.equal(first[: per_group * head_dim], q[: per_group * head_dim])
    assert torch.equal(first[per_group * head_dim : (per_group + 1) * head_dim], k[:head_dim])
    shapes = {"q": tuple(q.shape), "k": tuple(k.shape), "v": tuple(v.shape)}
    back = from_hf(rule, [fused], shapes)
    assert all(torch.equal(a, b) for a, b in zip(back, (q, k, v), strict=True))


def test_concat_stack_and_transpose_invert() -> None:
    a, b = torch.randn(3, 5), torch.randn(2, 5)
    rule = Rule(("ab",), ("a", "b"), "concat", transpose=True)
    (joined,) = to_hf(rule, [a, b])
    assert joined.shape == (5, 5) and torch.equal(joined, torch.cat([a, b]).T)
    assert all(
        torch.equal(x, y)
        for x, y in zip(from_hf(rule, [joined], {"a": (3, 5), "b": (2, 5)}), (a, b), strict=True)
    )
    experts = torch.randn(4, 3, 2)
    stack = Rule(tuple(f"e{i}" for i in range(4)), ("x",), "stack")
    parts = to_hf(stack, [experts])
    assert len(parts) == 4 and torch.equal(from_hf(stack, parts, {"x": (4, 3, 2)})[0], experts)


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", list(FAMILY_SPECS))
def test_export_then_load_gives_the_same_model(model_type: str, tmp_path: Path) -> None:
    spec = family_spec(model_type)
    model = perturbed_model(spec)
    write_hf(tmp_path, model, spec)
    loaded = load_pretrained(tmp_path)
    assert loaded.spec.d_model == spec.d_model
    assert torch.equal(logits(loaded), logits(model))
    if spec.head.tie_embeddings:
        assert loaded.lm_head.weight is loaded.embed.weight


def test_mixtral_experts_load_from_both_layouts(tmp_path: Path) -> None:
    spec = family_spec("mixtral")
    model = perturbed_model(spec)
    per_expert = write_hf(tmp_path / "per_expert", model, spec)
    fused = write_hf(tmp_path / "fused", model, spec, moe_layout="fused")
    assert "model.layers.0.block_sparse_moe.experts.2.w3.weight" in per_expert
    assert fused["model.layers.1.mlp.experts.gate_up_proj"].shape == (3, 96, 32)
    for folder in ("per_expert", "fused"):
        assert torch.equal(logits(load_pretrained(tmp_path / folder)), logits(model))


def test_load_state_dict_into_fills_a_built_module(tmp_path: Path) -> None:
    spec = family_spec("falcon")
    model = perturbed_model(spec)
    write_hf(tmp_path, model, spec)
    target = build_model(spec)
    assert load_state_dict_into(target, tmp_path) is target
    assert torch.equal(logits(target), logits(model))
    wrong = build_model(family_spec("falcon", ffn={"hidden_dim": 64}))
    with pytest.raises(CheckpointMismatch, match="ffn.up_proj.weight: model needs \\[64, 32\\]"):
        load_state_dict_into(wrong, tmp_path)


def test_dtype_and_device_arguments(tmp_path: Path) -> None:
    spec = family_spec("llama")
    write_hf(tmp_path, perturbed_model(spec), spec)
    model = load_pretrained(tmp_path, dtype=torch.bfloat16, device="cpu")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert all(not t.is_meta for t in model.state_dict().values())
    assert model(torch.zeros(1, 3, dtype=torch.long)).shape == (1, 3, 64)


def test_every_missing_unexpected_and_mis_shaped_tensor_is_listed(tmp_path: Path) -> None:
    spec = family_spec("llama")
    state = write_hf(tmp_path, perturbed_model(spec), spec)
    del state["model.layers.1.mlp.up_proj.weight"]
    state["model.layers.0.mlp.extra.weight"] = torch.zeros(2)
    state["model.layers.0.self_attn.k_proj.weight"] = torch.zeros(8, 32)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointMismatch) as info:
        load_pretrained(tmp_path)
    err = info.value
    assert err.missing == ("model.layers.1.mlp.up_proj.weight",)
    assert err.unexpected == ("model.layers.0.mlp.extra.weight",)
    assert err.mis_shaped == (("model.layers.0.self_attn.k_proj.weight", (16, 32), (8, 32)),)
    text = str(err)
    assert "missing (1)" in text and "unexpected (1)" in text and "model needs [16, 32]" in text


def test_tied_checkpoint_that_also_stores_the_head_loads(tmp_path: Path) -> None:
    spec = family_spec("gpt2")
    model = perturbed_model(spec)
    state = write_hf(tmp_path, model, spec)
    assert "lm_head.weight" not in state
    state["lm_head.weight"] = state["transformer.wte.weight"].clone()
    save_file(state, tmp_path / "model.safetensors")
    loaded = load_pretrained(tmp_path)
    assert loaded.lm_head.weight is loaded.embed.weight
    assert torch.equal(logits(loaded), logits(model))


def test_untied_spec_needs_the_head(tmp_path: Path) -> None:
    spec = family_spec("gpt2")
    write_hf(tmp_path, perturbed_model(spec), spec)
    untied = family_spec("gpt2", head={"tie_embeddings": False})
    with pytest.raises(CheckpointMismatch, match=r"missing \(1\): lm_head.weight"):
        load_checkpoint(tmp_path, untied)


def test_base_prefix_less_and_legacy_buffers_load(tmp_path: Path) -> None:
    """The original `gpt2` upload: `h.0.attn.c_attn.weight`, `wte.weight` and the old mask buffers."""
    spec = family_spec("gpt2")
    model = perturbed_model(spec)
    state = write_hf(tmp_path, model, spec)
    legacy = {k.removeprefix("transformer."): v for k, v in state.items()}
    legacy["h.0.attn.bias"] = torch.ones(1, 1, 32, 32)
    legacy["h.1.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(legacy, tmp_path / "model.safetensors")
    assert torch.equal(logits(load_pretrained(tmp_path)), logits(model))


def test_single_file_and_index_paths_load_with_a_spec(tmp_path: Path) -> None:
    spec = family_spec("llama")
    model = perturbed_model(spec)
    state = write_hf(tmp_path, model, spec)
    single = tmp_path / "model.safetensors"
    assert torch.equal(logits(load_checkpoint(single, spec)), logits(model))
    names = sorted(state)
    half = len(names) // 2
    shards = {"a.safetensors": names[:half], "b.safetensors": names[half:]}
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, sharded / file)
    index = {"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    assert torch.equal(logits(load_checkpoint(sharded, spec, model_type="llama")), logits(model))


def test_bad_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_pretrained(tmp_path / "nowhere")
    spec = family_spec("llama")
    (tmp_path / "config.json").write_text(json.dumps(spec_to_hf_config(spec)))
    with pytest.raises(UsageError, match="no model.safetensors"):
        load_pretrained(tmp_path)


def test_to_hf_state_dict_takes_a_state_dict_and_checks_it() -> None:
    spec = family_spec("llama")
    state = build_model(spec).state_dict()
    out = to_hf_state_dict(state, spec)
    assert set(out) == {
        name for rule in rules(lower(spec), name_table("llama")) for name in rule.hf
    }
    del state["final_norm.weight"]
    with pytest.raises(CheckpointError, match="lacks final_norm.weight"):
        to_hf_state_dict(state, spec)


# --- import-hf / export-hf ---------------------------------------------------------------------


def test_import_hf_writes_the_spec_and_reports_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = family_spec("falcon")
    (tmp_path / "config.json").write_text(json.dumps(spec_to_hf_config(spec)))
    out = tmp_path / "spec.yaml"
    assert main(["import-hf", str(tmp_path), "-o", str(out), "--name", "tiny-falcon"]) == 0
    loaded = load_spec(str(out))
    assert loaded.name == "tiny-falcon"
    assert loaded.attention == spec.attention and loaded.block == spec.block
    err = capsys.readouterr().err
    assert "imported falcon config" in err and "mapped:" in err
    assert main(["import-hf", str(tmp_path / "config.json")]) == 0
    assert capsys.readouterr().out.startswith(f"name: {tmp_path.name}\n")


def test_export_hf_writes_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-hf", "gpt2"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["model_type"] == "gpt2" and config["n_embd"] == 768
    assert main(["export-hf", "gpt2", "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text()) == config


def test_import_hf_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["import-hf", str(tmp_path / "nowhere")]) == 2


def test_exported_safetensors_are_plain_tensors(tmp_path: Path) -> None:
    spec = family_spec("falcon")
    write_hf(tmp_path, perturbed_model(spec), spec)
    tensors = load_file(tmp_path / "model.safetensors")
    qkv = tensors["transformer.h.0.self_attention.query_key_value.weight"]
    assert qkv.shape == ((4 + 2 * 2) * 8, 32)  # 4 query heads, 2 key/value groups of 8


@pytest.mark.parametrize("name", shipped_names())
def test_generated_module_loads_the_same_checkpoint(name: str, tmp_path: Path) -> None:
    """One checkpoint fills the runtime module and a generated file's build_model() alike."""
    import types

    import archspec
    from archspec.hf.loader import load_state_dict_into, save_pretrained
    from archspec.spec.shrink import shrink

    spec = shrink(archspec.load_spec(name))
    torch.manual_seed(0)
    runtime = archspec.build_model(spec).eval()
    save_pretrained(runtime, tmp_path / "model", spec)
    module = types.ModuleType(f"generated_{spec.name}")
    exec(compile(archspec.emit_code(spec), "<generated>", "exec"), module.__dict__)
    generated = load_state_dict_into(module.build_model(), tmp_path / "model").eval()
    ids = torch.randint(0, spec.vocab_size, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(
            forward(generated, ids), forward(runtime, ids), atol=1e-5, rtol=1e-5
        )
