"""The benchmarks still run: each one's ``--quick`` smoke run exits 0 with its table.

No figure is asserted (speed is measured by the benchmarks, never by tests); what
this guards is that a change to the code they drive does not leave them broken.
Each benchmark checks its own results as it runs (``harness.check``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
FIGURES = {
    "machine_core.py": ["events: at() + run()", "mmio: read32 SCRATCH", "dma: copy 1 MiB"],
    "matching.py": ["match, 100 personalities", "match, 1,000 personalities"],
    "registry.py": ["ioreg -l (machine DT)", "fromPath (3 components)"],
    "runtime.py": [
        "workloop: runAction",
        "workloop: interrupt -> action",
        "workloop: card INTx -> action",
        "timer: arm/fire",
        "dma: IODMACommand 1 MiB, bounced",
    ],
    "scsi.py": ["4 KiB read, QD 1", "4 KiB read, QD 32", "1 MiB sequential write"],
    "storage.py": [
        "4 KiB random read, QD 1",
        "4 KiB random read, QD 32",
        "1 MiB sequential read",
        "1 MiB sequential write: ",
    ],
}


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_a_quick_benchmark_run_prints_its_figures(script: str) -> None:
    process = subprocess.run(
        [sys.executable, script, "--quick"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    for figure in FIGURES[script]:
        assert figure in process.stdout
    assert "x slower" in process.stdout
