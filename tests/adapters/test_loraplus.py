"""LoRA+ parameter groups against peft's `create_loraplus_optimizer`, tensor by tensor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from archspec.hf.adapters import adapter_names
from archspec.hf.loader import load_pretrained
from archspec.hf.weights import name_table
from archspec.train import param_groups
from tests.adapters.test_peft_parity import _base, _peft_key, _randomise_adapters

peft = pytest.importorskip("peft")
pytestmark = pytest.mark.hf


@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_groups_match_peft(kind: str, tmp_path: Path) -> None:
    from peft.optimizers import create_loraplus_optimizer

    hf = _base("qwen2", tmp_path / "base")
    config = peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], use_dora=kind == "dora"
    )
    wrapped = peft.get_peft_model(hf, config)
    _randomise_adapters(wrapped)
    wrapped.save_pretrained(tmp_path / "adapter")
    ours = load_pretrained(tmp_path / "base", adapter=tmp_path / "adapter")
    optimizer = create_loraplus_optimizer(
        wrapped,
        torch.optim.AdamW,
        lr=1e-4,
        loraplus_lr_ratio=16,
        loraplus_weight_decay=0.01,
    )
    groups = param_groups(ours, lr=1e-4, loraplus_ratio=16, weight_decay=0.01)
    to_peft = {k: _peft_key(v) for k, v in adapter_names(ours.spec, name_table("qwen2")).items()}
    peft_names = {id(p): n for n, p in wrapped.named_parameters()}
    ours_names = {id(p): n for n, p in ours.named_parameters()}
    assert len(groups) == len(optimizer.param_groups)
    for mine, theirs in zip(groups, optimizer.param_groups, strict=True):
        assert (mine["lr"], mine["weight_decay"]) == (theirs["lr"], theirs["weight_decay"])
        assert [to_peft[ours_names[id(p)]] for p in mine["params"]] == [
            peft_names[id(p)] for p in theirs["params"]
        ]
        for p, q in zip(mine["params"], theirs["params"], strict=True):
            torch.testing.assert_close(p, q, atol=0, rtol=0)
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in ours.parameters())
    torch.optim.AdamW(groups).step()  # the groups make a working optimizer
