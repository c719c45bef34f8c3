"""The benchmark script runs end to end at its smallest size, so it cannot rot. No timings asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "run.py"


@pytest.mark.hf
@pytest.mark.slow
def test_benchmark_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    out = tmp_path / "RESULTS.md"
    sections = "forward,decode,padded,train,adapters,cli"
    assert module.main(["--smoke", "--sections", sections, "--out", str(out)]) == 0
    text = out.read_text()
    assert module.SMOKE_NOTE in text  # a smoke run says its ratios mean nothing
    for section in (
        "1. forward",
        "2. generated vs runtime",
        "3. greedy decode",
        "3b. greedy decode",
        "4. train step",
        "5. dora",
    ):
        assert section in text
    for case in ("archspec params gemma-7b", "build llama2-70b on meta, first in a process"):
        assert case in text
    for family in ("llama", "gemma", "mistral", "mixtral"):
        assert f"{family}-smoke" in text
