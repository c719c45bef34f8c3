"""Handlers of the CLI commands. Torch-needing work is imported inside `build` and `check` only."""

from __future__ import annotations

import argparse
import json

from archspec.cli.common import EXIT_OK, check_ref, load_all
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec


def validate(args: argparse.Namespace) -> int:
    from archspec.cli.render import shown, stdout

    specs = load_all(args.specs)
    if getattr(args, "tp", None) is not None:
        from archspec.cli.plan import check_tp

        check_tp(args.specs, args.tp)
    out = stdout()
    for ref, spec in zip(args.specs, specs, strict=True):
        out.print(f"[green]ok[/] {shown(ref)} ({shown(spec.name)})")
    return EXIT_OK


def params(args: argparse.Namespace) -> int:
    from archspec.analysis.compute import analyse
    from archspec.analysis.units import human
    from archspec.cli.render import shown, stdout
    from archspec.spec.adapters import describe

    specs = load_all(args.specs)
    analyses = [analyse(spec, args.seq_len) for spec in specs]
    if args.json:
        data = [a.params.to_dict() | _derived(a) for a in analyses]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return EXIT_OK
    out = stdout()
    for spec, a in zip(specs, analyses, strict=True):
        p = a.params
        line = f"[bold]{shown(p.name)}[/]: {human(p.total)} parameters"
        if spec.adapters is not None:
            line = f"[bold]{shown(p.name)}[/] ({shown(describe(spec.adapters))}): "
            line += f"{human(p.total)} parameters, "
            line += f"{human(p.trainable)} trainable ({100 * p.trainable / p.total:.2g}%)"
        if p.tied:
            line += f" ({human(p.total_untied)} counting the tied output head separately)"
        if p.active != p.total:
            line += f", {human(p.active)} active per token"
        out.print(line)
        if args.detail:
            out.print(_detail_table(a))
    return EXIT_OK


def _derived(a: object) -> dict[str, object]:
    return {
        "flops_per_token": a.flops_per_token,
        "flops_seq_len": a.seq_len,
        "kv_cache_bytes_per_token": a.kv_cache_bytes_per_token,
        "kv_cache_bytes_full_context": a.kv_cache_bytes_full_context,
        "weight_bytes": a.weight_bytes,
        **({"recurrent_state_bytes": a.recurrent_state_bytes} if a.recurrent_state_bytes else {}),
        **({"stacks": a.stacks} if a.stacks else {}),
    }


def _detail_table(a: object):
    from rich.table import Table

    from archspec.analysis.compute import tokens_text
    from archspec.analysis.units import fixed, human_bytes

    p = a.params
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("component")
    table.add_column("parameters", justify="right")
    table.add_column("share", justify="right")
    for name, n in p.breakdown.items():
        table.add_row(name, f"{n:,}", f"{100 * n / p.total:.1f}%")
    table.add_row("[bold]total[/]", f"[bold]{p.total:,}[/]", "")
    if p.tied:
        table.add_row("total, head untied", f"{p.total_untied:,}", "")
    table.add_row("non-embedding", f"{p.non_embedding:,}", "")
    if p.active != p.total:
        table.add_row("active per token", f"{p.active:,}", "")
    distinct = sorted({layer.total for layer in p.per_layer})
    per_layer = "per decoder layer" if p.stacks else "per layer"
    table.add_row(per_layer, " / ".join(f"{n:,}" for n in distinct), f"x{len(p.per_layer)}")
    if p.stacks:  # encoder-decoder: each stack's total, layers and figures per token
        enc = sorted({layer.total for layer in p.encoder_layers})
        table.add_row(
            "per encoder layer",
            " / ".join(f"{n:,}" for n in enc),
            f"x{len(p.encoder_layers)}",
        )
        for stack, n in p.stacks.items():
            table.add_row(
                f"{stack} stack" if stack != "shared" else "shared embedding + head",
                f"{n:,}",
                f"{100 * n / p.total:.1f}%",
            )
        for stack, figures in a.stacks.items():
            flops = fixed(figures["flops_per_token"], 10**9, thousands=True)
            table.add_row(f"{stack} FLOPs / token at {tokens_text(a.seq_len)}", f"{flops} G", "")
            table.add_row(
                f"{stack} cache / token (16-bit)", human_bytes(figures["cache_bytes_per_token"]), ""
            )
    table.add_row(
        f"forward FLOPs / token at {tokens_text(a.seq_len)}",
        f"{fixed(a.flops_per_token, 10**9, thousands=True)} G",
        "",
    )
    table.add_row("KV cache / token (16-bit)", human_bytes(a.kv_cache_bytes_per_token), "")
    table.add_row("KV cache, full context (16-bit)", human_bytes(a.kv_cache_bytes_full_context), "")
    if a.recurrent_state_bytes:
        state = human_bytes(a.recurrent_state_bytes)
        table.add_row("recurrent state / sequence", state, "any context")
    for fmt, size in a.weight_bytes.items():
        table.add_row(f"weights at {fmt}", human_bytes(size), "")
    return table


def diff(args: argparse.Namespace) -> int:
    from archspec.analysis.diff import diff as compare
    from archspec.analysis.diff import differing_fields
    from archspec.cli.render import stdout

    specs = load_all(args.specs)
    analyses, rows = compare(specs, args.seq_len)
    fields = differing_fields(specs)
    if args.json:
        data = {
            "models": [s.name for s in specs],
            "identical": not fields,
            "differing_fields": fields,
            "rows": [
                {
                    "feature": r.feature,
                    "values": list(r.values),
                    "differs": r.differs,
                    "effects": [None if e is None else e.__dict__ for e in r.effects],
                }
                for r in rows
            ],
        }
        print(json.dumps(data, indent=2))
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    out = stdout()
    names = ", ".join(escape(s.name) for s in specs)
    show_all = args.all or len(specs) == 1
    if len(specs) > 1 and not any(row.differs for row in rows):
        if not fields:
            out.print(f"{names}: identical architectures (name, description and source aside).")
        else:
            out.print(
                f"{names}: no row of the table differs; the specs differ in "
                + ", ".join(escape(f) for f in fields)
            )
        if not args.all:
            return EXIT_OK
    table = Table(title="Architecture comparison", header_style="bold", show_lines=False)
    table.add_column("feature", style="bold")
    for spec in specs:
        table.add_column(escape(spec.name))
    for row in rows:
        if not row.differs and not show_all:
            continue
        cells = []
        for value, effect in zip(row.values, row.effects, strict=True):
            text = escape(value)
            if row.differs and value != row.values[0]:
                text = f"[yellow]{text}[/]"
            if effect is not None:
                text += f"\n[dim]{_effect_text(effect)}[/]"
            cells.append(text)
        table.add_row(escape(row.feature), *cells)
    out.print(table)
    if any(row.differs for row in rows):
        out.print(
            f"[dim]Highlighted: differs from {escape(specs[0].name)}. Under a value: what that knob alone "
            f"would change in {escape(specs[0].name)} (parameters, KV cache per token, FLOPs per token)."
            + ("" if args.all else " --all shows the rows that agree.")
            + "[/]"
        )
    return EXIT_OK


def _effect_text(e: object) -> str:
    from archspec.analysis.units import general

    parts = []
    if e.params:
        parts.append(f"{_signed(e.params)} params")
    if e.kv_cache_bytes_per_token:
        parts.append(
            f"KV {'+' if e.kv_cache_bytes_per_token > 0 else '-'}"
            f"{general(abs(e.kv_cache_bytes_per_token), 1024, 'g')} KiB"
        )
    if e.flops_per_token:
        parts.append(f"{general(e.flops_per_token, 10**9, '+.3g')} GF")
    return " · ".join(parts) if parts else "no size change"


def _signed(n: int) -> str:
    from archspec.analysis.units import human

    return ("+" if n > 0 else "-") + human(abs(n))


def show(args: argparse.Namespace) -> int:
    from archspec.spec.dump import to_yaml
    from archspec.spec.resolve import resolved_dict

    check_ref(args.spec)
    data = resolved_dict(load_spec(args.spec))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(to_yaml(data), end="")
    return EXIT_OK


def list_specs(args: argparse.Namespace) -> int:
    from archspec.analysis.params import count_params
    from archspec.analysis.units import human
    from archspec.cli.render import stdout
    from archspec.spec.shipped import shipped_names

    specs = load_all(shipped_names())
    counts = [count_params(s) for s in specs]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "total": c.total,
                        "total_untied": c.total_untied,
                        "description": s.description,
                    }
                    for s, c in zip(specs, counts, strict=True)
                ],
                indent=2,
            )
        )
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    table.add_column("name")
    table.add_column("parameters", justify="right")
    table.add_column("untied", justify="right")
    table.add_column("description")
    for spec, c in zip(specs, counts, strict=True):
        table.add_row(
            escape(spec.name),
            human(c.total),
            human(c.total_untied) if c.tied else "",
            escape(spec.description),
        )
    stdout().print(table)
    return EXIT_OK


def schema(args: argparse.Namespace) -> int:
    schema = ModelSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "archspec model spec"
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def build(args: argparse.Namespace) -> int:
    from archspec.cli.build import run

    return run(args)


def import_hf(args: argparse.Namespace) -> int:
    from archspec.cli.hf import import_hf as run

    return run(args)


def export_hf(args: argparse.Namespace) -> int:
    from archspec.cli.hf import export_hf as run

    return run(args)


def check(args: argparse.Namespace) -> int:
    from archspec.cli.hf import check as run

    return run(args)
