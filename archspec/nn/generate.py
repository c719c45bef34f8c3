"""Generation helpers: next-token selection (greedy, or temperature, top-k and top-p sampling in
transformers' order) and the checks that turn a bad request into one clear error."""

from __future__ import annotations

import torch

from archspec.errors import ArchspecError


class GenerationError(ArchspecError, ValueError):
    """A forward or `generate` request the model cannot serve (bad argument, too long)."""


def check_request(
    max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None
) -> None:
    """Refuse sampling arguments that have no meaning."""
    if max_new_tokens < 0:
        raise GenerationError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")
    if temperature < 0:
        raise GenerationError(f"temperature must be 0 (greedy) or more, got {temperature}")
    if top_k is not None and top_k < 1:
        raise GenerationError(f"top_k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise GenerationError(f"top_p must be in (0, 1], got {top_p}")


def check_positions(needed: int, limit: int | None, generating: bool = False) -> None:
    """Learned positions have ``limit`` (max_seq_len) rows: refuse a request needing more."""
    if limit is not None and needed > limit:
        what = "the prompt and the new tokens need" if generating else "this input needs"
        raise GenerationError(
            f"{what} {needed} positions, but learned position embeddings stop at "
            f"max_seq_len ({limit})"
        )


def check_attention_mask(mask: torch.Tensor, batch: int, keys: int) -> None:
    """The attention mask must cover every key of the step: (B, cached + new tokens)."""
    if tuple(mask.shape) != (batch, keys):
        raise GenerationError(
            f"attention_mask has shape {tuple(mask.shape)}; this step needs ({batch}, {keys}) "
            "(one column per cached and new token)"
        )


def eos_tensor(eos_token_id: int | list[int] | None, device: torch.device) -> torch.Tensor:
    """End-of-sequence ids as a tensor (empty when there are none)."""
    ids = (
        []
        if eos_token_id is None
        else [eos_token_id]
        if isinstance(eos_token_id, int)
        else eos_token_id
    )
    return torch.tensor(list(ids), dtype=torch.long, device=device)


def finish(
    token: torch.Tensor, unfinished: torch.Tensor, eos: torch.Tensor, pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A step's tokens (B, 1), ``pad_token_id`` in rows that have already ended, and which rows
    are still going after it (a row ends on any id of ``eos``)."""
    token = torch.where(unfinished, token, pad_token_id)
    return token, unfinished & ~torch.isin(token, eos)


def next_token(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Pick one token per row of ``logits`` (B, V): argmax at temperature 0, else a sample."""
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        # Nucleus (Holtzman et al. 2020), as transformers' TopPLogitsWarper: drop the least
        # likely tokens whose total probability is at most 1 - top_p, keeping at least one.
        ascending, order = torch.sort(logits, dim=-1)
        drop = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - top_p
        drop[:, -1] = False
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)
