"""Logit parity of the runtime module with transformers' RecurrentGemmaForCausalLM (tiny, random
weights, built in code), and cached decoding equal to one full forward."""

from __future__ import annotations

import pytest

from archspec.spec.model import ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archspec  # noqa: E402

TOLERANCE = 1e-4
WINDOW = 6
HF_CONFIG = {
    "vocab_size": 96,
    "hidden_size": 32,
    "intermediate_size": 96,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "num_hidden_layers": 4,
    "lru_width": 48,
    "attention_window_size": WINDOW,
    "conv1d_width": 4,
    "attn_implementation": "eager",
}


def tiny_spec(**changes: object) -> ModelSpec:
    data = {
        "name": "recurrentgemma-tiny",
        "vocab_size": 96,
        "d_model": 32,
        "n_layers": 4,
        "max_seq_len": 64,
        "norm": {"kind": "rmsnorm", "eps": 1e-6, "unit_offset": True},
        "position": {"kind": "rope", "theta": 10000.0, "fraction": 0.5},
        "attention": {"n_heads": 4, "n_kv_heads": 1, "o_bias": True, "sliding_window": WINDOW},
        "mixer": "recurrent",
        "recurrent": {"width": 48, "n_heads": 4},
        "ffn": {"activation": "geglu_tanh", "hidden_dim": 48, "bias": True},
        "embedding": {"scale_by_sqrt_d_model": True, "scale_dtype": "bfloat16"},
        "head": {"tie_embeddings": True, "logit_softcap": 30.0},
        "layer_overrides": [{"every": 3, "offset": 2, "mixer": "attention"}],
        **changes,
    }
    return ModelSpec.model_validate(data)


_BLOCK = {
    "temporal_pre_norm": "attn_norm",
    "channel_pre_norm": "ffn_norm",
    "temporal_block.linear_x": "attn.x_proj",
    "temporal_block.linear_y": "attn.y_proj",
    "temporal_block.linear_out": "attn.out_proj",
    "temporal_block.conv_1d": "attn.conv",
    "temporal_block.rg_lru.recurrent_param": "attn.lru.a_param",
    "temporal_block.rg_lru": "attn.lru",
    "temporal_block": "attn",
    "mlp_block": "ffn",
}


def archspec_key(key: str) -> str | None:
    """transformers' RecurrentGemma state-dict key -> archspec's (None: not a parameter)."""
    if key == "lm_head.weight":
        return None
    key = key.removeprefix("model.")
    if key.startswith("embed_tokens."):
        return "embed." + key.removeprefix("embed_tokens.")
    if not key.startswith("layers."):
        return key
    _, i, rest = key.split(".", 2)
    for hf, ours in _BLOCK.items():
        if rest.startswith(hf):
            return f"layers.{i}.{ours}{rest.removeprefix(hf)}"
    return f"layers.{i}.{rest}"


def reference_hf(seed: int = 0, block_types: list[str] | None = None) -> object:
    """A tiny transformers RecurrentGemma with norms and biases perturbed (so all matter)."""
    torch.manual_seed(seed)
    types = {"block_types": block_types} if block_types else {}
    hf = transformers.RecurrentGemmaForCausalLM(
        transformers.RecurrentGemmaConfig(**HF_CONFIG, **types)
    ).eval()
    with torch.no_grad():  # norms, biases and gates away from their zero init, so all matter
        for name, p in hf.named_parameters():
            if "norm" in name or "bias" in name:
                p.normal_(0.0, 0.3)
    return hf


def reference_pair(seed: int = 0) -> tuple[object, object]:
    """The tiny transformers model and archspec's runtime module holding its weights."""
    hf = reference_hf(seed)
    ours = archspec.build_model(tiny_spec()).eval()
    state = {archspec_key(k): v for k, v in hf.state_dict().items()}
    state = {k: v for k, v in state.items() if k is not None}
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected and missing == ["lm_head.weight"], (missing, unexpected)  # tied
    return hf, ours


def test_count_matches_the_built_reference() -> None:
    hf, ours = reference_pair()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())
    assert archspec.count_params(tiny_spec()).total == sum(p.numel() for p in hf.parameters())


def test_logits_match_transformers() -> None:
    hf, ours = reference_pair()
    ids = torch.randint(0, 96, (2, 21))  # longer than the window
    with torch.no_grad():
        want = hf(ids, use_cache=False).logits
        got = ours(ids)
    assert (got - want).abs().max().item() < TOLERANCE


def test_chunked_prefill_and_decoding_equal_one_forward() -> None:
    _, ours = reference_pair(1)
    ids = torch.randint(0, 96, (2, 23))
    with torch.no_grad():
        full = ours(ids)
        cache = ours.new_cache(2, 23)
        steps = [ours(ids[:, a:b], cache=cache) for a, b in ((0, 5), (5, 6), (6, 14))]
        steps += [ours(ids[:, t : t + 1], cache=cache) for t in range(14, 23)]
    assert cache.length == 23
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    # The local layers keep window - 1 positions, not the context.
    assert {tuple(k.shape) for k in cache.keys.values()} == {(2, 1, WINDOW - 1, 8)}


def test_greedy_generation_matches_transformers() -> None:
    hf, ours = reference_pair(2)
    prompt = torch.randint(0, 96, (1, 9))
    want = hf.generate(prompt, max_new_tokens=12, do_sample=False)
    got = ours.generate(prompt, 12)
    assert torch.equal(got, want)


def test_a_recurrent_cache_refuses_to_rewind() -> None:
    _, ours = reference_pair()
    cache = ours.new_cache(1, 10)
    ids = torch.randint(0, 96, (1, 6))
    with torch.no_grad():
        ours(ids, cache=cache)
        with pytest.raises(ValueError, match="cannot be rewound"):
            ours(ids[:, :2], cache=cache, start_pos=2)
