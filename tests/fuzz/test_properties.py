"""Fuzzed properties: every hostile input either works or raises ArchspecError; nothing else.

Run longer with ``HYPOTHESIS_PROFILE=fuzz-long`` (see tests/conftest.py and the README).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.cli.main import main
from archspec.errors import ArchspecError
from archspec.hf.header import read_headers
from archspec.spec.load import spec_from_text
from tests.fuzz.strategies import TINY, hostile_names, safetensors_files, yaml_texts

SECONDS = 30.0
"""Longest any single case may take on a busy machine: more is a hang."""

_fixtures = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _valid_spec_round_trips(spec: object) -> None:
    """What a loaded spec must survive: counting, resolving, dumping and reloading, lowering."""
    from archspec.analysis.params import count_params
    from archspec.plan.lower import lower
    from archspec.spec.dump import to_yaml
    from archspec.spec.resolve import resolved_dict

    count_params(spec)
    resolved_dict(spec)
    assert spec_from_text(to_yaml(spec)) == spec
    lower(spec)


@_fixtures
@given(text=yaml_texts())
def test_spec_text_loads_or_raises_an_archspec_error(folder: Path, text: str | bytes) -> None:
    start = time.monotonic()
    try:
        spec = spec_from_text(text, "fuzz.yaml", base_dir=folder)
    except ArchspecError:
        pass
    else:
        _valid_spec_round_trips(spec)
    assert time.monotonic() - start < SECONDS


@_fixtures
@given(data=safetensors_files())
def test_safetensors_header_reads_or_raises_a_checkpoint_error(folder: Path, data: bytes) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(data)
    try:
        tensors = read_headers(path)
    except ArchspecError:
        return
    for name, info in tensors.items():
        assert isinstance(name, str) and isinstance(info.dtype, str)
        assert all(isinstance(d, int) and d >= 0 for d in info.shape)


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


COMMANDS = [
    ("validate",),
    ("params", "--json"),
    ("params", "--detail"),
    ("show",),
    ("diff", "gemma-7b", "--all"),
    ("export-hf",),
    ("build", "--emit", "code", "-o"),
]


@_fixtures
@given(text=yaml_texts(), command=st.sampled_from(COMMANDS))
def test_every_command_exits_1_or_2_and_writes_nothing_on_failure(
    folder: Path, text: str | bytes, command: tuple[str, ...]
) -> None:
    spec = folder / "fuzz.yaml"
    spec.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    out = Path(tempfile.mkdtemp(dir=folder))
    argv = [command[0], str(spec), *command[1:]]
    if command[0] == "build":
        argv.append(str(out))
    elif command[0] == "export-hf":
        argv += ["-o", str(out / "config.json")]
    start = time.monotonic()
    code, err = _cli(*argv)
    assert time.monotonic() - start < SECONDS
    assert code in (0, 1, 2), err
    assert "internal error" not in err and "Traceback" not in err, err
    if code != 0:
        assert os.listdir(out) == [], "a failed command wrote something"


@_fixtures
@given(text=hostile_names(), command=st.sampled_from(COMMANDS))
def test_any_name_loads_and_every_command_prints_it(
    folder: Path, text: str, command: tuple[str, ...]
) -> None:
    spec = folder / "named.yaml"
    spec.write_text(text, encoding="utf-8")
    out = Path(tempfile.mkdtemp(dir=folder))
    argv = [command[0], str(spec), *command[1:]]
    if command[0] == "build":
        argv.append(str(out))
    elif command[0] == "export-hf":
        argv = ["show", str(spec), "--json"]  # a tiny SiLU spec has no HF family to export to
    code, err = _cli(*argv)
    assert code == 0, err


TARGETS = [
    "new",
    "existing",
    "link-to-file",
    "link-to-devnull",
    "folder",
    "under-a-file",
    "long-name",
    "missing-parent",
]


@_fixtures
@given(kind=st.sampled_from(TARGETS))
def test_output_targets_are_written_through_replaced_or_refused(folder: Path, kind: str) -> None:
    """File-system faults for `-o`: a regular file is replaced whole, a symlink stays a symlink,
    a device is written through, and a refusal leaves everything as it was."""
    spec = folder / "tiny.yaml"
    spec.write_text(TINY.replace("silu", "swiglu"))  # a Llama: export-hf can write it
    here = Path(tempfile.mkdtemp(dir=folder))
    target = here / "config.json"
    if kind == "existing":
        target.write_text("old")
    elif kind == "link-to-file":
        (here / "real.json").write_text("old")
        target.symlink_to(here / "real.json")
    elif kind == "link-to-devnull":
        target.symlink_to(os.devnull)
    elif kind == "folder":
        target.mkdir()
    elif kind == "under-a-file":
        (here / "file").write_text("old")
        target = here / "file" / "config.json"
    elif kind == "long-name":
        target = here / ("n" * 250 + ".json")
    elif kind == "missing-parent":
        target = here / "a" / "b" / "config.json"
    before = sorted(os.listdir(here))
    code, err = _cli("export-hf", str(spec), "-o", str(target))
    assert code in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err
    assert not [n for n in os.listdir(here) if n.endswith(".tmp")]
    if kind in ("link-to-file", "link-to-devnull"):
        assert target.is_symlink()
    if kind == "link-to-file":
        assert '"vocab_size": 32' in (here / "real.json").read_text()
    if code == 0 and kind not in ("link-to-devnull", "folder"):
        assert '"vocab_size": 32' in target.read_text()
    if code != 0:
        assert sorted(os.listdir(here)) == before
