"""Real-time cost of the I/O Registry and ``ioreg``, as ratios against raw Python.

Run it with ``python3 dev.py python benchmarks/registry.py`` (``--quick`` for a smoke
run).  As in ``machine_core.py``, each figure is timed together with a *baseline*,
the least plain Python that does the same job, in the same run; compare the ratios.

The figures
-----------
dump read
    Lines per second reading the largest real ``ioreg -l`` dump (``MacPro3.1``, from
    ``../shared/data/ioreg``; skipped when the data is absent) into ``SnapshotNode``
    trees, values parsed.  Baseline: splitting the text into lines and matching each
    against the node-line regular expression of iokit-matching.md §5.3, the least a
    reader must do.
ioreg -l (dump)
    Lines per second printing that registry with ``ioreg -l -w0`` through iokitlib
    (registry walk, property copies to user values, ``cfshow``), checked to equal the
    dump.  Baseline: encoding the recorded lines to bytes, one f-string each, what
    writing the same text costs.
ioreg -l (machine)
    The same on the booted default machine's kernel, IODeviceTree plane (its
    properties are device-tree data), against the same baseline over its own output.
fromPath / getPath
    Lookups per second of ``IODeviceTree:/pci@0,f2000000/pci-bridge@d/pci1234,1@1``
    (three components, unit addresses compared as numbers) and of that entry's path
    (which, as in xnu, is its alias ``IODeviceTree:testcard0``: the ``/aliases``
    entry is searched first).
    Baselines: walking three nested dicts by the path's components; joining three
    names with ``/``.

Every figure checks its result (the printed text equals the dump; the lookup finds
the card; the path names it), so a broken registry cannot post a fast time.
"""

from __future__ import annotations

import gzip
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import Row, best_of, check, parse_arguments, print_header, report, scaled_counts

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.machine.machine import Machine
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioreg import IORegOptions, ioreg
from kextlab.userland.tools.ioreg_dump import read_ioreg_dump

DUMP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ioreg" / "MacPro3.1__IOReg.txt.gz"
CARD_PATH = "IODeviceTree:/pci@0,f2000000/pci-bridge@d/pci1234,1@1"
NODE_LINE = re.compile(r"^([ |]*)\+-o (.*?)  <class ([^,>]+)(.*)>$")
FULL_COUNTS = {"dump": 3, "print": 3, "machine": 40, "lookups": 50_000}
QUICK_DIVISOR = 10


def write_baseline(lines: list[str]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        out = [f"{line}\n".encode("utf-8", "surrogateescape") for line in lines]
        elapsed = time.perf_counter() - start
        check(len(out) == len(lines), "baseline lost lines")
        return elapsed

    return run


def bench_dump(reads: int, prints: int, repeat: int) -> list[Row]:
    text = gzip.decompress(DUMP.read_bytes()).decode("utf-8", "surrogateescape")
    recorded = text.split("\n")[:-1]

    def parse_run() -> float:
        start = time.perf_counter()
        for _ in range(reads):
            read_ioreg_dump(text, DUMP.name)
        return time.perf_counter() - start

    def split_run() -> float:
        start = time.perf_counter()
        for _ in range(reads):
            nodes = sum(1 for line in text.split("\n") if NODE_LINE.match(line))
        elapsed = time.perf_counter() - start
        check(nodes > 500, "baseline found too few node lines")
        return elapsed

    port = io.IOMainPortFromSnapshot(read_ioreg_dump(text, DUMP.name))
    options = IORegOptions(list=True, width=0)
    printed: list[str] = []

    def print_run() -> float:
        start = time.perf_counter()
        for _ in range(prints):
            printed[:] = ioreg(port, options).stdout
        return time.perf_counter() - start

    baseline_once = write_baseline(recorded)

    def baseline_run() -> float:
        return sum(baseline_once() for _ in range(prints))

    raw_read, read = best_of(repeat, split_run, parse_run)
    raw_print, printing = best_of(repeat, baseline_run, print_run)
    check(len("\n".join(printed).split("\n")) == len(recorded), "ioreg printed other lines")
    lines = len(recorded)
    return [
        Row("dump read (MacPro3,1)", "lines", lines * reads, read, raw_read, "split + node regex"),
        Row("ioreg -l (dump)", "lines", lines * prints, printing, raw_print, "encode lines"),
    ]


def booted_kernel() -> tuple[Machine, Kernel]:
    machine = Machine.from_name("default")
    kernel = Kernel(machine, OpenFirmware(machine).power_on())
    kernel.start()
    return machine, kernel


def bench_machine(prints: int, lookups: int, repeat: int) -> list[Row]:
    machine, kernel = booted_kernel()
    port = io.IOMainPort(kernel.registry)
    options = IORegOptions(list=True, width=0, plane=kIODeviceTreePlane)
    sample = ioreg(port, options).stdout
    check(any("pci1234,1@10800" in line for line in sample), "the card is not in the tree")

    def print_run() -> float:
        start = time.perf_counter()
        for _ in range(prints):
            ioreg(port, options)
        return time.perf_counter() - start

    baseline_once = write_baseline(sample)

    def baseline_run() -> float:
        return sum(baseline_once() for _ in range(prints))

    registry = kernel.registry
    plane = registry.plane(kIODeviceTreePlane)
    card = registry.fromPath(CARD_PATH)
    check(card is not None, f"{CARD_PATH} not found")
    assert card is not None
    nested = {"pci@0,f2000000": {"pci-bridge@d": {"pci1234,1@1": card}}}
    components = CARD_PATH.split(":", 1)[1].strip("/").split("/")
    names = ["pci", "pci-bridge", "pci1234,1"]

    def from_path_run() -> float:
        from_path = registry.fromPath
        start = time.perf_counter()
        for _ in range(lookups):
            found = from_path(CARD_PATH)
        elapsed = time.perf_counter() - start
        check(found is card, "fromPath found another entry")
        return elapsed

    def dict_walk_run() -> float:
        start = time.perf_counter()
        for _ in range(lookups):
            level: object = nested
            for component in CARD_PATH.split(":", 1)[1].strip("/").split("/"):
                level = level[component]  # type: ignore[index]
        elapsed = time.perf_counter() - start
        check(level is card, "baseline walk failed")
        return elapsed

    def get_path_run() -> float:
        get_path = card.getPath
        start = time.perf_counter()
        for _ in range(lookups):
            path = get_path(plane)
        elapsed = time.perf_counter() - start
        check(path is not None and registry.fromPath(path) is card, f"getPath gave {path}")
        return elapsed

    def join_run() -> float:
        start = time.perf_counter()
        for _ in range(lookups):
            path = "IODeviceTree:/" + "/".join(names)
        elapsed = time.perf_counter() - start
        check(path.startswith("IODeviceTree:/"), "baseline join failed")
        return elapsed

    raw_print, printing = best_of(repeat, baseline_run, print_run)
    raw_from, from_path = best_of(repeat, dict_walk_run, from_path_run)
    raw_get, get_path = best_of(repeat, join_run, get_path_run)
    machine.close()
    check(len(components) == 3, "the card path changed")
    lines = len(sample)
    return [
        Row("ioreg -l (machine DT)", "lines", lines * prints, printing, raw_print, "encode lines"),
        Row("fromPath (3 components)", "lookups", lookups, from_path, raw_from, "nested dict walk"),
        Row("getPath (3 components)", "paths", lookups, get_path, raw_get, '"/".join(names)'),
    ]


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        argv, "Time kextlab's I/O Registry and ioreg against raw Python.", QUICK_DIVISOR
    )
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR)
    repeat = arguments.repeat
    print_header("registry", arguments)
    started = time.perf_counter()
    rows: list[Row] = []
    if DUMP.is_file():
        rows.extend(bench_dump(counts["dump"], counts["print"], repeat))
    else:
        print(f"  (no real dump at {DUMP}: the dump figures are skipped)")
    rows.extend(bench_machine(counts["machine"], counts["lookups"], repeat))
    report(rows, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
