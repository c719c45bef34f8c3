"""Transformers models as references for the runtime and generated modules: tiny models built
from a config in code, their weights randomised and copied into archspec's names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from tests.nn.helpers import randomize_

TINY_HF: dict[str, Any] = {
    "vocab_size": 96,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "pad_token_id": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "attn_implementation": "eager",
}
"""A tiny Llama-like transformers config (families add their keys)."""

TINY_SPEC: dict[str, Any] = {
    "name": "tiny",
    "vocab_size": 96,
    "d_model": 32,
    "n_layers": 2,
    "max_seq_len": 64,
    "dtype": "float32",
    "attention": {"n_heads": 4, "n_kv_heads": 2},
    "ffn": {"activation": "swiglu", "hidden_dim": 48},
}
"""The archspec spec of :data:`TINY_HF` as a Llama (RMSNorm 1e-6, RoPE 1e4, SwiGLU, untied)."""

LLAMA_NAMES: tuple[tuple[str, str], ...] = (
    (r"^model\.embed_tokens\.", "embed."),
    (r"^model\.norm\.", "final_norm."),
    (r"^model\.layers\.(\d+)\.self_attn\.", r"layers.\1.attn."),
    (r"^model\.layers\.(\d+)\.mlp\.", r"layers.\1.ffn."),
    (r"^model\.layers\.(\d+)\.input_layernorm\.", r"layers.\1.attn_norm."),
    (r"^model\.layers\.(\d+)\.post_attention_layernorm\.", r"layers.\1.ffn_norm."),
    (r"^model\.layers\.(\d+)\.pre_feedforward_layernorm\.", r"layers.\1.ffn_norm."),
    (r"^model\.layers\.(\d+)\.post_feedforward_layernorm\.", r"layers.\1.ffn_post_norm."),
)
"""transformers' Llama-style state-dict names -> archspec's (regex, replacement), in order."""

SANDWICH_NAMES: tuple[tuple[str, str], ...] = (
    (r"^model\.layers\.(\d+)\.post_attention_layernorm\.", r"layers.\1.attn_post_norm."),
    *LLAMA_NAMES,
)
"""Gemma 2/3: `post_attention_layernorm` is the attention branch's output norm."""


def renamed(
    state: dict[str, torch.Tensor],
    names: Iterable[tuple[str, str]],
    split: Callable[[str, torch.Tensor], dict[str, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """``state`` under archspec's names: the first matching rename applies; ``split`` may turn
    one tensor (a fused projection) into several, by its archspec name."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        new = name
        for pattern, replacement in names:
            new, n = re.subn(pattern, replacement, name)
            if n:
                break
        out.update(split(new, tensor) if split else {new: tensor})
    return out


@torch.no_grad()
def reference_pair(
    hf: nn.Module,
    ours: nn.Module,
    names: Iterable[tuple[str, str]] = LLAMA_NAMES,
    split: Callable[[str, torch.Tensor], dict[str, torch.Tensor]] | None = None,
) -> tuple[nn.Module, nn.Module]:
    """Randomise ``hf`` (every norm, bias and matrix matters) and load its weights into ``ours``."""
    randomize_(hf.eval())
    ours.load_state_dict(renamed(hf.state_dict(), names, split))
    return hf, ours.eval()


def left_padded(prompts: list[torch.Tensor], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts of different lengths as one left-padded batch: ``(input_ids, attention_mask)``."""
    T = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), T), pad, dtype=torch.long)
    mask = torch.zeros(len(prompts), T, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, T - len(p) :] = p
        mask[i, T - len(p) :] = 1
    return ids, mask
