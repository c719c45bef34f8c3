"""The CLI with adapters: the params line, `--json`, diff rows, and import-hf of an adapter folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archspec.cli.main import main
from archspec.hf.adapters import spec_to_adapter_config
from archspec.hf.weights import name_table
from archspec.spec.load import load_spec

DORA = "specs/examples/llama2-7b-dora.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_params_line_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params", DORA)
    assert code == 0
    assert out.strip() == (
        "llama2-7b-dora (dora r=8 q,v): 6.74B parameters, 4.46M trainable (0.066%)"
    )
    code, out, _ = run(capsys, "params", DORA, "--json")
    data = json.loads(out)
    assert (data["trainable"], data["frozen"]) == (4_456_448, 6_738_415_616)
    assert data["trainable_breakdown"]["attention"] == 4_456_448
    assert data["per_layer"][0]["trainable"] == 4_456_448 // 32


def test_diff_has_adapter_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "llama2-7b", DORA, "--json")
    assert code == 0
    rows = {row["feature"]: row for row in json.loads(out)["rows"]}
    assert rows["adapters"]["values"] == ["—", "dora r=8 q,v"]
    assert rows["trainable params"]["values"] == ["6.74B", "4.46M"]


def test_import_hf_of_an_adapter_folder_writes_the_fine_tune_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "my-adapter"
    folder.mkdir()
    config = spec_to_adapter_config(load_spec(DORA), name_table("llama"))
    (folder / "adapter_config.json").write_text(json.dumps(config))
    assert run(capsys, "import-hf", str(folder))[0] == 2  # the base is needed
    out_file = tmp_path / "ft.yaml"
    code, _, _ = run(capsys, "import-hf", str(folder), "--base", "llama2-7b", "-o", str(out_file))
    assert code == 0
    spec = load_spec(str(out_file))
    assert spec.adapters == load_spec(DORA).adapters
    assert spec.name == "my-adapter"


def test_adapter_config_side_is_torch_free() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import archspec.spec.adapters, archspec.hf.adapters, archspec.train\n"
        "from archspec.analysis.params import count_params\n"
        "from archspec.spec.load import load_spec\n"
        f"count_params(load_spec({DORA!r}))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
