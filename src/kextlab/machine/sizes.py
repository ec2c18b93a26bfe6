"""Sizes written by people: ``4096``, ``"64K"``, ``"512 MiB"``, ``"2G"``.

Units are binary (1K = 1024), as QEMU's ``-m 2G`` and Apple's memory sizes are.
Decimal units (``"2 GB"``) are refused rather than guessed at: a machine file that
means 2,000,000,000 bytes where the reader assumes 2 GiB is a bug waiting to happen.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "B": 1,
    "BYTE": 1,
    "BYTES": 1,
    "K": 1 << 10,
    "KIB": 1 << 10,
    "M": 1 << 20,
    "MIB": 1 << 20,
    "G": 1 << 30,
    "GIB": 1 << 30,
    "T": 1 << 40,
    "TIB": 1 << 40,
}
_SIZE = re.compile(r"\s*(0x[0-9a-f]+|\d+)\s*([a-z]*)\s*", re.IGNORECASE)
EXPECTED = 'a size such as 4096, "64K", "512 MiB" or "2G" (binary units)'


def parse_size(value: object) -> int:
    """The number of bytes ``value`` denotes; ``ValueError`` naming what was expected."""
    if isinstance(value, bool):
        raise ValueError(f"expected {EXPECTED}, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected {EXPECTED}, not the negative number {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {EXPECTED}, not {value!r}")
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"expected {EXPECTED}, not {value!r}")
    number_text, unit_text = match.groups()
    unit = _UNITS.get(unit_text.upper())
    if unit is None:
        hint = " (decimal units are not accepted)" if unit_text.upper().endswith("B") else ""
        raise ValueError(f"expected {EXPECTED}, not {value!r}: unknown unit {unit_text!r}{hint}")
    number = int(number_text, 16) if number_text.lower().startswith("0x") else int(number_text)
    return number * unit


def format_size(size: int) -> str:
    """``3221225472`` -> ``"3 GiB"``; exact, in the largest unit that divides it."""
    for suffix, unit in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {suffix}"
    return f"{size} bytes"
