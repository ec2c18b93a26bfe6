"""Units of virtual time.

Virtual time is an ``int`` count of nanoseconds since power-on.  It never comes from
the host's clock: it advances only through the scheduler (``kextlab.sim.scheduler``).
"""

from __future__ import annotations

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000


def format_seconds(time_ns: int) -> str:
    """``1234567`` -> ``"0.001234567"``: exact, fixed width after the point."""
    seconds, nanoseconds = divmod(time_ns, SECOND)
    return f"{seconds}.{nanoseconds:09d}"


def format_log_stamp(time_ns: int) -> str:
    """The ``[    0.001234]`` stamp of a log line, in the style of a kernel log."""
    seconds, nanoseconds = divmod(time_ns, SECOND)
    return f"[{seconds:5d}.{nanoseconds // MICROSECOND:06d}]"
