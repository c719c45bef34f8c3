"""Reading safetensors headers without torch and without reading the tensors.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
name to its dtype, shape and byte range, then the raw tensor bytes. Nothing here unpickles or even
reads past the header; every claim of the header is checked against the file's size, so a header
that would make a loader read outside the file is refused up front.
(Format: https://github.com/huggingface/safetensors#format)
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from archspec.errors import CheckpointError, UsageError

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
MAX_HEADER_BYTES = 100 * 2**20
"""Largest header accepted (the reference library's own limit is 100 MB)."""

DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
"""Bits per element of every safetensors dtype."""
UNLOADABLE = frozenset({"F4", "F6_E2M3", "F6_E3M2"})
"""Dtypes a header may declare but that torch cannot hold as a tensor of that shape: `check` must
not call such a checkpoint a match."""
MAX_NAME_CHARS = 1024
"""Longest tensor name accepted (real ones are under 100 characters)."""
_NAME = re.compile(r"^[\x21-\x7e]+$")
_LONG_NUMBER = re.compile(r"[0-9]{10}")


class TensorInfo(NamedTuple):
    """What a header says about one tensor."""

    dtype: str
    shape: tuple[int, ...]


def read_headers(path: str | Path) -> dict[str, TensorInfo]:
    """Every tensor's dtype and shape, from a `.safetensors` file, an index json or a model folder.

    A folder is read through its `model.safetensors.index.json` when it has one, else its
    `model.safetensors`, else every `*.safetensors` file in it.

    Raises:
        UsageError: The path does not exist, or a folder holds no safetensors file.
        CheckpointError: A header is malformed or disagrees with its file, a shard named by the
            index is missing or lacks a tensor the index puts in it, or two files hold one name.
    """
    path = Path(path)
    if path.name.endswith(".json"):
        return _read_index(path)
    files = checkpoint_files(path)
    if len(files) == 1 and files[0].name.endswith(".json"):
        return _read_index(files[0])
    out: dict[str, TensorInfo] = {}
    for file in files:
        _merge(out, read_header(file), file)
    return out


def checkpoint_files(path: str | Path) -> list[Path]:
    """The files a checkpoint path stands for: [index json], [single file] or every shard in a folder."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"):
            raise UsageError(f"{path}: pickled checkpoints are not read; convert it to safetensors")
        return [path]
    if (path / INDEX_NAME).is_file():
        return [path / INDEX_NAME]
    if (path / SINGLE_NAME).is_file():
        return [path / SINGLE_NAME]
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UsageError(
            f"{path}: no {SINGLE_NAME}, {INDEX_NAME} or other *.safetensors file "
            "(pickled .bin checkpoints are not read: convert them to safetensors)"
        )
    return files


def index_shards(index: Path) -> dict[str, Path]:
    """Tensor name -> shard file, from a `model.safetensors.index.json`; shards stay in its folder."""
    try:
        with index.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CheckpointError(f"{index}: not a regular file")
            raw = handle.read(MAX_HEADER_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{index}: no such file") from None
    except OSError as err:
        raise CheckpointError(f"{index}: not a readable JSON index ({err.strerror})") from None
    if len(raw) > MAX_HEADER_BYTES:
        raise CheckpointError(f"{index}: larger than {MAX_HEADER_BYTES} bytes: not an index")
    data = _json(raw, f"{index}: not a readable JSON index: the file")
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index}: no 'weight_map' object naming each tensor's shard")
    out = {}
    for name, shard in weight_map.items():
        _check_name(index, name)
        if not isinstance(shard, str) or not _plain_file_name(shard):
            raise CheckpointError(
                f"{index}: tensor {name!r} is mapped to {_short(shard)}, not a file name in the "
                "same folder"
            )
        out[name] = index.parent / shard
    return out


def read_header(file: str | Path) -> dict[str, TensorInfo]:
    """The tensors of one `.safetensors` file, after checking its header against the file."""
    file = Path(file)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{file}: not a regular file (a pipe or a device is not read)")
        size = info.st_size
        with file.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CheckpointError(f"{file}: not a regular file")
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{file}: {size} bytes, too short for a safetensors header")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise CheckpointError(
                    f"{file}: header length {n} exceeds the file ({size} bytes) or the "
                    f"{MAX_HEADER_BYTES}-byte limit: not a safetensors file"
                )
            raw = handle.read(n)
    except FileNotFoundError:
        raise UsageError(f"{file}: no such file") from None
    except OSError as err:
        raise CheckpointError(f"{file}: cannot be read ({err})") from None
    header = _json(raw, f"{file}: header")
    if not isinstance(header, dict):
        raise CheckpointError(f"{file}: header is not a JSON object")
    return _check_entries(file, header, data_bytes=size - 8 - n)


def _json(raw: bytes, what: str) -> object:
    """Parsed JSON, or a CheckpointError for anything that is not (bad UTF-8 or syntax, a number
    of more digits than Python converts, nesting deep enough to exhaust the stack)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        reason = str(err).splitlines()[0][:200]
        raise CheckpointError(f"{what} is not JSON ({reason})") from None
    except RecursionError:
        raise CheckpointError(f"{what} is nested too deeply to be a safetensors header") from None


def _check_entries(file: Path, header: dict, data_bytes: int) -> dict[str, TensorInfo]:
    out: dict[str, TensorInfo] = {}
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            _check_metadata(file, entry)
            continue
        _check_name(file, name)
        if not isinstance(entry, dict):
            raise CheckpointError(f"{file}: tensor {name!r}: entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            raise CheckpointError(f"{file}: tensor {name!r}: unknown dtype {_short(dtype)}")
        if dtype in UNLOADABLE:
            raise CheckpointError(
                f"{file}: tensor {name!r} is stored as {dtype}, which archspec cannot load "
                "(no torch dtype holds it element by element)"
            )
        if not isinstance(shape, list) or not all(_natural(d) for d in shape):
            raise CheckpointError(
                f"{file}: tensor {name!r}: shape {_short(shape)} is not a list of sizes"
            )
        if not (
            isinstance(offsets, list) and len(offsets) == 2 and all(_natural(o) for o in offsets)
        ):
            raise CheckpointError(
                f"{file}: tensor {name!r}: data_offsets {_short(offsets)} is not [begin, end]"
            )
        begin, end = offsets
        bits = math.prod(shape) * DTYPE_BITS[dtype]
        if bits % 8 or end - begin != bits // 8:
            raise CheckpointError(
                f"{file}: tensor {name!r}: {dtype}{_short(shape)} needs {_short(bits // 8)} "
                f"bytes, its data_offsets span {_short(end - begin)}"
            )
        ranges.append((begin, end, name))
        out[name] = TensorInfo(dtype, tuple(shape))
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else "leaves a gap before it"
            raise CheckpointError(f"{file}: tensor {name!r}: data at byte {begin} {what}")
        position = end
    if position != data_bytes:
        raise CheckpointError(
            f"{file}: the header describes {position} bytes of tensor data, the file holds {data_bytes}"
        )
    return out


def _read_index(index: Path) -> dict[str, TensorInfo]:
    shards = index_shards(index)
    by_file: dict[Path, list[str]] = {}
    for name, shard in shards.items():
        by_file.setdefault(shard, []).append(name)
    out: dict[str, TensorInfo] = {}
    for shard, names in by_file.items():
        if not shard.is_file():
            raise CheckpointError(f"{index}: shard {shard.name} is missing ({len(names)} tensors)")
        header = read_header(shard)
        absent = [name for name in names if name not in header]
        if absent:
            raise CheckpointError(
                f"{index}: shard {shard.name} lacks {len(absent)} tensor(s) the index puts in it: "
                + ", ".join(absent[:5])
                + (" ..." if len(absent) > 5 else "")
            )
        _merge(out, {name: header[name] for name in names}, shard)
    return out


def _merge(out: dict[str, TensorInfo], more: dict[str, TensorInfo], file: Path) -> None:
    twice = sorted(set(out) & set(more))
    if twice:
        raise CheckpointError(
            f"{file}: tensor(s) also stored in another file: {', '.join(twice[:5])}"
        )
    out.update(more)


def _check_metadata(file: Path, metadata: object) -> None:
    """`__metadata__` is a string-to-string object (the reference loader refuses anything else)."""
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise CheckpointError(f"{file}: __metadata__ is not an object of strings to strings")


def _check_name(file: Path, name: str) -> None:
    """Tensor names are short printable ASCII (`model.layers.0.mlp.up_proj.weight`): a name with
    a superscript digit or a layer index of thousands of digits is no model's."""
    if len(name) > MAX_NAME_CHARS or not _NAME.match(name) or _LONG_NUMBER.search(name):
        raise CheckpointError(
            f"{file}: tensor name {_short(name)} is not a tensor name (printable ASCII, "
            f"at most {MAX_NAME_CHARS} characters, numbers under 10 digits)"
        )


def _short(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a shape of 10**400 is not echoed whole)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond the digit limit of str()
        text = "<an integer of thousands of digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _natural(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _plain_file_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (
        len(parts) == 1
        and parts[0] not in (".", "..")
        and not name.startswith("/")
        and "\x00" not in name
    )
