"""Adapters against peft on tiny random transformers checkpoints: logits, gradients of every
adapter tensor after one backward, merged logits, and adapter folders both ways.

Each case saves a tiny transformers model, wraps it with peft (random non-zero A, B and DoRA
magnitudes), saves the adapter with peft, loads both into archspec with
`load_pretrained(base, adapter=...)`, and compares fp32 results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from archspec.analysis.params import count_params
from archspec.errors import SpecError
from archspec.hf.adapters import adapter_names, save_adapter
from archspec.hf.loader import load_pretrained
from archspec.hf.weights import name_table

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

pytestmark = pytest.mark.hf

VOCAB = 96
_LLAMA_LIKE: dict[str, Any] = {
    "vocab_size": VOCAB,
    "num_hidden_layers": 2,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "attn_implementation": "sdpa",
}
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "llama": ("LlamaConfig", _LLAMA_LIKE),
    # Gemma: (1 + w) norms, scaled embeddings, GeGLU-tanh, MQA with head size 16, tied head.
    "gemma": ("GemmaConfig", {**_LLAMA_LIKE, "head_dim": 16, "num_key_value_heads": 1}),
    "qwen2": ("Qwen2Config", _LLAMA_LIKE),
    "mixtral": (
        "MixtralConfig",
        {**_LLAMA_LIKE, "num_local_experts": 4, "num_experts_per_tok": 2},
    ),
}
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ADAPTERS: dict[str, dict[str, Any]] = {
    "lora": {"target_modules": ["q_proj", "v_proj", "down_proj"]},
    "rslora": {
        "target_modules": ["q_proj", "v_proj", "up_proj"],
        "use_rslora": True,
        "layers_to_transform": [1],
        "rank_pattern": {"v_proj": 2},
        "alpha_pattern": {"q_proj": 3.0},
    },
    "dora": {"target_modules": ["q_proj", "k_proj", "o_proj", "gate_proj"], "use_dora": True},
    "all-linear": {"target_modules": "all-linear"},
    "dora-all-linear": {"target_modules": "all-linear", "use_dora": True},
}
MOE_ADAPTERS = {"lora": ATTENTION[:2], "dora": ATTENTION, "rslora": ["v_proj", "o_proj"]}
"""Mixtral's experts are refused (README, Adapters): attention targets only."""

LOGITS, GRADS, MERGED = 1e-5, 1e-5, 1e-4


def _cases() -> list[Any]:
    out = []
    for family in FAMILIES:
        for name in ADAPTERS:
            if family == "mixtral" and name not in MOE_ADAPTERS:
                continue
            out.append(pytest.param(family, name, id=f"{family}-{name}"))
    return out


def _peft_config(family: str, name: str) -> Any:
    kwargs = dict(ADAPTERS[name])
    if family == "mixtral":
        kwargs["target_modules"] = MOE_ADAPTERS[name]
    return peft.LoraConfig(r=4, lora_alpha=8, init_lora_weights=False, **kwargs)


def _base(family: str, folder: Path) -> Any:
    cls, kwargs = FAMILIES[family]
    torch.manual_seed(0)
    model = getattr(transformers, cls)(**kwargs)
    hf = transformers.AutoModelForCausalLM.from_config(model)
    with torch.no_grad():
        for param in hf.parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.1)
    hf.save_pretrained(folder)
    return hf


def _randomise_adapters(model: Any) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.add_(torch.randn_like(param) * 0.1)


def _peft_key(key: str) -> str:
    """An adapter-file key as the live PeftModel names the parameter (adapter `default`)."""
    if key.endswith("lora_magnitude_vector"):
        return key + ".default.weight"
    return key.removesuffix(".weight") + ".default.weight"


@pytest.mark.parametrize(("family", "name"), _cases())
def test_matches_peft(family: str, name: str, tmp_path: Path) -> None:
    hf = _base(family, tmp_path / "base")
    pm = peft.get_peft_model(hf, _peft_config(family, name))
    _randomise_adapters(pm)
    pm.save_pretrained(tmp_path / "adapter")
    ours = load_pretrained(tmp_path / "base", adapter=tmp_path / "adapter")
    pm.eval()
    ours.eval()
    # Counts: archspec's trainable tensors are peft's.
    trainable, total = pm.get_nb_trainable_parameters()
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == trainable
    assert sum(p.numel() for p in ours.parameters()) == total

    tokens = torch.randint(0, VOCAB, (2, 11), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, VOCAB, (2, 11), generator=torch.Generator().manual_seed(2))
    theirs_logits = pm(input_ids=tokens).logits
    our_logits = ours(tokens)
    assert (our_logits - theirs_logits).abs().max().item() < LOGITS
    with torch.no_grad(), pm.disable_adapter():
        base_logits = pm(input_ids=tokens).logits
    assert (our_logits - base_logits).abs().max().item() > 1e-3  # the adapters do matter

    # Gradients of every adapter tensor after one backward of the same loss.
    for logits in (theirs_logits, our_logits):
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
    table = name_table(hf.config.model_type)
    theirs = dict(pm.named_parameters())
    names = adapter_names(ours.spec, table)
    assert names
    for key, param in ours.named_parameters():
        if param.requires_grad:
            other = theirs[_peft_key(names[key])]
            assert (param.grad - other.grad).abs().max().item() < GRADS, key

    # archspec's adapter folder loads in peft with the same logits.
    save_adapter(ours, tmp_path / "ours", model_type=hf.config.model_type)
    fresh = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    reloaded = peft.PeftModel.from_pretrained(fresh, tmp_path / "ours").eval()
    with torch.no_grad():
        assert (reloaded(input_ids=tokens).logits - our_logits).abs().max().item() < LOGITS

    # Merged: a plain model again with the base model's parameters and peft's merged logits.
    with torch.no_grad():
        merged_theirs = pm.merge_and_unload()(input_ids=tokens).logits
        ours.merge_adapters()
        merged_ours = ours(tokens)
    assert (merged_ours - merged_theirs).abs().max().item() < MERGED
    assert (merged_ours - our_logits).abs().max().item() < MERGED
    assert sum(p.numel() for p in ours.parameters()) == total - trainable
    assert all(p.requires_grad for p in ours.parameters())


def test_all_linear_on_experts_is_refused(tmp_path: Path) -> None:
    hf = _base("mixtral", tmp_path / "base")
    cfg = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"])
    peft.get_peft_model(hf, cfg).save_pretrained(tmp_path / "adapter")
    config = tmp_path / "adapter" / "adapter_config.json"
    config.write_text(config.read_text().replace('"q_proj"', '"all-linear"'))
    import json

    data = json.loads(config.read_text())
    data["target_modules"] = "all-linear"
    config.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="all-linear on a mixture of experts"):
        load_pretrained(tmp_path / "base", adapter=tmp_path / "adapter")


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
def test_dropout_in_training_matches_peft(dora: bool, tmp_path: Path) -> None:
    """In training mode, with the same seed, dropout draws the same masks in the same order
    (DoRA recomputes the base path on the dropped input, as peft does)."""
    hf = _base("llama", tmp_path / "base")
    config = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.3,
        target_modules=["q_proj", "v_proj", "down_proj"],
        use_dora=dora,
        init_lora_weights=False,
    )
    pm = peft.get_peft_model(hf, config)
    _randomise_adapters(pm)
    pm.save_pretrained(tmp_path / "adapter")
    ours = load_pretrained(tmp_path / "base", adapter=tmp_path / "adapter")
    pm.train()
    ours.train()
    tokens = torch.randint(0, VOCAB, (2, 11), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    theirs_logits = pm(input_ids=tokens).logits
    torch.manual_seed(5)
    our_logits = ours(tokens)
    assert (our_logits - theirs_logits).abs().max().item() < LOGITS
    theirs_logits.logsumexp(-1).mean().backward()
    our_logits.logsumexp(-1).mean().backward()
    theirs = dict(pm.named_parameters())
    names = adapter_names(ours.spec, name_table("llama"))
    for key, param in ours.named_parameters():
        if param.requires_grad:
            other = theirs[_peft_key(names[key])]
            assert (param.grad - other.grad).abs().max().item() < GRADS, key


def test_fine_tune_spec_loads_base_weights_with_fresh_adapters(tmp_path: Path) -> None:
    from archspec.hf.adapters import with_adapters
    from archspec.hf.loader import load_checkpoint
    from archspec.spec.model import AdapterSpec

    _base("qwen2", tmp_path / "base")
    plain = load_pretrained(tmp_path / "base").eval()
    section = AdapterSpec(kind="dora", r=2, targets=["all-linear"])
    spec = with_adapters(plain.spec, section)
    tuned = load_checkpoint(tmp_path / "base", spec).eval()
    tokens = torch.randint(0, VOCAB, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (tuned(tokens) - plain(tokens)).abs().max().item() < 1e-5
    trainable = sum(p.numel() for p in tuned.parameters() if p.requires_grad)
    assert trainable == count_params(spec).trainable > 0
