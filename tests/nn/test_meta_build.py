"""Building on the meta device skips weight initialisation (it would import torch._dynamo)."""

from __future__ import annotations

import subprocess
import sys

import torch

from archspec.nn.model import build_model
from tests.strategies import tiny_spec


def test_meta_build_does_not_import_dynamo() -> None:
    code = (
        "import sys\n"
        "import archspec\n"
        "model = archspec.build_model(archspec.load_spec('mixtral-8x7b'), device='meta')\n"
        "assert model.embed.weight.device.type == 'meta'\n"
        "assert sum(p.numel() for p in model.parameters()) == 46702792704\n"
        "assert 'torch._dynamo' not in sys.modules, 'initialising meta tensors imported dynamo'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cpu_build_still_initialises_and_init_works_after_a_meta_build() -> None:
    spec = tiny_spec()
    build_model(spec, device="meta")
    model = build_model(spec)
    weight = model.layers[0].attn.q_proj.weight
    assert weight.device.type == "cpu"
    assert 0.01 < weight.std().item() < 0.03  # init_weights: normal(0, 0.02)
    assert torch.nn.init.normal_(torch.zeros(64, 64)).std() > 0.5  # no mode left behind
