"""The `bitnet` family: config import/export, both stored forms transformers reads (packed
BitLinear weights with `weight_scale`, and unpacked AutoBitLinear ones), and logit parity with
transformers' BitNet (fp32) through the runtime module and the generated code.

transformers applies BitNet's quantizer only in `from_pretrained` (which needs `accelerate`), so
the reference here is built as the quantizer builds it: `BitNetForCausalLM(config)` with its
linears swapped by `replace_with_bitnet_linear`, then the checkpoint's tensors assigned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from archspec.codegen.emit import emit_code
from archspec.hf.config import hf_config_to_spec
from archspec.hf.loader import load_pretrained, load_state_dict_into, save_pretrained
from archspec.hf.ternary import unpack
from archspec.nn.model import build_model
from archspec.plan.lower import lower
from tests.codegen.helpers import exec_source
from tests.nn.test_bitlinear import tiny_bitnet

transformers = pytest.importorskip("transformers")
bitnet = pytest.importorskip("transformers.integrations.bitnet")

pytestmark = pytest.mark.hf

TOLERANCE = 1e-4
"""Largest absolute logit difference accepted (fp32). Quantisation is a step function: a
last-bit difference upstream (archspec computes (x_q / s) @ (W_q * a)^T, transformers'
BitLinear (x_q @ W_q^T) / (s / a)) can move one activation across a rounding boundary, one int8
level, max|x| / 127. Measured on 40 random batches of this model: 38 within 1.5e-7, 2 near 3e-4
(one flipped level). The batches here are seeded, so the test is deterministic."""


def _reference(folder: Path, linear_class: str) -> torch.nn.Module:
    config = transformers.AutoConfig.from_pretrained(folder)
    config.quantization_config = None
    config._attn_implementation = "eager"
    model = transformers.BitNetForCausalLM(config).eval()
    quant = transformers.BitNetQuantConfig(
        linear_class=linear_class, quantization_mode="offline", modules_to_not_convert=["lm_head"]
    )
    bitnet.replace_with_bitnet_linear(model, ["lm_head"], quant)
    state = load_file(folder / "model.safetensors")
    if config.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    assert not unexpected and all("inv_freq" in k for k in missing), (missing, unexpected)
    return model


def _model(tie: bool = True) -> torch.nn.Module:
    spec = tiny_bitnet()
    spec = spec.model_copy(update={"head": spec.head.model_copy(update={"tie_embeddings": tie})})
    torch.manual_seed(0)
    model = build_model(lower(spec)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.2)  # norms matter
    model.spec = spec
    return model


def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), torch.compiler.set_stance("force_eager"):
        out = model(ids)
    return out.logits if hasattr(out, "logits") else out


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_packed_checkpoint_parity(tmp_path: Path, tie: bool) -> None:
    model = _model(tie)
    folder = save_pretrained(model, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    assert config["quantization_config"]["linear_class"] == "bitlinear"
    state = load_file(folder / "model.safetensors")
    assert state["model.layers.0.self_attn.q_proj.weight"].dtype == torch.uint8
    assert state["model.layers.0.mlp.gate_proj.weight"].shape == (48 // 4, 32)
    ids = torch.randint(0, 97, (2, 20), generator=torch.Generator().manual_seed(1))
    want = _logits(_reference(folder, "bitlinear"), ids)
    loaded = load_pretrained(folder)
    assert loaded.spec.linear is not None and loaded.spec.linear.kind == "bitlinear_b158"
    torch.testing.assert_close(_logits(loaded, ids), want, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(_logits(model, ids), want, atol=TOLERANCE, rtol=0)
    generated = exec_source(emit_code(loaded.spec)).Transformer().eval()
    load_state_dict_into(generated, folder)
    torch.testing.assert_close(_logits(generated, ids), want, atol=TOLERANCE, rtol=0)


def test_unpacked_autobitlinear_checkpoint_parity(tmp_path: Path) -> None:
    model = _model()
    folder = save_pretrained(model, tmp_path / "m")
    # Rewrite as AutoBitLinear keeps it: ternary values unpacked, weight_scale = absmean.
    state = load_file(folder / "model.safetensors")
    for name in [n for n in state if n.endswith(".weight_scale")]:
        weight = name.removesuffix("_scale")
        rows = 4 * state[weight].shape[0]
        state[weight] = unpack(state[weight], rows)
        state[name] = 1.0 / state[name]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"]["linear_class"] = "autobitlinear"
    (folder / "config.json").write_text(json.dumps(config))
    ids = torch.randint(0, 97, (2, 20), generator=torch.Generator().manual_seed(2))
    want = _logits(_reference(folder, "autobitlinear"), ids)
    torch.testing.assert_close(_logits(load_pretrained(folder), ids), want, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(_logits(model, ids), want, atol=TOLERANCE, rtol=0)


def test_published_config_imports_as_the_shipped_spec() -> None:
    from archspec.spec.dump import canonical_json
    from archspec.spec.load import load_spec

    config = {  # microsoft/bitnet-b1.58-2B-4T config.json (architecture keys)
        "architectures": ["BitNetForCausalLM"],
        "model_type": "bitnet",
        "vocab_size": 128256,
        "hidden_size": 2560,
        "intermediate_size": 6912,
        "num_hidden_layers": 30,
        "num_attention_heads": 20,
        "num_key_value_heads": 5,
        "hidden_act": "relu2",
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "torch_dtype": "bfloat16",
        "quantization_config": {
            "quant_method": "bitnet",
            "linear_class": "bitlinear",
            "quantization_mode": "offline",
        },
    }
    spec, _ = hf_config_to_spec(config, name="bitnet-b1.58-2b-4t")
    shipped = load_spec("bitnet-b1.58-2b-4t")
    strip = {"description": "", "source": {}}
    assert canonical_json(spec.model_copy(update=strip)) == canonical_json(
        shipped.model_copy(update=strip)
    )


def test_refuses_a_partial_bitlinear_export() -> None:
    from archspec.errors import ArchspecError
    from archspec.hf.config import spec_to_hf_config

    spec = tiny_bitnet(projections=["o_proj"])
    with pytest.raises(ArchspecError, match="every block projection a BitLinear"):
        spec_to_hf_config(spec, model_type="bitnet")
