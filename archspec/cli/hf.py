"""`archspec import-hf`, `export-hf` and `check`: Hugging Face configs and checkpoints, torch-free.

`check` reads only safetensors headers (:mod:`archspec.hf.header`) and compares them with the
shapes the spec's plan implies (:mod:`archspec.hf.weights`); nothing here imports torch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archspec.cli.common import EXIT_INVALID, EXIT_OK
from archspec.errors import UsageError

_FUSED_TOKENS = ("query_key_value", "c_attn", "qkv", "Wqkv", "W_pack", "gate_up_proj")
"""Module names that hold several projections in one tensor, in the families archspec knows."""
_SPLIT_TOKENS = ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", ".w1.", ".w3.")
_SHOWN = 12
"""Names listed per row of the check table before `... and N more`."""


def import_hf(args: argparse.Namespace) -> int:
    """Read a config.json (or a model folder's) as a spec: YAML to stdout or ``--output``."""
    from archspec.cli.render import stderr
    from archspec.fileio import write_atomic
    from archspec.hf.config import hf_config_to_spec, load_hf_config
    from archspec.hf.hub import is_hub_id, resolve
    from archspec.spec.dump import to_yaml

    hub = is_hub_id(args.path)
    path = resolve(args.path, revision=args.revision)
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if (path / "adapter_config.json").is_file():
        return _import_adapter(args, path)
    config = load_hf_config(path)
    folder = path if path.is_dir() else path.parent
    default_name = args.path.rsplit("/", 1)[-1] if hub else folder.resolve().name
    name = args.name or default_name or "model"
    source = f"https://huggingface.co/{args.path}" if hub else str(path)
    spec, report = hf_config_to_spec(
        config, name=name, source=source, ignore=args.ignore, vocab_size=args.vocab_size
    )
    text = to_yaml(spec)
    if args.output:
        write_atomic(args.output, text)
    else:
        print(text, end="")
    _print_report(report, stderr(), args.output)
    return EXIT_OK


def _import_adapter(args: argparse.Namespace, path: Path) -> int:
    """A peft adapter folder as a fine-tune spec: `extends` the base, plus `adapters:`."""
    from archspec.fileio import write_atomic
    from archspec.hf.adapters import fine_tune_yaml

    if not args.base:
        raise UsageError(f"{path} is a peft adapter folder: pass --base SPEC (the model it tunes)")
    text = fine_tune_yaml(path, args.base, name=args.name)
    if args.output:
        write_atomic(args.output, text)
    else:
        print(text, end="")
    return EXIT_OK


def _print_report(report: object, console: object, output: str | None) -> None:
    from rich.markup import escape

    where = f" -> {escape(output)}" if output else ""
    console.print(
        f"[green]imported[/] {escape(report.model_type)} config{where}: "
        f"{len(report.mapped)} keys mapped, {len(report.ignored)} knowingly ignored, "
        f"{len(report.defaults)} absent (transformers defaults used)"
    )
    if report.mapped:
        console.print("  [bold]mapped:[/] " + escape(", ".join(report.mapped)))
    for item in report.ignored:
        console.print(f"  [dim]ignored[/] {escape(item.key)}: [dim]{escape(item.reason)}[/]")
    for key, value in report.defaults:
        console.print(f"  [dim]default[/] {escape(key)} = {escape(json.dumps(value))}")
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {escape(note)}")


def export_hf(args: argparse.Namespace) -> int:
    """Write a spec as a Hugging Face config.json (to stdout or ``--output``)."""
    from archspec.fileio import write_atomic
    from archspec.hf.config import spec_to_hf_config
    from archspec.spec.load import load_spec

    layout = {"both": "both", "4": "v4", "5": "v5"}[args.transformers]
    config = spec_to_hf_config(load_spec(args.spec), layout=layout)
    text = json.dumps(config, indent=2) + "\n"
    if args.output:
        output = Path(args.output)
        if output.is_dir():
            output = output / "config.json"
        write_atomic(output, text)
    else:
        print(text, end="")
    return EXIT_OK


# --- check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the check table."""

    aspect: str
    ok: bool
    detail: str


def check(args: argparse.Namespace) -> int:
    """Compare a spec with a safetensors checkpoint by its header(s): exit 0 when they match."""
    from archspec.cli.render import stdout
    from archspec.hf.hub import resolve
    from archspec.hf.weights import compare, folder_config, read_regular_headers, stored_table
    from archspec.plan.lower import lower
    from archspec.spec.load import load_spec

    spec = load_spec(args.spec)
    path = resolve(args.path, revision=args.revision, weights=True)
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    header = read_regular_headers(path)
    model_type, origin = _family_of(path, spec)
    plan = lower(spec)
    table = stored_table(model_type, folder_config(path))
    comparison = compare(plan, table, {n: i.shape for n, i in header.items()})
    rows = check_rows(spec, plan, comparison, header, f"{model_type} ({origin})")
    stdout().print(_table(rows, spec.name, str(path)))
    return EXIT_OK if comparison.ok else EXIT_INVALID


def _family_of(path: Path, spec: object) -> tuple[str, str]:
    """The checkpoint's family: its folder's config.json, else the family the spec exports as."""
    from archspec.hf.config import load_hf_config, spec_to_hf_config

    folder = path if path.is_dir() else path.parent
    if (folder / "config.json").is_file():
        model_type = load_hf_config(folder).get("model_type")
        if isinstance(model_type, str):
            return model_type, "from config.json"
    return spec_to_hf_config(spec)["model_type"], "the spec's export family"


def check_rows(
    spec: object, plan: object, comparison: object, header: dict, family: str
) -> list[Row]:
    """The check table: one row per aspect, each passing or not, with its explanation."""
    c = comparison
    rows = [
        Row("family", True, family),
        Row("tensors", c.ok, f"{len(c.expected)} expected, {len(c.found)} in the checkpoint"),
        Row("missing", not c.missing, _names(c.missing) or "none"),
        Row("unexpected", not c.unexpected, _names(c.unexpected) or "none"),
        Row(
            "shapes",
            not c.mis_shaped,
            "; ".join(
                f"{n}: spec {list(a)}, checkpoint {list(b)}" for n, a, b in c.mis_shaped[:_SHOWN]
            )
            or "all match",
        ),
        _tying_row(plan, c),
        _bias_row(c),
        _fused_row(c),
        _vocab_row(spec, c),
    ]
    dtypes = sorted({info.dtype for info in header.values()})
    rows.append(Row("dtype", True, f"checkpoint {', '.join(dtypes)}; spec {spec.dtype}"))
    if c.ignored:
        rows.append(Row("ignored", True, "not loaded on purpose: " + _names(c.ignored)))
    return rows


def _tying_row(plan: object, c: object) -> Row:
    from archspec.hf.weights import tied_head_name

    head = tied_head_name(c.table)
    stored = head in c.found
    if plan.tie_embeddings:
        detail = "spec ties the head to the embedding; "
        detail += "checkpoint stores it too (ignored)" if stored else "checkpoint stores no head"
        return Row("tied head", True, detail)
    if stored:
        return Row("tied head", True, "untied: the checkpoint stores the head")
    return Row(
        "tied head",
        False,
        f"spec unties the head but the checkpoint has no {head}: a tied checkpoint? "
        "(set head.tie_embeddings: true)",
    )


def _bias_row(c: object) -> Row:
    # A bias counts as such only beside its weight; a whole missing module is not a bias question.
    extra = [n for n in c.unexpected if n.endswith(".bias") and n[:-4] + "weight" in c.expected]
    absent = [n for n in c.missing if n.endswith(".bias") and n[:-4] + "weight" in c.found]
    problems = []
    if absent:
        problems.append(f"spec has biases the checkpoint lacks: {_names(absent)}")
    if extra:
        problems.append(f"checkpoint has biases the spec lacks: {_names(extra)}")
    n = sum(name.endswith(".bias") for name in c.expected)
    return Row("biases", not problems, "; ".join(problems) or f"agree ({n} bias tensors expected)")


def _fused_row(c: object) -> Row:
    def fused(names: Iterable[str]) -> list[str]:
        return [n for n in names if any(t in n for t in _FUSED_TOKENS)]

    def split(names: Iterable[str]) -> list[str]:
        return [n for n in names if any(t in n for t in _SPLIT_TOKENS)]

    if fused(c.unexpected) and split(c.missing):
        return Row(
            "projections",
            False,
            f"checkpoint fuses projections ({_names(fused(c.unexpected), 3)}) that the "
            f"{c.table.name} layout keeps split ({_names(split(c.missing), 3)})",
        )
    if split(c.unexpected) and fused(c.missing):
        return Row(
            "projections",
            False,
            f"checkpoint splits projections ({_names(split(c.unexpected), 3)}) that the "
            f"{c.table.name} layout fuses ({_names(fused(c.missing), 3)})",
        )
    fused_rules = sorted(
        {
            r.hf[0].rpartition(".")[0].split(".")[-1]
            for r in c.rules
            if r.op != "copy" and len(r.ours) > 1
        }
    )
    stacked = any(r.op == "stack" for r in c.rules)
    parts = []
    if fused_rules:
        parts.append("fused: " + ", ".join(fused_rules))
    if stacked:
        parts.append("experts stored one tensor per expert")
    return Row("projections", True, "; ".join(parts) or "all split, as the family stores them")


def _vocab_row(spec: object, c: object) -> Row:
    from archspec.spec.resolve import vocab_rows

    embed = c.table.top["embed"] + ".weight"
    rows = vocab_rows(spec)
    got = c.found.get(embed)
    what = f"vocab_size {spec.vocab_size}"
    if spec.padded_vocab_size:
        what += f", padded to {spec.padded_vocab_size}"
    if got is None:
        return Row("vocabulary", False, f"no {embed} in the checkpoint ({what})")
    if len(got) != 2:  # a scalar or a vector where the embedding matrix should be
        return Row("vocabulary", False, f"{embed} has shape {list(got)}, not (rows, width)")
    if got[0] == rows:
        return Row("vocabulary", True, f"{rows} rows ({what})")
    hint = (
        f": set padded_vocab_size: {got[0]}"
        if got[0] > spec.vocab_size
        else ": the checkpoint has fewer rows than the tokenizer"
    )
    return Row("vocabulary", False, f"checkpoint has {got[0]} rows, the spec {rows} ({what}){hint}")


def _names(names: Iterable[str], shown: int = _SHOWN) -> str:
    names = list(names)
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" ... and {len(names) - shown} more"
    return text


def _table(rows: list[Row], name: str, path: str):
    from rich.markup import escape
    from rich.table import Table

    verdict = "[green]match[/]" if all(row.ok for row in rows) else "[red]mismatch[/]"
    table = Table(title=f"{escape(name)} vs {escape(path)}: {verdict}", header_style="bold")
    table.add_column("aspect", style="bold")
    table.add_column("", justify="center")
    table.add_column("detail", overflow="fold")
    for row in rows:
        table.add_row(
            escape(row.aspect), "[green]ok[/]" if row.ok else "[red]no[/]", escape(row.detail)
        )
    return table
