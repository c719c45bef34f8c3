"""The model plan: every choice of a spec resolved into frozen, torch-free data.

`nn/` builds modules from a plan and `codegen/` renders the same plan; neither reads the spec.
Class names chosen here are the names the generated file uses, so they say what a part is
(`GemmaRMSNorm`, `GroupedQueryAttention`, `SwiGLU`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class NormPlan:
    """One normalisation layer."""

    kind: Literal["layernorm", "rmsnorm"]
    width: int
    eps: float
    weight: bool
    """Learnable scale (False: parameter-free LayerNorm, OLMo)."""
    bias: bool
    """Learnable shift (LayerNorm only)."""
    unit_offset: bool
    """Scale by (1 + weight) (Gemma)."""
    upcast: bool
    """Compute in float32 and cast back."""
    class_name: str

    @property
    def n_params(self) -> int:
        return self.width * (int(self.weight) + int(self.bias))


@dataclass(frozen=True)
class RopePlan:
    """Rotary embedding: which dimensions rotate, how the frequencies are made and scaled."""

    head_dim: int
    rotary_dim: int
    theta: float
    interleaved: bool
    scaling: Literal["none", "linear", "ntk", "yarn", "llama3", "longrope"]
    factor: float
    original_max_seq_len: int
    low_freq_factor: float
    high_freq_factor: float
    beta_fast: float
    beta_slow: float
    attention_factor: float
    """Multiplier of cos and sin (YaRN's temperature; 1.0 otherwise)."""
    yarn_low: float = 0.0
    """YaRN: rotary pairs below this index keep their frequency (start of the ramp)."""
    yarn_high: float = 0.0
    """YaRN: rotary pairs above this index are fully interpolated (end of the ramp)."""
    short_factor: tuple[float, ...] = ()
    """LongRoPE: divisor of each pair's frequency within the original context."""
    long_factor: tuple[float, ...] = ()
    """LongRoPE: divisor of each pair's frequency once a pass reaches beyond the original
    context (its largest position + 1 > original_max_seq_len), as transformers switches."""

    @property
    def partial(self) -> bool:
        return self.rotary_dim < self.head_dim

    @property
    def base(self) -> float:
        """Base of the frequencies; NTK-aware scaling stretches it to theta * factor ** (d / (d - 2))."""
        if self.scaling == "ntk":
            return self.theta * self.factor ** (self.rotary_dim / (self.rotary_dim - 2))
        return self.theta


@dataclass(frozen=True)
class QKNormPlan:
    """Norms applied to queries and keys: per head (`head`) or on the whole projection."""

    per_head: bool
    q: NormPlan
    k: NormPlan


@dataclass(frozen=True)
class AdapterPlan:
    """A low-rank adapter on one linear layer: LoRA (Hu et al. 2021) or DoRA (Liu et al. 2024)."""

    kind: Literal["lora", "dora"]
    r: int
    alpha: float
    scaling: float
    """Multiplier of B @ A: alpha / r, or alpha / sqrt(r) with rsLoRA (Kalajdzievski 2023)."""
    dropout: float
    """Dropout on the adapter's input (the base path sees the undropped input)."""

    @property
    def class_name(self) -> str:
        return "DoRALinear" if self.kind == "dora" else "LoRALinear"

    def n_params(self, in_features: int, out_features: int) -> int:
        """A (r, in) and B (out, r); DoRA adds the magnitude vector of `out` rows."""
        magnitude = out_features if self.kind == "dora" else 0
        return self.r * (in_features + out_features) + magnitude


LinearKind = Literal["dense", "bitlinear_b158"]
"""What a linear projection is: `dense` (`nn.Linear`) or `bitlinear_b158` (ternary weights,
8-bit activations; Ma et al. 2024)."""

_LINEAR_CLASSES: dict[str, str] = {"dense": "Linear", "bitlinear_b158": "BitLinear"}


@dataclass(frozen=True)
class LinearPlan:
    """One linear projection: its kind (dense or BitLinear), and for a dense one an optional
    low-rank adapter over its frozen weight (the adapter axis is orthogonal to the kind)."""

    in_features: int
    out_features: int
    bias: bool
    adapter: AdapterPlan | None = None
    kind: LinearKind = "dense"

    @property
    def class_name(self) -> str:
        """The class the generated file and the runtime module build this projection with."""
        if self.adapter is not None:
            return self.adapter.class_name
        return _LINEAR_CLASSES[self.kind]

    @property
    def n_adapter_params(self) -> int:
        if self.adapter is None:
            return 0
        return self.adapter.n_params(self.in_features, self.out_features)


Adapters = tuple[tuple[str, AdapterPlan], ...]
"""Adapters of a part's projections: (projection name, adapter), only the adapted ones."""


def _adapter(adapters: Adapters, name: str) -> AdapterPlan | None:
    return dict(adapters).get(name)


LinearKinds = tuple[tuple[str, LinearKind], ...]
"""Kinds of a part's projections: (projection name, kind), only those that are not `dense`."""


def _kind(kinds: LinearKinds, name: str) -> LinearKind:
    return dict(kinds).get(name, "dense")


@dataclass(frozen=True)
class AttentionPlan:
    """One layer's self-attention."""

    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    q_bias: bool
    k_bias: bool
    v_bias: bool
    o_bias: bool
    scale: float
    softcap: float | None
    """Attention-logit soft-capping: needs explicit scores, so such layers skip fused SDPA."""
    qkv_clip: float | None
    qk_norm: QKNormPlan | None
    rope: bool
    """Queries and keys rotate (the layer's RoPE tables are passed in); False for NoPE layers."""
    class_name: str
    adapters: Adapters = ()
    """Low-rank adapters on q_proj, k_proj, v_proj, o_proj (none: every projection is dense)."""
    linear_kinds: LinearKinds = ()
    """Kinds of q_proj, k_proj, v_proj, o_proj other than `dense` (none: all dense)."""
    sub_norm: NormPlan | None = None
    """Norm of the heads' concatenated output before o_proj (BitNet b1.58 2B-4T), or None."""

    @property
    def n_rep(self) -> int:
        return self.n_heads // self.n_kv_heads

    def linear(self, name: str) -> LinearPlan:
        """The plan of projection ``name`` (`q_proj`, `k_proj`, `v_proj`, `o_proj`)."""
        q, kv = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        in_f, out_f, bias = {
            "q_proj": (self.d_model, q, self.q_bias),
            "k_proj": (self.d_model, kv, self.k_bias),
            "v_proj": (self.d_model, kv, self.v_bias),
            "o_proj": (q, self.d_model, self.o_bias),
        }[name]
        return LinearPlan(
            in_f, out_f, bias, _adapter(self.adapters, name), _kind(self.linear_kinds, name)
        )


@dataclass(frozen=True)
class RecurrentPlan:
    """One layer's Griffin recurrent block (De et al. 2024): x and y projections, GeLU(tanh) gate
    on y, causal depthwise Conv1D and RG-LRU on x, output projection of their product."""

    d_model: int
    width: int
    n_heads: int
    """Blocks of the block-diagonal RG-LRU gates (each width / n_heads square)."""
    conv_width: int
    c: float
    bias: bool
    class_name: str = "RecurrentBlock"

    @property
    def block_width(self) -> int:
        return self.width // self.n_heads

    @property
    def linear_kinds(self) -> tuple[tuple[str, str], ...]:
        """The block's projections are dense (BitLinear kinds cover attention and FFN ones)."""
        return ()

    @property
    def sub_norm(self) -> None:
        """No sub-norm: that is BitNet's, before an attention output projection."""
        return None

    @property
    def adapters(self) -> Adapters:
        """No adapter targets a recurrent block's projections."""
        return ()

    def linear(self, name: str) -> LinearPlan:
        """The plan of projection ``name`` (`x_proj`, `y_proj`, `out_proj`)."""
        d, w = self.d_model, self.width
        in_f, out_f = {"x_proj": (d, w), "y_proj": (d, w), "out_proj": (w, d)}[name]
        return LinearPlan(in_f, out_f, self.bias)

    @property
    def n_params(self) -> int:
        """Three projections, the Conv1D (a kernel per channel), two block-diagonal gates with
        biases, and the recurrence parameter a (one per channel)."""
        linears = sum(
            p.in_features * p.out_features + p.out_features * p.bias
            for p in map(self.linear, ("x_proj", "y_proj", "out_proj"))
        )
        conv = self.width * self.conv_width + self.width * self.bias
        gates = 2 * (self.n_heads * self.block_width**2 + self.width)
        return linears + conv + gates + self.width


Mixer = AttentionPlan | RecurrentPlan
"""A layer's token mixer; builders pick by type."""


@dataclass(frozen=True)
class FfnPlan:
    """A dense feed-forward network, or a mixture of experts of such FFNs."""

    d_model: int
    hidden_dim: int
    activation: Literal["gelu", "gelu_tanh", "relu", "silu", "relu2"]
    gated: bool
    bias: bool
    class_name: str
    n_experts: int = 0
    """0 for a dense FFN."""
    experts_per_token: int = 0
    normalize_top_k: bool = True
    router_bias: bool = False
    adapters: Adapters = ()
    """Low-rank adapters on gate_proj, up_proj, down_proj of a dense FFN (none: all dense)."""
    linear_kinds: LinearKinds = ()
    """Kinds of gate_proj, up_proj, down_proj other than `dense` (none: all dense)."""
    sub_norm: NormPlan | None = None
    """Norm of the hidden activations before down_proj (BitNet b1.58 2B-4T), or None."""

    @property
    def moe(self) -> bool:
        return self.n_experts > 0

    def linear(self, name: str) -> LinearPlan:
        """The plan of projection ``name`` (`gate_proj`, `up_proj`, `down_proj`, `router`)."""
        d, h = self.d_model, self.hidden_dim
        in_f, out_f, bias = {
            "gate_proj": (d, h, self.bias),
            "up_proj": (d, h, self.bias),
            "down_proj": (h, d, self.bias),
            "router": (d, self.n_experts, self.router_bias),
        }[name]
        return LinearPlan(
            in_f, out_f, bias, _adapter(self.adapters, name), _kind(self.linear_kinds, name)
        )


@dataclass(frozen=True)
class LayerPlan:
    """One transformer block: its wiring, norms and branches."""

    index: int
    wiring: Literal["sequential", "post", "parallel"]
    """`sequential`: x + post(f(pre(x))) for pre, branch-post and sandwich placements (missing
    norms are identities); `post`: norm(x + f(x)); `parallel`: x + attn(n1(x)) + ffn(n2(x))."""
    attn_norm: NormPlan | None
    attn_post_norm: NormPlan | None
    ffn_norm: NormPlan | None
    """For parallel wiring with a shared norm: None (the attention norm feeds both)."""
    ffn_post_norm: NormPlan | None
    mixer: Mixer
    """The token mixer: self-attention or a recurrent block (builders pick by type)."""
    ffn: FfnPlan
    mask: int
    """Index into ModelPlan.windows: which attention mask this layer uses."""
    rope: int | None = None
    """Index into ModelPlan.ropes: which rotary tables this layer uses (None: no rotation)."""
    residual_scale: float | None = None
    """Branch outputs times this before joining the residual stream (Granite), or None."""
    cross_attention: AttentionPlan | None = None
    """Attention to the encoder's output, after the self-attention (encoder-decoder), or None."""
    cross_attn_norm: NormPlan | None = None
    """Pre-norm of the cross-attention branch, or None."""


@dataclass(frozen=True)
class RelativeBiasPlan:
    """T5's relative position bias: a (n_buckets, n_heads) table, one per stack, added to the
    scores of every self-attention layer of that stack (Raffel et al. 2020, 2.1)."""

    n_buckets: int
    max_distance: int
    n_heads: int
    bidirectional: bool
    """Encoder: buckets for both directions; decoder: past distances only."""

    @property
    def n_params(self) -> int:
        return self.n_buckets * self.n_heads


@dataclass(frozen=True)
class StackPlan:
    """The encoder stack of an encoder-decoder model: bidirectional blocks and a final norm."""

    d_model: int
    layers: tuple[LayerPlan, ...]
    final_norm: NormPlan | None
    relative_bias: RelativeBiasPlan | None
    own_embedding: bool
    """The encoder has its own token embedding instead of reading the decoder's."""
    n_params: int
    """Parameters of the stack, its own embedding included."""

    @property
    def n_layers(self) -> int:
        return len(self.layers)


@dataclass(frozen=True)
class ModelPlan:
    """A whole model with every choice made."""

    name: str
    spec_sha256: str
    vocab_size: int
    vocab_rows: int
    d_model: int
    n_layers: int
    max_seq_len: int
    embed_scale: float | None
    """Embeddings times sqrt(d_model), the scale rounded to the running dtype (Gemma)."""
    position: Literal["learned", "rope", "alibi", "none", "relative_bias"]
    ropes: tuple[RopePlan, ...]
    """Distinct rotary configurations used by the layers (one table each per pass)."""
    alibi_slopes: tuple[float, ...] | None
    """One slope per head (Press et al. 2022), or None."""
    layers: tuple[LayerPlan, ...]
    windows: tuple[int | None, ...]
    """Distinct attention windows used by the layers (None: full causal)."""
    final_norm: NormPlan | None
    tie_embeddings: bool
    head_bias: bool
    logit_softcap: float | None
    n_params: int
    n_params_untied: int
    head_adapter: AdapterPlan | None = None
    """Low-rank adapter on the output head, or None."""
    n_adapter_params: int = 0
    """Parameters of every adapter (included in `n_params`); the rest are frozen when nonzero."""
    alibi_scale: float | None = None
    """Factor of the ALiBi bias: the attention's score scale when the bias joins the raw scores
    (Falcon), None when it is added to the scaled scores."""
    alibi_bfloat16: bool = False
    """ALiBi bias as slope × key position rounded to bfloat16 (Falcon), else -slope × distance."""

    @property
    def head(self) -> LinearPlan:
        """The output projection."""
        return LinearPlan(self.d_model, self.vocab_rows, self.head_bias, self.head_adapter)

    @property
    def has_adapters(self) -> bool:
        return self.n_adapter_params > 0

    def without_adapters(self) -> ModelPlan:
        """The base model's plan: every adapter removed (what merging adapters leaves)."""
        layers = tuple(
            replace(
                layer,
                mixer=replace(layer.mixer, adapters=())
                if isinstance(layer.mixer, AttentionPlan)
                else layer.mixer,
                ffn=replace(layer.ffn, adapters=()),
            )
            for layer in self.layers
        )
        return replace(
            self,
            layers=layers,
            head_adapter=None,
            n_params=self.n_params - self.n_adapter_params,
            n_params_untied=self.n_params_untied - self.n_adapter_params,
            n_adapter_params=0,
        )

    embed_multiplier: float | None = None
    """Embeddings times this constant (Granite), or None."""
    embed_norm: NormPlan | None = None
    """Norm of the embeddings (BLOOM), or None."""
    logit_scale: float | None = None
    """Logits times this, before soft-capping (Cohere, Granite), or None."""
    encoder: StackPlan | None = None
    """The encoder of an encoder-decoder model (the rest of the plan is its decoder), or None."""
    relative_bias: RelativeBiasPlan | None = None
    """The decoder's causal relative position bias (T5), or None."""

    @property
    def rope(self) -> RopePlan | None:
        """The first rotary configuration (the only one unless layers override it), or None."""
        return self.ropes[0] if self.ropes else None

    @property
    def uniform_layers(self) -> bool:
        """Whether every layer has the same structure (so one constructor call builds them all)."""
        first = self.layers[0]
        return all(
            layer.mixer == first.mixer
            and layer.ffn == first.ffn
            and layer.mask == first.mask
            and layer.rope == first.rope
            for layer in self.layers
        )


def refuse_encoder_decoder(plan: ModelPlan, what: str) -> None:
    """Raise a clear usage error when ``what`` (a feature built for one decoder stack: tensor
    parallelism, memory planning) is asked of an encoder-decoder plan."""
    if plan.encoder is not None:
        from archspec.errors import UsageError

        raise UsageError(
            f"{plan.name}: {what} does not support encoder-decoder models yet "
            "(counts, module, HF import/export, diff, draw and report do)"
        )
