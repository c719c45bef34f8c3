"""Safetensors headers read without torch, and `archspec check` built on them.

Files here are written byte by byte (8-byte length, JSON header, zero data), so every way a header
can lie is tested, and the check command is shown never to import torch.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archspec.cli.main import main
from archspec.errors import CheckpointError, UsageError
from archspec.hf.config import spec_to_hf_config
from archspec.hf.header import DTYPE_BITS, TensorInfo, read_header, read_headers
from archspec.hf.weights import compare, expected_hf_shapes, name_table, rules
from archspec.plan.lower import lower
from archspec.spec.dump import to_yaml
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge

Tensors = dict[str, tuple[str, tuple[int, ...]]]


def raw_header(tensors: Tensors) -> tuple[dict[str, Any], int]:
    """A header for ``tensors`` packed back to back, and the data size it describes."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * DTYPE_BITS[dtype] // 8
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    return header, offset


def write_raw(path: Path, header: Any, data_bytes: int, *, length: int | None = None) -> Path:
    """A safetensors file with ``header`` (any JSON) and ``data_bytes`` zero bytes of data."""
    text = json.dumps(header).encode()
    path.write_bytes(
        struct.pack("<Q", len(text) if length is None else length) + text + bytes(data_bytes)
    )
    return path


def write_tensors(path: Path, tensors: Tensors) -> Path:
    header, size = raw_header(tensors)
    return write_raw(path, header, size)


# --- reading -----------------------------------------------------------------------------------

TENSORS: Tensors = {"a.weight": ("F32", (3, 4)), "a.bias": ("BF16", (3,)), "b": ("I64", ())}


def test_reads_names_dtypes_and_shapes(tmp_path: Path) -> None:
    file = write_tensors(tmp_path / "model.safetensors", TENSORS)
    want = {name: TensorInfo(dtype, shape) for name, (dtype, shape) in TENSORS.items()}
    assert read_header(file) == want
    assert read_headers(file) == want
    assert read_headers(tmp_path) == want
    assert read_headers(file)["a.weight"] == ("F32", (3, 4))


def test_agrees_with_the_safetensors_library(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    save_file(
        {"x": torch.zeros(2, 5), "y": torch.ones(7, dtype=torch.bfloat16), "z": torch.zeros(0, 3)},
        tmp_path / "model.safetensors",
    )
    assert read_headers(tmp_path) == {
        "x": ("F32", (2, 5)),
        "y": ("BF16", (7,)),
        "z": ("F32", (0, 3)),
    }


def test_sharded_folder_through_its_index(tmp_path: Path) -> None:
    write_tensors(tmp_path / "s1.safetensors", {"a": ("F32", (2,)), "b": ("F16", (4, 4))})
    write_tensors(tmp_path / "s2.safetensors", {"c": ("F32", (1,))})
    index = {
        "metadata": {"total_size": 44},
        "weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"},
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    want = {"a": ("F32", (2,)), "b": ("F16", (4, 4)), "c": ("F32", (1,))}
    assert read_headers(tmp_path) == want
    assert read_headers(tmp_path / "model.safetensors.index.json") == want


def test_folder_of_shards_without_an_index(tmp_path: Path) -> None:
    write_tensors(tmp_path / "part-1.safetensors", {"a": ("F32", (2,))})
    write_tensors(tmp_path / "part-2.safetensors", {"b": ("F32", (2,))})
    assert set(read_headers(tmp_path)) == {"a", "b"}
    write_tensors(tmp_path / "part-3.safetensors", {"a": ("F32", (2,))})
    with pytest.raises(CheckpointError, match="also stored in another file: a"):
        read_headers(tmp_path)


@pytest.mark.parametrize(
    ("header", "data", "length", "message"),
    [
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 8, 10**9, "header length"),
        (
            {"x": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}},
            8,
            None,
            "unknown dtype 'F33'",
        ),
        (
            {"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}},
            8,
            None,
            "not a list of sizes",
        ),
        (
            {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}},
            8,
            None,
            "not \\[begin, end\\]",
        ),
        ({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8, None, "needs 12 bytes"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 16, None, "file holds 16"),
        (
            {
                "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            12,
            None,
            "overlaps",
        ),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, 12, None, "gap"),
        ([1, 2], 0, None, "not a JSON object"),
        ({"x": [0, 1]}, 0, None, "entry is not an object"),
    ],
)
def test_lying_headers_are_refused(
    tmp_path: Path, header: Any, data: int, length: int | None, message: str
) -> None:
    file = write_raw(tmp_path / "bad.safetensors", header, data, length=length)
    with pytest.raises(CheckpointError, match=message):
        read_headers(file)


def test_not_json_and_too_short_files(tmp_path: Path) -> None:
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x00")
    with pytest.raises(CheckpointError, match="too short"):
        read_headers(tmp_path / "short.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(struct.pack("<Q", 4) + b"\x80abc")
    with pytest.raises(CheckpointError, match="not JSON"):
        read_headers(tmp_path / "junk.safetensors")
    pickle_like = tmp_path / "pickle.safetensors"
    pickle_like.write_bytes(b"\x80\x04\x95" + bytes(64))  # a pickle's opening bytes
    with pytest.raises(CheckpointError):
        read_headers(pickle_like)


def test_index_problems(tmp_path: Path) -> None:
    index = tmp_path / "model.safetensors.index.json"
    write_tensors(tmp_path / "s1.safetensors", {"a": ("F32", (2,))})
    for weight_map, message in [
        ({"a": "../s1.safetensors"}, "not a file name in the same folder"),
        ({"a": "/etc/passwd"}, "not a file name in the same folder"),
        ({"a": "s9.safetensors"}, "shard s9.safetensors is missing"),
        (
            {"a": "s1.safetensors", "b": "s1.safetensors"},
            "lacks 1 tensor\\(s\\) the index puts in it: b",
        ),
        ({}, "no 'weight_map'"),
    ]:
        index.write_text(json.dumps({"weight_map": weight_map}))
        with pytest.raises(CheckpointError, match=message):
            read_headers(tmp_path)
    index.write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable JSON index"):
        read_headers(index)


def test_bad_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        read_headers(tmp_path / "nowhere")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(UsageError, match="pickled .bin checkpoints are not read"):
        read_headers(tmp_path)
    with pytest.raises(UsageError, match="pickled checkpoints are not read"):
        read_headers(tmp_path / "pytorch_model.bin")


# --- the name tables against published checkpoints -------------------------------------------

PUBLISHED = [
    # (shipped spec, HF tensor name, shape in the published safetensors)
    ("falcon-7b", "transformer.h.0.self_attention.query_key_value.weight", (4672, 4544)),
    ("falcon-7b", "transformer.h.31.mlp.dense_h_to_4h.weight", (18176, 4544)),
    ("gpt2", "transformer.h.0.attn.c_attn.weight", (768, 2304)),
    ("gpt2", "transformer.h.11.mlp.c_proj.weight", (3072, 768)),
    ("gpt2", "transformer.wpe.weight", (1024, 768)),
    ("mixtral-8x7b", "model.layers.0.block_sparse_moe.experts.7.w1.weight", (14336, 4096)),
    ("mixtral-8x7b", "model.layers.31.block_sparse_moe.gate.weight", (8, 4096)),
    ("gemma-7b", "model.layers.0.self_attn.q_proj.weight", (4096, 3072)),
    ("gemma2-9b", "model.layers.0.self_attn.k_proj.weight", (2048, 3584)),
    ("gemma2-9b", "model.layers.41.pre_feedforward_layernorm.weight", (3584,)),
    ("phi-2", "model.layers.0.mlp.fc1.weight", (10240, 2560)),
    ("phi-2", "lm_head.bias", (51200,)),
    ("olmo-1b", "model.embed_tokens.weight", (50304, 2048)),
    ("olmo2-7b", "model.layers.0.self_attn.k_norm.weight", (4096,)),
    ("olmo2-7b", "model.layers.0.post_feedforward_layernorm.weight", (4096,)),
    ("qwen2-7b", "model.layers.0.self_attn.k_proj.bias", (512,)),
    ("llama2-70b", "model.layers.79.self_attn.v_proj.weight", (1024, 8192)),
    ("mistral-7b", "lm_head.weight", (32000, 4096)),
]


@pytest.mark.parametrize(
    ("shipped", "name", "shape"), PUBLISHED, ids=[f"{s}:{n}" for s, n, _ in PUBLISHED]
)
def test_shipped_specs_give_the_published_tensor_shapes(
    shipped: str, name: str, shape: tuple[int, ...]
) -> None:
    from archspec.spec.load import load_spec

    spec = load_spec(shipped)
    plan = lower(spec)
    model_type = spec_to_hf_config(spec)["model_type"]
    assert expected_hf_shapes(plan, rules(plan, name_table(model_type)))[name] == shape


def test_olmo1_checkpoints_hold_no_norm_weights() -> None:
    from archspec.spec.load import load_spec

    plan = lower(load_spec("olmo-1b"))
    names = expected_hf_shapes(plan, rules(plan, name_table("olmo")))
    assert not [n for n in names if "norm" in n]
    assert "lm_head.weight" not in names  # tied


# --- archspec check ----------------------------------------------------------------------------

FALCON: dict[str, Any] = {
    "name": "tiny-falcon",
    "vocab_size": 64,
    "d_model": 32,
    "n_layers": 2,
    "max_seq_len": 32,
    "bias": False,
    "norm": {"kind": "layernorm", "eps": 1e-5},
    "attention": {"n_heads": 4, "n_kv_heads": 1},
    "ffn": {"activation": "gelu", "hidden_dim": 128},
    "block": {"parallel_residual": True},
    "head": {"tie_embeddings": True},
}


def checkpoint_of(spec: ModelSpec, model_type: str) -> Tensors:
    """The tensors an HF checkpoint of ``spec`` holds, as the name table says (F32)."""
    plan = lower(spec)
    shapes = expected_hf_shapes(plan, rules(plan, name_table(model_type)))
    return {name: ("F32", shape) for name, shape in shapes.items()}


def spec_file(tmp_path: Path, **changes: Any) -> tuple[Path, ModelSpec]:
    spec = ModelSpec.model_validate(deep_merge(FALCON, changes))
    path = tmp_path / "spec.yaml"
    path.write_text(to_yaml(spec))
    return path, spec


def run_check(spec: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and output (on one line, wide enough that no table cell wraps)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "1000")
        code = main(["check", str(spec), str(checkpoint)])
    return code, " ".join(capsys.readouterr().out.split())


def test_check_passes_on_a_matching_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path, spec = spec_file(tmp_path)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_tensors(folder / "model.safetensors", checkpoint_of(spec, "falcon"))
    code, out = run_check(spec_path, folder, capsys)
    assert code == 0, out
    assert "match" in out and "falcon (the spec's export family)" in out
    assert "fused: query_key_value" in out
    assert "checkpoint stores no head" in out


def test_check_reports_each_kind_of_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path, spec = spec_file(tmp_path)
    tensors = checkpoint_of(spec, "falcon")
    tensors["transformer.word_embeddings.weight"] = ("F32", (72, 32))  # padded vocabulary
    tensors["transformer.h.0.mlp.dense_h_to_4h.bias"] = ("F32", (128,))  # a bias the spec lacks
    del tensors["transformer.h.1.self_attention.query_key_value.weight"]  # stored split instead
    for p, rows in (("q", 32), ("k", 8), ("v", 8)):
        tensors[f"transformer.h.1.self_attention.{p}_proj.weight"] = ("F32", (rows, 32))
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_tensors(folder / "model.safetensors", tensors)
    code, out = run_check(spec_path, folder, capsys)
    assert code == 1
    assert "mismatch" in out
    assert "checkpoint has 72 rows, the spec 64" in out and "set padded_vocab_size: 72" in out
    assert "checkpoint has biases the spec lacks: transformer.h.0.mlp.dense_h_to_4h.bias" in out
    assert "checkpoint splits projections" in out and "falcon layout fuses" in out
    assert "missing" in out and "transformer.h.1.self_attention.query_key_value.weight" in out


def test_check_tying_and_family_from_config_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path, spec = spec_file(tmp_path, head={"tie_embeddings": False})
    tied = ModelSpec.model_validate(FALCON)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_tensors(folder / "model.safetensors", checkpoint_of(tied, "falcon"))
    (folder / "config.json").write_text(json.dumps(spec_to_hf_config(tied)))
    code, out = run_check(spec_path, folder / "model.safetensors", capsys)
    assert code == 1
    assert "falcon (from config.json)" in out
    assert "spec unties the head but the checkpoint has no lm_head.weight" in out


def test_check_of_a_missing_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    spec_path, _ = spec_file(tmp_path)
    assert main(["check", str(spec_path), str(tmp_path / "nowhere")]) == 2


def test_compare_counts_a_stored_tied_head_as_ignored() -> None:
    spec = ModelSpec.model_validate(FALCON)
    found = {name: shape for name, (_, shape) in checkpoint_of(spec, "falcon").items()}
    found["lm_head.weight"] = (64, 32)
    found["transformer.h.0.self_attention.rotary_emb.inv_freq"] = (4,)
    result = compare(lower(spec), name_table("falcon"), found)
    assert result.ok
    assert set(result.ignored) == {
        "lm_head.weight",
        "transformer.h.0.self_attention.rotary_emb.inv_freq",
    }


def test_header_reading_and_check_never_import_torch(tmp_path: Path) -> None:
    spec_path, spec = spec_file(tmp_path)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    write_tensors(folder / "model.safetensors", checkpoint_of(spec, "falcon"))
    (folder / "config.json").write_text(json.dumps(spec_to_hf_config(spec)))
    script = f"""
import contextlib, io, sys
import archspec.hf.header, archspec.hf.weights, archspec.cli.hf
from archspec.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    codes = [
        main(["check", {str(spec_path)!r}, {str(folder)!r}]),
        main(["import-hf", {str(folder)!r}]),
        main(["export-hf", {str(spec_path)!r}]),
    ]
assert codes == [0, 0, 0], codes
assert "torch" not in sys.modules, "torch was imported"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
