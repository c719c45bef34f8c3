"""Numbers as people read them: parameter counts in K/M/B/T, sizes in KiB/MiB/GiB (two decimals).

Integer arithmetic throughout, so that a count of 10**200 (a hostile spec) still formats: past
the largest unit, the count is written in scientific notation.
"""

from __future__ import annotations


def human(n: int) -> str:
    """8537680896 -> '8.54B'; 10**200 -> '1.00e+188T'."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return _scaled(n, size) + unit
    return str(n)


def human_bytes(n: int) -> str:
    """524288 -> '512.00 KiB'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{_scaled(n, size)} {unit}"
    return f"{n} B"


def fixed(n: int, size: int, places: int = 2, *, thousands: bool = False) -> str:
    """``n / size`` with ``places`` decimals, like `f"{n / size:,.2f}"` but exact for any size
    of ``n`` (scientific notation past 10**15)."""
    sign = "-" if n < 0 else ""
    return sign + _scaled(abs(n), size, places, thousands)


def general(n: int, size: int, spec: str) -> str:
    """``format(n / size, spec)`` (a `g` or `+.3g` format), in scientific notation when the
    quotient is too large for a float."""
    try:
        return format(n / size, spec)
    except OverflowError:
        sign = "-" if n < 0 else "+" if spec.startswith("+") else ""
        digits = str(abs(n) // size)
        return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1:02d}"


def _scaled(n: int, size: int, places: int = 2, thousands: bool = False) -> str:
    """``n / size`` (both positive) with ``places`` decimals, rounded half to even like
    `f"{x:.2f}"`."""
    unit = 10**places
    count, rest = divmod(n * unit, size)
    if 2 * rest > size or (2 * rest == size and count % 2):
        count += 1
    whole, frac = divmod(count, unit)
    if whole >= 10**15:
        digits = str(count)
        return f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1 - places:02d}"
    head = f"{whole:,}" if thousands else str(whole)
    return f"{head}.{frac:0{places}d}" if places else head
