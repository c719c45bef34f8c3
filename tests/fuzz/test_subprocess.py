"""The CLI as a user runs it: a sample of hostile inputs in real processes, with real pipes,
encodings, full devices and file-size limits. Exit 0, 1 or 2; never a traceback; never a hang."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.spec.helpers import TINY_YAML

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def archspec(
    *argv: str, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli.main", *argv],
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", **(env or {})},
        **kwargs,
    )


SAMPLE = {
    "nul": b"name: a\x00b\n",
    "escape-in-comment": TINY_YAML.encode() + b"# \x1b[2J\n",
    "deep": b"source: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "not-utf8": b"name: \xff\n",
    "huge-layers": TINY_YAML.replace("n_layers: 2", "n_layers: 1000000000").encode(),
    "huge-vocab": TINY_YAML.replace("vocab_size: 32", f"vocab_size: {10**200}").encode(),
    "markup-name": TINY_YAML.replace("name: tiny", 'name: "[bold]x[/]"').encode(),
    "extends-passwd": b"extends: /etc/passwd\n",
    "python-tag": b"name: !!python/object/apply:os.system ['touch pwned']\n",
    "alibi-heads": (
        TINY_YAML.replace("n_heads: 4", "n_heads: 100000000") + "position: {kind: alibi}\n"
    ).encode(),
}


@pytest.mark.slow
def test_a_sample_of_hostile_specs_never_ends_in_a_traceback(tmp_path: Path) -> None:
    jobs = []
    for i, (name, data) in enumerate(SAMPLE.items()):
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(data)
        argv = ["params", "--detail"] if i % 2 else ["build", "-o", str(tmp_path / f"gen-{name}")]
        jobs.append((name, [argv[0], str(path), *argv[1:]]))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: (job, archspec(*job[1], cwd=tmp_path)), jobs))
    for (name, argv), done in results:
        assert done.returncode in (0, 1, 2), (name, argv, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, name
        assert len(done.stderr.splitlines()) < 20, name
        if done.returncode:
            assert not (tmp_path / f"gen-{name}").exists(), name
    assert not (tmp_path / "pwned").exists()
    assert "root:" not in "".join(r.stderr for _, r in results)


def test_an_ascii_terminal_and_a_unicode_name(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(TINY_YAML.replace("name: tiny", f"name: {json.dumps('🦙 é')}"))
    done = archspec("params", str(path), env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "\\U0001f999 \\xe9: " in done.stdout


def test_stdout_on_a_full_device() -> None:
    with open("/dev/full", "w") as full:
        done = archspec(
            "params", "gemma-7b", stdout=full, capture_output=False, stderr=subprocess.PIPE
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: cannot write the output: No space left on device"
    ]


@pytest.mark.parametrize(
    "argv", [["diff", "gemma-7b", "llama2-7b", "--all"], ["params", "gemma-7b", "--detail"]]
)
def test_a_closed_pipe_ends_quietly(argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    command = " ".join([sys.executable, "-m", "archspec.cli.main", *argv]) + " | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert done.returncode in (0, 141), done.stderr
    assert done.stderr == "" and len(done.stdout.splitlines()) == 1


def test_the_file_size_limit_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    out.mkdir()
    (out / "tiny.py").write_text("old\n")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_YAML)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    done = archspec("build", str(spec), "-o", str(out), preexec_fn=limit)
    assert done.returncode == 2 and "File too large" in done.stderr
    assert (out / "tiny.py").read_text() == "old\n"
    assert os.listdir(out) == ["tiny.py"]


def test_debug_shows_the_traceback_of_a_bug_only() -> None:
    bug = (
        "import sys, archspec.cli.commands as c; c.validate = lambda args: 1 / 0; "
        "from archspec.cli.main import main; sys.exit(main(['validate', 'gemma-7b']))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = subprocess.run(
        [sys.executable, "-c", bug], capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert "internal error" in plain.stderr and len(plain.stderr.splitlines()) == 1
    debug = subprocess.run(
        [sys.executable, "-c", bug],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**env, "ARCHSPEC_DEBUG": "1"},
    )
    assert "Traceback" in debug.stderr and "ZeroDivisionError" in debug.stderr
    expected = archspec("validate", "no-such-spec", "--debug")
    assert expected.returncode == 2 and "Traceback" not in expected.stderr
