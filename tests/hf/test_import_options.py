"""Real configs that need a word from the user (`--ignore`, `--vocab-size`), hub ids resolved
offline from a local hub cache, and hostile config.json / checkpoint input: one clear error, no
traceback, no hang."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archspec.cli.main import main
from archspec.errors import ArchspecError, UsageError
from archspec.hf.config import HFConfigError, hf_config_to_spec, load_hf_config
from archspec.hf.hub import is_hub_id

ROOT = Path(__file__).resolve().parents[2]

# https://huggingface.co/HuggingFaceTB/SmolLM2-135M/blob/main/config.json
SMOLLM2_135M = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "hidden_act": "silu",
    "hidden_size": 576,
    "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536,
    "is_llama_config": True,
    "max_position_embeddings": 8192,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_interleaved": False,
    "rope_scaling": None,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1",
    "use_cache": True,
    "vocab_size": 49152,
}


def test_smollm2_imports_unedited() -> None:
    spec, report = hf_config_to_spec(SMOLLM2_135M, name="smollm2-135m")
    assert report.accounted == set(SMOLLM2_135M)
    assert "nanotron" in (report.reason("is_llama_config") or "")
    import archspec

    assert archspec.count_params(spec).total == 134515008  # published: 135M (tied)


def test_rope_interleaved_true_is_refused_unless_vouched_for() -> None:
    odd = {**SMOLLM2_135M, "rope_interleaved": True}
    with pytest.raises(HFConfigError, match="rope_interleaved"):
        hf_config_to_spec(odd, name="x")
    _, report = hf_config_to_spec(odd, name="x", ignore=["rope_interleaved"])
    assert report.reason("rope_interleaved") == "ignored at the caller's request"


def _write(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_cli_ignore_and_vocab_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write(tmp_path / "m", {**SMOLLM2_135M, "my_flag": 1, "vocab_size": 49216})
    assert main(["import-hf", str(folder)]) == 1
    assert "my_flag" in capsys.readouterr().err
    out = tmp_path / "m.yaml"
    code = main(
        ["import-hf", str(folder), "--ignore", "my_flag", "--vocab-size", "49152", "-o", str(out)]
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "vocab_size: 49152" in text and "padded_vocab_size: 49216" in text
    assert main(["import-hf", str(folder), "--ignore", "my_flag", "--vocab-size", "0"]) == 1


def test_export_layout_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-hf", "llama3-8b", "--transformers", "4"]) == 0
    v4 = json.loads(capsys.readouterr().out)
    assert "rope_parameters" not in v4 and v4["rope_theta"] == 500000.0
    assert main(["export-hf", "llama3-8b"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["rope_theta"] == both["rope_parameters"]["rope_theta"] == 500000.0


# --- hub ids, offline, from a hub cache made here ------------------------------------------------

REPO, COMMIT = "TinyOrg/tiny-llama", "0123456789abcdef0123456789abcdef01234567"
TINY_LLAMA = {
    "model_type": "llama",
    "vocab_size": 96,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "torch_dtype": "float32",
    "bos_token_id": 1,
    "eos_token_id": 2,
}


@pytest.fixture()
def hub_cache(tmp_path: Path) -> Path:
    """A hub cache holding `TinyOrg/tiny-llama` (config and safetensors, as snapshot_download
    leaves them) and nothing else."""
    torch = pytest.importorskip("torch")
    import archspec
    from archspec.hf.loader import save_pretrained

    cache = tmp_path / "hub"
    repo = cache / "models--TinyOrg--tiny-llama"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    spec, _ = hf_config_to_spec(TINY_LLAMA, name="tiny-llama")
    torch.manual_seed(0)
    save_pretrained(archspec.build_model(spec), repo / "snapshots" / COMMIT, spec)
    return cache


def _offline_env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archspec.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hub_id_resolves_offline_from_the_cache(hub_cache: Path, tmp_path: Path) -> None:
    env = _offline_env(hub_cache)
    done = _cli(["import-hf", REPO, "-o", "tiny.yaml"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "tiny.yaml").read_text(encoding="utf-8")
    assert "name: tiny-llama" in text and "huggingface.co/TinyOrg/tiny-llama" in text
    assert "eos: 2" in text
    done = _cli(["check", "tiny.yaml", REPO], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    missing = _cli(["import-hf", "TinyOrg/not-cached"], env, tmp_path)
    assert missing.returncode == 2
    assert "not in the local hub cache" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_load_pretrained_takes_a_hub_id(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    from huggingface_hub import constants

    from archspec.hf.loader import load_pretrained

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.chdir(tmp_path)
    model = load_pretrained(REPO).eval()
    local = load_pretrained(hub_cache / "models--TinyOrg--tiny-llama" / "snapshots" / COMMIT)
    ids = torch.arange(12).reshape(2, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(ids), local.eval()(ids))
    assert model.spec.tokens is not None and model.spec.tokens.eos == 2
    with pytest.raises(UsageError, match="not in the local hub cache"):
        load_pretrained("TinyOrg/absent")
    with pytest.raises(UsageError, match="revision"):
        load_pretrained(tmp_path, revision="main")


def test_hub_ids_and_paths_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_hub_id("HuggingFaceTB/SmolLM2-135M")
    assert not is_hub_id("a/b/c") and not is_hub_id("../x") and not is_hub_id("/abs/x")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert not is_hub_id("org/name")  # an existing folder wins


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"model_type": ["llama"]}, "model_type"),
        ({"model_type": {"a": 1}}, "model_type"),
        ({**TINY_LLAMA, "rope_scaling": {"rope_type": ["linear"]}}, "rope_type"),
        ({**TINY_LLAMA, "rope_scaling": {"rope_type": "linear", "factor": 10**400}}, "factor"),
        ({**TINY_LLAMA, "rms_norm_eps": 10**400}, "rms_norm_eps"),
        ({**TINY_LLAMA, "rope_theta": float("inf")}, "rope_theta"),
        ({**TINY_LLAMA, "hidden_size": 10**200}, "hidden_size"),
        ({**TINY_LLAMA, "num_hidden_layers": 10**9}, "layers"),
    ],
)
def test_hostile_config_values_are_one_clear_error(config: dict[str, Any], needle: str) -> None:
    started = time.monotonic()
    with pytest.raises(HFConfigError, match=needle):
        hf_config_to_spec(config, name="x")
    assert time.monotonic() - started < 2


def test_hostile_config_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digits = tmp_path / "digits.json"
    digits.write_text('{"model_type": "llama", "vocab_size": ' + "9" * 5000 + "}")
    with pytest.raises(HFConfigError, match="not a readable config"):
        load_hf_config(digits)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"model_type": "llama", "name": "caf\xe9"}')
    assert main(["import-hf", str(latin)]) == 1
    assert "UTF-8" in capsys.readouterr().err
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert main(["import-hf", str(fifo)]) == 2
    assert time.monotonic() - started < 2
    assert "not a regular file" in capsys.readouterr().err


def test_load_pretrained_errors_name_the_file(hub_cache: Path, tmp_path: Path) -> None:
    from archspec.hf.loader import load_pretrained

    folder = hub_cache / "models--TinyOrg--tiny-llama" / "snapshots" / COMMIT
    with pytest.raises(UsageError, match="not a folder"):
        load_pretrained(folder / "config.json")
    # a header whose metadata is not string -> string: safetensors refuses the file
    bad = _write(tmp_path / "bad", TINY_LLAMA)
    data = (folder / "model.safetensors").read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"] = {"format": ["pt"]}
    raw = json.dumps(header).encode()
    (bad / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + size :])
    with pytest.raises(ArchspecError, match="model.safetensors"):
        load_pretrained(bad)
    # a sharded index that names a missing shard, or is not an object of names
    sharded = _write(tmp_path / "sharded", TINY_LLAMA)
    index = {"weight_map": dict.fromkeys(header.keys() - {"__metadata__"}, "gone.safetensors")}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ArchspecError, match="gone.safetensors"):
        load_pretrained(sharded)
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": [1, 2]}))
    with pytest.raises(ArchspecError):
        load_pretrained(sharded)


def test_check_is_linear_in_layers() -> None:
    """`check`'s comparison of 4,000 layers takes about 4x as long as 1,000 (it was quadratic)."""
    from archspec.hf.weights import compare, expected_hf_shapes, name_table, rules
    from archspec.plan.lower import lower
    from archspec.spec.model import ModelSpec

    def seconds(n: int) -> float:
        spec = ModelSpec.model_validate(
            {
                "name": "deep",
                "vocab_size": 96,
                "d_model": 16,
                "n_layers": n,
                "max_seq_len": 64,
                "attention": {"n_heads": 2},
                "ffn": {"activation": "swiglu", "hidden_dim": 32},
            }
        )
        plan = lower(spec)
        table = name_table("llama")
        found = expected_hf_shapes(plan, rules(plan, table))
        started = time.perf_counter()
        assert compare(plan, table, found).ok
        return time.perf_counter() - started

    small, large = min(seconds(1000) for _ in range(2)), seconds(4000)
    assert large < 10 * small + 0.5


def test_check_does_not_block_on_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write(tmp_path / "m", TINY_LLAMA)
    os.mkfifo(folder / "model.safetensors")
    spec = tmp_path / "tiny.yaml"
    assert main(["import-hf", str(folder), "-o", str(spec)]) == 0
    started = time.monotonic()
    for target in (folder, folder / "model.safetensors"):
        assert main(["check", str(spec), str(target)]) in (1, 2)
    assert time.monotonic() - started < 5
    assert "Traceback" not in capsys.readouterr().err
