"""Numbers as people read them: parameter counts in K/M/B/T, sizes in KiB/MiB/GiB (two decimals)."""

from __future__ import annotations


def human(n: int) -> str:
    """8537680896 -> '8.54B'."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def human_bytes(n: int) -> str:
    """524288 -> '512.00 KiB'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"
