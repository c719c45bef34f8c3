"""BitLinear b1.58: the quantisers as transformers computes them, straight-through training, and
the runtime module equal to the generated file for a BitNet-shaped spec."""

from __future__ import annotations

import pytest
import torch

from archspec.codegen.emit import emit_code
from archspec.nn.bitlinear import BitLinear, quantize_activation, quantize_weight
from archspec.nn.model import build_model
from archspec.plan.lower import lower
from archspec.spec.load import spec_from_text
from archspec.spec.model import ModelSpec
from tests.codegen.helpers import exec_source

TINY_BITNET = """
name: bitnet-tiny
vocab_size: 97
d_model: 32
n_layers: 2
max_seq_len: 64
norm: {kind: rmsnorm, eps: 1.0e-5}
position: {kind: rope, theta: 500000.0}
attention: {n_heads: 4, n_kv_heads: 2, sub_norm: true}
ffn: {activation: relu2_glu, hidden_dim: 48, sub_norm: true}
head: {tie_embeddings: true}
linear: {kind: bitlinear_b158}
"""


def tiny_bitnet(**linear: object) -> ModelSpec:
    spec = spec_from_text(TINY_BITNET)
    if linear:
        return spec.model_copy(update={"linear": spec.linear.model_copy(update=linear)})
    return spec


def test_quantisers_match_transformers() -> None:
    bitnet = pytest.importorskip("transformers.integrations.bitnet")
    torch.manual_seed(0)
    w, x = torch.randn(24, 16), torch.randn(3, 5, 16) * 4
    with torch.compiler.set_stance("force_eager"):
        want_w = bitnet.WeightQuant.apply(w)
        want_x = bitnet.ActQuant.apply(x)
    torch.testing.assert_close(quantize_weight(w), want_w, rtol=0, atol=0)
    torch.testing.assert_close(quantize_activation(x), want_x, rtol=0, atol=0)


def test_weights_are_ternary_times_absmean() -> None:
    torch.manual_seed(1)
    w = torch.randn(8, 8)
    q = quantize_weight(w) / w.abs().mean()
    assert set(q.round().unique().tolist()) <= {-1.0, 0.0, 1.0}
    torch.testing.assert_close(q, q.round())


def test_activations_take_at_most_256_levels_per_token() -> None:
    x = torch.randn(4, 64)
    q = quantize_activation(x)
    scale = 127 / x.abs().amax(-1, keepdim=True)
    levels = q * scale
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)
    assert levels.abs().max() <= 128


def test_gradients_flow_straight_through_and_training_reduces_the_loss() -> None:
    torch.manual_seed(0)
    layer = BitLinear(16, 8, bias=True)
    x = torch.randn(64, 16)
    target = x @ torch.randn(16, 8)
    opt = torch.optim.AdamW(layer.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(layer(x), target)
        opt.zero_grad()
        loss.backward()
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_model_trains_and_runtime_equals_generated_code() -> None:
    spec = tiny_bitnet()
    torch.manual_seed(0)
    model = build_model(lower(spec))
    ids = torch.randint(0, spec.vocab_size, (2, 12))
    generated = exec_source(emit_code(spec)).Transformer()
    generated.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(generated(ids), model(ids), rtol=0, atol=0)
    loss = torch.nn.functional.cross_entropy(model(ids[:, :-1]).flatten(0, 1), ids[:, 1:].flatten())
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if n.endswith("q_proj.weight")]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_listed_projections_only() -> None:
    spec = tiny_bitnet(projections=["o_proj", "down_proj"])
    model = build_model(lower(spec))
    block = model.layers[0]
    assert type(block.attn.o_proj) is BitLinear and type(block.ffn.down_proj) is BitLinear
    assert type(block.attn.q_proj) is torch.nn.Linear
    source = emit_code(spec)
    assert "self.q_proj = nn.Linear(" in source and "self.o_proj = BitLinear(" in source


def test_bitlinear_class_rendered_only_when_used() -> None:
    spec = tiny_bitnet()
    dense = spec.model_copy(update={"linear": None})
    assert "class BitLinear" in emit_code(spec)
    assert "class BitLinear" not in emit_code(dense)
