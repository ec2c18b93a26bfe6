"""MarvellUMI.kext's pieces on their own: page 1 parsing, the list pointers and the
"inbound full" checks of both chips (which the emulated firmware, holding no more
than a list's worth, never makes true), the SG segment function and the event
list decoder."""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.dma_command import Segment64
from kextlab.machine.devices.mvumi import registers as emulated
from kextlab.machine.devices.mvumi.events import FirmwareEvent, event_request
from kextlab.machine.devices.mvumi.handshake import FirmwareCapabilities as EmulatedCapabilities
from tests.kexts.marvell_umi_harness import controller, machine_file, umi_kernel, write_image


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    write_image(tmp_path, "disk0.img", bytes(1 << 20))
    with umi_kernel(machine_file(tmp_path)) as booted, booted.entered():
        yield booted


def kext_module(kernel: Kernel, name: str) -> ModuleType:
    """A module of the loaded kext (it is imported under a private package name)."""
    package = type(controller(kernel)).__module__.rsplit(".", 1)[0]
    return sys.modules[f"{package}.{name}"]


class Registers:
    """A register window that remembers writes and answers reads from a table."""

    def __init__(self, values: dict[int, int] | None = None) -> None:
        self.values = dict(values or {})
        self.reads: list[int] = []
        self.writes: list[tuple[int, int]] = []

    def ioRead32(self, offset: int) -> int:
        self.reads.append(offset)
        return self.values.get(offset, 0)

    def ioWrite32(self, offset: int, value: int) -> None:
        self.writes.append((offset, value))
        self.values[offset] = value


def page_one(**changes: Any) -> bytes:
    values = {
        "max_devices": 16,
        "max_io": 64,
        "max_transfer": 1 << 20,
        "inbound_entry_code": 7,
        "outbound_entry_code": 5,
        "list_depth": 64,
    }
    values.update(changes)
    return EmulatedCapabilities(**values).page()


def test_page_one_is_parsed_and_checked(kernel: Kernel) -> None:
    """The emulator's page 1 parses into the limits the driver reports; a page whose
    checksum does not match its bytes is refused with the reason."""
    handshake = kext_module(kernel, "handshake")
    parsed = handshake.FirmwareCapabilities.from_page(memoryview(page_one()))
    assert not isinstance(parsed, str)
    assert (parsed.max_io, parsed.list_num_io, parsed.sg_tablesize) == (64, 64, 30)
    assert (parsed.ib_max_size, parsed.ob_max_size, parsed.firmware_version) == (
        512,
        128,
        "1.1.0.2011",
    )
    damaged = bytearray(page_one())
    damaged[6] ^= 0xFF
    refused = handshake.FirmwareCapabilities.from_page(memoryview(damaged))
    assert isinstance(refused, str)
    assert refused.startswith("page 1 checksum is")


def test_a_log2_coded_depth_and_dynamic_source_lists_are_understood(kernel: Kernel) -> None:
    """NEW_PAGE_IO_DEPTH_DEF makes the depth 1 << code; DYN_SRC (frames outside the
    list) is a capability this driver lacks, and says so."""
    handshake = kext_module(kernel, "handshake")
    registers = kext_module(kernel, "registers")
    coded = handshake.FirmwareCapabilities.from_page(
        memoryview(page_one(list_depth=5, capability=registers.HS_CAPABILITY_NEW_PAGE_IO_DEPTH_DEF))
    )
    assert not isinstance(coded, str)
    assert (coded.list_num_io, coded.max_io) == (32, 32)
    dynamic = handshake.FirmwareCapabilities.from_page(
        memoryview(page_one(capability=registers.HS_CAPABILITY_SUPPORT_DYN_SRC))
    )
    assert dynamic == "the firmware asks for dynamic-source lists, which this driver lacks"


def lists_for(kernel: Kernel, chip_name: str, depth: int = 4) -> tuple[Any, Any]:
    handshake = kext_module(kernel, "handshake")
    registers = kext_module(kernel, "registers")
    lists = kext_module(kernel, "lists")
    capabilities = handshake.FirmwareCapabilities.from_page(
        memoryview(page_one(max_io=depth, list_depth=depth))
    )
    chip = getattr(registers, chip_name)
    made = lists.CommunicationLists.allocate(chip, capabilities)
    assert made is not None
    return made, chip


@pytest.mark.parametrize("chip_name", ["MV9143", "MV9580"])
def test_pointers_start_at_the_last_slot_and_toggle_at_each_wrap(
    kernel: Kernel, chip_name: str
) -> None:
    """Both cursors start at (depth - 1) | toggle; the first entry used is slot 0 with
    the toggle clear, and the toggle flips each time the pointer wraps."""
    lists, chip = lists_for(kernel, chip_name)
    toggle = chip.cl_pointer_toggle
    assert lists.ib_cur_slot == lists.ob_cur_slot == 3 | toggle
    pointer, seen = lists.ib_cur_slot, []
    for _ in range(9):
        pointer = lists.advance(pointer)
        seen.append(pointer)
    assert seen == [0, 1, 2, 3, toggle, toggle | 1, toggle | 2, toggle | 3, 0]
    lists.release()


def test_the_9143_reads_inb_read_pointer_only_when_the_list_could_be_full(
    kernel: Kernel,
) -> None:
    """Four entries written to a four-entry list: only then is inb_read_pointer read.
    Full while the firmware has taken none (equal slots, other toggle); room again
    once it reports having taken two."""
    lists, chip = lists_for(kernel, "MV9143")
    registers = Registers({chip.inb_read_pointer: lists.start})
    lists.start_lists(registers)
    for _ in range(4):
        assert not lists.inbound_full(registers)
        lists.free_entry()
        lists.post()
    assert chip.inb_read_pointer not in registers.reads
    assert lists.inbound_full(registers)
    registers.values[chip.inb_read_pointer] = 1  # slot 1, toggle clear: two taken
    assert not lists.inbound_full(registers)
    lists.release()


def test_the_9580_takes_the_free_count_from_ib_shadow(kernel: Kernel) -> None:
    """The 9580 firmware writes the free entries into ib_shadow; 0xFFFF (what the host
    leaves there when it rings) means "not yet known", so: full.  Once told of free
    entries, the host uses them without asking again."""
    lists, chip = lists_for(kernel, "MV9580")
    registers = Registers()
    lists.start_lists(registers)
    for _ in range(4):
        lists.free_entry()
        lists.post()
    lists.ring(registers)
    assert registers.writes[-1] == (chip.inb_write_pointer, lists.ib_cur_slot)
    assert lists.inbound_full(registers)  # 0xFFFF in ib_shadow
    view = lists.memory.getBytesNoCopy()
    struct.pack_into("<I", view, lists.ib_shadow_offset, 3)
    assert not lists.inbound_full(registers)
    struct.pack_into("<I", view, lists.ib_shadow_offset, 0)
    for _ in range(3):  # room for three, as the firmware said: no need to ask again
        assert not lists.inbound_full(registers)
        lists.free_entry()
        lists.post()
    assert lists.inbound_full(registers)
    lists.release()


def test_the_segment_function_writes_mvumi_sgl_entries_in_place(kernel: Kernel) -> None:
    """OutputMarvellSGL writes (low, high, flags, size) at the entry's index; the last
    entry then gets SGD_EOT; a segment of 4 GiB or more cannot be expressed."""
    frames = kext_module(kernel, "frames")
    entry = bytearray(512)
    area = frames.sg_area(memoryview(entry))
    assert frames.OutputMarvellSGL(None, Segment64(0x1_2345_6780, 4096), area, 0)
    assert frames.OutputMarvellSGL(None, Segment64(0x8000, 512), area, 1)
    frames.mark_end_of_table(memoryview(entry), 2)
    assert struct.unpack_from("<8I", entry, 32) == (
        0x2345_6780,
        0x1,
        0,
        4096,
        0x8000,
        0,
        emulated.SGD_EOT,
        512,
    )
    assert not frames.OutputMarvellSGL(None, Segment64(0, 1 << 32), area, 2)


def test_the_event_list_decodes_as_the_firmware_packs_it(kernel: Kernel) -> None:
    """struct mvumi_event_req from the emulator's packer: count, then each event's
    sequence, id, severity, device, parameters and sense."""
    frames = kext_module(kernel, "frames")
    packed = event_request(
        [
            FirmwareEvent(5, 1000, 0x10, 3, 7, (1, 2), b"\x70\x00\x03"),
            FirmwareEvent(6, 1001, 0x02, 1, 4),
        ]
    )
    events = list(frames.decode_events(packed))
    assert [(e.sequence_no, e.event_id, e.severity, e.device_id) for e in events] == [
        (5, 0x10, 3, 7),
        (6, 0x02, 1, 4),
    ]
    assert events[0].params == (1, 2)
    assert events[0].sense_data == b"\x70\x00\x03"
    assert events[1].params == ()
