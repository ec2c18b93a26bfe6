"""What every kextlab benchmark shares: timing, rows of figures and the report.

A figure is the best (shortest) of ``repeat`` timings, with the subject and its
baseline interleaved in each repetition and the garbage collector off while the
clock runs (as ``timeit`` does); ``time.perf_counter`` is the clock.  A ``Row`` holds
one figure and its baseline measured in the same run, and reports their ratio:
rates depend on the host, ratios much less.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class BenchmarkError(RuntimeError):
    """A measurement's self-check failed: the machine core did not do the work."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchmarkError(message)


def timed(run: Callable[[], float]) -> float:
    """Call ``run`` (which returns the seconds it measured) with the GC off."""
    gc.collect()
    gc.disable()
    try:
        return run()
    finally:
        gc.enable()


def best_of(repeat: int, *runs: Callable[[], float]) -> list[float]:
    """The shortest time of each run over ``repeat`` interleaved repetitions."""
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for index, run in enumerate(runs):
            best[index] = min(best[index], timed(run))
    return best


@dataclass
class Row:
    """One line of the result table."""

    name: str
    unit: str  # what ``count`` counts: "events", "round trips", "bytes"...
    count: int  # units done in one timing
    seconds: float  # best time of the machine core
    baseline_seconds: float  # best time of the baseline, same count
    baseline: str  # what the baseline is
    ratio_override: float | None = None
    ratio_note: str = "x slower"

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def baseline_rate(self) -> float:
        return self.count / self.baseline_seconds

    @property
    def ratio(self) -> float:
        if self.ratio_override is not None:
            return self.ratio_override
        return self.baseline_rate / self.rate


def format_rate(rate: float, unit: str) -> str:
    if unit == "bytes":
        return f"{rate / 1e6:,.0f} MB/s"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.3g} {prefix}/s"
    return f"{rate:.3g} /s"


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.3g} us"
    return f"{seconds * 1e9:.3g} ns"


def print_table(rows: list[Row]) -> None:
    header = ("measurement", "kextlab", "baseline", "ratio", "baseline is")
    lines = [
        (
            row.name,
            format_rate(row.rate, row.unit),
            format_rate(row.baseline_rate, row.unit),
            f"{row.ratio:,.1f} {row.ratio_note}",
            row.baseline,
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(5)]

    def render(cells: tuple[str, ...]) -> str:
        left, *middle, right = cells
        parts = [left.ljust(widths[0])]
        parts += [cell.rjust(widths[index + 1]) for index, cell in enumerate(middle)]
        parts.append(right.ljust(widths[4]))
        return "  ".join(parts).rstrip()

    print(render(header))
    print("  ".join("-" * width for width in widths))
    for line in lines:
        print(render(line))


def parse_arguments(
    argv: list[str] | None, description: str, quick_divisor: int
) -> argparse.Namespace:
    """``--quick`` (divide the counts by ``quick_divisor``) and ``--repeat N``."""
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Compare the ratios across machines; the rates are for this host only.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"divide every iteration count by {quick_divisor} (a smoke run)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timings per figure, the best is kept (default 5, 1 with --quick)",
    )
    arguments = parser.parse_args(argv)
    if arguments.repeat is None:
        arguments.repeat = 1 if arguments.quick else 5
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    return arguments


def print_header(name: str, arguments: argparse.Namespace) -> None:
    """The run's title (which benchmark, quick or full, best of how many) and the host."""
    import greenlet

    kind = "quick" if arguments.quick else "full"
    print(f"kextlab {name} benchmark ({kind} run, best of {arguments.repeat})")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"greenlet {greenlet.__version__}, {platform.machine()} {platform.system()}"
    )


def scaled_counts(
    full: dict[str, int], arguments: argparse.Namespace, divisor: int, minimum: int = 1
) -> dict[str, int]:
    """The iteration counts of this run: ``full``, divided by ``divisor`` with ``--quick``."""
    factor = divisor if arguments.quick else 1
    return {name: max(minimum, count // factor) for name, count in full.items()}


def report(
    rows: list[Row], started: float, notes: Sequence[str] = (), baseline: str = "the raw baseline"
) -> None:
    """The table, any notes, how to read the ratios, and the run's wall time."""
    print()
    print_table(rows)
    print()
    for note in notes:
        print(note)
    print(
        f"ratio = baseline rate / kextlab rate (how many times slower than {baseline}); "
        "compare ratios, not rates, across machines."
    )
    print(f"total {time.perf_counter() - started:.1f} s")
