"""An encoder-decoder model (T5) built from a ModelPlan with an encoder: the encoder runs once,
each decoder layer's cross-attention keys and values are computed once from its output, and the
decoder's self-attention decodes with a KV cache."""

from __future__ import annotations

import torch
from torch import nn

from archspec.nn.attention import Attention, Mask
from archspec.nn.block import build_block, scale_or_identity
from archspec.nn.cache import KVCache
from archspec.nn.ffn import build_ffn
from archspec.nn.generate import check_request, eos_tensor, finish, next_token
from archspec.nn.linear import build_linear
from archspec.nn.norm import build_norm
from archspec.nn.relative import build_relative_bias
from archspec.plan.types import LayerPlan, ModelPlan, StackPlan

Memory = list[tuple[torch.Tensor, torch.Tensor]]
"""Cross-attention keys and values (B, KV, S, hd) of every decoder layer, from the encoder."""


class CrossAttention(Attention):
    """Queries from the decoder, keys and values from the encoder's output (computed once)."""

    def memory(self, encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, S, _ = encoded.shape
        k = self.k_proj(encoded).view(B, S, -1, self.head_dim).transpose(1, 2)  # (B, KV, S, hd)
        v = self.v_proj(encoded).view(B, S, -1, self.head_dim).transpose(1, 2)  # (B, KV, S, hd)
        return k, v

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], mask: Mask
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, -1, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        out = self.attend(q, *memory, mask)  # (B, H, T, hd)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1))


class DecoderBlock(nn.Module):
    """x + self_attn(norm(x)), x + cross_attn(norm(x), encoder), x + ffn(norm(x)) (T5)."""

    def __init__(self, plan: LayerPlan) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = Attention(plan.mixer, None, plan.index)
        self.cross_attn_norm = build_norm(plan.cross_attn_norm)
        self.cross_attn = CrossAttention(plan.cross_attention, None, plan.index)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.ffn = build_ffn(plan.ffn)

    def forward(
        self,
        x: torch.Tensor,
        mask: Mask,
        memory: tuple[torch.Tensor, torch.Tensor],
        memory_mask: Mask,
        cache: KVCache | None,
        start: int,
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), None, mask, cache, start)
        x = x + self.cross_attn(self.cross_attn_norm(x), memory, memory_mask)
        return x + self.ffn(self.ffn_norm(x))


class Encoder(nn.Module):
    """Bidirectional pre-norm blocks over the embedded input, then the final norm."""

    def __init__(self, plan: StackPlan, vocab_rows: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_rows, plan.d_model)  # tied to the decoder's when shared
        self.relative_bias = build_relative_bias(plan.relative_bias)
        self.layers = nn.ModuleList(build_block(layer, None) for layer in plan.layers)
        self.final_norm = build_norm(plan.final_norm)

    def forward(self, input_ids: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        x = self.embed(input_ids)
        mask = Mask(
            key_mask(
                self.relative_bias(input_ids.shape[1], input_ids.shape[1], 0, x.device),
                keep,
                x.dtype,
            ),
            False,
        )
        for layer in self.layers:
            x = layer(x, None, mask, None, 0)
        return self.final_norm(x)


def key_mask(bias: torch.Tensor, keep: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """``bias`` (1, H, T, S) with -inf on the keys ``keep`` (B, S) marks as padding."""
    bias = bias.to(dtype)
    if keep is None:
        return bias
    return bias.masked_fill(~keep[:, None, None, :], float("-inf"))  # (B, H, T, S)


class EncoderDecoder(nn.Module):
    """``model(input_ids, decoder_input_ids=...)`` -> logits (B, T, vocab_rows); ``encode`` runs
    the encoder alone; ``generate`` decodes after one encoder pass."""

    def __init__(self, plan: ModelPlan) -> None:
        super().__init__()
        self.plan = plan
        self.embed = nn.Embedding(plan.vocab_rows, plan.d_model)
        self.encoder = Encoder(plan.encoder, plan.vocab_rows)
        if not plan.encoder.own_embedding:
            self.encoder.embed.weight = self.embed.weight
        self.relative_bias = build_relative_bias(plan.relative_bias)
        self.layers = nn.ModuleList(DecoderBlock(layer) for layer in plan.layers)
        self.final_norm = build_norm(plan.final_norm)
        self.lm_head = build_linear(plan.head)
        if plan.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.logit_scale = scale_or_identity(plan.logit_scale)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """The encoder's last hidden state (B, S, d_model); ``attention_mask`` (B, S) is 1 for
        tokens and 0 for padding, which no token attends to."""
        keep = None if attention_mask is None else attention_mask.bool()
        return self.encoder(input_ids, keep)

    def memory(self, encoded: torch.Tensor) -> Memory:
        """Every decoder layer's cross-attention keys and values, computed once."""
        return [layer.cross_attn.memory(encoded) for layer in self.layers]

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        memory: Memory,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab_rows) of the decoder tokens, continuing ``cache`` when given."""
        B, T = decoder_input_ids.shape
        start = cache.length if cache is not None else 0
        S = start + T
        x = self.embed(decoder_input_ids)
        bias = self.relative_bias(T, S, start, x.device)  # (1, H, T, S)
        queries = torch.arange(start, S, device=x.device)[:, None]
        future = torch.arange(S, device=x.device)[None, :] > queries  # (T, S)
        mask = Mask(bias.to(x.dtype).masked_fill(future, float("-inf")), False)
        keep = None if attention_mask is None else attention_mask.bool()
        S_enc = memory[0][0].shape[2]
        memory_mask = Mask(
            key_mask(torch.zeros(1, 1, T, S_enc, device=x.device), keep, x.dtype), False
        )
        for layer, kv in zip(self.layers, memory, strict=True):
            x = layer(x, mask, kv, memory_mask, cache, start)
        if cache is not None:
            cache.length = S
        return self.logit_scale(self.lm_head(self.final_norm(x)))

    def forward(
        self,
        input_ids: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab_rows) of ``decoder_input_ids`` given the encoded ``input_ids``."""
        memory = self.memory(self.encode(input_ids, attention_mask))
        return self.decode(decoder_input_ids, memory, attention_mask)

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty self-attention KV cache of the decoder."""
        ref = self.embed.weight
        shapes = [(layer.mixer.n_kv_heads, layer.mixer.head_dim) for layer in self.plan.layers]
        return KVCache(shapes, batch_size, max_len, device=ref.device, dtype=ref.dtype)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        *,
        attention_mask: torch.Tensor | None = None,
        decoder_start_token_id: int = 0,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int = 0,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decoder tokens (B, 1 + n): ``decoder_start_token_id`` (T5: 0) then up to
        ``max_new_tokens`` tokens, greedy at temperature 0. The encoder runs once and the
        cross-attention keys and values are computed once; ``attention_mask`` masks the
        encoder's padding. Rows that reach ``eos_token_id`` continue with ``pad_token_id``."""
        check_request(max_new_tokens, temperature, top_k, top_p)
        B = input_ids.shape[0]
        memory = self.memory(self.encode(input_ids, attention_mask))
        cache = self.new_cache(B, 1 + max_new_tokens)
        eos = eos_tensor(eos_token_id, input_ids.device)
        unfinished = torch.ones(B, 1, dtype=torch.bool, device=input_ids.device)
        token = torch.full((B, 1), decoder_start_token_id, device=input_ids.device)
        tokens = [token]
        vocab = self.plan.vocab_size
        for _ in range(max_new_tokens):
            logits = self.decode(token, memory, attention_mask, cache)[:, -1, :vocab]
            token = next_token(logits, temperature, top_k, generator, top_p)
            token, unfinished = finish(token, unfinished, eos, pad_token_id)
            tokens.append(token)
            if eos.numel() and not unfinished.any():
                break
        return torch.cat(tokens, dim=1)

    @torch.no_grad()
    def init_weights(self, std: float = 0.02) -> None:
        """Normal(0, std) matrices, embeddings and bias tables, zero biases, unit norms."""
        for module in self.modules():
            for name, param in module.named_parameters(recurse=False):
                if name.endswith("bias") and param.ndim == 1:
                    param.zero_()
                elif param.ndim == 1:
                    param.fill_(1.0)
                else:
                    param.normal_(0.0, std)
