"""`archspec draw` on the command line: outputs, exit statuses, atomic writes, PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archspec.cli.main import main
from archspec.draw import draw
from archspec.draw.raster import find_browser
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from tests.strategies import TINY


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


def test_draw_writes_the_svg_of_the_specs(spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig" / "tiny.svg"
    assert main(["draw", str(spec_file), "gpt2", "-o", str(out)]) == 0
    expected = draw([lower(load_spec(spec_file)), lower(load_spec("gpt2"))])
    assert out.read_text(encoding="utf-8") == expected
    assert [p.name for p in out.parent.iterdir()] == ["tiny.svg"]  # no temp file left


def test_draw_without_output_prints_the_svg(
    spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["draw", str(spec_file)]) == 0
    assert capsys.readouterr().out == draw([lower(load_spec(spec_file))])


def test_draw_refuses_other_formats_with_a_usage_error(
    spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fig.pdf"
    assert main(["draw", str(spec_file), "-o", str(out)]) == 2
    assert ".svg or .png" in capsys.readouterr().err
    assert not out.exists()


def test_invalid_spec_exits_1_and_leaves_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(TINY | {"attention": {"n_heads": 5}}), encoding="utf-8")
    out = tmp_path / "fig.svg"
    out.write_text("old", encoding="utf-8")
    assert main(["draw", str(bad), "-o", str(out)]) == 1
    assert "bad.yaml" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "fig.svg"]


def test_unwritable_output_is_an_error_not_a_traceback(
    spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    # A place that cannot hold a file is the environment's fault: exit 2, like every command.
    assert main(["draw", str(spec_file), "-o", str(blocker / "fig.svg")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_png_without_a_browser_says_what_to_install(
    spec_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("archspec.draw.raster.find_browser", lambda: None)
    out = tmp_path / "fig.png"
    assert main(["draw", str(spec_file), "-o", str(out)]) == 1
    assert "chromium" in capsys.readouterr().err.lower()
    assert list(tmp_path.iterdir()) == [spec_file]


@pytest.mark.skipif(find_browser() is None, reason="no Chromium on PATH (apt-get install chromium)")
def test_png_is_rasterised_at_twice_the_svg_size(spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    assert main(["draw", str(spec_file), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    svg = draw([lower(load_spec(spec_file))])
    assert f'width="{width // 2}" height="{height // 2}"' in svg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "tiny.yaml"]


def test_draw_writes_an_encoder_decoder_as_svg_and_png(tmp_path: Path) -> None:
    svg = tmp_path / "t5.svg"
    assert main(["draw", "flan-t5-small", "-o", str(svg)]) == 0
    assert svg.read_text(encoding="utf-8") == draw([lower(load_spec("flan-t5-small"))])
    if find_browser() is None:
        pytest.skip("no Chromium on PATH to rasterise the PNG")
    png = tmp_path / "t5.png"
    assert main(["draw", "flan-t5-small", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
