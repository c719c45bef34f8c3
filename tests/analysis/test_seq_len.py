"""FLOPs per token at a chosen context length, and diffs of specs that do not differ."""

from __future__ import annotations

import pytest

from archspec.analysis.compute import analyse
from archspec.analysis.diff import diff, differing_fields, flops_label
from archspec.spec.load import load_spec, spec_from_text


def test_flops_at_one_token_of_context_by_hand() -> None:
    # Llama 2 7B: 6,738,415,616 parameters, of which 2 x 32000 x 4096 are embedding and head,
    # so the blocks hold 6,476,271,616; the head matrix adds 131,072,000 multiply weights.
    # Attention over one token: 4 * 32 layers * 32 heads * 128 = 524,288 FLOPs.
    a = analyse(load_spec("llama2-7b"), seq_len=1)
    assert a.seq_len == 1
    assert a.flops_per_token == 2 * (6_476_271_616 + 131_072_000) + 524_288


def test_default_is_max_seq_len_and_attention_grows_linearly() -> None:
    spec = load_spec("llama2-7b")
    full = analyse(spec)
    assert full.seq_len == spec.max_seq_len == 4096
    assert full.flops_per_token == analyse(spec, seq_len=4096).flops_per_token
    per_token_of_context = 4 * 32 * 32 * 128
    assert (
        full.flops_per_token - analyse(spec, seq_len=1).flops_per_token
        == per_token_of_context * 4095
    )
    # The KV cache of the full context does not depend on where FLOPs are measured.
    assert analyse(spec, seq_len=7).kv_cache_bytes_full_context == full.kv_cache_bytes_full_context


def test_sliding_windows_cap_the_context_a_layer_sees() -> None:
    # Gemma 2 9B: 42 layers, 16 heads of 256, a 4096 window on every other layer.
    spec = load_spec("gemma2-9b")
    at = {n: analyse(spec, seq_len=n).flops_per_token for n in (4096, 8192, 16384)}
    global_layers = 21
    assert at[8192] - at[4096] == 4 * global_layers * 16 * 256 * 4096
    assert at[16384] - at[8192] == 4 * global_layers * 16 * 256 * 8192


def test_seq_len_must_be_positive() -> None:
    with pytest.raises(ValueError, match="seq_len"):
        analyse(load_spec("gpt2"), seq_len=0)


def test_diff_takes_every_spec_at_the_chosen_length_and_labels_it() -> None:
    specs = [load_spec("gemma-7b"), load_spec("olmo-7b")]
    analyses, rows = diff(specs, seq_len=1024)
    assert [a.seq_len for a in analyses] == [1024, 1024]
    assert flops_label(1024) == "forward GFLOPs / token at 1,024 tokens"
    assert flops_label(1024) in {row.feature for row in rows}
    assert flops_label(None) in {row.feature for row in diff(specs)[1]}
    # At a fixed length the context knob (max_seq_len) no longer changes FLOPs.
    context = next(row for row in rows if row.feature == "context")
    assert context.effects[1].flops_per_token == 0


def test_differing_fields_sees_what_the_table_does_not_show() -> None:
    base = load_spec("llama2-7b")
    same = spec_from_text("extends: llama2-7b\nname: copy\nattention: {n_kv_heads: 32}\n")
    assert differing_fields([base, same]) == []  # n_kv_heads 32 is the default written out
    other = spec_from_text("extends: llama2-7b\nname: copy\nnorm: {compute_dtype: input}\n")
    assert differing_fields([base, other]) == ["norm.compute_dtype"]
    assert not any(row.differs for row in diff([base, other])[1])
    assert "d_model" in differing_fields([base, load_spec("gemma-7b")])
