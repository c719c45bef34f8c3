"""Cross-field rules of encoder-decoder specs (T5), each located at the field at fault.

What the encoder-decoder runtime, counts and HF family support: pre-norm blocks, relative-bias
or no positions, attention mixers of dense projections; no sliding windows, layer rules,
adapters, recurrent layers, BitLinears, sub-norms or embedding extras (yet); every
other combination is refused here with the field that asks for it, never at build time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archspec.spec import resolve

if TYPE_CHECKING:
    from archspec.spec.model import ModelSpec

Path = tuple[str | int, ...]
Rules = Callable[["ModelSpec"], list[tuple[Path, str]]]

ENCODER_POSITIONS = ("relative_bias", "none")
"""Position kinds of an encoder-decoder stack."""


def encoder_issues(spec: ModelSpec, stack_rules: Rules) -> list[tuple[Path, str]]:
    """Every violated encoder-decoder rule of ``spec``; none for a decoder-only spec without
    encoder-only fields. ``stack_rules`` checks one stack (the encoder's, seen as a spec)."""
    if spec.encoder is None:
        issues: list[tuple[Path, str]] = []
        if spec.cross_attention is not None:
            issues.append((("cross_attention",), "cross_attention needs an `encoder` to attend to"))
        if spec.position.kind == "relative_bias":
            issues.append(
                (
                    ("position", "kind"),
                    "position `relative_bias` is supported in encoder-decoder models (T5) "
                    "only; add an `encoder`",
                )
            )
        return issues
    issues = []
    if spec.cross_attention is None:
        issues.append(
            (
                ("encoder",),
                "an encoder needs `cross_attention` (`{}` copies the decoder's attention)",
            )
        )
    unsupported = {
        ("block", "placement"): spec.block.placement != "pre",
        ("block", "parallel_residual"): spec.block.parallel_residual,
        ("block", "residual_multiplier"): spec.block.residual_multiplier is not None,
        ("layer_overrides",): bool(spec.layer_overrides),
        ("adapters",): spec.adapters is not None,
        ("attention", "sliding_window"): spec.attention.sliding_window is not None,
        ("embedding",): spec.embedding != type(spec.embedding)(),
        ("head", "logit_softcap"): spec.head.logit_softcap is not None,
        ("attention", "logit_softcap"): spec.attention.logit_softcap is not None,
        ("ffn", "moe"): spec.ffn.moe is not None,
        ("encoder", "attention", "logit_softcap"): spec.encoder.attention is not None
        and spec.encoder.attention.logit_softcap is not None,
        ("encoder", "ffn", "moe"): spec.encoder.ffn is not None
        and spec.encoder.ffn.moe is not None,
        ("mixer",): spec.mixer != "attention",
        ("recurrent",): spec.recurrent is not None,
        ("linear",): spec.linear is not None and spec.linear.kind != "dense",
        ("attention", "sub_norm"): spec.attention.sub_norm,
        ("ffn", "sub_norm"): spec.ffn.sub_norm,
        ("encoder", "attention", "sub_norm"): spec.encoder.attention is not None
        and spec.encoder.attention.sub_norm,
        ("encoder", "ffn", "sub_norm"): spec.encoder.ffn is not None and spec.encoder.ffn.sub_norm,
    }
    for path, bad in unsupported.items():
        if bad:
            issues.append((path, f"{'.'.join(path)} is not supported with an `encoder` (yet)"))
    for path, position in (
        (("position", "kind"), spec.position),
        (("encoder", "position", "kind"), spec.encoder.position),
    ):
        if position is not None and position.kind not in ENCODER_POSITIONS:
            allowed = " or ".join(f"`{kind}`" for kind in ENCODER_POSITIONS)
            issues.append(
                (
                    path,
                    f"an encoder-decoder model's position must be {allowed}, not `{position.kind}`",
                )
            )
    enc_att = spec.encoder.attention
    if enc_att is not None and enc_att.sliding_window is not None:
        issues.append(
            (
                ("encoder", "attention", "sliding_window"),
                "encoder.attention.sliding_window is not supported (yet)",
            )
        )
    if issues:
        return issues
    # The encoder's own parts follow the decoder-stack rules; report only those it overrides.
    own = {name for name in ("attention", "ffn", "norm") if getattr(spec.encoder, name) is not None}
    for path, message in stack_rules(resolve.encoder_view(spec)):
        if path[:1] and path[0] in own:
            issues.append((("encoder",) + path, message))
    cross = resolve.cross_attention(spec)
    kv = resolve.n_kv_heads(cross)
    here: Path = ("cross_attention",)
    if kv > cross.n_heads or cross.n_heads % kv:
        issues.append(
            (
                here + ("n_kv_heads",),
                f"n_heads ({cross.n_heads}) is not a multiple of n_kv_heads ({kv})",
            )
        )
    if cross.head_dim is None and spec.d_model % cross.n_heads:
        issues.append(
            (
                here + ("n_heads",),
                f"d_model ({spec.d_model}) is not divisible by cross_attention.n_heads "
                f"({cross.n_heads}); set cross_attention.head_dim",
            )
        )
    return issues
