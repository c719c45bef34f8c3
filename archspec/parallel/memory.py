"""Memory planner: per-device bytes of a training step on a (dp x tp) mesh, torch-free.

Weights, gradients and optimizer state are exact: every parameter tensor's shape comes from the
plan, tensor parallelism splits it as `archspec.parallel.layout` says, and FSDP2 shards dim 0 of
what is left (padded to a multiple of dp, as `fully_shard` does).

Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
Transformer Models", section 4): count, per layer, the tensors autograd keeps for the backward
pass, here for the components the spec actually has (GQA, gated FFN, soft-capped attention,
MoE) as archspec's modules compute them:

- a norm keeps its input and its statistics (1 per token for RMSNorm, 2 for LayerNorm, float32);
- a branch keeps its gathered input (b*s*h: under tensor parallelism DTensor keeps the gathered
  sequence, where Megatron re-gathers it in the backward pass);
- fused attention keeps q, k, v (heads and key/value heads), the output, the output projection's
  input and the float32 log-sum-exp per head; soft-capped attention (explicit scores) keeps q, k,
  v, the projection's input, and per head and key the tanh output, the float32 softmax and, in a
  16-bit dtype, its cast (Korthikanti's 5as^2b term without dropout);
- a gated FFN keeps 4 hidden-size tensors (gate, act(gate), up, product), a plain MLP 2; a MoE
  layer (replicated under TP) keeps, per routed token copy, its row, 4 (2) hidden-size tensors and
  the expert output, plus the router's float32 probabilities and int64 routing indices;
- the head keeps its input and the float32 log-softmax of the logits (and the tanh output with
  logit soft-capping).

Sizes split by tensor parallelism (heads, hidden units, vocabulary with a vocabulary-parallel
loss) are divided by tp, the sequence-parallel parts (norm inputs) too. With activation
checkpointing a layer keeps only its input, and one layer's activations are rebuilt at a time.

The total is the peak of a steady step (the AdamW state exists; zero_grad frees the gradients),
weights and optimizer state plus the larger of two moments (see `peak_terms`):

- the backward pass: the activations and the buffers beside them: cross-entropy's two float32
  logits-sized gradients, and under FSDP2 the gathered and reduce-scatter buffers;
- the optimizer step: every gradient and AdamW's temporaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from archspec.parallel.layout import parallel_layout
from archspec.plan.types import (
    AttentionPlan,
    FfnPlan,
    LayerPlan,
    ModelPlan,
    NormPlan,
    RecurrentPlan,
    refuse_encoder_decoder,
)

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
OPTIMIZER_STATES = {"adamw": 2, "adam": 2, "sgd": 0}
"""Tensors of state per parameter (Adam: first and second moments, in the parameter's dtype)."""
STEP_BYTES = 4
"""torch's Adam keeps one float32 `step` scalar per parameter tensor."""
SPLIT_DIM = {"colwise": 0, "vocab_embed": 0, "vocab_head": 0, "rowwise": 1}
"""Which dimension of a module's weight tensor parallelism splits (biases: see `_local`)."""

Shape = tuple[int, ...]


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes one device holds during a training step."""

    name: str
    tp: int
    dp: int
    batch: int
    """Sequences per data-parallel rank."""
    seq: int
    dtype: str
    optimizer: str
    checkpointing: bool
    weights: int
    grads: int
    optimizer_state: int
    activations: int
    kv_cache: int
    """Keys and values of `batch` sequences of `seq` tokens for inference (not in `total`)."""
    backward_buffers: int = 0
    """Bytes beside the activations at the backward pass's peak (loss gradients, FSDP buffers)."""
    optimizer_temp: int = 0
    """Bytes the optimizer step allocates and frees beside the gradients and its state."""
    device_memory: int | None = None

    @property
    def total(self) -> int:
        """The peak of a training step: weights, optimizer state, and the larger of the
        backward pass (activations and buffers) and the optimizer step (gradients, temporaries)."""
        backward = self.activations + self.backward_buffers
        return self.weights + self.optimizer_state + max(backward, self.grads + self.optimizer_temp)

    @property
    def fits(self) -> bool | None:
        return None if self.device_memory is None else self.total <= self.device_memory

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"total": self.total, "fits": self.fits}


def param_shapes(plan: ModelPlan) -> list[tuple[str, Shape]]:
    """Every parameter tensor of the model (tied weights once), named as the modules name them."""
    refuse_encoder_decoder(plan, "the memory planner")
    d, rows = plan.d_model, plan.vocab_rows
    out: list[tuple[str, Shape]] = [("embed.weight", (rows, d))]
    if plan.position == "learned":
        out.append(("pos_embed.weight", (plan.max_seq_len, d)))
    for layer in plan.layers:
        out += _layer_shapes(layer, f"layers.{layer.index}")
    out += _norm_shapes(plan.final_norm, "final_norm")
    if not plan.tie_embeddings:
        out.append(("lm_head.weight", (rows, d)))
    if plan.head_bias:
        out.append(("lm_head.bias", (rows,)))
    return out


def local_shapes(plan: ModelPlan, tp: int, dp: int) -> list[tuple[str, Shape]]:
    """Each parameter's shape on the busiest device (rank 0): split by TP, then FSDP's dim-0 shard."""
    styles = dict(parallel_layout(plan).styles) if tp > 1 else {}
    out = []
    for name, shape in param_shapes(plan):
        module, _, kind = name.rpartition(".")
        shape = _local(shape, styles.get(module), kind, tp)
        if dp > 1:
            shape = (-(-shape[0] // dp),) + shape[1:]
        out.append((name, shape))
    return out


def plan_memory(
    plan: ModelPlan,
    *,
    tp: int = 1,
    dp: int = 1,
    batch: int = 1,
    seq: int | None = None,
    dtype: str = "bf16",
    optimizer: str = "adamw",
    checkpointing: bool = False,
    loss_parallel: bool = False,
    device_memory: int | None = None,
) -> MemoryPlan:
    """Per-device memory of one training step of ``plan`` (weights, grads, optimizer in ``dtype``)."""
    seq = seq or plan.max_seq_len
    size = DTYPE_BYTES[dtype]
    shapes = local_shapes(plan, tp, dp)
    numel = sum(_prod(shape) for _, shape in shapes)
    n_states = OPTIMIZER_STATES[optimizer]
    opt = n_states * numel * size + (STEP_BYTES * len(shapes) if n_states else 0)
    grads = numel * size
    if tp > 1 and dp == 1 and not plan.tie_embeddings:
        # DTensor's vocabulary-parallel embedding backward yields a replicated (whole) gradient;
        # FSDP reduce-scatters it into shards, and a tied head's split gradient absorbs it.
        grads += (plan.vocab_rows - plan.vocab_rows // tp) * plan.d_model * size
    windows = [plan.windows[layer.mask] for layer in plan.layers]
    kv = sum(
        2
        * (layer.mixer.n_kv_heads // tp)
        * layer.mixer.head_dim
        * min(seq, w or seq)
        * batch
        * size
        for layer, w in zip(plan.layers, windows, strict=True)
        if isinstance(layer.mixer, AttentionPlan)
    )
    # Recurrent layers (replicated under TP): Conv1D inputs and a float32 state per sequence.
    kv += sum(
        batch * m.width * ((m.conv_width - 1) * size + 4)
        for m in (layer.mixer for layer in plan.layers)
        if isinstance(m, RecurrentPlan)
    )
    acts = activation_bytes(plan, tp, dp, batch, seq, size, checkpointing, loss_parallel)
    buffers, temp = peak_terms(plan, tp, dp, batch * seq, size, loss_parallel, optimizer)
    return MemoryPlan(
        name=plan.name,
        tp=tp,
        dp=dp,
        batch=batch,
        seq=seq,
        dtype=dtype,
        optimizer=optimizer,
        checkpointing=checkpointing,
        weights=numel * size,
        grads=grads,
        optimizer_state=opt,
        activations=acts,
        kv_cache=kv,
        backward_buffers=buffers,
        optimizer_temp=temp,
        device_memory=device_memory,
    )


def peak_terms(
    plan: ModelPlan,
    tp: int,
    dp: int,
    tokens: int,
    size: int,
    loss_parallel: bool = False,
    optimizer: str = "adamw",
) -> tuple[int, int]:
    """The transient bytes of a training step's two peaks: (beside the activations in the
    backward pass, beside the gradients in the optimizer step), on the busiest device.

    - Loss: cross-entropy's backward holds two float32 logits-sized tensors at once, the
      gradient of the log-probabilities (`nll_loss_backward`) and of the logits
      (`_log_softmax_backward_data`): `2 * n * vocab * 4` (`/ tp` with a parallel loss).
    - FSDP2 (`fully_shard` per block and on the root, `reshard_after_forward=True`, its implicit
      prefetch of one block in the backward pass): the root's parameters stay gathered from the
      forward to the backward pass (the head's weight is already in the activations, which keep
      it). At the loss the last block is gathered again and the next prefetched: two blocks'
      worth of unsharded parameters. After a block's backward its unsharded gradients, the
      reduce-scatter input and the next block's all-gather output are live at once: three
      blocks' worth, while the head's activations are gone. "Block" is the largest layer's
      parameters after tensor parallelism, not sharded by dp.
    - Adam and AdamW (torch's per-tensor loop, the default for CPU tensors and for a mix of
      DTensor and plain parameters): `denom = (exp_avg_sq.sqrt() / c).add_(eps)` holds two
      temporaries of a parameter's size while the previous parameter's `denom` is still bound:
      the most over neighbours of `previous + 2 * current` (torch/optim/adam.py,
      `_single_tensor_adam`). SGD without momentum updates in place.
    """
    vocab = plan.vocab_rows // tp if loss_parallel else plan.vocab_rows
    loss = 2 * tokens * vocab * 4
    backward = loss
    if dp > 1:
        full = local_shapes(plan, tp, 1)
        blocks: dict[str, int] = {}
        root = 0
        for name, shape in full:
            if name.startswith("layers."):
                index = name.split(".")[1]
                blocks[index] = blocks.get(index, 0) + _prod(shape) * size
            else:
                root += _prod(shape) * size
        root -= _root_kept(plan, tp, size)
        block = max(blocks.values(), default=0)
        head = _head_bytes(plan, tokens, vocab, size)
        backward = max(loss + root + 2 * block, root + 3 * block - head)
    if not OPTIMIZER_STATES[optimizer]:
        return backward, 0
    sizes = [_prod(shape) * size for _, shape in local_shapes(plan, tp, dp)]
    temp = max(2 * b + a for a, b in zip([0, *sizes], sizes, strict=False))
    return backward, temp


def activation_bytes(
    plan: ModelPlan,
    tp: int,
    dp: int,
    batch: int,
    seq: int,
    size: int,
    checkpointing: bool = False,
    loss_parallel: bool = False,
) -> int:
    """Bytes autograd keeps for the backward pass on one device (see the module docstring)."""
    n = batch * seq
    local = n // tp  # tokens of this rank's sequence part
    per_layer = [_layer_bytes(layer, tp, n, seq, size) for layer in plan.layers]
    blocks = (
        len(plan.layers) * local * plan.d_model * size + max(per_layer)
        if checkpointing
        else sum(per_layer)
    )
    vocab = plan.vocab_rows // tp if loss_parallel else plan.vocab_rows
    head = _head_bytes(plan, n, vocab, size)
    if dp > 1:  # FSDP2 keeps the root's gathered weights to the backward pass (the head's matmul)
        head += _root_kept(plan, tp, size)
    return blocks + _norm_bytes(plan.final_norm, local, size) + head


def _head_bytes(plan: ModelPlan, n: int, vocab: int, size: int) -> int:
    """The head's saved tensors: its input, the float32 log-softmax, token ids and targets."""
    head = n * plan.d_model * size + n * vocab * 4 + 2 * n * 8
    return head + (n * vocab * size if plan.logit_softcap is not None else 0)


def _root_kept(plan: ModelPlan, tp: int, size: int) -> int:
    """The root's gathered weights autograd keeps under FSDP: the head's and the final norm's."""
    norm = plan.final_norm.width * size if plan.final_norm is not None else 0
    return (plan.vocab_rows // tp) * plan.d_model * size + norm


def _layer_bytes(layer: LayerPlan, tp: int, n: int, seq: int, size: int) -> int:
    local = n // tp
    norms = (layer.attn_norm, layer.attn_post_norm, layer.ffn_norm, layer.ffn_post_norm)
    total = sum(_norm_bytes(norm, local, size) for norm in norms)
    mixer = layer.mixer
    mixer_bytes = (
        _recurrent_bytes(mixer, n, seq, size)
        if isinstance(mixer, RecurrentPlan)
        else _attention_bytes(mixer, tp, n, seq, size)
    )
    total += mixer_bytes + _ffn_bytes(layer.ffn, tp, n, size) + _bitnet_bytes(layer, n, size)
    if tp == 1 and layer.wiring == "parallel" and layer.ffn_norm is None:
        total -= n * layer.mixer.d_model * size  # both branches keep the one shared norm output
    return total


def _bitnet_bytes(layer: LayerPlan, n: int, size: int) -> int:
    """BitNet's extra saved tensors (no tensor parallelism: refused for both): the sub-norms',
    and each BitLinear's straight-through input and weight, new tensors F.linear keeps."""
    # A recurrent block has neither BitLinears nor a sub-norm.
    parts = [p for p in (layer.mixer, layer.ffn) if not isinstance(p, RecurrentPlan)]
    # A sub-norm's input is already kept (o_proj's input, the FFN's hidden product): its own
    # normalised tensor and statistics.
    norms = (p.sub_norm for p in parts if p.sub_norm is not None)
    total = sum(n * (norm.width * (4 if norm.upcast else size) + 4) for norm in norms)
    for plan in parts:
        for name, _ in plan.linear_kinds:
            linear = plan.linear(name)
            total += (n + linear.out_features) * linear.in_features * size
    return total


def _norm_bytes(norm: NormPlan | None, tokens: int, size: int) -> int:
    if norm is None:
        return 0
    compute = 4 if norm.upcast else size
    if norm.kind == "rmsnorm":  # input, normalised input (before the scale), rstd
        return tokens * (2 * norm.width * compute + 4)
    return tokens * (norm.width * compute + 2 * 4)  # input, mean and rstd


def _attention_bytes(att: AttentionPlan, tp: int, n: int, seq: int, size: int) -> int:
    heads, kv, hd = att.n_heads // tp, att.n_kv_heads // tp, att.head_dim
    total = n * att.d_model * size  # the gathered input, kept by q/k/v
    if att.qkv_clip is not None:
        total += n * (heads + 2 * kv) * hd * size
    if att.qk_norm is not None:  # per head or per token: the same elements, more statistics
        compute = 4 if att.qk_norm.q.upcast else size
        total += n * (heads + kv) * (2 * hd * compute + (4 if att.qk_norm.per_head else 0))
    if att.softcap is None:
        # q, k, v, the output (laid out so that o_proj's input is a view of it), log-sum-exp
        return total + n * (2 * heads + 2 * kv) * hd * size + n * heads * 4
    # q, k and v broadcast to every query head, o_proj's input; per query, head and key: the
    # tanh output, the float32 softmax and its cast back to a 16-bit dtype
    total += 4 * n * heads * hd * size
    return total + n * heads * seq * (size + 4 + (size if size != 4 else 0))


def _recurrent_bytes(rec: RecurrentPlan, n: int, seq: int, size: int) -> int:
    """A recurrent block, replicated under TP (every rank holds the gathered sequence): its
    input; per token and channel about eight activations (x and y branches, the GeLU, the
    Conv1D output, the two gates, a and the gated product) and three float32 scan inputs and
    states; and each of the scan's ceil(log2(seq)) steps keeps four float32 tensors (a, b and
    their shifted copies). An estimate, checked against autograd at one size."""
    steps = max(seq - 1, 0).bit_length()  # ceil(log2(seq))
    return n * rec.d_model * size + n * rec.width * (8 * size + 3 * 4 + 16 * steps)


def _ffn_bytes(ffn: FfnPlan, tp: int, n: int, size: int) -> int:
    hidden_tensors = 4 if ffn.gated else 2
    total = n * ffn.d_model * size  # the gathered input
    if not ffn.moe:
        return total + n * hidden_tensors * (ffn.hidden_dim // tp) * size
    routed = n * ffn.experts_per_token
    # per routed copy: its row, the hidden tensors, the expert output and its weighted copy
    total += routed * (3 * ffn.d_model + hidden_tensors * ffn.hidden_dim) * size
    # float32 router probabilities and weights, int64 routing indices
    return total + n * (ffn.n_experts * 4 + 4) + routed * (3 * 8 + 2 * 4)


def _layer_shapes(layer: LayerPlan, prefix: str) -> list[tuple[str, Shape]]:
    out: list[tuple[str, Shape]] = []
    for name in ("attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm"):
        out += _norm_shapes(getattr(layer, name), f"{prefix}.{name}")
    att = layer.mixer
    if isinstance(att, RecurrentPlan):
        return (
            out + _recurrent_shapes(att, f"{prefix}.attn") + _ffn_shapes(layer.ffn, f"{prefix}.ffn")
        )
    q, kv = att.n_heads * att.head_dim, att.n_kv_heads * att.head_dim
    for name, rows, cols, bias in (
        ("q_proj", q, att.d_model, att.q_bias),
        ("k_proj", kv, att.d_model, att.k_bias),
        ("v_proj", kv, att.d_model, att.v_bias),
        ("o_proj", att.d_model, q, att.o_bias),
    ):
        out += _linear(f"{prefix}.attn.{name}", rows, cols, bias)
    if att.qk_norm is not None:
        out += _norm_shapes(att.qk_norm.q, f"{prefix}.attn.q_norm")
        out += _norm_shapes(att.qk_norm.k, f"{prefix}.attn.k_norm")
    out += _norm_shapes(att.sub_norm, f"{prefix}.attn.sub_norm")
    out += _ffn_shapes(layer.ffn, f"{prefix}.ffn")
    return out + _norm_shapes(layer.ffn.sub_norm, f"{prefix}.ffn.sub_norm")


def _recurrent_shapes(rec: RecurrentPlan, prefix: str) -> list[tuple[str, Shape]]:
    d, w, h, bw = rec.d_model, rec.width, rec.n_heads, rec.block_width
    out = _linear(f"{prefix}.x_proj", w, d, rec.bias) + _linear(f"{prefix}.y_proj", w, d, rec.bias)
    out += [(f"{prefix}.conv.weight", (w, 1, rec.conv_width))]
    out += [(f"{prefix}.conv.bias", (w,))] if rec.bias else []
    for gate in ("input_gate", "recurrent_gate"):
        out += [
            (f"{prefix}.lru.{gate}_weight", (h, bw, bw)),
            (f"{prefix}.lru.{gate}_bias", (h, bw)),
        ]
    out += [(f"{prefix}.lru.a_param", (w,))]
    return out + _linear(f"{prefix}.out_proj", d, w, rec.bias)


def _ffn_shapes(ffn: FfnPlan, prefix: str) -> list[tuple[str, Shape]]:
    d, h, b = ffn.d_model, ffn.hidden_dim, ffn.bias
    if not ffn.moe:
        out = _linear(f"{prefix}.gate_proj", h, d, b) if ffn.gated else []
        return out + _linear(f"{prefix}.up_proj", h, d, b) + _linear(f"{prefix}.down_proj", d, h, b)
    E, x = ffn.n_experts, f"{prefix}.experts"
    out = _linear(f"{prefix}.router", E, d, ffn.router_bias) + [(f"{x}.up_proj", (E, h, d))]
    if ffn.gated:
        out.append((f"{x}.gate_proj", (E, h, d)))
    out.append((f"{x}.down_proj", (E, d, h)))
    if b:
        out += [(f"{x}.up_bias", (E, h))] + ([(f"{x}.gate_bias", (E, h))] if ffn.gated else [])
        out.append((f"{x}.down_bias", (E, d)))
    return out


def _linear(name: str, rows: int, cols: int, bias: bool) -> list[tuple[str, Shape]]:
    return [(f"{name}.weight", (rows, cols))] + ([(f"{name}.bias", (rows,))] if bias else [])


def _norm_shapes(norm: NormPlan | None, name: str) -> list[tuple[str, Shape]]:
    if norm is None:
        return []
    out = [(f"{name}.weight", (norm.width,))] if norm.weight else []
    return out + ([(f"{name}.bias", (norm.width,))] if norm.bias else [])


def _local(shape: Shape, style: str | None, kind: str, tp: int) -> Shape:
    """The part of a parameter one tensor-parallel rank holds."""
    dim = SPLIT_DIM.get(style or "")
    if dim is None or (kind == "bias" and style == "rowwise"):
        return shape  # replicated (a row-parallel bias is added after the reduction)
    if kind == "bias":
        dim = 0
    return shape[:dim] + (shape[dim] // tp,) + shape[dim + 1 :]


def _prod(shape: Shape) -> int:
    out = 1
    for s in shape:
        out *= s
    return out
