"""A spec's architecture at test size: every feature kept, every dimension shrunk."""

from __future__ import annotations

from archspec.spec.model import ModelSpec


def shrink(
    spec: ModelSpec, *, d_model: int = 64, n_layers: int = 2, vocab_size: int = 128
) -> ModelSpec:
    """The same wiring, norms, activations, positions and attention variant (MHA/MQA/GQA, explicit
    head size, sliding window shorter than a test sequence, experts) at a size that runs anywhere."""
    data = spec.model_dump(mode="json")
    att = data["attention"]
    kv = att["n_kv_heads"]
    att.update(n_heads=4, n_kv_heads=1 if kv == 1 else 4 if kv in (None, att["n_heads"]) else 2)
    att["head_dim"] = 16 if att["head_dim"] else None
    att["sliding_window"] = 8 if att["sliding_window"] else None
    data.update(
        name=f"{spec.name}-tiny",
        vocab_size=vocab_size,
        padded_vocab_size=None,
        d_model=d_model,
        n_layers=n_layers,
        max_seq_len=64,
    )
    data["ffn"]["hidden_dim"] = 96
    if data.get("recurrent"):
        data["recurrent"].update(width=d_model, n_heads=4)
    if data["ffn"]["moe"]:
        data["ffn"]["moe"]["n_experts"] = 4
    return ModelSpec.model_validate(data)
