"""The `adapters:` section: located errors, `extends`, counts, and peft's count on the meta device."""

from __future__ import annotations

import pytest

from archspec.analysis.params import count_params
from archspec.spec.load import load_spec, spec_from_text
from archspec.spec.model import ModelSpec
from tests.spec.helpers import TINY_YAML, only_issue, where

GATED = TINY_YAML.replace("activation: silu", "activation: swiglu")


@pytest.mark.parametrize(
    ("section", "path", "line", "message"),
    [
        ("  targets: [q_proj, qproj]\n", "adapters.targets.1", 12, "q_proj"),
        ("  r: 0\n  targets: [q_proj]\n", "adapters.r", 12, "greater than 0"),
        ("  dropout: 1.0\n  targets: [q_proj]\n", "adapters.dropout", 12, "less than 1"),
        ("  targets: [gate_proj]\n", "adapters.targets.0", 12, "has an ungated FFN"),
        ("  targets: [experts]\n", "adapters.targets.0", 12, "target_parameters"),
        ("  targets: [router]\n", "adapters.targets.0", 12, "not supported"),
        (
            "  targets: [lm_head]\nhead: {tie_embeddings: true}\n",
            "adapters.targets.0",
            12,
            "tied to the embedding",
        ),
        ("  targets: [q_proj, q_proj]\n", "adapters.targets.1", 12, "listed twice"),
        ("  targets: [q_proj]\n  layers: [0, 2]\n", "adapters.layers.1", 13, "has 2 layers"),
        (
            "  targets: [q_proj]\n  overrides: {v_proj: {r: 2}}\n",
            "adapters.overrides.v_proj",
            13,
            "not a target",
        ),
    ],
)
def test_located_errors(section: str, path: str, line: int, message: str) -> None:
    issue = only_issue(TINY_YAML + "adapters:\n" + section)
    assert where(issue)[1:] == (line, where(issue)[2], path)
    assert message in str(issue)


def test_all_linear_on_experts_is_refused() -> None:
    moe = GATED.replace(
        "  hidden_dim: 32\n", "  hidden_dim: 32\n  moe: {n_experts: 4, experts_per_token: 2}\n"
    )
    issue = only_issue(moe + "adapters:\n  targets: [all-linear]\n")
    assert "mixture of experts" in str(issue)
    spec = spec_from_text(moe + "adapters:\n  targets: [q_proj, o_proj]\n")
    assert count_params(spec).trainable == 2 * 2 * 8 * (16 + 16)


def test_counts_per_component_and_layer() -> None:
    spec = spec_from_text(
        GATED
        + "adapters:\n  kind: dora\n  r: 2\n  targets: [all-linear, lm_head]\n  layers: [1]\n"
        + "  overrides: {down_proj: {r: 4}}\n"
    )
    counts = count_params(spec)
    attention = 2 * (16 + 16) * 4 + 16 * 4  # q, k, v, o: 16 -> 16, DoRA magnitude 16 each
    ffn = 2 * (16 + 32) * 2 + 32 * 2 + 4 * (32 + 16) + 16  # gate, up: 16 -> 32; down (r 4)
    head = 2 * (16 + 32) + 32
    assert counts.trainable_breakdown == {
        "embedding": 0,
        "position": 0,
        "attention": attention,
        "ffn": ffn,
        "norm": 0,
        "head": head,
    }
    assert counts.trainable == attention + ffn + head
    assert counts.frozen == counts.total - counts.trainable
    assert [layer.trainable for layer in counts.per_layer] == [0, attention + ffn]
    plain = count_params(spec_from_text(GATED))
    assert counts.total == plain.total + counts.trainable
    assert plain.trainable == plain.total and plain.frozen == 0


def test_dora_example_matches_the_issue() -> None:
    counts = count_params(load_spec("specs/examples/llama2-7b-dora.yaml"))
    assert (counts.total, counts.trainable) == (6_742_872_064, 4_456_448)


@pytest.mark.hf
@pytest.mark.parametrize(
    ("ref", "config"),
    [
        ("specs/examples/llama2-7b-dora.yaml", None),
        ("gemma-2b", {"r": 16, "target_modules": "all-linear", "use_rslora": True}),
        ("mixtral-8x7b", {"r": 8, "target_modules": ["q_proj", "v_proj"], "use_dora": True}),
    ],
    ids=["llama2-7b-dora", "gemma-2b-all-linear", "mixtral-dora-qv"],
)
def test_count_equals_peft_on_meta(ref: str, config: dict | None) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    from archspec.hf.adapters import adapter_config_to_spec, spec_to_adapter_config, with_adapters
    from archspec.hf.config import spec_to_hf_config
    from archspec.hf.weights import name_table

    # Two layers of the full width: per-layer counts are what is checked (the full model's total
    # is checked above, torch-free), and a 32-layer model takes seconds even on meta.
    spec = load_spec(ref)
    spec = ModelSpec.model_validate({**spec.model_dump(mode="json"), "n_layers": 2})
    hf_config = spec_to_hf_config(spec)
    table = name_table(hf_config["model_type"])
    if config is None:
        config = spec_to_adapter_config(spec, table)
    else:
        spec = with_adapters(spec, adapter_config_to_spec(config, table))
    skip = ("peft_type", "task_type", "inference_mode")  # inference mode freezes the adapters
    kwargs = {k: v for k, v in config.items() if k not in skip}
    cfg = transformers.AutoConfig.for_model(**hf_config)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(**kwargs))
    trainable, total = wrapped.get_nb_trainable_parameters()
    counts = count_params(spec)
    assert (counts.trainable, counts.total) == (trainable, total)
