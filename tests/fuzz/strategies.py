"""Hypothesis strategies of hostile input: YAML text, safetensors files and output targets.

Each draws from the families of issue 15 (control characters, deep nesting, huge numbers, rich
markup, YAML 1.1 surprises, wrong JSON types, odd tensor names) mixed with plain noise, so that a
property over them says "every input either loads or raises ArchspecError".
"""

from __future__ import annotations

import json
import struct

from hypothesis import strategies as st

from tests.spec.helpers import TINY_YAML

TINY = TINY_YAML
"""A valid spec whose lines the strategies replace or break."""

FIELDS = [
    "name",
    "description",
    "vocab_size",
    "d_model",
    "n_layers",
    "max_seq_len",
    "padded_vocab_size",
    "extends",
    "dtype",
    "attention",
    "attention.n_heads",
    "attention.n_kv_heads",
    "attention.head_dim",
    "attention.softcap",
    "ffn",
    "ffn.hidden_dim",
    "ffn.activation",
    "ffn.moe",
    "position",
    "position.kind",
    "position.theta",
    "position.fraction",
    "position.scaling",
    "norm.eps",
    "layer_overrides",
    "source",
]

HOSTILE_SCALARS = [
    str(10**200),
    "-" + str(10**200),
    "1" + "0" * 5000,
    "1000000000",
    "10000000",
    "0",
    "-1",
    "1e400",
    "-1e400",
    ".nan",
    ".inf",
    "1:30:00.0",
    "1:30",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "yes",
    "on",
    "~",
    "null",
    "[]",
    "{}",
    "[1, 2",
    "{kind: alibi}",
    "{kind: rope, theta: 1:30:00.0}",
    "{kind: yarn, factor: null, original_max_seq_len: 0}",
    "{kind: rope, fraction: 0.3, scaling: {kind: yarn, factor: ~}}",
    "{n_heads: 100000000}",
    "{n_heads: 63}",
    "{n_experts: 1000000000, experts_per_token: 2}",
    "[{layers: [1000000000], attention: {n_heads: 2}}]",
    "[{every: 1, attention: {n_heads: 100000000}}]",
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/name:os.system",
    "!!binary AAAA",
    "!!timestamp 2020-13-45",
    "!!int abc",
    "!!float x",
    "&a [*a]",
    "*nosuchanchor",
    "2020-01-01",
    '"\\ud83e\\udd99"',
    '"\\ud83e"',
    '"\\udd99\\ud83e"',
    '"\\x00\\x1b[31m"',
    "'[bold]x[/]'",
    "'[/]'",
    "'[link=file:///etc/passwd]x'",
    ":smile:",
    "🦙",
    "/etc/passwd",
    "../../../../etc/shadow",
    "/proc/self/environ",
    "/dev/zero",
    "gemma-7b",
    "tiny",
    "./",
    "..",
    "torch",
    "'" + "n" * 300 + "'",
]
"""Values that each broke (or nearly broke) something once."""

CONTROL = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, 0x80, 0x85, 0xFFFE)]
CONTROL += ["\u2028", "\u2029", "\ufeff", "\ud800"]


def _set_field(text: str, field: str, value: str) -> str:
    """``text`` with ``field`` (dotted, one level of nesting) set to ``value`` as written."""
    if "." not in field:
        lines = [line for line in text.splitlines() if not line.startswith(f"{field}:")]
        return "\n".join(lines) + f"\n{field}: {value}\n"
    part, key = field.split(".", 1)
    return text + f"{part}:\n  {key}: {value}\n"


@st.composite
def field_swaps(draw: st.DrawFn) -> str:
    """The tiny spec with one to three fields set to hostile values."""
    text = TINY
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(FIELDS))
        value = draw(
            st.sampled_from(HOSTILE_SCALARS)
            | st.from_regex(r"[\w\[\]{}:,'\" -]{0,12}", fullmatch=True)
        )
        text = _set_field(text, field, value)
    return text


@st.composite
def inserted(draw: st.DrawFn) -> str:
    """The tiny spec with hostile characters or text inserted anywhere."""
    text = TINY
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        piece = draw(
            st.sampled_from(CONTROL)
            | st.sampled_from(
                [
                    "[",
                    "{",
                    "]",
                    "}",
                    ":",
                    "- ",
                    "&a ",
                    "*a",
                    "!!",
                    "<<: ",
                    "#",
                    "\t",
                    "'",
                    '"',
                    "\\",
                ]
            )
            | st.text(max_size=8)
        )
        text = text[:at] + piece + text[at:]
    return text


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Flow collections nested up to 100,000 deep, balanced or not."""
    depth = draw(st.sampled_from([30, 33, 129, 1000, 3000, 100_000]))
    opener = draw(st.sampled_from(["[", "{a: ", "[{a: "]))
    closer = {"[": "]", "{a: ": "}", "[{a: ": "}]"}[opener]
    close = draw(st.booleans())
    return TINY + "source: " + opener * depth + "1" + (closer * depth if close else "") + "\n"


def hostile_names() -> st.SearchStrategy[str]:
    """Valid specs whose name and description are any text at all (markup, emoji, control
    characters, bidi overrides), written as JSON-style escapes: each must load and print."""
    text = st.text(min_size=1, max_size=40) | st.sampled_from(
        ["[bold]x[/]", "[/]", ":smile:", "🦙", "\u202e", "torch", "../../x", "a\\", "\x1b[2J"]
    )
    return st.tuples(text, st.text(max_size=40)).map(
        lambda pair: (
            TINY.replace("name: tiny", f"name: {json.dumps(pair[0])}")
            + f"description: {json.dumps(pair[1])}\n"
        )
    )


def yaml_texts() -> st.SearchStrategy[str | bytes]:
    """Hostile spec text: field swaps, insertions, deep nesting, and noise."""
    return st.one_of(
        field_swaps(),
        inserted(),
        nested(),
        st.text(
            alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@` \n\t\\0123456789.") + CONTROL),
            max_size=80,
        ),
        st.binary(max_size=120),
        st.binary(max_size=40).map(lambda b: TINY.encode() + b),
    )


DTYPES = ["F32", "F16", "BF16", "I64", "BOOL", "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "X", "f32"]
NAMES = [
    "embed.weight",
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.¹.mlp.up_proj.weight",
    "model.layers." + "9" * 5000 + ".mlp.up_proj.weight",
    "model.layers.-1.mlp.up_proj.weight",
    "lm_head.weight",
    "a\x00b",
    "x" * 2000,
    "[bold]x",
    "",
]


@st.composite
def header_entries(draw: st.DrawFn) -> dict[str, object]:
    """A header's tensors, most well formed, some with one field of the wrong kind."""
    header: dict[str, object] = {}
    offset = 0
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(NAMES) | st.text(max_size=12))
        dtype: object = draw(st.sampled_from(DTYPES))
        shape: object = draw(st.lists(st.integers(0, 8), max_size=3))
        size = 1
        for d in shape:  # type: ignore[union-attr]
            size *= d
        nbytes = size * 4
        offsets: object = [offset, offset + nbytes]
        which = draw(st.integers(0, 6))
        if which == 1:
            dtype = draw(st.sampled_from([["F32"], 4, None, {"a": 1}]))
        elif which == 2:
            shape = draw(st.sampled_from([[10**400], [-1], "abc", [1.5], [[2]], None, [2**64]]))
        elif which == 3:
            offsets = draw(st.sampled_from([[0], [5, 1], [0, 10**400], "0-4", None]))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
        offset += nbytes
    if draw(st.booleans()):
        header["__metadata__"] = draw(
            st.sampled_from([{"format": "pt"}, {"format": 1}, [1], "x", None, {"a": {"b": "c"}}])
        )
    return header


@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    """Whole `.safetensors` files: a header (or raw hostile JSON), its length and tensor bytes."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        raw = json.dumps(draw(header_entries())).encode()
    elif kind == 1:
        depth = draw(st.sampled_from([10, 1000, 100_000]))
        raw = (
            (b"[" * depth + b"]" * depth)
            if draw(st.booleans())
            else b'{"a":' * depth + b"1" + b"}" * depth
        )
    elif kind == 2:
        raw = draw(
            st.sampled_from(
                [
                    b'{"a": 1' + b"0" * 5000 + b"}",
                    b"\xff\xfe",
                    b"[]",
                    b"null",
                    b'{"__metadata__": 1}',
                ]
            )
        )
    else:
        raw = draw(st.binary(max_size=64))
    length = len(raw)
    if draw(st.integers(0, 5)) == 0:
        length = draw(st.sampled_from([0, 2**63, 2**64 - 1, len(raw) + 1]))
    data = draw(st.binary(max_size=64))
    return struct.pack("<Q", length) + raw + data
