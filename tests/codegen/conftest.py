"""One torch thread per test: these models are tiny, and on a small shared machine (2 cores, other
test processes) intra-op threads only add contention: measured, a forward that takes 3 ms on one
thread took up to 1-6 s with two threads while another pytest ran beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
