"""The HTML report: self-contained, deterministic, escaped, figures labelled with their context."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.analysis.compute import analyse
from archspec.cli.main import main
from archspec.draw import draw
from archspec.plan.lower import lower
from archspec.report import report
from archspec.spec.load import load_spec
from tests.strategies import hostile_text, specs, tiny_spec


def test_report_is_deterministic_and_holds_every_section() -> None:
    specs = [load_spec("gemma2-9b"), load_spec("llama2-7b")]
    html = report(specs)
    assert html == report([load_spec("gemma2-9b"), load_spec("llama2-7b")])
    for heading in ("Summary", "Architecture", "Differences", "Parameters", "Memory", "Compute"):
        assert f"<h2>{heading}" in html
    assert draw([lower(s) for s in specs]) in html  # the diagram, inline
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 6
    # the diff table carries each knob's effect, from analysis.diff
    assert '<span class="effect">' in html and "GFLOPs/token" in html


def test_encoder_decoders_report_beside_a_decoder_only_model() -> None:
    specs = [load_spec(n) for n in ("t5-small", "llama2-7b", "flan-t5-small")]
    html = report(specs)
    assert html == report([load_spec(n) for n in ("t5-small", "llama2-7b", "flan-t5-small")])
    for heading in ("Summary", "Architecture", "Differences", "Parameters", "Memory", "Compute"):
        assert f"<h2>{heading}" in html
    assert draw([lower(s) for s in specs]) in html  # both columns of each T5, inline
    assert "t5-small · encoder" in html and "Cross-attention" in html
    # knobs that a decoder-only spec leaves at their default (the T5 head scale) are measured
    assert '<span class="effect">' in html


def test_a_single_spec_has_no_diff_and_identical_specs_say_so() -> None:
    html = report([load_spec("gpt2")])
    assert "<h2>Differences" not in html
    same = report([load_spec("gpt2"), load_spec("gpt2")])
    assert "The specs agree on every feature." in same


def test_report_is_self_contained() -> None:
    html = report([load_spec("mixtral-8x7b"), load_spec("falcon-7b")])
    assert "<script" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "url(" not in html and "@import" not in html
    links = set(re.findall(r"https?://[^\s\"'<]+", html))
    assert links <= {"http://www.w3.org/2000/svg"}


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>&\"'"


def test_hostile_strings_are_escaped_everywhere() -> None:
    spec = tiny_spec(name=HOSTILE, description=HOSTILE + " description")
    html = report([spec, tiny_spec(name="other <u>", attention={"n_kv_heads": 2})])
    assert "<script" not in html and "<img" not in html and "<u>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert "other &lt;u&gt;" in html


def test_flops_are_computed_and_labelled_at_the_chosen_context() -> None:
    html = report([tiny_spec()], seq_len=1024)
    assert "at a context of 1,024 tokens" in html
    assert "1,024 tokens (beyond max_seq_len 16)" in html
    # Same model truly built for 1024 tokens (RoPE: no parameter depends on the context).
    expected = analyse(tiny_spec(max_seq_len=1024)).flops_per_token / 1e9
    assert f'<td class="num">{expected:,.2f}</td>' in html
    default = report([tiny_spec()])
    assert (
        "at each model&#x27;s full context" in default or "at each model's full context" in default
    )
    assert "16 tokens (max_seq_len)" in default


def test_the_diff_table_takes_its_flops_at_the_chosen_context() -> None:
    """The knob effects and the FLOPs row of the diff table use --seq-len too, like the rest."""
    pair = [tiny_spec(), tiny_spec(name="wide", d_model=64)]
    at_8 = report(pair, seq_len=8)
    assert "forward GFLOPs / token at 8 tokens" in at_8 and "per token at 8 tokens)" in at_8
    full = report(pair)
    assert "forward GFLOPs / token at full context" in full
    assert "per token at full context)" in full


def test_kv_cache_table_scales_with_the_cache_type() -> None:
    spec = tiny_spec(n_layers=3, max_seq_len=64)
    kv = analyse(spec).kv_cache_bytes_full_context  # 16-bit
    html = report([spec])
    row = re.search(r"<tr><th>tiny</th><td class=\"num\">64</td>(.*?)</tr>", html).group(1)
    cells = re.findall(r'<td class="num">([^<]+)</td>', row)
    assert cells == [f"{2 * kv / 1024:.2f} KiB", f"{kv / 1024:.2f} KiB", f"{kv / 2 / 1024:.2f} KiB"]


def test_sliding_windows_cap_the_kv_cache_curve() -> None:
    """Past its window a sliding-window model's KV cache grows only through its global layers."""
    local = tiny_spec(name="local", max_seq_len=4096, attention={"sliding_window": 256})
    html = report([local, tiny_spec(name="full", max_seq_len=4096)])

    def curve(name: str) -> dict[int, str]:
        tips = re.findall(rf"<title>{name}: ([^<]+) at ([\d,]+) tokens</title>", html)
        return {int(n.replace(",", "")): size for size, n in tips}

    assert curve("local")[256] == curve("local")[4096] == "32.00 KiB"
    assert curve("full")[4096] == "512.00 KiB"


def test_cli_report_writes_the_file_and_checks_its_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r" / "report.html"
    assert main(["report", "gpt2", "phi-2", "--seq-len", "512", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == report(
        [load_spec("gpt2"), load_spec("phi-2")], seq_len=512
    )
    assert main(["report", "gpt2", "--seq-len", "0", "-o", str(tmp_path / "x.html")]) == 2
    assert "--seq-len" in capsys.readouterr().err
    assert main(["report", "no-such-spec", "-o", str(tmp_path / "y.html")]) in (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_deep_models_share_columns_in_the_per_layer_chart() -> None:
    spec = tiny_spec(n_layers=450, layer_overrides=[{"every": 3, "ffn": {"hidden_dim": 64}}])
    tips = re.findall(r"<title>tiny, (layers? [^:]+): ffn ([\d,]+)</title>", report([spec]))
    assert len(tips) == 150  # 450 layers, 3 to a column
    assert tips[0] == ("layers 0-2, largest", "2,048")  # the wider FFN (2 x 16 x 64) shows
    assert {size for _, size in tips} == {"2,048"}
    shallow = re.findall(r"<title>tiny, layer (\d+): ffn ([\d,]+)</title>", report([tiny_spec()]))
    assert shallow == [("0", "1,024"), ("1", "1,024")]


@settings(max_examples=15)
@given(specs(), specs(), st.none() | st.integers(1, 10**6))
def test_any_two_specs_make_a_deterministic_report(
    a: object, b: object, seq_len: int | None
) -> None:
    html = report([a, b], seq_len=seq_len)
    assert html == report([a, b], seq_len=seq_len)
    assert html.count("<svg ") == 1 + 1 + 2 + 3


@settings(max_examples=20)
@given(hostile_text(), hostile_text())
def test_no_text_in_a_spec_opens_a_tag(name: str, description: str) -> None:
    spec = tiny_spec(name="<zz" + name, description="<zz" + description)
    assert "<zz" not in report([spec, tiny_spec()])


def test_flops_chart_splits_weights_and_attention_over_the_context() -> None:
    spec = load_spec("llama2-7b")
    html = report([spec], seq_len=2048)
    at = analyse(spec.model_copy(update={"max_seq_len": 2048}))
    weights = 2 * 6_476_271_616 + 2 * 32000 * 4096  # blocks + final norm, and the output head
    attention = 32 * 4 * 32 * 128 * 2048  # 4 * n_heads * head_dim * context, per layer
    assert at.flops_per_token == weights + attention
    assert f"llama2-7b: weights {weights / 1e9:,.2f} GF" in html
    assert f"llama2-7b: attention over the context {attention / 1e9:,.2f} GF" in html
