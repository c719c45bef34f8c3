"""SVG to PNG through a headless Chromium (Debian's `chromium`, or Chrome) found on PATH.

A browser renders the SVG exactly as the HTML report shows it, and the test suite already needs
one; no Python package is added. Without a browser, a clear error says what to install. The PNG
is written beside its target and moved into place, so a failed run never leaves half a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from archspec.draw.svg import svg_size
from archspec.errors import ArchspecError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SCALE = 2
"""Device pixels per SVG pixel: sharp enough for slides and papers."""


def find_browser() -> str | None:
    """Path of a Chromium-family browser on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def headless_args(browser: str, profile: str | Path) -> list[str]:
    """A headless run in a throw-away profile (no first-run prompts, no lock on the user's)."""
    return [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


def write_png(svg: str, path: str | Path) -> str:
    """Rasterise ``svg`` into ``path`` atomically; return the browser used."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        out = work / "out.png"
        tool = _rasterise(svg, work, out)
        if not out.is_file() or out.stat().st_size == 0:
            raise ArchspecError(f"{tool} wrote no PNG")
        os.replace(out, path)
        return tool
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rasterise(svg: str, work: Path, out: Path) -> str:
    browser = find_browser()
    if browser is None:
        raise ArchspecError(
            "writing PNG needs Chromium on PATH (one of: "
            f"{', '.join(BROWSERS)}; Debian: apt-get install chromium); write .svg instead"
        )
    source = work / "figure.svg"
    source.write_text(svg, encoding="utf-8")
    width, height = svg_size(svg)
    cmd = headless_args(browser, work / "profile") + [
        f"--force-device-scale-factor={SCALE}",
        f"--window-size={width},{height}",
        f"--screenshot={out}",
        source.as_uri(),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ArchspecError(f"{browser} could not rasterise the figure: {err}") from None
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ArchspecError(f"{browser} failed (exit {done.returncode}): {' '.join(tail)}")
    return browser
