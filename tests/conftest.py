"""Fixtures shared by the whole suite.

Every test runs under the kernel leak check (``leak_check``).  Real data lives
outside the repository, in ``../shared/data`` relative to the
repository root (CI has it; a user's fresh clone may not): tests that need it take
the ``shared_data`` fixture, which skips them cleanly when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.machine import Machine
from kextlab.testing.leaks import kernel_leak_check

__all__ = ["kernel_leak_check"]

REPOSITORY = Path(__file__).resolve().parent.parent
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def leak_check(kernel_leak_check: None) -> None:
    """Every test: a machine it boots and closes must not leak kernel resources
    (``kextlab.testing.leaks``; ``@pytest.mark.allow_leaks`` to leak on purpose)."""


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def machine() -> Iterator[Machine]:
    """The default machine, powered but not probed (registers at reset values)."""
    with Machine.from_name("default") as built:
        yield built


@pytest.fixture
def booted() -> Iterator[tuple[Machine, OpenFirmware]]:
    """The default machine after its firmware ran: buses numbered, BARs assigned."""
    with Machine.from_name("default") as built:
        firmware = OpenFirmware(built)
        firmware.power_on()
        yield built, firmware
