"""No spec string can inject code into a generated file.

Spec text (name, description, source topics and citations) and the source path reach the output
only through the escaping filters. Whatever they hold, the generated file compiles, its code
tokens (everything but docstrings and comments) are exactly those of the same spec with tame text,
executing it imports only torch and math and defines only the usual names, and the text survives,
escaped, inside the docstrings.
"""

from __future__ import annotations

import ast
import builtins
import io
import os
import re
import subprocess
import tokenize
import types
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.codegen.emit import emit_code, module_filename
from archspec.spec.model import ModelSpec
from tests.nn.helpers import budget
from tests.strategies import hostile_text, specs, tiny_spec

MARK = "PWNED"
"""In every hostile string: where it lands in the output is where the string went."""

HOSTILE = {
    "triple-double-quotes": f'x """ {MARK} """ y',
    "triple-single-quotes": f"x ''' {MARK} ''' y",
    "close-docstring-and-run": f'"""\nimport os\nos.system("echo {MARK}")\n"""',
    "close-single-and-run": f"'''; __import__('os').system('{MARK}'); '''",
    "import-call": f"__import__('os').system('{MARK}')",
    "backslashes": f"\\ \\\\ \\n \\x00 \\N{{BULLET}} \\u2028 {MARK} ends in \\",
    "escaped-quote": f"\\\"\"\"{MARK}\\'''",
    "newlines": f"a\nb\r\nc\r{MARK}\n\n",
    "line-separators": f"a\u2028b\u2029c\x85d\x0be\x0cf\x1c\x1d\x1e\x1f{MARK}",
    "control-characters": f"a\x00b\x07\x1b[31m{MARK}\x7f\x08",
    "format-characters": f"\u202e{MARK}\u202c \ufeff\u200b\u2066x\u2069",
    "comment-pragmas": f"# noqa\n# type: ignore\n# -*- coding: latin-1 -*-\nimport os  # {MARK}",
    "jinja": f"{{{{ 7 * 7 }}}} {{% for i in range(3) %}}{MARK}{{% endfor %}} {{# c #}} {{{{ spec }}}}",
    "non-ascii": f"é中文🙂 Ω {MARK}",
    "quote-at-the-end": f'{MARK} ends with a quote"',
    "long-word": MARK + "x" * 150,
}


def hostile_spec(text: str) -> ModelSpec:
    return tiny_spec(
        name=f"tiny {text}",
        description=text,
        source={text: text, "paper": f"see {text}"},
    )


TAME = tiny_spec()


def code_tokens(src: str) -> list[tuple[int, str]]:
    """(type, text) of every token that is code: comments, blank lines and docstrings left out
    (a docstring becomes one placeholder token)."""
    docstrings = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add((first.value.lineno, first.value.col_offset))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL):
            continue
        if tok.type == tokenize.STRING and tok.start in docstrings:
            out.append((tok.type, "<docstring>"))
        else:
            out.append((tok.type, tok.string))
    return out


def docstrings_and_comments(src: str) -> str:
    parts = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                parts.append(doc)
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            parts.append(tok.string)
    return "\n".join(parts)


ALLOWED_IMPORTS = {"__future__", "math", "torch", "torch.nn.functional"}


def guarded_exec(src: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute ``src`` as a module; fail on any import but torch and math, or any process start."""
    namespace: dict[str, Any] = {"__name__": "generated_model"}
    real_import = builtins.__import__
    imported: list[str] = []

    def tracking_import(name: str, globals: Any = None, *args: Any, **kwargs: Any) -> Any:
        if globals is namespace:
            imported.append(name)
        return real_import(name, globals, *args, **kwargs)

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"generated module started a process: {args}")

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "__import__", tracking_import)
        patch.setattr(os, "system", forbidden)
        patch.setattr(os, "popen", forbidden)
        patch.setattr(subprocess.Popen, "__init__", forbidden)
        exec(compile(src, "<generated>", "exec"), namespace)
    assert set(imported) <= ALLOWED_IMPORTS, imported
    return namespace


def assert_plain_namespace(namespace: dict[str, Any], like: dict[str, Any]) -> None:
    """The same names as a tame module, each a module, class, function or constant."""
    assert namespace.keys() == like.keys()
    for name, value in namespace.items():
        if name.startswith("__") or name == "annotations":
            continue
        assert isinstance(value, (types.ModuleType, type, types.FunctionType, int, float, tuple)), (
            name,
            type(value),
        )


def check_no_injection(src: str, tame_src: str) -> None:
    compile(src, "<generated>", "exec")
    assert code_tokens(src) == code_tokens(tame_src), "spec text changed the code, not only prose"


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_stays_in_docstrings(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = hostile_spec(text)
    src = emit_code(spec, source_path=f"specs/{text}.yaml")
    tame_src = emit_code(TAME)
    check_no_injection(src, tame_src)
    # The text is kept (escaped), not dropped, and only in prose.
    assert MARK in docstrings_and_comments(src)
    assert src.count(MARK) == docstrings_and_comments(src).count(MARK)
    # Spec text is never rendered as a template.
    if "{{" in text:
        # (rendered, the name and path would read "tiny 49", "specs/49"; a bare "49" may be
        # part of the spec's sha256 in the header)
        prose = docstrings_and_comments(src)
        assert "{{ 7 * 7 }}" in src and "tiny 49" not in prose and "specs/49" not in prose
    namespace = guarded_exec(src, monkeypatch)
    assert_plain_namespace(namespace, guarded_exec(tame_src, monkeypatch))
    namespace["build_model"](device="meta")


def test_no_invisible_or_line_breaking_characters_reach_the_file() -> None:
    """Bidi overrides (Trojan Source), zero-width and other format characters, controls other
    than newline, and Unicode line separators never reach the output."""
    src = emit_code(hostile_spec("".join(HOSTILE.values())), source_path="specs/x\u2028\u202e.yaml")
    bad = {ch for ch in src if ch != "\n" and (ch < " " or ch in "\x7f\x85\u2028\u2029")}
    bad |= {ch for ch in src if "\u200b" <= ch <= "\u200f" or "\u202a" <= ch <= "\u202e"}
    bad |= {ch for ch in src if "\u2066" <= ch <= "\u2069" or ch == "\ufeff"}
    assert not bad, sorted(map(hex, map(ord, bad)))


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b\\c", "中文", "0day", "-", "x y.z"])
def test_module_filename_is_an_identifier(name: str) -> None:
    filename = module_filename(tiny_spec(name=name))
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", filename), filename


@budget(30)
@given(specs(texts=hostile_text()), hostile_text().filter(bool), st.data())
def test_any_spec_text_stays_in_docstrings(spec: ModelSpec, name: str, data: st.DataObject) -> None:
    path = data.draw(hostile_text(), label="source path")
    hostile = spec.model_copy(update={"name": name})
    tame = spec.model_copy(update={"name": "tame", "description": "", "source": {}})
    check_no_injection(emit_code(hostile, source_path=path), emit_code(tame))
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", module_filename(hostile))
