"""Properties of adapters over random tiny specs with random `adapters:` sections: the count is
the module's, the generated file computes what the runtime module does, a fresh adapter changes
nothing, and merging is exact and leaves the base model."""

from __future__ import annotations

import torch
from hypothesis import given

from archspec.analysis.params import count_params
from archspec.nn.model import build_model
from archspec.spec.model import ModelSpec
from tests.codegen.helpers import load_generated
from tests.nn.helpers import budget, randomize_, seq_len, tokens
from tests.strategies import adapted_specs


def _base(spec: ModelSpec) -> ModelSpec:
    return spec.model_copy(update={"adapters": None})


@budget(10)
@given(adapted_specs())
def test_count_is_the_modules(spec: ModelSpec) -> None:
    counts = count_params(spec)
    model = build_model(spec, device="meta")
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == counts.total
    assert sum(p.numel() for p in params if p.requires_grad) == counts.trainable
    for i, layer in enumerate(model.layers):
        got = sum(p.numel() for p in layer.parameters() if p.requires_grad)
        assert got == counts.per_layer[i].trainable


@budget(8)
@given(adapted_specs())
def test_generated_equals_runtime(spec: ModelSpec) -> None:
    torch.manual_seed(0)
    runtime = randomize_(build_model(spec)).eval()
    generated = load_generated(spec).build_model().eval()
    generated.load_state_dict(runtime.state_dict(), strict=True)
    trainable = {n for n, p in runtime.named_parameters() if p.requires_grad}
    assert trainable == {n for n, p in generated.named_parameters() if p.requires_grad}
    x = tokens(spec, 2, seq_len(spec))
    with torch.no_grad():
        torch.testing.assert_close(generated(x), runtime(x), atol=1e-5, rtol=1e-5)


@budget(8)
@given(adapted_specs())
def test_fresh_adapters_change_nothing_and_merging_is_exact(spec: ModelSpec) -> None:
    torch.manual_seed(0)
    base = randomize_(build_model(_base(spec))).eval().double()
    adapted = build_model(spec).eval().double()
    missing, unexpected = adapted.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(".lora_" in k for k in missing)
    adapted.init_adapters()  # magnitudes follow the loaded base weights
    x = tokens(spec, 2, seq_len(spec))
    with torch.no_grad():
        plain = base(x)
        torch.testing.assert_close(adapted(x), plain, atol=1e-10, rtol=1e-10)
        for name, param in adapted.named_parameters():
            if ".lora_" in name:
                param.add_(torch.randn_like(param) * 0.3)
        before = adapted(x)
        merged = adapted.merge_adapters()
        torch.testing.assert_close(merged(x), before, atol=1e-9, rtol=1e-9)
    assert sum(p.numel() for p in merged.parameters()) == count_params(_base(spec)).total
    assert merged.state_dict().keys() == base.state_dict().keys()
