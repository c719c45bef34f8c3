"""The memory planner against built modules in one process: exact parameter shapes, the
activations autograd keeps and the peak of a training step within 10 % (the distributed cases are
in test_training.py)."""

from __future__ import annotations

import pytest

from archspec.parallel.memory import activation_bytes, param_shapes, plan_memory
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from archspec.spec.shipped import shipped_names
from archspec.spec.shrink import shrink

torch = pytest.importorskip("torch")

from archspec.nn.model import build_model  # noqa: E402
from tests.parallel import worker  # noqa: E402
from tests.parallel.worker import saved_bytes  # noqa: E402

DECODER_ONLY = [name for name in shipped_names() if load_spec(name).encoder is None]
"""The planner refuses encoder-decoder specs (see the test below)."""


def test_planner_refuses_encoder_decoder_clearly() -> None:
    from archspec.errors import UsageError

    with pytest.raises(UsageError, match="does not support encoder-decoder"):
        param_shapes(lower(load_spec("flan-t5-small")))


@pytest.mark.parametrize("name", DECODER_ONLY)
def test_planner_shapes_and_activations_match_the_module(name: str) -> None:
    spec = shrink(load_spec(name), d_model=64, n_layers=2, vocab_size=128)
    plan = lower(spec)
    torch.manual_seed(0)
    model = build_model(spec)
    assert dict(param_shapes(plan)) == {n: tuple(p.shape) for n, p in model.named_parameters()}
    b, s = 2, 32
    tokens = torch.randint(0, 128, (b, s + 1), generator=torch.Generator().manual_seed(0))
    measured = saved_bytes(model, tokens[:, :-1], tokens[:, 1:])
    assert activation_bytes(plan, 1, 1, b, s, 4) == pytest.approx(measured, rel=0.10)


@pytest.mark.parametrize("name", ["llama3-8b", "gemma2-9b", "mixtral-8x7b"])
def test_activations_in_bf16(name: str) -> None:
    spec = shrink(load_spec(name), d_model=64, n_layers=2, vocab_size=128)
    model = build_model(spec, dtype=torch.bfloat16)
    tokens = torch.randint(0, 128, (2, 33), generator=torch.Generator().manual_seed(0))
    measured = saved_bytes(model, tokens[:, :-1], tokens[:, 1:])
    assert activation_bytes(lower(spec), 1, 1, 2, 32, 2) == pytest.approx(measured, rel=0.10)


@pytest.mark.parametrize("family", ["llama", "gemma", "gemma2", "mixtral"])
@pytest.mark.parametrize("batch,seq", [(1, 8), (8, 64)], ids=["weights-bound", "activation-bound"])
def test_planned_total_is_the_measured_peak(family: str, batch: int, seq: int) -> None:
    """One process: the peak of live tensor bytes over a steady AdamW step (torch's MemTracker),
    whether the optimizer step (few tokens) or the backward pass (many) sets it."""
    tokens = torch.randint(0, 128, (batch, seq + 1), generator=torch.Generator().manual_seed(0))
    measured = worker.peak({"family": family, "backend": "runtime"}, None, *_split(tokens))
    plan = plan_memory(lower(worker.tiny(family)), batch=batch, seq=seq, dtype="fp32")
    assert (plan.weights, plan.optimizer_state) == (
        measured["weights"],
        measured["optimizer_state"],
    )
    assert plan.total == pytest.approx(measured["peak"], rel=0.10), measured["at_peak"]
    backward = plan.activations + plan.backward_buffers
    step = plan.grads + plan.optimizer_temp
    assert (backward > step) == (seq == 64)  # the two moments both get checked


def _split(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return tokens[:, :-1], tokens[:, 1:]
