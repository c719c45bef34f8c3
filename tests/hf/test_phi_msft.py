"""The remote-code `phi-msft` layout (first microsoft/phi-2 upload): the same model as
transformers' `phi`, its q/k/v fused in `mixer.Wqkv` and its final norm in `lm_head.ln`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.hf.config import hf_config_to_spec, spec_meaning

# microsoft/phi-2 config.json before its conversion to transformers' phi (revision of 2023-12)
PHI2_MSFT = {
    "_name_or_path": "microsoft/phi-2",
    "activation_function": "gelu_new",
    "architectures": ["PhiForCausalLM"],
    "attn_pdrop": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_phi.PhiConfig",
        "AutoModelForCausalLM": "modeling_phi.PhiForCausalLM",
    },
    "embd_pdrop": 0.0,
    "flash_attn": False,
    "flash_rotary": False,
    "fused_dense": False,
    "img_processor": None,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "phi-msft",
    "n_embd": 2560,
    "n_head": 32,
    "n_head_kv": None,
    "n_inner": None,
    "n_layer": 32,
    "n_positions": 2048,
    "resid_pdrop": 0.1,
    "rotary_dim": 32,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.35.2",
    "vocab_size": 51200,
}
PHI2 = {  # the same model in transformers' phi config
    "model_type": "phi",
    "vocab_size": 51200,
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "max_position_embeddings": 2048,
    "partial_rotary_factor": 0.4,
    "hidden_act": "gelu_new",
    "layer_norm_eps": 1e-05,
    "torch_dtype": "float16",
}


def test_phi2_msft_config_is_transformers_phi2() -> None:
    spec, report = hf_config_to_spec(PHI2_MSFT, name="phi-2")
    assert report.accounted == set(PHI2_MSFT)
    assert spec_meaning(spec) == spec_meaning(hf_config_to_spec(PHI2, name="phi-2")[0])
    assert archspec.count_params(spec).total == 2779683840  # phi-2: 2.78B


def test_phixtral_experts_are_refused() -> None:
    from archspec.hf.config import HFConfigError

    with pytest.raises(HFConfigError, match="num_local_experts"):
        hf_config_to_spec({**PHI2_MSFT, "num_local_experts": 4}, name="phixtral")


@pytest.mark.hf
def test_wqkv_checkpoint_reproduces_transformers_phi(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from safetensors.torch import save_file

    from archspec.hf.loader import load_pretrained
    from tests.hf.test_parity import hf_model, logit_error

    kwargs: dict[str, Any] = {
        "vocab_size": 128,
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "partial_rotary_factor": 0.5,
        "max_position_embeddings": 64,
        "attn_implementation": "eager",
        "initializer_range": 0.1,
    }
    reference = hf_model("PhiConfig", kwargs).eval()
    state = reference.state_dict()
    msft: dict[str, Any] = {
        "transformer.embd.wte.weight": state["model.embed_tokens.weight"],
        "lm_head.ln.weight": state["model.final_layernorm.weight"],
        "lm_head.ln.bias": state["model.final_layernorm.bias"],
        "lm_head.linear.weight": state["lm_head.weight"],
        "lm_head.linear.bias": state["lm_head.bias"],
    }
    for i in range(2):
        src, dst = f"model.layers.{i}.", f"transformer.h.{i}."
        for param in ("weight", "bias"):
            msft[f"{dst}mixer.Wqkv.{param}"] = torch.cat(
                [state[f"{src}self_attn.{p}_proj.{param}"] for p in "qkv"]
            )
            msft[f"{dst}ln.{param}"] = state[f"{src}input_layernorm.{param}"]
            msft[f"{dst}mixer.out_proj.{param}"] = state[f"{src}self_attn.dense.{param}"]
            msft[f"{dst}mlp.fc1.{param}"] = state[f"{src}mlp.fc1.{param}"]
            msft[f"{dst}mlp.fc2.{param}"] = state[f"{src}mlp.fc2.{param}"]
    save_file({k: v.contiguous() for k, v in msft.items()}, tmp_path / "model.safetensors")
    config = {
        **PHI2_MSFT,
        "n_embd": 32,
        "n_head": 4,
        "n_layer": 2,
        "n_inner": 48,
        "n_positions": 64,
        "rotary_dim": 4,
        "vocab_size": 128,
        "torch_dtype": "float32",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert logit_error(reference, load_pretrained(tmp_path).eval()) <= 1e-4
