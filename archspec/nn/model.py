"""The runtime model: a plan turned into a torch.nn.Module, with a KV cache and `generate`."""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from archspec.nn.attention import Mask, causal_allowed, padding_allowed
from archspec.nn.block import build_block, scale_or_identity
from archspec.nn.cache import KVCache
from archspec.nn.encoder_decoder import EncoderDecoder
from archspec.nn.generate import (
    check_attention_mask,
    check_positions,
    check_request,
    eos_tensor,
    finish,
    next_token,
)
from archspec.nn.linear import build_linear
from archspec.nn.lora import adapted_linears, freeze_base, init_adapters, merge_adapters
from archspec.nn.norm import GemmaRMSNorm, build_norm
from archspec.nn.position import LearnedPositions, NoPositions, Rotaries
from archspec.nn.recurrent import refuse_padding
from archspec.nn.state_cache import StateCache
from archspec.plan.types import ModelPlan, RecurrentPlan
from archspec.spec.model import ModelSpec


class EmbedScale(nn.Module):
    """Gemma: embeddings times sqrt(d_model), the scale rounded to the running dtype first."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tensor(self.scale, dtype=x.dtype)


class SoftCap(nn.Module):
    """cap * tanh(x / cap) (Gemma 2's final logit soft-capping)."""

    def __init__(self, cap: float) -> None:
        super().__init__()
        self.cap = cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / self.cap) * self.cap


class CausalMasks(nn.Module):
    """One Mask per distinct attention window; fused causal SDPA wherever no explicit mask is needed.

    ``keep`` (B, S), when given, marks the keys that are tokens rather than (left) padding.
    """

    def __init__(self, windows: tuple[int | None, ...]) -> None:
        super().__init__()
        self.windows = windows

    def forward(
        self,
        T: int,
        S: int,
        device: torch.device,
        dtype: torch.dtype,
        keep: torch.Tensor | None = None,
    ) -> list[Mask]:
        return [self.mask(T, S, w, device, keep) for w in self.windows]

    @staticmethod
    def mask(
        T: int, S: int, window: int | None, device: torch.device, keep: torch.Tensor | None = None
    ) -> Mask:
        if keep is not None:
            return Mask(padding_allowed(causal_allowed(T, S, window, device), keep), False)
        if window is None or window >= S:
            if T == S:
                return Mask(None, True)
            if T == 1:
                return Mask(None, False)
        return Mask(causal_allowed(T, S, window, device), False)


class AlibiMasks(CausalMasks):
    """ALiBi: an additive mask of -slope * distance per head on top of causality (slopes in
    float32 whatever the model's dtype, like the generated file's constants), times ``scale``
    when the bias is scaled with the scores (Falcon; 1.0 leaves it exact)."""

    def __init__(
        self,
        windows: tuple[int | None, ...],
        slopes: tuple[float, ...],
        scale: float | None = None,
    ) -> None:
        super().__init__(windows)
        self.slopes = slopes
        self.scale = 1.0 if scale is None else scale

    def bias(self, T: int, S: int, device: torch.device, keep: torch.Tensor | None) -> torch.Tensor:
        """(1, H, T, S): -slope * distance."""
        slopes = torch.tensor(self.slopes, dtype=torch.float32, device=device)
        distance = (
            torch.arange(S - T, S, device=device)[:, None] - torch.arange(S, device=device)[None, :]
        )
        return (-slopes[:, None, None] * distance * self.scale)[None]

    def forward(
        self,
        T: int,
        S: int,
        device: torch.device,
        dtype: torch.dtype,
        keep: torch.Tensor | None = None,
    ) -> list[Mask]:
        bias = self.bias(T, S, device, keep)
        masks = []
        for w in self.windows:
            allowed = causal_allowed(T, S, w, device)
            if keep is not None:
                allowed = padding_allowed(allowed, keep)  # (B, 1, T, S)
            masks.append(Mask(bias.masked_fill(~allowed, float("-inf")).to(dtype), False))
        return masks


class Bfloat16AlibiMasks(AlibiMasks):
    """Falcon's ALiBi (transformers' `build_alibi_tensor`): slope * key position, counted from
    each row's first token, with the slopes and the products in bfloat16 whatever the dtype."""

    def bias(self, T: int, S: int, device: torch.device, keep: torch.Tensor | None) -> torch.Tensor:
        """(1 or B, H, 1, S); softmax sees the same as -slope * distance, up to the rounding."""
        slopes = torch.tensor(self.slopes, dtype=torch.float32, device=device).bfloat16()
        if keep is None:
            keys = torch.arange(S, device=device)[None]  # (1, S)
        else:
            keys = (keep.long().cumsum(-1) - 1) * keep.long()  # (B, S), 0 on padding
        bias = slopes[None, :, None] * keys[:, None, :]  # (1 or B, H, S), rounded to bfloat16
        return bias.float()[:, :, None, :] * self.scale


class Transformer(nn.Module):
    """A decoder-only language model built from a ModelPlan.

    ``model(input_ids)`` maps a LongTensor (B, T) to logits (B, T, vocab_rows). With a cache from
    :meth:`new_cache`, each call continues where the cache ends (or at ``start_pos``).
    """

    def __init__(self, plan: ModelPlan) -> None:
        super().__init__()
        self.plan = plan
        self.embed = nn.Embedding(plan.vocab_rows, plan.d_model)
        self.embed_scale = (
            EmbedScale(plan.embed_scale) if plan.embed_scale is not None else nn.Identity()
        )
        learned = plan.position == "learned"
        # Learned positions stop at max_seq_len: a longer request is refused, not an IndexError.
        self.position_limit = plan.max_seq_len if learned else None
        self.pos_embed = (
            LearnedPositions(plan.max_seq_len, plan.d_model) if learned else NoPositions()
        )
        self.embed_multiplier = scale_or_identity(plan.embed_multiplier)
        self.embed_norm = build_norm(plan.embed_norm)
        self.rotary = Rotaries(plan.ropes)
        # Each layer's entry in the rotary tables; the last entry (None) for layers without RoPE.
        self.layer_ropes = tuple(
            len(plan.ropes) if layer.rope is None else layer.rope for layer in plan.layers
        )
        slopes = plan.alibi_slopes
        alibi = Bfloat16AlibiMasks if plan.alibi_bfloat16 else AlibiMasks
        self.masks = (
            alibi(plan.windows, slopes, plan.alibi_scale)
            if slopes is not None
            else CausalMasks(plan.windows)
        )
        self.layers = nn.ModuleList(
            build_block(layer, None if layer.rope is None else plan.ropes[layer.rope])
            for layer in plan.layers
        )
        self.layer_masks = tuple(layer.mask for layer in plan.layers)
        recurrent = any(isinstance(layer.mixer, RecurrentPlan) for layer in plan.layers)
        self.check_mask = refuse_padding if recurrent else check_attention_mask
        self.final_norm = build_norm(plan.final_norm)
        self.lm_head = build_linear(plan.head)
        if plan.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.logit_scale = scale_or_identity(plan.logit_scale)
        self.softcap = (
            SoftCap(plan.logit_softcap) if plan.logit_softcap is not None else nn.Identity()
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: KVCache | None = None,
        start_pos: int | None = None,
        last_only: bool = False,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab_rows), or (B, 1, vocab_rows) for the last position with ``last_only``.

        ``attention_mask`` (B, S), 1 for tokens and 0 for left padding, covers every key this step
        sees (the cached ones too, S = start + T); each row is then numbered from its first token,
        as transformers numbers it.
        """
        B, T = input_ids.shape
        start = start_pos if start_pos is not None else (cache.length if cache is not None else 0)
        S = start + T if cache is not None else T
        if attention_mask is None:
            check_positions(start + T, self.position_limit)
            positions = torch.arange(start, start + T, device=input_ids.device)
            keep = None
        else:
            self.check_mask(attention_mask, B, S)
            keep = attention_mask.bool()
            positions = attention_mask.long().cumsum(-1) - 1  # padding: -1, then 0 below
            positions = positions.masked_fill(~keep, 0)[:, S - T :]  # (B, T)
        x = self.embed_multiplier(self.embed_scale(self.embed(input_ids)))
        x = self.embed_norm(self.pos_embed(x, positions))
        tables = self.rotary(positions)
        masks = self.masks(T, S, input_ids.device, x.dtype, keep)
        for layer, m, r in zip(self.layers, self.layer_masks, self.layer_ropes, strict=True):
            x = layer(x, tables[r], masks[m], cache, start)
        if cache is not None:
            cache.length = start + T
        if last_only:
            x = x[:, -1:]
        return self.softcap(self.logit_scale(self.lm_head(self.final_norm(x))))

    def new_cache(
        self,
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> KVCache:
        """An empty KV cache for ``batch_size`` sequences of up to ``max_len`` tokens (with
        recurrent layers: a StateCache, bounded by the windows and the recurrent state)."""
        ref = self.embed.weight
        if any(isinstance(layer.mixer, RecurrentPlan) for layer in self.plan.layers):
            return StateCache(
                self.plan,
                batch_size,
                max_len,
                device=device or ref.device,
                dtype=dtype or ref.dtype,
            )
        shapes = [(layer.mixer.n_kv_heads, layer.mixer.head_dim) for layer in self.plan.layers]
        return KVCache(
            shapes, batch_size, max_len, device=device or ref.device, dtype=dtype or ref.dtype
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        *,
        attention_mask: torch.Tensor | None = None,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int = 0,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append up to ``max_new_tokens`` tokens: greedy at temperature 0, else a sample after
        temperature, top-k and top-p (nucleus) filtering, in transformers' order.

        Args:
            input_ids: Prompts (B, T), left-padded when their lengths differ.
            max_new_tokens: Most tokens appended to each row.
            attention_mask: (B, T), 1 for tokens and 0 for padding: each row then decodes as it
                would alone (its own positions, padding never attended, in the cache too).
            eos_token_id: Id(s) that end a row: later tokens of that row are ``pad_token_id``,
                and generation stops early once every row has ended.
            pad_token_id: Written after a row's end of sequence.
            temperature, top_k, top_p: Sampling; temperature 0 is greedy.
            generator: Random source for sampling.

        Returns:
            (B, T + n) token ids, the prompt first, n <= max_new_tokens.
        """
        B, T = input_ids.shape
        check_request(max_new_tokens, temperature, top_k, top_p)
        longest = T if attention_mask is None else int(attention_mask.sum(-1).max())
        check_positions(longest + max_new_tokens - 1, self.position_limit, generating=True)
        cache = self.new_cache(B, T + max_new_tokens)
        eos = eos_tensor(eos_token_id, input_ids.device)
        unfinished = torch.ones(B, 1, dtype=torch.bool, device=input_ids.device)
        mask = attention_mask
        tokens = [input_ids]
        vocab = self.plan.vocab_size  # padding rows of a padded vocabulary are never sampled
        logits = self(input_ids, cache=cache, last_only=True, attention_mask=mask)[:, -1, :vocab]
        for step in range(max_new_tokens):
            token = next_token(logits, temperature, top_k, generator, top_p)
            token, unfinished = finish(token, unfinished, eos, pad_token_id)
            tokens.append(token)
            if step + 1 == max_new_tokens or (eos.numel() and not unfinished.any()):
                break
            if mask is not None:
                mask = torch.cat((mask, mask.new_ones(B, 1)), dim=1)
            logits = self(token, cache=cache, last_only=True, attention_mask=mask)[:, -1, :vocab]
        return torch.cat(tokens, dim=1)

    def init_adapters(self) -> None:
        """Fresh adapters over the current base weights (B zero, DoRA magnitudes ||W||)."""
        init_adapters(self)

    def merge_adapters(self) -> Transformer:
        """Fold every adapter into its base weight (exactly, DoRA included) and remove it: the
        model is a plain one again, holding the base model's parameters, all trainable."""
        merge_adapters(self)
        self.plan = self.plan.without_adapters()
        if getattr(self, "spec", None) is not None:
            self.spec = self.spec.model_copy(update={"adapters": None})
        return self

    @torch.no_grad()
    def init_weights(self, std: float = 0.02) -> None:
        """Normal(0, std) matrices and embeddings, zero biases, unit norms (zero for Gemma's 1 + w)."""
        for module in self.modules():
            for name, param in module.named_parameters(recurse=False):
                if isinstance(module, GemmaRMSNorm) or name.endswith("bias"):
                    param.zero_()
                elif param.ndim == 1:
                    param.fill_(1.0)
                else:
                    param.normal_(0.0, std)


class SkipInit(TorchFunctionMode):
    """Construct modules without initialising their weights. Meta tensors hold no values, and
    initialising one goes through torch._refs, whose wrapper imports torch._dynamo: 1-2 s on
    the first meta build of a process, for nothing."""

    INITS = frozenset(
        {torch.Tensor.normal_, torch.Tensor.uniform_}
        | {nn.init.normal_, nn.init.uniform_, nn.init.kaiming_uniform_, nn.init.trunc_normal_}
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func in self.INITS:
            return args[0] if args else kwargs["tensor"]  # the tensor, untouched
        return func(*args, **(kwargs or {}))


def add_adapters(model: Transformer, spec: ModelSpec) -> Transformer:
    """A new module: ``model``'s weights (shared, not copied) with fresh adapters of ``spec``.

    ``spec`` is ``model``'s architecture with an `adapters:` section; the adapters start as
    :meth:`Transformer.init_adapters` makes them (B zero, DoRA magnitudes ||W||) and only they train.
    """
    from archspec.plan.lower import lower

    plan = lower(spec)
    with torch.device("meta"):
        adapted = Transformer(plan)
    missing, unexpected = adapted.load_state_dict(model.state_dict(), strict=False, assign=True)
    if unexpected or any(".lora_" not in key for key in missing):
        raise ValueError(f"{spec.name}: the model's weights do not fit its adapted architecture")
    ref = model.embed.weight
    for _, layer in adapted_linears(adapted):
        for name in ("lora_A", "lora_B"):
            getattr(layer, name).to_empty(device=ref.device).to(ref.dtype)
        if isinstance(getattr(layer, "lora_magnitude_vector", None), nn.Parameter):
            layer.lora_magnitude_vector = nn.Parameter(
                torch.empty(layer.out_features, device=ref.device, dtype=ref.dtype)
            )
    if plan.tie_embeddings:
        adapted.lm_head.weight = adapted.embed.weight
    init_adapters(adapted)
    freeze_base(adapted)
    adapted.spec = spec
    adapted.train(model.training)
    return adapted


def build_model(
    spec: ModelSpec | ModelPlan,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Transformer | EncoderDecoder:
    """Compile a spec into a runtime module.

    Args:
        spec: A validated spec (or an already lowered plan).
        device: Where to allocate; ``"meta"`` builds the structure without memory.
        dtype: Parameter dtype (default float32).

    Returns:
        The model, initialised with small random weights unless on ``meta``; ``model.spec`` is the spec.
    """
    from archspec.plan.lower import lower

    plan = spec if isinstance(spec, ModelPlan) else lower(spec)
    target = torch.device(device or "cpu")
    # The stack topology picks the class: decoder-only, or encoder-decoder (T5).
    model_class = Transformer if plan.encoder is None else EncoderDecoder
    with target, SkipInit() if target.type == "meta" else contextlib.nullcontext():
        model = model_class(plan)
    if target.type != "meta":
        model.init_weights()
        init_adapters(model)
    freeze_base(model)
    if dtype is not None:
        model.to(dtype)
    model.spec = spec if isinstance(spec, ModelSpec) else None
    return model
