"""A register-level bench for the Marvell UMI HBA: the Linux driver's part, with no kernel.

``UMIBench`` plays ``drivers/scsi/mvumi.c`` against the emulated chip, written from
the protocol description (``shared/spec/scsi.md`` §2), not from the driver's code:
configuration cycles through the host bridge, 32-bit loads and stores to the
register BAR, handshake pages, lists and data buffers in the machine's RAM, and
interrupts taken from the interrupt controller.  Each step is a method, so that a
test can run the whole bring-up in one call or stop anywhere and misbehave.

``RamDisk`` is a test double: a disk logical unit on a bytearray with READ(10),
WRITE(10) and READ CAPACITY(10) (TEST UNIT READY and INQUIRY come from the base
class), moving data through the request's memoryviews as a real disk model does.

``benchmarks/scsi.py`` times the chip through this bench, so the per-command steps
(``submit``, ``collect``, ``receive``) are kept lean, as a driver's would be: register
offsets come from a dictionary made once, the register BAR's address is looked up
again only when configuration space has changed (``ConfigSpace.version``), and a
response is a named tuple.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.description import INTERRUPT_CONTROLLER_BASE, parse_machine_description
from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.device import MarvellUMI
from kextlab.machine.interrupts import SPURIOUS_VECTOR, ControllerRegister
from kextlab.machine.machine import Machine
from kextlab.machine.pci import registers as r
from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import Opcode, PeripheralType
from kextlab.machine.scsi.request import SCSIRequest
from kextlab.machine.scsi.target import LogicalUnit, SCSITarget, command
from kextlab.sim.time import MICROSECOND, SECOND

_MSG_FRAME = mv.MSG_FRAME
_SGL_ENTRY = mv.SGL_ENTRY
_RSP_FRAME = mv.RSP_FRAME
_RSP_HEADER = mv.RSP_FRAME.size
LOW_ARENA = 0x0010_0000
HIGH_ARENA = 0x1_0000_0000  # RAM above 4 GiB: 64-bit addresses everywhere
BLOCK = 512


def machine_text(model: str = "mvumi9143", **params: int | str) -> str:
    """A machine with 512 MiB below and 512 MiB above 4 GiB, and the HBA in slot 1."""
    lines = [
        "[memory]",
        'size = "1G"',
        'below_4g = "512M"',
        "[[device]]",
        'name = "hba0"',
        f'model = "{model}"',
        "slot = 1",
        "[device.params]",
    ]
    for key, value in params.items():
        lines.append(f"{key} = {value!r}" if isinstance(value, str) else f"{key} = {value}")
    return "\n".join(lines).replace("'", '"') + "\n"


@contextmanager
def hba_machine(model: str = "mvumi9143", **params: int | str) -> Iterator[UMIBench]:
    """A powered, probed machine with its bench (the firmware has assigned the BAR)."""
    description = parse_machine_description(machine_text(model, **params), "umi.toml", "umi")
    with Machine(description) as machine:
        OpenFirmware(machine).power_on()
        yield UMIBench.attach(machine)


class Response(NamedTuple):
    """One response frame as the host reads it from the outbound list."""

    device_id: int
    tag: int
    status: int
    rsp_flag: int
    request_id: int
    sense: bytes
    slot: int

    @property
    def sense_code(self) -> tuple[int, int, int]:
        decoded = sense.decode(self.sense)
        return int(decoded.key), decoded.asc, decoded.ascq


@dataclass(frozen=True)
class Capabilities:
    """Page 1 as the host parses it."""

    number_of_ports: int
    max_devices: int
    max_io: int
    umi_version: int
    max_transfer: int
    firmware_version: tuple[int, int, int, int]
    inbound_entry_code: int
    outbound_entry_code: int
    list_depth: int
    total_pages: int
    capability: int


class Arena:
    """A bump allocator for DMA memory, as the driver's coherent allocations."""

    def __init__(self, base: int) -> None:
        self.next = base

    def allocate(self, size: int, align: int = 128) -> int:
        address = -(-self.next // align) * align
        self.next = address + size
        return address


@dataclass
class UMIBench:
    """One Marvell UMI HBA driven at register level."""

    machine: Machine
    hba: MarvellUMI
    low: Arena = field(default_factory=lambda: Arena(LOW_ARENA))
    high: Arena = field(default_factory=lambda: Arena(HIGH_ARENA))
    handshake_replies: list[tuple[int, int]] = field(default_factory=list)
    interrupts_taken: int = 0
    doorbells_seen: int = 0
    responses: list[Response] = field(default_factory=list)

    @classmethod
    def attach(cls, machine: Machine, name: str = "hba0") -> UMIBench:
        hba = machine.pci_function(name)
        assert isinstance(hba, MarvellUMI)
        return cls(machine, hba)

    def __post_init__(self) -> None:
        chip = self.hba.chip
        self.chip = chip
        self.bits = chip.bits
        self.offsets = chip.registers
        self._offsets: dict[str, int | None] = {
            entry.name: getattr(chip.registers, entry.name) for entry in fields(chip.registers)
        }
        self._register_bar = self.hba.bars[chip.register_bar]
        self._config = self.hba.config
        self._base = 0
        self._base_version = -1  # the config-space version _base was read at
        self._memory = self.machine.memory
        self.page_address = 0
        self.capabilities: Capabilities | None = None
        self.list_depth = 0
        self.ob_depth = 0
        self.ib_size = 0
        self.ob_size = 0
        self.ib_list = 0
        self.ob_list = 0
        self.ib_shadow = 0
        self.ob_shadow = 0
        self.ib_cur_slot = 0
        self.ob_cur_slot = 0
        self.io_seq = 0

    # -- configuration space and registers ----------------------------------------------------

    @property
    def address(self) -> tuple[int, int, int]:
        hba = self.hba
        assert hba.bus is not None
        return hba.bus.number, hba.device_number, hba.function_number

    def config_read(self, offset: int, size: int) -> int:
        return self.machine.config_read(*self.address, offset, size)

    def config_write(self, offset: int, size: int, value: int) -> None:
        self.machine.config_write(*self.address, offset, size, value)

    def set_command(self, *, set_bits: int = 0, clear_bits: int = 0) -> None:
        command_bits = self.config_read(r.COMMAND, 2)
        self.config_write(r.COMMAND, 2, (command_bits | set_bits) & ~clear_bits)

    @property
    def registers_base(self) -> int:
        """Where the register BAR is now (re-read after any configuration change)."""
        version = self._config.version
        if version != self._base_version:
            self._base = self.hba.bar_address(self._register_bar)
            self._base_version = version
        return self._base

    def offset(self, name: str) -> int:
        offset = self._offsets[name]
        assert offset is not None, f"{self.chip.name} has no {name}"
        return offset

    def read(self, name: str) -> int:
        offset = self._offsets[name]
        assert offset is not None, f"{self.chip.name} has no {name}"
        base = self._base if self._config.version == self._base_version else self.registers_base
        return self.machine.read(base + offset, 4)

    def write(self, name: str, value: int) -> None:
        offset = self._offsets[name]
        assert offset is not None, f"{self.chip.name} has no {name}"
        base = self._base if self._config.version == self._base_version else self.registers_base
        self.machine.write(base + offset, 4, value)

    # -- memory --------------------------------------------------------------------------------

    def put(self, address: int, data: bytes) -> None:
        assert self._memory.write(address, data)

    def get(self, address: int, length: int) -> bytes:
        return self._memory.read(address, length)

    def put32(self, address: int, value: int) -> None:
        assert self._memory.write_int(address, 4, value)

    def get32(self, address: int) -> int:
        return self._memory.read_int(address, 4)

    # -- bring-up: mvumi_start ------------------------------------------------------------------

    def start(self, *, ob_depth: int | None = None) -> None:
        """Everything up to a running firmware: the driver's probe path."""
        self.set_command(set_bits=r.COMMAND_MASTER)
        self.prepare()
        self.wait_for_firmware()
        self.handshake(ob_depth=ob_depth)

    def prepare(self) -> None:
        """Ack the doorbells, unmask them, enable the doorbell cause (mvumi_start)."""
        self.write("arm_to_pciea_drbl_reg", self.read("arm_to_pciea_drbl_reg"))
        self.write("arm_to_pciea_mask_reg", self.bits.int_drbl_int_mask)
        enabled = self.read("enpointa_mask_reg") | self.bits.int_dl_cpu2pciea
        self.write("enpointa_mask_reg", enabled)

    def wait_for_firmware(self, timeout_ns: int = 30 * SECOND) -> int:
        """Poll msg1 for READYSTATE or DONESTATE, ringing DRBL_MU_RESET meanwhile."""
        deadline = self.machine.scheduler.now + timeout_ns
        while True:
            state = self.read("arm_to_pciea_msg1")
            if state in (mv.HANDSHAKE_READYSTATE, mv.HANDSHAKE_DONESTATE):
                return state
            assert self.machine.scheduler.now < deadline, f"firmware stuck at {state:#x}"
            self.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_MU_RESET)
            self.machine.run_for(100 * MICROSECOND)

    def wait_doorbell(self, wanted: int, polls: int = 10_000) -> int:
        """Poll and acknowledge arm_to_pciea_drbl until a bit of ``wanted`` shows."""
        seen = 0
        for _ in range(polls):
            status = self.read("arm_to_pciea_drbl_reg")
            if status:
                self.write("arm_to_pciea_drbl_reg", status)
                seen |= status
            if seen & wanted:
                self.doorbells_seen |= seen
                return seen
        raise AssertionError(f"doorbell {wanted:#x} never rang (saw {seen:#x})")

    # -- the handshake ----------------------------------------------------------------------

    def step(self, state: int, message1: int | None = None) -> tuple[int, int]:
        """One handshake step; the (status, state) the firmware echoes."""
        if message1 is not None:
            self.write("pciea_to_arm_msg1", message1)
        self.write(
            "pciea_to_arm_msg0", mv.handshake_message(mv.HandshakeStatus.HS_STATUS_OK, state)
        )
        self.write("pciea_to_arm_drbl_reg", mv.Doorbell.DRBL_HANDSHAKE)
        self.wait_doorbell(mv.Doorbell.DRBL_HANDSHAKE)
        reply = self.read("arm_to_pciea_msg0")
        echoed = (mv.handshake_status(reply), mv.handshake_state(reply))
        self.handshake_replies.append(echoed)
        return echoed

    def handshake(self, *, ob_depth: int | None = None) -> None:
        """The whole handshake, each step checked: RESET, PAGE_ADDR, pages 1-4, END."""
        ok = mv.HandshakeStatus.HS_STATUS_OK
        S = mv.HandshakeState
        assert self.step(S.HS_S_RESET, mv.HANDSHAKE_SIGNATURE) == (ok, S.HS_S_RESET)
        assert self.send_page_address() == (ok, S.HS_S_PAGE_ADDR)
        assert self.query_capabilities() == (ok, S.HS_S_QUERY_PAGE)
        self.allocate_lists()
        for code in (2, 3, 4):
            self.put(self.page_address, self.host_page(code, ob_depth=ob_depth))
            assert self.step(S.HS_S_SEND_PAGE) == (ok, S.HS_S_SEND_PAGE)
        assert self.step(S.HS_S_END) == (ok, S.HS_S_END)
        self.finish_handshake(ob_depth)

    def send_page_address(self) -> tuple[int, int]:
        if not self.page_address:
            self.page_address = self.high.allocate(mv.HSP_MAX_SIZE)
        self.write("arm_to_pciea_msg1", self.page_address >> 32)  # the high word (sic)
        return self.step(mv.HandshakeState.HS_S_PAGE_ADDR, self.page_address & 0xFFFF_FFFF)

    def query_capabilities(self) -> tuple[int, int]:
        """Ask for page 1 and parse it, checking its checksum."""
        self.put(self.page_address, bytes(mv.HSP_MAX_SIZE))
        self.put(self.page_address, bytes([mv.PageCode.HS_PAGE_FIRM_CAP]))
        reply = self.step(mv.HandshakeState.HS_S_QUERY_PAGE)
        page = self.get(self.page_address, mv.PAGE1_FIRM_CAP.size)
        fields = mv.PAGE1_FIRM_CAP.unpack(page)
        assert fields[0] == mv.PageCode.HS_PAGE_FIRM_CAP
        assert fields[2] == mv.PAGE1_FIRM_CAP.size - 4
        assert fields[1] == mv.page_checksum(page[4:]), "page 1 checksum"
        self.capabilities = Capabilities(
            fields[3],
            fields[4],
            fields[5],
            fields[6],
            fields[7],
            (fields[8], fields[9], fields[10], fields[11]),
            fields[12],
            fields[13],
            fields[14],
            fields[15],
            fields[16],
        )
        return reply

    def allocate_lists(self) -> None:
        """One block: the inbound list, ib_shadow, ob_shadow, the outbound list."""
        caps = self.capabilities
        assert caps is not None
        self.list_depth = caps.list_depth
        self.ib_size = mv.entry_size(caps.inbound_entry_code)
        self.ob_size = mv.entry_size(caps.outbound_entry_code)
        self.ib_list = self.high.allocate(self.ib_size * caps.max_io, 128)
        self.ib_shadow = self.high.allocate(8, 8)
        self.ob_shadow = self.high.allocate(8, 8)
        self.ob_list = self.high.allocate(self.ob_size * caps.max_io, 128)

    def host_page(
        self, code: int, *, ob_depth: int | None = None, checksum: int | None = None
    ) -> bytes:
        """Page 2, 3 or 4 as the host builds it, checksum included."""
        caps = self.capabilities
        assert caps is not None
        if code == 2:
            layout = mv.PAGE2_HOST_INFO
            page = bytearray(layout.size)
            layout.pack_into(
                page,
                0,
                code,
                0,
                layout.size - 4,
                mv.HOST_TYPE_LINUX,
                0,
                1,
                1,
                0,
                1500,
                0,
                0,
                0,
                0,
                1_300_000_000,
            )
        elif code == 3:
            layout = mv.PAGE3_FIRM_CTL
            page = bytearray(layout.size)
            layout.pack_into(page, 0, code, 0, layout.size - 4, 0, 0, 0, 0, 0)
        else:
            layout = mv.PAGE4_CL_INFO
            page = bytearray(layout.size)
            depth = self.list_depth
            layout.pack_into(
                page,
                0,
                code,
                0,
                layout.size - 4,
                self.ib_list & 0xFFFF_FFFF,
                self.ib_list >> 32,
                self.ob_list & 0xFFFF_FFFF,
                self.ob_list >> 32,
                caps.inbound_entry_code,
                caps.outbound_entry_code,
                depth if ob_depth is None else ob_depth,
                depth,
            )
        page[1] = mv.page_checksum(page[4:]) if checksum is None else checksum
        return bytes(page)

    def finish_handshake(self, ob_depth: int | None = None) -> None:
        """After HS_S_END: enable list interrupts, program the shadows, reset the cursors."""
        bits = self.bits
        enabled = self.read("enpointa_mask_reg") | bits.int_comaout | bits.int_comaerr
        self.write("enpointa_mask_reg", enabled)
        self.put32(self.ib_shadow, self.list_depth)
        self.write("inb_aval_count_basel", self.ib_shadow & 0xFFFF_FFFF)
        self.write("inb_aval_count_baseh", self.ib_shadow >> 32)
        start = (self.list_depth - 1) | bits.cl_pointer_toggle
        if self.chip.writes_ob_shadow:
            self.put32(self.ob_shadow, start)
            self.write("outb_copy_basel", self.ob_shadow & 0xFFFF_FFFF)
            self.write("outb_copy_baseh", self.ob_shadow >> 32)
        self.ib_cur_slot = start
        self.ob_depth = self.list_depth if ob_depth is None else ob_depth
        self.ob_cur_slot = (self.ob_depth - 1) | bits.cl_pointer_toggle

    # -- slot pointers ----------------------------------------------------------------------

    def advance(self, pointer: int, depth: int | None = None) -> int:
        bits = self.bits
        depth = depth or self.list_depth
        slot = (pointer & bits.cl_slot_num_mask) + 1
        toggle = pointer & bits.cl_pointer_toggle
        if slot >= depth:
            slot = 0
            toggle ^= bits.cl_pointer_toggle
        return toggle | slot

    def slot(self, pointer: int) -> int:
        return pointer & self.bits.cl_slot_num_mask

    # -- commands ---------------------------------------------------------------------------------

    def frame(
        self,
        cdb: bytes,
        *,
        tag: int,
        target: int = 0,
        lun: int = 0,
        flag: int = mv.CommandFlag.CMD_FLAG_NON_DATA,
        segments: Sequence[tuple[int, int]] = (),
        length: int | None = None,
        request_id: int | None = None,
        function: int = mv.CL_FUN_SCSI_CMD,
        sg_counts: int | None = None,
        eot_on: int | None = None,
    ) -> bytes:
        """A command frame and its SG list (EOT on the last entry unless told otherwise)."""
        if request_id is None:
            request_id = self.io_seq
            self.io_seq = (self.io_seq + 1) & 0xFFFF
        last = len(segments) - 1 if eot_on is None else eot_on
        sgl = b""
        total = 0
        for index, (address, size) in enumerate(segments):
            flags = mv.SGD_EOT if index == last else 0
            sgl += _SGL_ENTRY.pack(address & 0xFFFF_FFFF, address >> 32, flags, size)
            total += size
        if length is not None:
            total = length
        header = _MSG_FRAME.pack(
            target | lun << 8,
            tag,
            flag,
            function,
            len(cdb),
            len(segments) if sg_counts is None else sg_counts,
            total,
            request_id,
            0,
            cdb.ljust(16, b"\0"),
        )
        return header + sgl

    def submit(self, frames: Sequence[bytes], *, check_room: bool = True) -> None:
        """Copy frames into the next inbound entries and ring inb_write_pointer."""
        bits = self.bits
        mask, toggle = bits.cl_slot_num_mask, bits.cl_pointer_toggle
        memory = self._memory
        for entry in frames:
            current = self.ib_cur_slot
            if check_room:
                read_pointer = self.read("inb_read_pointer")
                full = (read_pointer & mask) == (current & mask) and (read_pointer & toggle) != (
                    current & toggle
                )
                assert not full, "inbound list full"
            self.ib_cur_slot = current = self.advance(current)
            assert memory.write(self.ib_list + (current & mask) * self.ib_size, entry)
        self.put32(self.ib_shadow, 0xFFFF)
        self.write("inb_write_pointer", self.ib_cur_slot)

    def receive(self) -> list[Response]:
        """Take every new outbound entry and move outb_read_pointer past them."""
        copy = self.read("outb_copy_pointer")
        mask = self.bits.cl_slot_num_mask
        if self.chip.writes_ob_shadow and copy != self.ob_cur_slot:
            assert copy & mask == self.get32(self.ob_shadow), "ob_shadow disagrees"
        taken = []
        memory = self._memory
        while self.ob_cur_slot != copy:
            self.ob_cur_slot = self.advance(self.ob_cur_slot, self.ob_depth)
            slot = self.ob_cur_slot & mask
            raw = memory.read(self.ob_list + slot * self.ob_size, mv.RESPONSE_LENGTH)
            device_id, tag, status, flag, request_id = _RSP_FRAME.unpack_from(raw)
            sense_data = raw[_RSP_HEADER:] if flag == mv.CL_RSP_FLAG_SENSEDATA else b""
            taken.append(Response(device_id, tag, status, flag, request_id, sense_data, slot))
        if taken:
            self.write("outb_read_pointer", self.ob_cur_slot)
        return taken

    def run(self, frames: Sequence[bytes]) -> list[Response]:
        """Submit, let the machine run until idle, take the responses (polled mode)."""
        self.submit(frames)
        self.machine.run()
        return self.collect()

    def collect(self) -> list[Response]:
        """Acknowledge clic_irq and take the responses (the polled interrupt path)."""
        self.write("outb_isr_cause", self.read("outb_isr_cause") & self.bits.clic_irq)
        return self.receive()

    def command(
        self,
        cdb: bytes,
        *,
        target: int = 0,
        flag: int = mv.CommandFlag.CMD_FLAG_NON_DATA,
        segments: Sequence[tuple[int, int]] = (),
    ) -> Response:
        """One command (tag 0) run to its response."""
        frame = self.frame(cdb, tag=0, target=target, flag=flag, segments=segments)
        (response,) = self.run([frame])
        return response

    def data_in(
        self, cdb: bytes, length: int, *, target: int = 0, tag: int = 0
    ) -> tuple[Response, bytes]:
        """A DATA_IN command into a fresh buffer; the response and the data."""
        buffer = self.low.allocate(length, 64)
        self.put(buffer, b"\xee" * length)
        frame = self.frame(
            cdb,
            tag=tag,
            target=target,
            flag=mv.CommandFlag.CMD_FLAG_DATA_IN,
            segments=[(buffer, length)],
        )
        (response,) = self.run([frame])
        return response, self.get(buffer, length)

    def clear_unit_attention(self, target: int = 0) -> Response:
        """TEST UNIT READY once, to take the power-on unit attention."""
        return self.command(bytes(6), target=target)

    # -- interrupts -------------------------------------------------------------------------------

    @property
    def interrupt_input(self) -> int:
        return self.config_read(r.INTERRUPT_LINE, 1)

    def clear_interrupt(self) -> tuple[int, int]:
        """The driver's interrupt acknowledge: (main cause, doorbells), both W1C'd."""
        bits = self.bits
        cause = self.read("main_int_cause_reg")
        if not cause & bits.int_mu:
            return cause, 0
        if cause & bits.int_comaerr:
            errors = self.read("outb_isr_cause") & bits.list_errors
            if errors:
                self.write("outb_isr_cause", errors)
        if cause & bits.int_comaout:
            status = self.read("outb_isr_cause")
            if status & bits.clic_irq:
                self.write("outb_isr_cause", status & bits.clic_irq)
        doorbells = 0
        if cause & bits.int_dl_cpu2pciea:
            doorbells = self.read("arm_to_pciea_drbl_reg")
            if doorbells:
                self.write("arm_to_pciea_drbl_reg", doorbells)
        return cause, doorbells

    def take_interrupts(self) -> None:
        """Connect a platform handler that runs the driver's ISR and unmask the input."""
        machine = self.machine
        controller = INTERRUPT_CONTROLLER_BASE

        def handler() -> None:
            vector = machine.read(controller + ControllerRegister.ACKNOWLEDGE, 4)
            if vector == SPURIOUS_VECTOR:
                return
            self.interrupts_taken += 1
            cause, doorbells = self.clear_interrupt()
            self.doorbells_seen |= doorbells
            if cause & self.bits.int_comaout:
                self.responses.extend(self.receive())
            machine.write(controller + ControllerRegister.END_OF_INTERRUPT, 4, vector)

        machine.scheduler.interrupts.connect(handler)
        machine.interrupt_controller.unmask(self.interrupt_input)


# -- the RAM disk test double -------------------------------------------------------------------

_LBA10 = struct.Struct(">xxIxHx")


class RamDisk(LogicalUnit):
    """A disk on a bytearray: READ(10), WRITE(10), READ CAPACITY(10)."""

    peripheral_type = PeripheralType.DISK

    def __init__(self, name: str, blocks: int) -> None:
        super().__init__(name, product="RAM DISK")
        self.data = bytearray(blocks * BLOCK)
        self.blocks = blocks

    def _extent(self, request: SCSIRequest) -> tuple[int, int] | None:
        if len(request.cdb) < 10:
            self.fail(request, sense.INVALID_FIELD)
            return None
        lba, count = _LBA10.unpack(request.cdb[:10])
        if lba + count > self.blocks:
            self.fail(request, sense.LBA_OUT_OF_RANGE)
            return None
        if count * BLOCK > request.expected_length:
            self.fail(request, sense.INVALID_FIELD)
            return None
        return lba * BLOCK, count * BLOCK

    def _move(self, request: SCSIRequest, *, to_medium: bool) -> None:
        """Copy a READ(10)/WRITE(10) extent between the medium and the request's views."""
        extent = self._extent(request)
        if extent is None:
            return
        start, length = extent
        views = request.data_views(0, length)
        if views is None:
            return
        position = start
        for view in views:
            if to_medium:
                self.data[position : position + len(view)] = view
            else:
                view[:] = self.data[position : position + len(view)]
            position += len(view)
        request.transferred = length

    @command(Opcode.READ_10, medium_access=True)
    def read_10(self, request: SCSIRequest) -> None:
        self._move(request, to_medium=False)

    @command(Opcode.WRITE_10, medium_access=True)
    def write_10(self, request: SCSIRequest) -> None:
        self._move(request, to_medium=True)

    @command(Opcode.READ_CAPACITY_10)
    def read_capacity_10(self, request: SCSIRequest) -> None:
        request.send(struct.pack(">II", self.blocks - 1, BLOCK))


def ram_disk_target(name: str = "disk0", blocks: int = 4096) -> SCSITarget:
    return SCSITarget(name, {0: RamDisk(name, blocks)})


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", Opcode.READ_10, 0, lba, 0, blocks, 0)


def write10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", Opcode.WRITE_10, 0, lba, 0, blocks, 0)


def inquiry(length: int = 44) -> bytes:
    return bytes([Opcode.INQUIRY, 0, 0, 0, length, 0])
