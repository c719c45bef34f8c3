"""The spec language: one frozen, closed pydantic model per architectural part.

Variants are discriminated unions on ``kind`` (norm, position, RoPE scaling). Every field has a
docstring: it feeds ``archspec schema``, the README reference and error hints. Cross-field rules live
in :mod:`archspec.spec.checks` and run once a spec has parsed, so that every problem is reported at
once with its location.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class SpecModel(BaseModel):
    """Base of every spec part: immutable, closed to unknown keys, strict about types."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


# --- norms -------------------------------------------------------------------------------------

ComputeDtype = Literal["float32", "input"]


class LayerNormSpec(SpecModel):
    """LayerNorm (Ba et al. 2016): subtract the mean, divide by the standard deviation."""

    kind: Literal["layernorm"] = "layernorm"
    """Norm type. GPT-2, phi-2, Falcon: `layernorm`; OLMo 1: `layernorm` with `affine: false`."""
    eps: PositiveFloat = 1e-5
    """Added to the variance before the square root."""
    affine: bool = True
    """Learnable per-channel scale. `false` gives OLMo's parameter-free LayerNorm."""
    bias: bool | None = None
    """Learnable per-channel shift; null: present exactly when `affine` is (GPT-2, phi-2, Falcon).
    Independent of the global `bias`."""
    compute_dtype: ComputeDtype = "float32"
    """Dtype the statistics are computed in: `float32` (upcast, as the references do) or `input`."""


class RMSNormSpec(SpecModel):
    """RMSNorm (Zhang & Sennrich 2019): divide by the root mean square, no centring."""

    kind: Literal["rmsnorm"] = "rmsnorm"
    """Norm type. Llama, Mistral, Qwen2, OLMo 2, Gemma: `rmsnorm` (the default when `kind` is left out)."""
    eps: PositiveFloat = 1e-6
    """Added to the mean square before the square root."""
    unit_offset: bool = False
    """Scale by `(1 + w)` with `w` initialised at zero, as Gemma does, instead of by `w`."""
    compute_dtype: ComputeDtype = "float32"
    """Dtype the statistics are computed in: `float32` (upcast, as the references do) or `input`."""


def _kind_or(default: str) -> Any:
    """A discriminator that reads `kind`, or takes the part's default kind when it is left out."""

    def kind(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get("kind", default)
        return getattr(value, "kind", None)

    return Discriminator(kind)


NormSpec = Annotated[
    Annotated[LayerNormSpec, Tag("layernorm")] | Annotated[RMSNormSpec, Tag("rmsnorm")],
    _kind_or("rmsnorm"),
]


class QKNormSpec(SpecModel):
    """Normalisation of queries and keys before the dot product (OLMo 2, Qwen3, Gemma 3)."""

    scope: Literal["head", "projection"] = "head"
    """`head`: one norm of size `head_dim` shared by all heads (Qwen3, Gemma 3); `projection`: a
    norm over the whole query/key projection, `n_heads*head_dim` / `n_kv_heads*head_dim` (OLMo 2)."""
    norm: NormSpec = Field(default_factory=RMSNormSpec)
    """The norm applied to queries and keys."""


# --- position ----------------------------------------------------------------------------------


class LinearRopeScaling(SpecModel):
    """Position interpolation (Chen et al. 2023): positions divided by `factor`."""

    kind: Literal["linear"] = "linear"
    """Scaling method."""
    factor: PositiveFloat
    """Context extension factor."""


class NtkRopeScaling(SpecModel):
    """NTK-aware scaling (bloc97, 2023): base raised to `theta * factor**(d/(d-2))`."""

    kind: Literal["ntk"] = "ntk"
    """Scaling method."""
    factor: PositiveFloat
    """Context extension factor."""


class YarnRopeScaling(SpecModel):
    """YaRN (Peng et al. 2023): per-frequency interpolation ramp plus attention temperature."""

    kind: Literal["yarn"] = "yarn"
    """Scaling method."""
    factor: PositiveFloat
    """Context extension factor."""
    original_max_seq_len: PositiveInt
    """Context length the model was pretrained with."""
    beta_fast: PositiveFloat = 32.0
    """Rotations above which a frequency is kept (extrapolated)."""
    beta_slow: PositiveFloat = 1.0
    """Rotations below which a frequency is fully interpolated."""
    attention_factor: PositiveFloat | None = None
    """Scale of cos/sin; default `0.1 * ln(factor) + 1` (YaRN eq. 22)."""


class Llama3RopeScaling(SpecModel):
    """Llama 3.1's frequency-dependent scaling (Meta, 2024)."""

    kind: Literal["llama3"] = "llama3"
    """Scaling method."""
    factor: PositiveFloat
    """Divisor of the low frequencies."""
    low_freq_factor: PositiveFloat = 1.0
    """Wavelengths longer than `original_max_seq_len / low_freq_factor` are divided by `factor`."""
    high_freq_factor: PositiveFloat = 4.0
    """Wavelengths shorter than `original_max_seq_len / high_freq_factor` are kept."""
    original_max_seq_len: PositiveInt = 8192
    """Context length the model was pretrained with."""


class LongRopeScaling(SpecModel):
    """LongRoPE (Ding et al. 2024; Phi-3 128k, Phi-4-mini): one rescale factor per rotary pair,
    short factors within the original context and long factors beyond it."""

    kind: Literal["longrope"] = "longrope"
    """Scaling method."""
    short_factor: list[PositiveFloat]
    """Divisors of the pair frequencies while the sequence fits the original context; one per
    rotary pair (`rotary_dim / 2` values)."""
    long_factor: list[PositiveFloat]
    """Divisors once the sequence (the cache length, when decoding) passes
    `original_max_seq_len`; one per rotary pair."""
    original_max_seq_len: PositiveInt
    """Context length the model was pretrained with (Phi-3: 4096)."""
    attention_factor: PositiveFloat | None = None
    """Scale of cos/sin; default `sqrt(1 + ln(s) / ln(original_max_seq_len))` with
    `s = max_seq_len / original_max_seq_len` (1 when `s <= 1`), as Phi-3 computes it."""


RopeScaling = Annotated[
    LinearRopeScaling | NtkRopeScaling | YarnRopeScaling | Llama3RopeScaling | LongRopeScaling,
    Field(discriminator="kind"),
]


class LearnedPosition(SpecModel):
    """Learned absolute position embeddings added to the token embeddings (GPT-2)."""

    kind: Literal["learned"] = "learned"
    """Position encoding."""


class RopePosition(SpecModel):
    """Rotary position embedding (Su et al. 2021) applied to queries and keys."""

    kind: Literal["rope"] = "rope"
    """Position encoding (the default when `kind` is left out)."""
    theta: Annotated[float, Field(gt=1)] = 10000.0
    """Base of the rotation frequencies (Llama 2: 1e4, Llama 3: 5e5, Mistral: 1e6)."""
    fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Fraction of each head's dimensions that rotate (phi-2: 0.4); the rest pass through."""
    layout: Literal["half_split", "interleaved"] = "half_split"
    """Pairing of rotated dimensions: `half_split` pairs i with i+d/2 (HF, GPT-NeoX);
    `interleaved` pairs 2i with 2i+1 (original Meta/GPT-J code)."""
    scaling: RopeScaling | None = None
    """Context-extension scaling of the frequencies, or null."""


class AlibiPosition(SpecModel):
    """ALiBi (Press et al. 2022): a per-head linear bias on attention scores, no embeddings."""

    kind: Literal["alibi"] = "alibi"
    """Position encoding."""
    scaled: bool = False
    """Whether the bias joins the raw scores q·k before they are scaled (by 1/sqrt(head_dim) or
    `attention.scale`), and so is scaled with them: `(q·k + bias) / sqrt(head_dim)` (Falcon-RW,
    transformers' Falcon with `alibi: true`); false adds it to the scaled scores (Press et al.,
    BLOOM)."""
    bias_dtype: Literal["float32", "bfloat16"] = "float32"
    """Precision of the bias. `float32`: -slope × distance, exact. `bfloat16`: slope × key
    position (counted from each row's first token; softmax makes the two equal), with the slopes
    and each product rounded to bfloat16 whatever the model's dtype, as Falcon-RW and
    transformers' Falcon (`build_alibi_tensor`) compute it."""


class NoPosition(SpecModel):
    """No position information (NoPE): causality alone orders the tokens."""

    kind: Literal["none"] = "none"
    """Position encoding."""


class RelativeBiasPosition(SpecModel):
    """T5's relative position bias (Raffel et al. 2020, 2.1): a learned scalar per head and
    distance bucket added to the attention scores. Each stack holds one table, computed once per
    pass and shared by all its layers; the encoder's buckets are bidirectional, the decoder's
    causal; cross-attention has none."""

    kind: Literal["relative_bias"] = "relative_bias"
    """Position encoding."""
    n_buckets: PositiveInt = 32
    """Distance buckets (T5: `relative_attention_num_buckets`), half of them per direction in the
    encoder: exact distances for the first half of those, logarithmic ones beyond."""
    max_distance: PositiveInt = 128
    """Distances from this on share the last bucket (T5: `relative_attention_max_distance`)."""


PositionSpec = Annotated[
    Annotated[LearnedPosition, Tag("learned")]
    | Annotated[RopePosition, Tag("rope")]
    | Annotated[AlibiPosition, Tag("alibi")]
    | Annotated[NoPosition, Tag("none")]
    | Annotated[RelativeBiasPosition, Tag("relative_bias")],
    _kind_or("rope"),
]


# --- attention ---------------------------------------------------------------------------------


class AttentionSpec(SpecModel):
    """Causal self-attention: multi-head, multi-query or grouped-query."""

    n_heads: PositiveInt
    """Number of query heads."""
    n_kv_heads: PositiveInt | None = None
    """Number of key/value heads: `n_heads` for MHA, 1 for MQA, a divisor for GQA. Default `n_heads`."""
    head_dim: PositiveInt | None = None
    """Size of each head; default `d_model / n_heads`. May differ (Gemma 7B: 16 x 256 != 3072).
    With RoPE, layer rules must keep it the same in every layer."""
    q_bias: bool | None = None
    """Bias on the query projection; null follows the global `bias` (Qwen2: true)."""
    k_bias: bool | None = None
    """Bias on the key projection; null follows the global `bias` (Qwen2: true)."""
    v_bias: bool | None = None
    """Bias on the value projection; null follows the global `bias` (Qwen2: true)."""
    o_bias: bool | None = None
    """Bias on the output projection; null follows the global `bias` (Qwen2: false)."""
    scale: PositiveFloat | None = None
    """Multiplier of the query-key scores; default `head_dim ** -0.5` (Gemma 2: `256 ** -0.5`)."""
    sliding_window: PositiveInt | None = None
    """Each token attends to at most this many tokens, itself included (Mistral: 4096); null: all."""
    logit_softcap: PositiveFloat | None = None
    """Scores become `cap * tanh(scores / cap)` before the softmax (Gemma 2: 50)."""
    qkv_clip: PositiveFloat | None = None
    """Queries, keys and values are clamped to `[-clip, clip]` after projection (OLMo: `clip_qkv`)."""
    qk_norm: QKNormSpec | None = None
    """Normalise queries and keys before RoPE (OLMo 2, Qwen3), or null."""
    sub_norm: bool = Field(default=False, exclude_if=lambda value: not value)
    """Normalise the heads' concatenated output (`n_heads * head_dim` channels) with the model's
    `norm` before the output projection (BitNet b1.58 2B-4T: `attn_sub_norm`); left out of dumps
    when false."""


class RecurrentSpec(SpecModel):
    """Griffin's recurrent block (De et al. 2024, Fig. 2; RecurrentGemma): two projections of the
    input, one through GeLU(tanh) as a gate, the other through a causal depthwise Conv1D and the
    RG-LRU, their product projected back to `d_model`."""

    width: PositiveInt
    """Width of the recurrence: outputs of the `x` and `y` projections, channels of the Conv1D and
    of the RG-LRU (RecurrentGemma: `lru_width`)."""
    n_heads: PositiveInt
    """Blocks of the block-diagonal input and recurrence gates of the RG-LRU, each `width /
    n_heads` square (RecurrentGemma: `num_attention_heads`)."""
    conv_width: PositiveInt = 4
    """Kernel size of the causal depthwise Conv1D (RecurrentGemma: `conv1d_width`, 4)."""
    c: PositiveFloat = 8.0
    """The RG-LRU's constant: a_t = sigmoid(Λ)^(c r_t), as a = exp(-c r_t softplus(-Λ)) (Griffin,
    eq. 4: c = 8)."""
    bias: bool = True
    """Bias on the `x`, `y` and output projections and the Conv1D (RecurrentGemma: true)."""


# --- feed-forward ------------------------------------------------------------------------------

Activation = Literal[
    "gelu",
    "gelu_tanh",
    "relu",
    "silu",
    "swiglu",
    "geglu",
    "geglu_tanh",
    "reglu",
    "relu2",
    "relu2_glu",
]


class MoESpec(SpecModel):
    """Sparse mixture of experts (Shazeer et al. 2017; Mixtral, Jiang et al. 2024)."""

    n_experts: PositiveInt
    """Number of expert FFNs in each layer."""
    experts_per_token: PositiveInt
    """Experts each token is routed to (top-k)."""
    normalize_top_k: bool = True
    """Renormalise the top-k router probabilities to sum to one (Mixtral: true)."""
    router_bias: bool = False
    """Bias on the router projection."""


class FfnSpec(SpecModel):
    """Position-wise feed-forward network, dense or mixture of experts."""

    activation: Activation
    """`gelu` (exact), `gelu_tanh`, `relu`, `silu`, `relu2` (squared ReLU, So et al. 2021); gated
    (Shazeer 2020): `swiglu` (SiLU gate), `geglu` (exact GELU gate), `geglu_tanh` (tanh GELU gate,
    Gemma), `reglu` (ReLU gate), `relu2_glu` (squared-ReLU gate, BitNet b1.58 2B-4T's `relu2`)."""
    hidden_dim: PositiveInt
    """Inner width (per expert for MoE)."""
    bias: bool | None = None
    """Bias on the FFN projections; null follows the global `bias`."""
    moe: MoESpec | None = None
    """Replace the FFN by a mixture of experts of this FFN, or null for a dense FFN."""
    sub_norm: bool = Field(default=False, exclude_if=lambda value: not value)
    """Normalise the hidden activations (`hidden_dim` channels) with the model's `norm` before
    the down projection (BitNet b1.58 2B-4T: `ffn_sub_norm`); dense FFNs only; left out of
    dumps when false."""


# --- block, embedding, head --------------------------------------------------------------------


class BlockSpec(SpecModel):
    """How the attention and FFN branches, their norms and the residual stream fit together."""

    placement: Literal["pre", "post", "branch_post", "sandwich"] = "pre"
    """`pre`: x + f(norm(x)) (GPT-2, Llama); `post`: norm(x + f(x)) (original Transformer);
    `branch_post`: x + norm(f(x)) (OLMo 2); `sandwich`: x + norm(f(norm(x))) (Gemma 2)."""
    parallel_residual: bool = False
    """x + attn(norm(x)) + ffn(norm(x)) in one step (GPT-J, phi-2, Falcon); needs `placement: pre`."""
    shared_norm: bool | None = None
    """With `parallel_residual`: one norm feeds both branches (GPT-J, phi-2, Falcon-7B: true, the
    default) or each branch has its own (Falcon-40B: false)."""
    residual_multiplier: PositiveFloat | None = None
    """Branch outputs are multiplied by this before they join the residual stream (Granite:
    `residual_multiplier`); null: 1."""


class EmbeddingSpec(SpecModel):
    """Token embedding."""

    scale_by_sqrt_d_model: bool = False
    """Multiply embeddings by `sqrt(d_model)`, rounded to the running dtype as the reference does (Gemma)."""
    multiplier: PositiveFloat | None = None
    """Multiply embeddings by this constant (Granite: `embedding_multiplier`); null: 1."""
    norm: NormSpec | None = None
    """A norm applied to the embeddings, after any scaling and position embedding (BLOOM:
    `word_embeddings_layernorm`, a LayerNorm); null: none."""
    scale_dtype: Literal["bfloat16"] | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    """With `scale_by_sqrt_d_model`: `sqrt(d_model)` is first rounded to this dtype whatever the
    running dtype (RecurrentGemma: bfloat16, so 50.5 for d_model 2560); null: the running dtype."""


class HeadSpec(SpecModel):
    """Final norm and output projection to vocabulary logits."""

    final_norm: bool = True
    """Apply the model's norm to the last hidden state."""
    tie_embeddings: bool = False
    """The output projection reuses the token embedding matrix (GPT-2, Gemma, OLMo 1B)."""
    bias: bool = False
    """Bias on the output projection (phi-2). Independent of the global `bias`."""
    logit_softcap: PositiveFloat | None = None
    """Logits become `cap * tanh(logits / cap)` (Gemma 2: 30)."""
    logit_scale: PositiveFloat | None = None
    """Logits are multiplied by this, before any soft-capping (Cohere: `logit_scale`; Granite:
    `1 / logits_scaling`); null: 1."""
    scale_by_inv_sqrt_d_model: bool = Field(default=False, exclude_if=lambda value: not value)
    """Multiply the last hidden state by `d_model ** -0.5` before the head (T5 v1.0, whose head
    is tied to the embedding); with `logit_scale` too, both apply. Left out of dumps when false."""


TokenId = Annotated[int, Field(ge=0)]


class TokensSpec(SpecModel):
    """Special token ids of the model's tokenizer. Metadata: they change no parameter or count;
    `import-hf` reads them from config.json and `export-hf` writes them back."""

    bos: TokenId | None = None
    """Id of the beginning-of-sequence token (`bos_token_id`)."""
    eos: TokenId | list[TokenId] | None = None
    """Id, or ids, of the end-of-sequence token(s) (`eos_token_id`; Llama 3 instruct lists three)."""
    pad: TokenId | None = None
    """Id of the padding token (`pad_token_id`)."""


Mixer = Literal["attention", "recurrent"]


class LayerRule(SpecModel):
    """Overrides for a set of layers: the layers listed, or every `every`-th from `offset`."""

    layers: list[Annotated[int, Field(ge=0)]] | None = None
    """Layer indices (0-based) this rule applies to."""
    every: PositiveInt | None = None
    """Apply to layers `i` with `i % every == offset` (Gemma 2: every 2, offset 1 is global)."""
    offset: Annotated[int, Field(ge=0)] = 0
    """Offset for `every`."""
    attention: dict[str, Any] = Field(default_factory=dict)
    """Attention fields to override on those layers (e.g. `sliding_window: null`)."""
    ffn: dict[str, Any] = Field(default_factory=dict)
    """FFN fields to override on those layers."""
    position: dict[str, Any] = Field(default_factory=dict)
    """Position fields to override on those layers, in a RoPE (or NoPE) model: `kind` (`rope` or
    `none`: SmolLM3's and Cohere 2's layers without positions), `theta` and `scaling` (Gemma 3:
    global layers at theta 1e6 with linear scaling 8, local ones at 1e4)."""
    mixer: Mixer | None = Field(default=None, exclude_if=lambda value: value is None)
    """The token mixer of those layers (`attention` or `recurrent`), or null: the model's `mixer`
    (RecurrentGemma: `{every: 3, offset: 2, mixer: attention}`)."""


# --- adapters ----------------------------------------------------------------------------------

AdapterTarget = Literal[
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
    "router",
    "experts",
    "all-linear",
]


class AdapterOverride(SpecModel):
    """Rank and alpha of one target, instead of the section's (peft's `rank_pattern`/`alpha_pattern`)."""

    r: PositiveInt | None = None
    """Rank of this target's adapters; null: the section's `r`."""
    alpha: PositiveFloat | None = None
    """Alpha of this target's adapters; null: the section's `alpha`."""


class AdapterSpec(SpecModel):
    """Low-rank adapters on linear projections: LoRA (Hu et al. 2021) or DoRA (Liu et al. 2024).

    With adapters every base weight is frozen; only the adapters train.
    """

    kind: Literal["lora", "dora"] = "lora"
    """`lora`: W + s*B@A; `dora`: the same direction rescaled to a learned magnitude per row."""
    r: PositiveInt = 8
    """Rank of A (r x in) and B (out x r)."""
    alpha: PositiveFloat = 8.0
    """Scale numerator: s = alpha / r (peft's default alpha is 8)."""
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Dropout on the adapter's input, in [0, 1)."""
    rslora: bool = False
    """rsLoRA (Kalajdzievski 2023): s = alpha / sqrt(r) instead of alpha / r."""
    targets: Annotated[list[AdapterTarget], Field(min_length=1)]
    """Projections to adapt, or `all-linear`: every linear layer except the output head, as peft
    defines it. `router` and `experts` are refused (see the Adapters section of the README)."""
    layers: list[Annotated[int, Field(ge=0)]] | None = None
    """Layer indices (0-based) to adapt (peft's `layers_to_transform`); null: every layer."""
    overrides: dict[AdapterTarget, AdapterOverride] = Field(default_factory=dict)
    """Per-target `r` / `alpha`, e.g. `{v_proj: {r: 16}}`."""


# --- linear kind -------------------------------------------------------------------------------

LinearTarget = Literal["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class DenseLinearSpec(SpecModel):
    """Dense projections (`nn.Linear`): what every model has unless it says otherwise."""

    kind: Literal["dense"] = "dense"
    """Linear kind (the default when `kind` is left out)."""


class BitLinearSpec(SpecModel):
    """BitNet b1.58 (Ma et al. 2024): weights quantised to {-1, 0, +1} times their absmean, inputs
    to 8 bits per token (absmax), with straight-through gradients (quantisation-aware training),
    as transformers' `AutoBitLinear` computes it. Embeddings and the output head stay dense."""

    kind: Literal["bitlinear_b158"] = "bitlinear_b158"
    """Linear kind."""
    projections: Annotated[list[LinearTarget], Field(min_length=1)] | None = None
    """Block projections of this kind; the others stay dense. null: all seven (`q_proj`,
    `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`), as BitNet does."""


LinearSpec = Annotated[
    Annotated[DenseLinearSpec, Tag("dense")] | Annotated[BitLinearSpec, Tag("bitlinear_b158")],
    _kind_or("dense"),
]


# --- encoder-decoder -----------------------------------------------------------------------


class CrossAttentionSpec(SpecModel):
    """Each decoder layer's attention to the encoder's output (Vaswani et al. 2017, 3.2.3),
    after its self-attention; null fields take the decoder self-attention's value. No position
    encoding, no window, no mask beyond the encoder's padding."""

    n_heads: PositiveInt | None = None
    """Number of query heads; null: `attention.n_heads`."""
    n_kv_heads: PositiveInt | None = None
    """Number of key/value heads; null: `attention.n_kv_heads`, or `n_heads` when this section
    sets its own `n_heads`."""
    head_dim: PositiveInt | None = None
    """Size of each head; null: `attention.head_dim`."""
    q_bias: bool | None = None
    """Bias on the query projection; null: `attention.q_bias`."""
    k_bias: bool | None = None
    """Bias on the key projection; null: `attention.k_bias`."""
    v_bias: bool | None = None
    """Bias on the value projection; null: `attention.v_bias`."""
    o_bias: bool | None = None
    """Bias on the output projection; null: `attention.o_bias`."""
    scale: PositiveFloat | None = None
    """Multiplier of the query-key scores; null: `attention.scale` (T5: 1.0)."""


class EncoderSpec(SpecModel):
    """The encoder stack of an encoder-decoder model (T5): bidirectional self-attention over the
    input, read by every decoder layer's cross-attention. The top-level fields describe the
    decoder; every part left out here is the decoder's."""

    n_layers: PositiveInt
    """Number of encoder blocks (T5: `num_layers`; the decoder's is the top-level `n_layers`)."""
    attention: AttentionSpec | None = None
    """Self-attention of the encoder layers (never causal); null: the top-level `attention`."""
    ffn: FfnSpec | None = None
    """Feed-forward network of the encoder layers; null: the top-level `ffn`."""
    norm: NormSpec | None = None
    """Norm of the encoder blocks and its final norm; null: the top-level `norm`."""
    position: PositionSpec | None = None
    """Position encoding of the encoder; null: the top-level `position` (T5: `relative_bias`)."""
    final_norm: bool = True
    """Apply the norm to the encoder's last hidden state (T5: `final_layer_norm`)."""
    share_embedding: bool = True
    """The encoder reads the decoder's token embedding (T5: `shared`); false gives it its own."""


Dtype = Literal["float32", "bfloat16", "float16"]


class ModelSpec(SpecModel):
    """One transformer language model: a decoder-only stack, or with `encoder` and
    `cross_attention` an encoder-decoder whose top-level fields describe the decoder."""

    name: Annotated[str, Field(min_length=1)]
    """Short identifier, e.g. `llama2-7b`."""
    description: str = ""
    """One line on what the model is."""
    source: dict[str, str] = Field(default_factory=dict)
    """Where the numbers come from: topic -> citation (paper and table, or official config URL)."""
    extends: str | None = None
    """Base spec (a shipped name or a path relative to this file) whose fields this one overrides.
    Resolved at load time: the loaded spec has `extends: null`."""

    vocab_size: PositiveInt
    """Number of tokens the tokenizer produces."""
    padded_vocab_size: PositiveInt | None = None
    """Rows of the embedding and output matrices when padded for efficiency (OLMo: 50280 -> 50304);
    default `vocab_size`."""
    d_model: PositiveInt
    """Width of the residual stream."""
    n_layers: PositiveInt
    """Number of transformer blocks."""
    max_seq_len: PositiveInt
    """Context length the model was trained for."""
    dtype: Dtype = "bfloat16"
    """Dtype of the published weights; used for memory figures and exported configs."""
    bias: bool = False
    """Default bias for every linear projection; parts override it (`attention.q_bias`, `ffn.bias`)."""

    norm: NormSpec = Field(default_factory=RMSNormSpec)
    """The norm used in the blocks and as the final norm."""
    position: PositionSpec = Field(default_factory=RopePosition)
    """Position encoding."""
    attention: AttentionSpec
    """Self-attention (of the layers whose mixer is `attention`)."""
    mixer: Mixer = Field(default="attention", exclude_if=lambda value: value == "attention")
    """The token mixer of every layer unless a layer rule says otherwise: `attention`, or
    `recurrent` (Griffin's recurrent block, configured by `recurrent`; Hawk: every layer)."""
    recurrent: RecurrentSpec | None = Field(default=None, exclude_if=lambda value: value is None)
    """Griffin's recurrent block, for the layers whose mixer is `recurrent`, or null; left out of
    dumps when null."""
    ffn: FfnSpec
    """Feed-forward network."""
    block: BlockSpec = Field(default_factory=BlockSpec)
    """Norm placement and residual wiring."""
    embedding: EmbeddingSpec = Field(default_factory=EmbeddingSpec)
    """Token embedding."""
    head: HeadSpec = Field(default_factory=HeadSpec)
    """Final norm and output projection."""
    layer_overrides: list[LayerRule] = Field(default_factory=list)
    """Per-layer patterns, applied in order (later rules win), e.g. Gemma 2's alternating windows."""
    linear: LinearSpec | None = Field(default=None, exclude_if=lambda value: value is None)
    """Kind of the blocks' linear projections (dense, or BitNet b1.58's ternary BitLinear), for
    every projection or the ones listed; null: dense; left out of dumps when null."""
    adapters: AdapterSpec | None = Field(default=None, exclude_if=lambda value: value is None)
    """Low-rank adapters (LoRA, DoRA) for fine-tuning, or null; left out of dumps when null."""
    tokens: TokensSpec | None = None
    """Special token ids (metadata, not architecture): kept from an imported config.json and
    written back on export."""
    encoder: EncoderSpec | None = Field(default=None, exclude_if=lambda value: value is None)
    """An encoder stack (T5): the model becomes an encoder-decoder, the top-level fields its
    decoder; null: decoder-only. Left out of dumps when null."""
    cross_attention: CrossAttentionSpec | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    """Cross-attention of the decoder layers to the encoder's output; needed with `encoder`,
    refused without it. Left out of dumps when null."""

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ModelSpec:
        from archspec.spec.checks import CrossFieldError, cross_field_issues

        issues = cross_field_issues(self)
        if issues:
            raise CrossFieldError(issues)
        return self
