"""The report in a real browser (headless Chromium): no console errors, every figure laid out
with a size and content, no sideways scrolling on a laptop screen, and screenshots.

Set ARCHSPEC_SCREENSHOTS=folder to keep the screenshots (else they go to pytest's tmp_path).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from archspec.draw.raster import find_browser, headless_args
from archspec.report import report
from archspec.spec.load import load_spec

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)",
)

MEASURE = """<script>
for (const svg of document.querySelectorAll("svg")) {
  const box = svg.getBoundingClientRect();
  svg.setAttribute("data-w", Math.round(box.width));
  svg.setAttribute("data-h", Math.round(box.height));
  svg.setAttribute("data-n", svg.querySelectorAll("rect,path,text,polyline,circle").length);
}
document.body.setAttribute("data-overflow",
  document.documentElement.scrollWidth - window.innerWidth);
</script>"""
"""Injected into a copy of the report (the report itself has no script): writes each figure's
laid-out size and element count into the DOM that --dump-dom prints."""


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = headless_args(BROWSER, tmp / "profile") + [
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=2000",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console(stderr: str) -> list[str]:
    """Messages the page wrote to its console (logs, errors, uncaught exceptions)."""
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    specs = [load_spec(name) for name in ("gemma2-9b", "llama2-7b", "mixtral-8x7b", "phi-2")]
    path.write_text(report(specs, seq_len=4096), encoding="utf-8")
    return path


def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The detector itself: a page that logs an error and throws is reported twice."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><script>console.error("boom"); undefined_call();</script></body></html>',
        encoding="utf-8",
    )
    lines = console(chromium(bad, tmp_path, "--dump-dom").stderr)
    assert any("boom" in line for line in lines)
    assert any("undefined_call" in line for line in lines)


def measure(html: str, tmp: Path) -> str:
    """The DOM of ``html`` at 1366 x 768 after MEASURE ran; fails on any console message."""
    measured = tmp / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = chromium(measured, tmp, "--window-size=1366,768", "--dump-dom")
    assert console(done.stderr) == []
    return done.stdout


def test_every_figure_is_laid_out_with_content(page: Path, tmp_path: Path) -> None:
    dom = measure(page.read_text(encoding="utf-8"), tmp_path)
    figures = re.findall(r'<svg [^>]*data-w="(\d+)" data-h="(\d+)" data-n="(\d+)"', dom)
    # the architecture diagram, 2 component bars, 4 per-layer charts, KV, weights, FLOPs
    assert len(figures) == 1 + 1 + 4 + 3
    for width, height, n in figures:
        assert int(width) >= 300 and int(height) >= 60 and int(n) >= 5
    overflow = re.search(r'data-overflow="(-?\d+)"', dom)
    assert overflow and int(overflow.group(1)) <= 0, "the page scrolls sideways at 1366 px"


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=["laptop", "desktop"])
def test_screenshot_without_console_messages(
    page: Path, tmp_path: Path, size: tuple[int, int]
) -> None:
    folder = Path(os.environ.get("ARCHSPEC_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"report-{size[0]}x{size[1]}.png"
    done = chromium(page, tmp_path, f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}")
    assert console(done.stderr) == []
    assert png_size(shot) == size
    assert shot.stat().st_size > 30_000  # a rendered page, not a blank one


def test_a_wide_diagram_scrolls_in_its_frame_and_stays_readable(tmp_path: Path) -> None:
    names = ("gpt2", "phi-2", "falcon-7b", "olmo2-7b", "llama3-8b", "qwen2-7b", "gemma-2b")
    dom = measure(report([load_spec(n) for n in names]), tmp_path)
    overflow = re.search(r'data-overflow="(-?\d+)"', dom)
    assert overflow and int(overflow.group(1)) <= 0, "the page scrolls sideways at 1366 px"
    width = int(re.search(r'<svg [^>]*data-w="(\d+)"', dom).group(1))  # the diagram comes first
    assert width >= 0.7 * 7 * 320 - 1  # not shrunk below 70 %: it scrolls instead


def test_an_encoder_decoder_report_lays_out_without_console_messages(tmp_path: Path) -> None:
    dom = measure(report([load_spec("flan-t5-small"), load_spec("llama2-7b")]), tmp_path)
    overflow = re.search(r'data-overflow="(-?\d+)"', dom)
    assert overflow and int(overflow.group(1)) <= 0, "the page scrolls sideways at 1366 px"
    width = int(re.search(r'<svg [^>]*data-w="(\d+)"', dom).group(1))  # the diagram comes first
    assert width >= 300
    assert "flan-t5-small · encoder" in dom and "Cross-attention" in dom
