"""One regression test per family of issue 15 (and issue 14, items 2-4), in process and fast.

The subprocess cases (encodings, /dev/full, pipes, the file-size limit) are in test_subprocess.py.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from archspec.cli.main import main
from archspec.errors import CheckpointError, UsageError
from archspec.fileio import STALE_SECONDS, write_atomic
from archspec.hf.header import read_headers
from archspec.spec.load import spec_from_text
from tests.hf.test_header import checkpoint_of, raw_header, spec_file, write_raw
from tests.spec.helpers import TINY_YAML, issues_of, only_issue


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def spec_at(folder: Path, text: str, name: str = "spec.yaml") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- YAML text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x0c", "\x7f", "\x0b", "\u0080", "\ufffe"])
@pytest.mark.parametrize("where", ["comment", "description"])
def test_control_characters_are_located_errors(char: str, where: str) -> None:
    line = f"# note {char}\n" if where == "comment" else f"description: a{char}b\n"
    issue = only_issue(TINY_YAML + line)
    assert f"U+{ord(char):04X}" in issue.message
    assert (issue.line, issue.column) == (11, line.index(char) + 1)


@pytest.mark.parametrize("depth", [3_000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_flow_nesting_is_refused_without_recursion(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    issue = only_issue(TINY_YAML + "source: " + opener * depth + "1" + closer * depth + "\n")
    assert issue.message.startswith("nested deeper than")


def test_a_sparse_4_gib_file_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(4 * 2**30)
    start = time.monotonic()
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1 and "4,294,967,296 bytes" in err
    assert time.monotonic() - start < 5


def test_a_device_is_not_read_as_a_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "/dev/zero")
    assert code == 1 and "not a regular file" in err


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["params"], ["params", "--detail"], ["params", "--json"], ["diff", "--all"]]
)
def test_counts_of_10_to_the_200_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    big = str(10**200)
    text = TINY_YAML.replace("vocab_size: 32", f"vocab_size: {big}").replace(
        "d_model: 16", f"d_model: {big}"
    )
    code, out, err = run(capsys, *argv[:1], spec_at(tmp_path, text), *argv[1:])
    assert code == 0, err
    assert "e+" in out or big[:50] in out


# --- text that reaches the terminal --------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "params", "diff"])
def test_rich_markup_and_emoji_codes_in_a_name_print_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    name = "[bold]x[/] [red]y :smile:"
    text = TINY_YAML.replace("name: tiny", f"name: {json.dumps(name)}")
    code, out, err = run(capsys, command, spec_at(tmp_path, text))
    assert code == 0, err
    assert name in out


def test_a_source_line_is_echoed_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec_at(tmp_path, TINY_YAML + "bias: yes # [bold]:smile:\n")
    code, _, err = run(capsys, "validate", path)
    assert code == 1
    assert "bias: yes # [bold]:smile:" in err


# --- file system ---------------------------------------------------------------------------------


def test_written_files_get_the_umask_s_permissions(tmp_path: Path) -> None:
    """Issue 14.2: not 0600 (mkstemp's mode) but what the umask gives, atomically as before."""
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.py", "x = 1\n")
        os.umask(0o002)
        write_atomic(tmp_path / "other.py", "x = 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "other.py").stat().st_mode) == 0o664
    (tmp_path / "new.py").chmod(0o640)
    write_atomic(tmp_path / "new.py", "x = 2\n")  # a replaced file keeps its mode
    assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o640


def test_a_symlink_is_kept_and_its_target_replaced(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("old")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    write_atomic(tmp_path / "link.py", "new")
    assert (tmp_path / "link.py").is_symlink()
    assert (tmp_path / "real.py").read_text() == "new"


def test_a_symlink_to_a_device_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to(os.devnull)
    write_atomic(tmp_path / "out", "text")
    assert (tmp_path / "out").is_symlink()
    assert os.path.realpath(tmp_path / "out") == os.devnull


def test_a_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    device = tmp_path / "null-copy"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    write_atomic(device, "text")
    assert stat.S_ISCHR(device.stat().st_mode)


@pytest.mark.parametrize("target", ["file/config.json", "/proc/archspec.json"])
def test_unwritable_targets_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    spec = spec_at(tmp_path, TINY_YAML.replace("silu", "swiglu"))
    (tmp_path / "file").write_text("old")
    before = sorted(os.listdir(tmp_path))
    code, _, err = run(capsys, "export-hf", spec, "-o", str(tmp_path / target))
    assert code == 2 and err.count("\n") == 1 and "cannot write" in err, err
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "file").read_text() == "old"


def test_write_atomic_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        write_atomic(tmp_path, "x")


def test_long_names_keep_temp_names_short_and_stale_temps_are_removed(tmp_path: Path) -> None:
    name = "n" * 250 + ".py"
    stale = tmp_path / f".{name[:40]}.abcd1234.tmp"
    stale.write_text("left by a killed write")
    old = time.time() - STALE_SECONDS - 10
    os.utime(stale, (old, old))
    fresh = tmp_path / f".{name[:40]}.efgh5678.tmp"
    fresh.write_text("another writer, right now")
    write_atomic(tmp_path / name, "x")
    assert (tmp_path / name).read_text() == "x"
    assert not stale.exists() and fresh.exists()


def test_check_reads_a_stale_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_at(tmp_path, TINY_YAML)
    out = tmp_path / "gen"
    out.mkdir()
    (out / "tiny.py").write_bytes(b"\xff\xfe old")
    code, stdout, err = run(capsys, "build", spec, "-o", str(out), "--check")
    assert code == 1 and "stale" in stdout, err


def test_a_spec_named_like_a_module_does_not_shadow_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_at(tmp_path, TINY_YAML.replace("name: tiny", "name: torch"))
    code, _, err = run(capsys, "build", spec, "-o", str(tmp_path / "gen"))
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "gen")) == ["torch_model.py"]


# --- devices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cuda", "cuda:7"])
def test_a_missing_gpu_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str
) -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the GPU")
    spec = spec_at(tmp_path, TINY_YAML)
    code, _, err = run(capsys, "build", spec, "--emit", "module", "--device", device)
    assert code == 2 and "GPU" in err and err.count("\n") == 1


# --- hangs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10**9, 10**7, 10**6])
@pytest.mark.parametrize("argv", [["validate"], ["params", "--json"], ["show", "--json"], ["diff"]])
def test_huge_layer_counts_are_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], n: int, argv: list[str]
) -> None:
    spec = spec_at(tmp_path, TINY_YAML.replace("n_layers: 2", f"n_layers: {n}"))
    start = time.monotonic()
    code, _, err = run(capsys, argv[0], spec, *argv[1:])
    assert code == 1 and "layers is more than the 10,000 allowed" in err
    assert time.monotonic() - start < 5


def test_alibi_with_10_to_the_8_heads_is_refused_before_codegen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TINY_YAML.replace("n_heads: 4", "n_heads: 100000000") + "position: {kind: alibi}\n"
    code, _, err = run(capsys, "build", spec_at(tmp_path, text), "-o", str(tmp_path / "gen"))
    assert code == 1 and "n_heads 100000000 is more than" in err
    assert not (tmp_path / "gen").exists()


# --- disclosure ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../../../../../../etc/passwd", "secret.yaml"])
def test_extends_never_echoes_a_file_outside_the_spec_s_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    (tmp_path / "secret.yaml").write_text("hunter2: [password]\n")
    (tmp_path / "specs").mkdir()
    spec = spec_at(tmp_path / "specs", f"extends: {ref}\n")
    if ref == "secret.yaml":
        spec = spec_at(tmp_path / "specs", "extends: ../secret.yaml\n")
    code, out, err = run(capsys, "validate", spec)
    assert code == 1 and "outside this spec's folder" in err
    assert "root:" not in out + err and "hunter2" not in out + err


# --- silently wrong or altered -------------------------------------------------------------------


def test_base_60_is_not_a_number() -> None:
    issue = only_issue(TINY_YAML + "position:\n  theta: 1:30:00.0\n")
    assert issue.dotted_path == "position.theta" and "'1:30:00.0'" in issue.message


@pytest.mark.parametrize("name", ["🦙 llama", "\ud83e\udd99"])
def test_json_surrogate_pairs_and_emoji_survive(name: str) -> None:
    from archspec.spec.dump import to_yaml

    text = TINY_YAML.replace("name: tiny", f"name: {json.dumps(name)}")
    spec = spec_from_text(text)
    assert spec.name == name.encode("utf-16", "surrogatepass").decode("utf-16")
    assert spec_from_text(to_yaml(spec)) == spec


def test_a_lone_surrogate_escape_is_a_located_error() -> None:
    issue = only_issue(TINY_YAML.replace("name: tiny", 'name: "\\ud83e"'))
    assert issue.dotted_path == "name" and "surrogate" in issue.message


# --- unclear -------------------------------------------------------------------------------------


def test_odd_head_size_blames_what_the_user_wrote() -> None:
    issue = only_issue(TINY_YAML.replace("d_model: 16", "d_model: 252"))  # 252 / 4 = 63
    assert (issue.dotted_path, issue.line) == ("attention.n_heads", 7)
    assert "252 / 4 = 63" in issue.message and "fraction" not in issue.message


# --- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dtype": ["F32"]}, "unknown dtype"),
        ({"dtype": "F4", "shape": [2]}, "stored as F4"),
        ({"dtype": "F6_E2M3", "shape": [4]}, "stored as F6_E2M3"),
        ({"shape": [10**400]}, "needs"),
    ],
)
def test_hostile_header_entries_are_checkpoint_errors(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    header, size = raw_header({"w": ("F32", (4,))})
    header["w"] |= change
    with pytest.raises(CheckpointError, match=message):
        read_headers(write_raw(tmp_path / "m.safetensors", header, size))


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' + "1" * 5000 + "}",
        json.dumps({"__metadata__": {"format": 1}}),
        json.dumps({"__metadata__": ["pt"]}),
        json.dumps({"model.layers.¹.w": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}),
        json.dumps(
            {
                "model.layers." + "9" * 5000 + ".w": {
                    "dtype": "F32",
                    "shape": [],
                    "data_offsets": [0, 4],
                }
            }
        ),
    ],
    ids=["nested", "digits", "metadata-int", "metadata-list", "superscript", "long-index"],
)
def test_hostile_headers_are_checkpoint_errors(tmp_path: Path, raw: str) -> None:
    data = raw.encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(len(data).to_bytes(8, "little") + data + bytes(4))
    with pytest.raises(CheckpointError):
        read_headers(path)


def test_check_does_not_say_match_for_f4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path, spec = spec_file(tmp_path)
    tensors = {name: ("F4", shape) for name, (_, shape) in checkpoint_of(spec, "falcon").items()}
    header, size = raw_header(tensors)
    write_raw(tmp_path / "model.safetensors", header, size)
    code, out, err = run(capsys, "check", str(spec_path), str(tmp_path / "model.safetensors"))
    assert code == 1 and "stored as F4" in err and "match" not in out


@pytest.mark.parametrize("shape", [(), (7,)])
def test_check_of_an_embedding_that_is_no_matrix_is_a_mismatch(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shape: tuple[int, ...],
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    spec_path, spec = spec_file(tmp_path)
    tensors = checkpoint_of(spec, "falcon")
    embed = next(name for name in tensors if "word_embeddings" in name)
    tensors[embed] = ("F32", shape)
    header, size = raw_header(tensors)
    write_raw(tmp_path / "model.safetensors", header, size)
    code, out, err = run(capsys, "check", str(spec_path), str(tmp_path / "model.safetensors"))
    assert code == 1 and "not (rows, width)" in " ".join(out.split()), err


def test_check_refuses_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path, _ = spec_file(tmp_path)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    os.mkfifo(folder / "model.safetensors")
    code, _, err = run(capsys, "check", str(spec_path), str(folder))
    assert code in (1, 2) and "not a regular file" in err


# --- inconsistent --------------------------------------------------------------------------------


def test_non_utf8_config_and_spec_exit_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.json").write_bytes(b'{"model_type": "llama", "x": "\xff"}')
    (tmp_path / "spec.yaml").write_bytes(b"name: \xff\n")
    config_code, _, config_err = run(capsys, "import-hf", str(tmp_path / "config.json"))
    spec_code, _, _ = run(capsys, "validate", str(tmp_path / "spec.yaml"))
    assert config_code == spec_code == 1 and "not UTF-8" in config_err


# --- issue 14.4: every problem at once -----------------------------------------------------------


def test_cross_field_errors_come_with_field_errors() -> None:
    text = TINY_YAML.replace("n_heads: 4", "n_heads: 4\n  n_kv_heads: 3") + "dtype: fp8\n"
    text = text.replace("hidden_dim: 32", "hidden_dim: 32\n  hiden_dim: 8")
    paths = {issue.dotted_path for issue in issues_of(text)}
    assert paths == {"dtype", "ffn.hiden_dim", "attention.n_kv_heads"}


def test_a_cross_field_rule_on_a_field_that_failed_is_not_guessed() -> None:
    # head_dim is wrong: the divisibility of d_model by n_heads (which head_dim would waive)
    # must not be reported from the default that replaced it.
    text = TINY_YAML.replace("d_model: 16", "d_model: 18").replace(
        "n_heads: 4", 'n_heads: 4\n  head_dim: "x"'
    )
    issues = issues_of(text)
    assert [i.dotted_path for i in issues] == ["attention.head_dim"]


def test_internal_errors_say_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from archspec.cli import commands

    def broken(args: object) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(commands, "validate", broken)
    code, _, err = run(capsys, "validate", "gemma-7b")
    assert code == 1 and err.count("\n") == 1 and "internal error" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["validate", "gemma-7b", "--debug"])
    monkeypatch.setattr(commands, "validate", lambda a: spec_from_text("name: 1\n"))
    code, _, err = run(capsys, "--debug", "validate", "gemma-7b")  # an input error: no traceback
    assert code == 1 and "problems in spec" in err


def test_allow_extends_outside_flag_reads_the_base_and_leaves_no_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARCHSPEC_ALLOW_EXTENDS_OUTSIDE", raising=False)
    spec_at(tmp_path, TINY_YAML, "base.yaml")
    (tmp_path / "specs").mkdir()
    child = spec_at(tmp_path / "specs", "extends: ../base.yaml\n")
    assert run(capsys, "validate", child)[0] == 1
    assert run(capsys, "validate", child, "--allow-extends-outside")[0] == 0
    assert run(capsys, "--allow-extends-outside", "validate", child)[0] == 0
    assert "ARCHSPEC_ALLOW_EXTENDS_OUTSIDE" not in os.environ
