"""The runtime model: a plan turned into a torch.nn.Module, with a KV cache and `generate`."""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from archspec.nn.attention import Mask, causal_allowed
from archspec.nn.block import build_block
from archspec.nn.cache import KVCache
from archspec.nn.generate import next_token
from archspec.nn.linear import build_linear
from archspec.nn.lora import adapted_linears, freeze_base, init_adapters, merge_adapters
from archspec.nn.norm import GemmaRMSNorm, build_norm
from archspec.nn.position import LearnedPositions, NoPositions, NoRotary, Rotary
from archspec.plan.types import ModelPlan
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
    """One Mask per distinct attention window; fused causal SDPA wherever no explicit mask is needed."""

    def __init__(self, windows: tuple[int | None, ...]) -> None:
        super().__init__()
        self.windows = windows

    def forward(self, T: int, S: int, device: torch.device, dtype: torch.dtype) -> list[Mask]:
        return [self.mask(T, S, w, device) for w in self.windows]

    @staticmethod
    def mask(T: int, S: int, window: int | None, device: torch.device) -> Mask:
        if window is None or window >= S:
            if T == S:
                return Mask(None, True)
            if T == 1:
                return Mask(None, False)
        return Mask(causal_allowed(T, S, window, device), False)


class AlibiMasks(CausalMasks):
    """ALiBi: an additive mask of -slope * distance per head on top of causality (slopes in
    float32 whatever the model's dtype, like the generated file's constants)."""

    def __init__(self, windows: tuple[int | None, ...], slopes: tuple[float, ...]) -> None:
        super().__init__(windows)
        self.slopes = slopes

    def forward(self, T: int, S: int, device: torch.device, dtype: torch.dtype) -> list[Mask]:
        slopes = torch.tensor(self.slopes, dtype=torch.float32, device=device)
        distance = (
            torch.arange(S - T, S, device=device)[:, None] - torch.arange(S, device=device)[None, :]
        )
        bias = -slopes[:, None, None] * distance  # (H, T, S)
        return [
            Mask(
                bias.masked_fill(~causal_allowed(T, S, w, device), float("-inf"))[None].to(dtype),
                False,
            )
            for w in self.windows
        ]


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
        self.pos_embed = (
            LearnedPositions(plan.max_seq_len, plan.d_model) if learned else NoPositions()
        )
        self.rotary = Rotary(plan.rope) if plan.rope is not None else NoRotary()
        slopes = plan.alibi_slopes
        self.masks = (
            AlibiMasks(plan.windows, slopes) if slopes is not None else CausalMasks(plan.windows)
        )
        self.layers = nn.ModuleList(build_block(layer, plan.rope) for layer in plan.layers)
        self.layer_masks = tuple(layer.mask for layer in plan.layers)
        self.final_norm = build_norm(plan.final_norm)
        self.lm_head = build_linear(plan.head)
        if plan.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.softcap = (
            SoftCap(plan.logit_softcap) if plan.logit_softcap is not None else nn.Identity()
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: KVCache | None = None,
        start_pos: int | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """Logits (B, T, vocab_rows), or (B, 1, vocab_rows) for the last position with ``last_only``."""
        B, T = input_ids.shape
        start = start_pos if start_pos is not None else (cache.length if cache is not None else 0)
        S = start + T if cache is not None else T
        positions = torch.arange(start, start + T, device=input_ids.device)
        x = self.pos_embed(self.embed_scale(self.embed(input_ids)), positions)
        tables = self.rotary(positions)
        masks = self.masks(T, S, input_ids.device, x.dtype)
        for layer, m in zip(self.layers, self.layer_masks, strict=True):
            x = layer(x, tables, masks[m], cache, start)
        if cache is not None:
            cache.length = start + T
        if last_only:
            x = x[:, -1:]
        return self.softcap(self.lm_head(self.final_norm(x)))

    def new_cache(
        self,
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> KVCache:
        """An empty KV cache for ``batch_size`` sequences of up to ``max_len`` tokens."""
        ref = self.embed.weight
        shapes = [
            (layer.attention.n_kv_heads, layer.attention.head_dim) for layer in self.plan.layers
        ]
        return KVCache(
            shapes, batch_size, max_len, device=device or ref.device, dtype=dtype or ref.dtype
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens: greedy at temperature 0, else temperature/top-k sampling."""
        B, T = input_ids.shape
        cache = self.new_cache(B, T + max_new_tokens)
        tokens = [input_ids]
        vocab = self.plan.vocab_size  # padding rows of a padded vocabulary are never sampled
        logits = self(input_ids, cache=cache, last_only=True)[:, -1, :vocab]
        for step in range(max_new_tokens):
            token = next_token(logits, temperature, top_k, generator)
            tokens.append(token)
            if step + 1 < max_new_tokens:
                logits = self(token, cache=cache, last_only=True)[:, -1, :vocab]
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
) -> Transformer:
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
    with target, SkipInit() if target.type == "meta" else contextlib.nullcontext():
        model = Transformer(plan)
    if target.type != "meta":
        model.init_weights()
        init_adapters(model)
    freeze_base(model)
    if dtype is not None:
        model.to(dtype)
    model.spec = spec if isinstance(spec, ModelSpec) else None
    return model
