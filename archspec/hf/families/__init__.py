"""The Hugging Face families archspec maps, one module per transformers `model_type`.

Each module holds one table-like :class:`~archspec.hf.families.base.Family`: its config reader and
writer, the keys it knowingly ignores, and its checkpoint name table. Adding a family is one module
here, its line below, and its tests. The shared readers live in :mod:`archspec.hf.families.base`.
"""

from __future__ import annotations

from archspec.hf.families import (
    bitnet,
    bloom,
    cohere,
    cohere2,
    falcon,
    gemma,
    gemma2,
    gemma3_text,
    gpt2,
    gpt_neox,
    gptj,
    granite,
    llama,
    mistral,
    mixtral,
    olmo,
    olmo2,
    olmoe,
    phi,
    phi3,
    phi_msft,
    qwen2,
    qwen3,
    qwen3_moe,
    recurrent_gemma,
    smollm3,
    stablelm,
    starcoder2,
    t5,
)
from archspec.hf.families.base import Family

FAMILIES: dict[str, Family] = {
    module.FAMILY.model_type: module.FAMILY
    for module in (
        llama,
        mistral,
        mixtral,
        qwen2,
        gemma,
        gemma2,
        olmo,
        olmo2,
        phi,
        gpt2,
        falcon,
        qwen3,
        qwen3_moe,
        phi3,
        stablelm,
        gpt_neox,
        gptj,
        starcoder2,
        olmoe,
        phi_msft,
        granite,
        smollm3,
        cohere,
        cohere2,
        bloom,
        gemma3_text,
        bitnet,
        recurrent_gemma,
        t5,
    )
}
"""Every supported family by model_type, in the order export tries them (the first exact one wins)."""

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(FAMILIES)
"""The families archspec maps, in export order."""
