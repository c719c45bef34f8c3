"""`torchrun -m archspec.train` on 2 gloo ranks (tensor parallel): its printed losses and its
consolidated checkpoint equal the same steps taken in this process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from archspec.nn.model import build_model  # noqa: E402
from archspec.spec.dump import to_yaml  # noqa: E402
from archspec.spec.load import load_spec  # noqa: E402
from archspec.spec.shrink import shrink  # noqa: E402
from archspec.train.checkpoint import consolidate  # noqa: E402

pytestmark = pytest.mark.slow
STEPS, BATCH, SEQ, LR, SEED = 3, 2, 16, 1e-3, 0


def test_torchrun_trains_saves_and_consolidates(tmp_path: Path) -> None:
    spec = shrink(load_spec("gemma-7b"), d_model=32, n_layers=2, vocab_size=128)  # tied head
    path = tmp_path / "tiny.yaml"
    path.write_text(to_yaml(spec), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "archspec.train", str(path), "--tp", "2", "--steps", str(STEPS)]
    cmd += ["--batch", str(BATCH), "--seq", str(SEQ), "--lr", str(LR), "--seed", str(SEED)]
    cmd += ["--checkpoint", str(tmp_path / "ckpt")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    said = [
        line for line in run.stderr.splitlines() if "W1202" not in line and "Warning" not in line
    ]
    assert run.returncode == 0, "\n".join(said[:60])
    printed = [float(x) for x in re.findall(r"step \d+/\d+ loss ([0-9.]+)", run.stdout)]
    assert len(printed) == STEPS

    weights = consolidate(tmp_path / "ckpt", tmp_path / "model.safetensors")
    from safetensors.torch import load_file

    assert load_file(tmp_path / "model.safetensors").keys() == weights.keys()

    # The same steps in one process: the loop's seeds, its batches (dp rank 0), AdamW.
    torch.manual_seed(SEED)
    model = build_model(spec)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(SEED + 1)
    losses = []
    for _ in range(STEPS):
        rows = torch.randint(0, spec.vocab_size, (BATCH, SEQ + 1), generator=gen)
        opt.zero_grad()
        logits = model(rows[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert printed == pytest.approx(losses, abs=1e-4)
    fresh = build_model(spec)
    missing, unexpected = fresh.load_state_dict(weights, strict=False)
    assert missing == ["lm_head.weight"] and unexpected == []  # tied: the embedding
    for name, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value, atol=1e-5, rtol=0)
