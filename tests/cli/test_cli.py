"""The command line: exit statuses, output formats, located errors, no tracebacks, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archspec.cli.main import main
from archspec.spec.shipped import shipped_names

TINY = """\
name: tiny
vocab_size: 32
d_model: 16
n_layers: 2
max_seq_len: 16
attention: {n_heads: 4}
ffn: {activation: silu, hidden_dim: 32}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_params_human_output_quotes_both_gemma_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params", "gemma-7b")
    assert code == 0
    assert (
        out.strip() == "gemma-7b: 8.54B parameters (9.32B counting the tied output head separately)"
    )


def test_params_json_has_the_promised_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params", "gemma-7b", "llama2-7b", "--json")
    assert code == 0
    gemma, llama = json.loads(out)
    assert gemma["name"] == "gemma-7b"
    assert (gemma["total"], gemma["total_untied"]) == (8_537_680_896, 9_324_112_896)
    assert set(gemma["breakdown"]) == {"embedding", "position", "attention", "ffn", "norm", "head"}
    assert sum(gemma["breakdown"].values()) == gemma["total"]
    assert llama["total"] == llama["total_untied"] == 6_738_415_616
    assert gemma["non_embedding"] == 7_751_248_896  # Gemma report, Table 2
    for key in ("flops_per_token", "kv_cache_bytes_per_token", "weight_bytes"):
        assert key in gemma


def test_params_detail_prints_a_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params", "mixtral-8x7b", "--detail")
    assert code == 0
    assert "active per token" in out and "KV cache" in out and "weights at int4" in out


def test_diff_json_marks_differences_and_effects(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "gemma-7b", "llama2-7b", "olmo-7b", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["models"] == ["gemma-7b", "llama2-7b", "olmo-7b"]
    rows = {row["feature"]: row for row in data["rows"]}
    assert rows["head size"]["values"] == ["256", "128", "128"]
    assert rows["tied embeddings"]["differs"]
    untie = rows["tied embeddings"]["effects"][1]
    assert untie == {"params": 256_000 * 3072, "kv_cache_bytes_per_token": 0, "flops_per_token": 0}
    assert not rows["position"]["differs"]


def test_diff_table_hides_agreeing_rows_unless_all(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "diff", "llama2-7b", "llama2-13b")
    assert "activation" not in out and "layers" in out
    _, out_all, _ = run(capsys, "diff", "llama2-7b", "llama2-13b", "--all")
    assert "activation" in out_all


def test_show_prints_the_resolved_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "gemma2-9b", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["derived"]["sliding_window_per_layer"][:3] == [4096, None, 4096]
    assert data["extends"] is None


def test_list_names_every_shipped_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    assert [row["name"] for row in json.loads(out)] == shipped_names()


def test_schema_is_json_schema_that_accepts_shipped_specs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["additionalProperties"] is False
    assert "attention" in schema["properties"]
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for name in shipped_names():
        text = (Path(__file__).resolve().parents[2] / "specs" / f"{name}.yaml").read_text()
        jsonschema.validate(yaml.safe_load(text), schema)


def test_invalid_spec_exits_1_with_located_errors_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("n_heads: 4", "n_heads: 4, nheads: 2").replace("silu", "swigl"))
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    assert "Traceback" not in err
    assert f"{path}:6:" in err and "did you mean" in err and "swiglu" in err


@pytest.mark.parametrize(
    "content",
    [b"", b"name: [unclosed\n", b"- a list\n", b"\xff\xfe garbage", b"a: 1\na: 2\n"],
    ids=["empty", "malformed", "list", "not-utf8", "duplicate"],
)
def test_unreadable_files_exit_1_cleanly(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    code, _, err = run(capsys, "params", str(path))
    assert code == 1
    assert "Traceback" not in err and "error" in err


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "no-such-spec")
    assert code == 2
    assert "no-such-spec" in err


def test_bad_flag_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["params", "--no-such-flag", "gpt2"])
    assert info.value.code == 2


def test_build_writes_code_and_check_detects_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "gen"
    assert run(capsys, "build", str(spec), "--emit", "code", "-o", str(out))[0] == 0
    assert run(capsys, "build", str(spec), "--emit", "code", "-o", str(out), "--check")[0] == 0
    (out / "tiny.py").write_text((out / "tiny.py").read_text() + "# edited\n")
    code, stdout, _ = run(capsys, "build", str(spec), "--emit", "code", "-o", str(out), "--check")
    assert code == 1 and "stale" in stdout and "# edited" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["tiny.py"]  # no temporary files left


def test_failed_build_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(TINY)
    bad.write_text(TINY.replace("n_heads: 4", "n_heads: 3"))
    out = tmp_path / "gen"
    code, _, _ = run(capsys, "build", str(good), str(bad), "--emit", "code", "-o", str(out))
    assert code == 1
    assert not out.exists() or not any(out.iterdir())


def test_build_module_prints_a_tree_checked_against_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    code, out, _ = run(capsys, "build", str(spec), "--emit", "module")
    assert code == 0
    assert "layers" in out and "matches" in out


def test_build_module_of_a_70b_spec_falls_back_to_meta(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "build", "llama2-70b", "--emit", "module")
    assert code == 0
    assert "on meta" in out and "meta device" in err
    assert "68,976,648,192" in out


def test_a_bare_name_is_a_shipped_spec_and_a_path_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14.3: a local gemma-7b.yaml does not shadow the shipped name; ./ or .yaml reads it."""
    (tmp_path / "gemma-7b.yaml").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    _, shipped, _ = run(capsys, "params", "gemma-7b")
    _, local, _ = run(capsys, "params", "./gemma-7b.yaml")
    assert shipped.startswith("gemma-7b: 8.54B") and local.startswith("tiny: ")
    code, _, err = run(capsys, "params", "gemma-2-2b")
    assert code == 2 and "did you mean 'gemma-2b'," in err


def test_every_problem_of_an_override_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14.4: a child's bad override and a field typo, reported together, in the child."""
    child = tmp_path / "child.yaml"
    child.write_text("extends: llama2-7b\nname: mine\nd_model: 4001\nffn: {hiden_dim: 8}\n")
    code, _, err = run(capsys, "validate", str(child))
    assert code == 1
    assert f"{child}:3:1: d_model: d_model (4001) is not divisible by attention.n_heads" in err
    assert f"{child}:4:7: ffn.hiden_dim: unknown key 'hiden_dim'" in err
