"""CPU accesses: the address spaces' kept mappings, their bus time, and register hooks."""

from __future__ import annotations

import pytest

from kextlab.machine.address_space import AddressSpace, MmioRegion
from kextlab.machine.guest_errors import GuestErrorLog
from kextlab.machine.registers import Access, Register, RegisterFile
from kextlab.sim import Scheduler


@pytest.fixture
def errors() -> GuestErrorLog:
    return GuestErrorLog(Scheduler())


def recording_region(name: str, size: int, seen: list[tuple[str, int]]) -> MmioRegion:
    def read(offset: int, width: int) -> int:
        seen.append((name, offset))
        return ord(name)

    def write(offset: int, width: int, value: int) -> None:
        seen.append((name, offset))

    return MmioRegion(name, size, read, write, access_sizes=(4,))


def test_small_regions_sharing_a_page_each_get_their_own_accesses(errors: GuestErrorLog) -> None:
    """Two 4-byte registers in one 4 KiB page (a configuration mechanism's address and
    data ports): alternating accesses reach the right one every time."""
    seen: list[tuple[str, int]] = []
    space = AddressSpace("memory", errors)
    space.map_fixed(0xCF8, recording_region("a", 4, seen))
    space.map_fixed(0xCFC, recording_region("d", 4, seen))
    for _ in range(3):
        assert space.read(0xCF8, 4) == ord("a")
        space.write(0xCFC, 4, 0)
    assert seen == [("a", 0), ("d", 0)] * 3
    assert space.read(0xCF4, 4) == 0xFFFF_FFFF  # same page, nothing there
    assert errors.messages() == ["read of 4 bytes at 0xcf4: nothing decodes this address"]


def test_a_region_spanning_pages_is_reached_from_each_of_them(errors: GuestErrorLog) -> None:
    """Every page of a large region finds it, and its end still ends it."""
    seen: list[tuple[str, int]] = []
    space = AddressSpace("memory", errors)
    space.map_fixed(0x1800, recording_region("r", 0x2000, seen))
    for address in (0x1800, 0x2000, 0x3000, 0x37FC, 0x1804, 0x2FFC):
        assert space.read(address, 4) == ord("r")
    assert [offset for _, offset in seen] == [0x0, 0x800, 0x1800, 0x1FFC, 0x4, 0x17FC]
    assert space.read(0x3800, 4) == 0xFFFF_FFFF  # one past the end, in a kept page
    assert errors.count() == 1


def test_cpu_accesses_cost_their_bus_time_and_plain_ones_cost_nothing(
    errors: GuestErrorLog,
) -> None:
    """``cpu_read``/``cpu_write`` charge after the access, hit or miss, good or bad;
    ``read``/``write`` (regions forwarding into a space) charge nothing."""
    charged: list[int] = []
    seen: list[tuple[str, int]] = []
    space = AddressSpace(
        "io", errors, address_bits=32, consume=charged.append, cpu_read_ns=7, cpu_write_ns=3
    )
    space.map_fixed(0x100, recording_region("p", 0x10, seen))
    assert space.cpu_read(0x100, 4) == ord("p")  # a miss: resolved, then kept
    assert space.cpu_read(0x104, 4) == ord("p")  # a hit
    space.cpu_write(0x108, 4, 1)
    space.cpu_write(0x200, 4, 1)  # nothing there: still a bus cycle
    assert space.cpu_read(0x102, 4) == 0xFFFF_FFFF  # misaligned: the same
    assert charged == [7, 7, 3, 3, 7]
    assert space.read(0x100, 4) == ord("p")
    space.write(0x100, 4, 0)
    assert charged == [7, 7, 3, 3, 7]
    assert errors.count() == 2


def test_a_register_hook_replaced_after_construction_takes_every_write(
    errors: GuestErrorLog,
) -> None:
    """``set_on_write`` reaches full-width writes (the precomputed path) and the rest."""
    calls: list[tuple[str, int, int]] = []
    registers = RegisterFile(
        "chip",
        0x10,
        [
            Register(
                "doorbell",
                0x4,
                access=Access.RW,
                on_write=lambda old, new: calls.append(("before", old, new)),
                narrow_writes=True,
            )
        ],
        report=lambda message: calls.append((message, 0, 0)),
    )
    registers.write(0x4, 4, 1)
    registers.set_on_write("doorbell", lambda old, new: calls.append(("after", old, new)))
    registers.write(0x4, 4, 2)
    registers.write(0x4, 2, 0x33)  # a narrow write: the general path
    registers.set_on_write("doorbell", None)
    registers.write(0x4, 4, 4)
    assert calls == [("before", 0, 1), ("after", 1, 2), ("after", 2, 0x33)]
    assert registers["doorbell"] == 4
