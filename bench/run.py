"""archspec against the reference implementation (Hugging Face transformers), one machine, one run.

Every row is a ratio of times, archspec / reference (below 1.0: archspec is faster), from the
median of several interleaved runs after warm-up, with the spread (min-max of the per-run ratio).
Both models hold the same weights: the reference model is built from the spec's exported
config.json, saved as safetensors, and loaded into archspec with archspec.hf.load_pretrained.

    python bench/run.py                 # full suite (tens of minutes on 2 CPU cores)
    python bench/run.py --smoke         # toy sizes, one sample, seconds: proves the script runs
    python bench/run.py --out bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch

import archspec
from archspec.codegen.emit import emit_code
from archspec.hf.config import spec_to_hf_config
from archspec.hf.loader import load_state_dict_into
from archspec.spec.model import ModelSpec
from archspec.spec.shipped import shipped_names
from archspec.spec.shrink import shrink

FAMILIES = {
    "llama": "llama2-7b",
    "gemma": "gemma-7b",
    "mistral": "mistral-7b",
    "mixtral": "mixtral-8x7b",
}
SIZES = {
    # name: (d_model, n_layers, n_heads, n_kv_heads, ffn hidden, moe hidden, vocab)
    "smoke": (64, 2, 4, 2, 128, 64, 512),
    "20M": (256, 4, 4, 2, 688, 344, 32000),
    "120M": (768, 12, 12, 4, 2048, 1024, 32000),
}
BATCH, SEQ, WINDOW = 4, 256, 128
# glibc hands every freed buffer above 32 MiB back to the kernel (and trims the heap top), so
# each training step page-faults its big activations and gradients in again: step times then
# vary by +-15% from one step to the next (4.0-5.4 s for the same llama-120M step). Keeping
# freed memory in the heap makes them repeatable (3.3-3.4 s). The script re-executes itself with
# these set (glibc reads them at start-up); they apply to the whole process, so to both sides.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 34), "MALLOC_TRIM_THRESHOLD_": str(1 << 34)}
PROMPT, NEW_TOKENS = 32, 128
SMOKE_NOTE = (
    "SMOKE RUN: toy sizes, a single sample, no warm-up: these ratios mean nothing; they only "
    "show that every section still runs. Run without --smoke for figures."
)
COLD_BUILD = (
    "import time, archspec\n"
    "from archspec.nn.model import build_model\n"
    "spec = archspec.load_spec('llama2-70b')\n"
    "start = time.perf_counter()\n"
    "build_model(spec, device='meta')\n"
    "print(time.perf_counter() - start)\n"
)
"""The first meta build in a fresh process (imports done before the clock starts)."""


def bench_spec(family: str, size: str) -> ModelSpec:
    """A shipped family's spec shrunk to a benchmark size; the family's features stay (Gemma's
    head size independent of width, Mistral's sliding window shorter than the sequence)."""
    d, layers, heads, kv, hidden, moe_hidden, vocab = SIZES[size]
    data = archspec.load_spec(FAMILIES[family]).model_dump(mode="json")
    data.update(
        name=f"{family}-{size}", vocab_size=vocab, d_model=d, n_layers=layers, max_seq_len=1024
    )
    att = data["attention"]
    att.update(n_heads=heads, n_kv_heads=heads if family == "gemma" else kv)
    att["head_dim"] = 64 if family == "gemma" else None
    if family == "mistral":
        att["sliding_window"] = WINDOW
    data["ffn"]["hidden_dim"] = moe_hidden if data["ffn"]["moe"] else hidden
    return ModelSpec.model_validate(data)


RECURRENT = "recurrentgemma-2b"


def recurrent_spec(size: str) -> ModelSpec:
    """RecurrentGemma (Griffin) at a benchmark size: recurrent, recurrent, local MQA, repeating,
    the recurrence as wide as the model, the window shorter than the sequence."""
    d, layers, heads, _, hidden, _, vocab = SIZES[size]
    data = archspec.load_spec(RECURRENT).model_dump(mode="json")
    data.update(
        name=f"recurrentgemma-{size}",
        vocab_size=vocab,
        d_model=d,
        n_layers=layers,
        max_seq_len=1024,
    )
    data["attention"].update(n_heads=heads, head_dim=d // heads, sliding_window=WINDOW)
    data["recurrent"].update(width=d, n_heads=heads)
    data["ffn"]["hidden_dim"] = hidden
    return ModelSpec.model_validate(data)


def recurrent_rows(
    size: str, repeats: int, batch: int, seq: int, prompt: int, new_tokens: int
) -> list[Row]:
    """Griffin's recurrent mixer against transformers' RecurrentGemma: a forward pass (archspec's
    log-depth scan against its loop over positions) and greedy decoding."""
    with contextlib.redirect_stderr(io.StringIO()):
        pair = make_pair(recurrent_spec(size))
    rows = forward_rows([pair], repeats, batch, seq) + decode_rows(
        [pair], repeats, prompt, new_tokens
    )
    return [replace(row, section=f"9. recurrent: {row.section[3:]}") for row in rows]


@dataclass
class Pair:
    """The reference model, the archspec runtime module and the generated module, same weights."""

    spec: ModelSpec
    reference: torch.nn.Module
    runtime: torch.nn.Module
    generated: torch.nn.Module


def make_pair(spec: ModelSpec) -> Pair:
    import transformers

    config = spec_to_hf_config(spec)
    model_type = config.pop("model_type")
    hf_config = transformers.AutoConfig.for_model(model_type, **config)
    torch.manual_seed(0)
    # float32 on both sides: from_config would otherwise follow the config's (published) dtype.
    reference = transformers.AutoModelForCausalLM.from_config(hf_config, dtype=torch.float32).eval()
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder, safe_serialization=True)
        runtime = load_state_dict_into(archspec.build_model(spec), folder).eval()
    module = types.ModuleType(f"generated_{spec.name}")
    exec(compile(emit_code(spec), f"<generated {spec.name}>", "exec"), module.__dict__)
    generated = module.build_model().eval()
    generated.load_state_dict(runtime.state_dict())
    return Pair(spec, reference, runtime, generated)


@dataclass
class Timing:
    """Per-run seconds of the candidate and the baseline, interleaved."""

    candidate: list[float]
    baseline: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.candidate) / statistics.median(self.baseline)

    @property
    def spread(self) -> tuple[float, float]:
        ratios = [c / b for c, b in zip(self.candidate, self.baseline, strict=True)]
        return min(ratios), max(ratios)


WARM_UP = True
"""Whether `interleaved` runs its uncounted warm-up calls (not in a smoke run)."""


def interleaved(
    candidate: Callable[[], object], baseline: Callable[[], object], repeats: int, warmup: int = 1
) -> Timing:
    """Alternate the two so that machine noise hits both alike, and swap which goes first on
    every other run so that neither always inherits the other's memory state; warm-up runs are
    not counted."""
    for _ in range(warmup if WARM_UP else 0):
        candidate()
        baseline()
    cand, base = [], []
    for i in range(repeats):
        for fn, times in ((candidate, cand), (baseline, base))[:: 1 if i % 2 == 0 else -1]:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return Timing(cand, base)


@dataclass
class Row:
    section: str
    case: str
    candidate: str
    baseline: str
    timing: Timing | None
    note: str = ""


def forward_rows(pairs: list[Pair], repeats: int, batch: int, seq: int) -> list[Row]:
    rows = []
    for pair in pairs:
        ids = torch.randint(0, pair.spec.vocab_size, (batch, seq))
        tokens = batch * seq
        with torch.no_grad():
            t = interleaved(
                partial(pair.runtime, ids), partial(_logits, pair.reference, ids), repeats
            )
            note = f"{tokens / statistics.median(t.candidate):,.0f} vs {tokens / statistics.median(t.baseline):,.0f} tok/s"
            rows.append(Row("1. forward, fp32", pair.spec.name, "runtime", "transformers", t, note))
            g = interleaved(partial(pair.generated, ids), partial(pair.runtime, ids), repeats)
            rows.append(Row("2. generated vs runtime", pair.spec.name, "generated", "runtime", g))
    return rows


def _decode_row(
    section: str, pair: Pair, ours: Callable, theirs: Callable, repeats: int, tokens: int
) -> Row:
    """Time two greedy decodings of the same batch and say whether their tokens agree."""
    with torch.no_grad():
        same = torch.equal(ours(), theirs())
        t = interleaved(ours, theirs, repeats)
    note = f"{tokens / statistics.median(t.candidate):,.1f} vs {tokens / statistics.median(t.baseline):,.1f} tok/s"
    note += "; same tokens" if same else "; tokens differ (fp32 near-ties)"
    return Row(section, pair.spec.name, "runtime", "transformers", t, note)


def _reference_greedy(pair: Pair, ids: torch.Tensor, new_tokens: int, **kw: object) -> Callable:
    return partial(
        pair.reference.generate,
        ids,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=0,
        **kw,
    )


def decode_rows(pairs: list[Pair], repeats: int, prompt: int, new_tokens: int) -> list[Row]:
    rows = []
    for pair in pairs:
        ids = torch.randint(0, pair.spec.vocab_size, (1, prompt))
        ours = partial(pair.runtime.generate, ids, new_tokens)
        theirs = _reference_greedy(pair, ids, new_tokens)
        section = f"3. greedy decode, {new_tokens} tokens"
        rows.append(_decode_row(section, pair, ours, theirs, repeats, new_tokens))
    return rows


def padded_decode_rows(pairs: list[Pair], repeats: int, prompt: int, new_tokens: int) -> list[Row]:
    """Greedy decoding of 4 prompts of different lengths in one left-padded batch, with their
    attention mask, against transformers' `generate` on the same batch."""
    rows = []
    for pair in pairs:
        lengths = [prompt, prompt // 2, prompt // 4 + 1, (3 * prompt) // 4]
        ids = torch.zeros(len(lengths), prompt, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, n in enumerate(lengths):
            ids[i, prompt - n :] = torch.randint(1, pair.spec.vocab_size, (n,))
            mask[i, prompt - n :] = 1
        ours = partial(pair.runtime.generate, ids, new_tokens, attention_mask=mask)
        theirs = _reference_greedy(pair, ids, new_tokens, attention_mask=mask)
        section = f"3b. greedy decode, padded batch of 4, {new_tokens} tokens"
        tokens = len(lengths) * new_tokens
        rows.append(_decode_row(section, pair, ours, theirs, repeats, tokens))
    return rows


def t5_pair(smoke: bool) -> Pair:
    """FLAN-T5 small (random weights; shrunk in a smoke run): transformers' T5 and archspec's
    encoder-decoder holding the same weights (transformers saves, archspec loads)."""
    import transformers

    from archspec.hf.loader import load_pretrained

    spec = archspec.load_spec("flan-t5-small")
    spec = shrink(spec) if smoke else spec
    config = spec_to_hf_config(spec)
    config.pop("model_type")
    torch.manual_seed(0)
    reference = transformers.T5ForConditionalGeneration(transformers.T5Config(**config))
    if not spec.head.tie_embeddings:  # T5Config ties whatever it is told; FLAN's head is its own
        reference.lm_head.weight = torch.nn.Parameter(torch.randn_like(reference.lm_head.weight))
    reference = reference.float().eval()
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        runtime = load_pretrained(folder).eval()
    module = types.ModuleType("generated_t5")
    exec(compile(emit_code(runtime.spec), "<generated t5>", "exec"), module.__dict__)
    generated = module.build_model().eval()
    generated.load_state_dict(runtime.state_dict())
    return Pair(spec, reference, runtime, generated)


def t5_rows(
    pair: Pair, repeats: int, batch: int, seq: int, prompt: int, new_tokens: int
) -> list[Row]:
    """Encoder-decoder: a forward of `seq` input and `seq` decoder tokens, and greedy decoding
    of `new_tokens` after a `prompt`-token input (the encoder runs once on both sides)."""
    ids = torch.randint(0, pair.spec.vocab_size, (batch, seq))
    dec = torch.randint(0, pair.spec.vocab_size, (batch, seq))
    name = pair.spec.name
    with torch.no_grad():
        theirs = partial(lambda: pair.reference(input_ids=ids, decoder_input_ids=dec).logits)
        t = interleaved(partial(pair.runtime, ids, dec), theirs, repeats)
        tokens = 2 * batch * seq
        note = f"{tokens / statistics.median(t.candidate):,.0f} vs {tokens / statistics.median(t.baseline):,.0f} tok/s"
        rows = [Row("6. encoder-decoder forward", name, "runtime", "transformers", t, note)]
        g = interleaved(partial(pair.generated, ids, dec), partial(pair.runtime, ids, dec), repeats)
        rows.append(Row("6. encoder-decoder forward", name, "generated", "runtime", g))
    prompt_ids = torch.randint(0, pair.spec.vocab_size, (1, prompt))
    ours = partial(pair.runtime.generate, prompt_ids, new_tokens)
    section = f"6b. encoder-decoder greedy decode, {new_tokens} tokens"
    ref = _reference_greedy(pair, prompt_ids, new_tokens)
    rows.append(_decode_row(section, pair, ours, ref, repeats, new_tokens))
    return rows


def train_rows(pairs: list[Pair], repeats: int, batch: int, seq: int) -> list[Row]:
    rows = []
    for pair in pairs:
        ids = torch.randint(0, pair.spec.vocab_size, (batch, seq))
        steps = {
            name: partial(
                _train_step, model, torch.optim.AdamW(model.parameters(), lr=1e-4), ids, hf
            )
            for name, model, hf in (
                ("runtime", pair.runtime, False),
                ("reference", pair.reference, True),
            )
        }
        pair.runtime.train()
        pair.reference.train()
        t = interleaved(steps["runtime"], steps["reference"], repeats, warmup=2)
        pair.runtime.eval()
        pair.reference.eval()
        rows.append(
            Row("4. train step (fwd+bwd+AdamW)", pair.spec.name, "runtime", "transformers", t)
        )
    return rows


ADAPTER_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def adapter_rows(pairs: list[Pair], repeats: int, batch: int, seq: int) -> list[Row]:
    """A LoRA and a DoRA training step (r 16 on the attention projections, base frozen) against
    peft on the transformers model: same base weights, same adapter weights (peft's, loaded into
    archspec from the folder peft saves)."""
    import copy

    import peft

    from archspec.hf.adapters import load_adapter

    rows = []
    for pair in pairs:
        ids = torch.randint(0, pair.spec.vocab_size, (batch, seq))
        model_type = spec_to_hf_config(pair.spec)["model_type"]
        for kind in ("lora", "dora"):
            config = peft.LoraConfig(
                r=16, lora_alpha=32, target_modules=ADAPTER_TARGETS, use_dora=kind == "dora"
            )
            theirs = peft.get_peft_model(copy.deepcopy(pair.reference), config)
            with tempfile.TemporaryDirectory() as folder:
                theirs.save_pretrained(folder)
                ours = load_adapter(pair.runtime, folder, model_type=model_type)
            steps = [
                partial(
                    _train_step,
                    model,
                    torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4),
                    ids,
                    hf,
                )
                for model, hf in ((ours.train(), False), (theirs.train(), True))
            ]
            t = interleaved(steps[0], steps[1], repeats, warmup=2)
            rows.append(
                Row(
                    f"5. {kind} train step (r 16 q,k,v,o)",
                    pair.spec.name,
                    "runtime",
                    "peft",
                    t,
                )
            )
    return rows


def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model(ids).logits


def _train_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor, hf: bool
) -> None:
    logits = model(ids).logits if hf else model(ids)
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
    )
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def compile_rows(
    pairs: list[Pair], repeats: int, batch: int, seq: int, specs: list[str]
) -> list[Row]:
    rows = []
    for pair in pairs:
        ids = torch.randint(0, pair.spec.vocab_size, (batch, seq))
        torch._dynamo.reset()
        compiled = torch.compile(pair.runtime, fullgraph=True)
        with torch.no_grad():
            start = time.perf_counter()
            out = compiled(ids)
            compile_s = time.perf_counter() - start
            diff = (out - pair.runtime(ids)).abs().amax(dim=-1)  # (B, T) per position
            t = interleaved(partial(compiled, ids), partial(pair.runtime, ids), repeats)
        off = int((diff > 1e-3).sum())
        note = (
            f"fullgraph=True, inductor; first call {compile_s:.1f} s; max |diff| {diff.max():.1e}"
        )
        if off:  # e.g. a near-tie in top-k routing that rounding resolves the other way
            note += f" at {off} of {diff.numel()} positions (the rest agree to 1e-3)"
        rows.append(
            Row("6. torch.compile speed-up", pair.spec.name, "compiled", "eager runtime", t, note)
        )
    if specs:
        ok, failed = [], []
        for name in specs:
            spec = shrink(archspec.load_spec(name))
            model = archspec.build_model(spec).eval()
            torch._dynamo.reset()
            try:
                with torch.no_grad():
                    torch.compile(model, fullgraph=True, backend="eager")(
                        torch.randint(0, spec.vocab_size, (2, 16))
                    )
                ok.append(name)
            except Exception as err:  # noqa: BLE001 - reported in the table
                failed.append(f"{name}: {str(err).splitlines()[0][:80]}")
        note = f"{len(ok)}/{len(ok) + len(failed)} shipped specs compile with fullgraph=True (no graph breaks)"
        rows.append(
            Row(
                "6. torch.compile speed-up",
                "every shipped spec" if len(specs) > 1 else specs[0],
                "-",
                "-",
                None,
                note + ("; " + "; ".join(failed) if failed else ""),
            )
        )
    return rows


def cli_rows(repeats: int, baseline: str = "import torch") -> list[Row]:
    """CLI commands against `python -c BASELINE` (a smoke run passes `pass`: one torch import
    fewer), and the meta build of llama2-70b, first in a fresh process and later."""

    def run(*argv: str) -> Callable[[], None]:
        return lambda: subprocess.run(argv, check=True, capture_output=True)

    cold = [
        float(
            subprocess.run(
                [sys.executable, "-c", COLD_BUILD], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(repeats)
    ]

    python = run(sys.executable, "-c", baseline)
    exe = [sys.executable, "-m", "archspec.cli.main"]
    rows = []
    for label, argv in (
        ("archspec params gemma-7b", exe + ["params", "gemma-7b"]),
        ("archspec diff gemma-7b llama2-7b", exe + ["diff", "gemma-7b", "llama2-7b"]),
    ):
        t = interleaved(run(*argv), python, repeats)
        note = f"{statistics.median(t.candidate) * 1000:.0f} ms vs {statistics.median(t.baseline) * 1000:.0f} ms"
        rows.append(Row("7. CLI latency", label, "archspec", f"python -c '{baseline}'", t, note))
    spec = archspec.load_spec("llama2-70b")
    archspec.build_model(spec, device="meta")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        archspec.build_model(spec, device="meta")
        times.append(time.perf_counter() - start)
    for case, seconds in (("first", cold), ("later", times)):
        rows.append(
            Row(
                "7. CLI latency",
                f"build llama2-70b on meta, {case} in a process",
                "-",
                "-",
                None,
                f"{statistics.median(seconds) * 1000:.0f} ms (median of {repeats})",
            )
        )
    return rows


def machine() -> str:
    import transformers

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"{datetime.date.today().isoformat()}; {cpu}; {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}; GPU: {gpu}; Python {platform.python_version()}; torch "
        f"{torch.__version__}; transformers {transformers.__version__}; glibc malloc "
        f"{'keeps freed memory (' + ', '.join(STEADY_MALLOC) + ')' if steady_malloc() else 'default'}"
    )


def steady_malloc() -> bool:
    return all(os.environ.get(k) == v for k, v in STEADY_MALLOC.items())


def table(rows: list[Row]) -> str:
    lines = [
        "| section | case | compared | time ratio | spread | notes |",
        "|---|---|---|---:|---|---|",
    ]
    for r in rows:
        if r.timing is None:
            lines.append(f"| {r.section} | {r.case} | | | | {r.note} |")
            continue
        lo, hi = r.timing.spread
        lines.append(
            f"| {r.section} | {r.case} | {r.candidate} / {r.baseline} | **{r.timing.ratio:.2f}** | {lo:.2f}-{hi:.2f} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one repeat (used by the tests)"
    )
    parser.add_argument("--sizes", default="20M,120M", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sections",
        default="forward,decode,padded,train,adapters,compile,cli,recurrent,t5",
        help="which sections to run (padded: greedy decoding of a left-padded batch)",
    )
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep glibc's default malloc settings (noisier training steps; see STEADY_MALLOC)",
    )
    parser.add_argument(
        "--out", default=None, help="also write the table with machine info to this Markdown file"
    )
    args = parser.parse_args(argv)
    global WARM_UP
    WARM_UP = not args.smoke
    if args.smoke:
        torch.set_num_threads(1)  # toy sizes gain nothing from threads; a shared machine loses
        print(SMOKE_NOTE, flush=True)
    sizes = ["smoke"] if args.smoke else args.sizes.split(",")
    repeats = 1 if args.smoke else args.repeats
    batch, seq = (1, 16) if args.smoke else (BATCH, SEQ)
    prompt, new_tokens = (4, 4) if args.smoke else (PROMPT, NEW_TOKENS)
    sections = set(args.sections.split(","))
    families = args.families.split(",")
    info = machine()
    print(info, flush=True)
    rows: list[Row] = []
    for size in sizes:
        with contextlib.redirect_stderr(io.StringIO()):
            pairs = [make_pair(bench_spec(f, size)) for f in families]
        print(
            f"size {size}: "
            + ", ".join(
                f"{p.spec.name} {archspec.count_params(p.spec).total / 1e6:.1f}M" for p in pairs
            ),
            flush=True,
        )
        if "forward" in sections:
            rows += forward_rows(pairs, repeats, batch, seq)
        if "decode" in sections:
            rows += decode_rows(pairs, repeats, prompt, new_tokens)
        if "padded" in sections:
            rows += padded_decode_rows(pairs, repeats, prompt, new_tokens)
        if "train" in sections:
            rows += train_rows(pairs, repeats, batch, seq)
        if "adapters" in sections:
            rows += adapter_rows(pairs, repeats, batch, seq)
        if "recurrent" in sections:
            rows += recurrent_rows(size, repeats, batch, seq, prompt, new_tokens)
        if "compile" in sections and not args.smoke:
            every = shipped_names() if size == sizes[0] else []
            rows += compile_rows(pairs, repeats, batch, seq, every)
        print(table(rows), flush=True)
    if "compile" in sections and args.smoke:
        rows += compile_rows([], repeats, batch, seq, ["llama2-7b"])
    if "cli" in sections:
        rows += cli_rows(1, "pass") if args.smoke else cli_rows(repeats)
    if "t5" in sections:
        with contextlib.redirect_stderr(io.StringIO()):
            t5 = t5_pair(args.smoke)
        rows += t5_rows(t5, repeats, batch, seq, prompt, new_tokens)
    rows.sort(key=lambda r: r.section)
    text = table(rows)
    if args.smoke:
        text = f"{SMOKE_NOTE}\n\n{text}"
    print(text)
    if args.out:
        from archspec.fileio import write_atomic

        write_atomic(args.out, f"Machine: {info}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    if (
        platform.libc_ver()[0] == "glibc"
        and not steady_malloc()
        and "--system-malloc" not in sys.argv
    ):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STEADY_MALLOC})
    sys.exit(main())
