"""The host side of the Marvell UMI handshake: waking the firmware, the four pages.

Mirrors Linux ``mvumi_start`` -> ``mvumi_wait_for_fw`` -> ``mvumi_check_handshake``
-> ``mvumi_handshake`` (``shared/spec/scsi.md`` §2.2), in I/O Kit terms: registers
through the ``IOMemoryMap`` of the register BAR (``ioRead32``/``ioWrite32``), the
handshake page in an ``IOBufferMemoryDescriptor`` the chip reaches by DMA, polls
with ``IODelay`` and then ``IOSleep``.

Design
------
Before the firmware takes commands, host and firmware agree on limits and on where
the communication lists are, as a conversation of mailbox steps.  For each step the
host writes ``pciea_to_arm_msg0 = HS_STATUS_OK << 16 | step`` (and msg1 as the step
needs), rings ``DRBL_HANDSHAKE``, waits for the firmware to ring ``DRBL_HANDSHAKE``
back (write-1-to-clear), and reads in ``arm_to_pciea_msg0`` the step the firmware
completed and its status:

=================  ====================================================================
step               host
=================  ====================================================================
HS_S_RESET         msg1 = HANDSHAKE_SIGNATURE
HS_S_PAGE_ADDR     page address: low word in pciea_to_arm_msg1, high word in
                   arm_to_pciea_msg1 (sic: Linux writes the firmware's mailbox)
HS_S_QUERY_PAGE    page_code 1 in the page; the firmware fills in FIRM_CAP, whose
                   checksum the host verifies; the host then allocates the lists
HS_S_SEND_PAGE     pages 2 (HOST_INFO), 3 (FIRM_CTL), 4 (CL_INFO), one step each
HS_S_END           --
=================  ====================================================================

Linux runs this as an event loop (each echo dispatches the next step); here it is a
straight sequence, each echo checked against the step that was sent, because the
firmware never answers out of order: an echo of another step, or a status other
than OK, ends the handshake with the reason, which the driver logs.

*Interrupts.*  Linux enables the doorbell cause (``int_dl_cpu2pciea``) in
``mvumi_start`` and then polls anyway.  This driver polls with the cause masked in
``enpointa_mask``: the handshake also runs again after a reset, while the
controller's interrupt source is enabled, and an interrupt would let the filter
acknowledge the very doorbell the poll is waiting for.  ``StartController`` unmasks
the causes once the lists exist.

*Timing.*  Each wait polls quickly (``IODelay``) for the firmware's usual latency of
microseconds, then sleeps a millisecond at a time as Linux's loops do, and after
100 ms ten at a time, up to ``FW_MAX_DELAY`` (30 s, virtual).

*Page 2's clock.*  Linux puts ``do_gettimeofday`` into ``seconds_since1970`` (the
firmware stamps its events with it); kextlab's kernel has no calendar clock yet, so
the page carries the seconds since the machine started.

Threading rules: blocking (``IOSleep``); call from a kernel thread that may sleep,
without the work loop's gate (``InitializeController`` on the start thread, a reset
on the driver's management thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.kernel.clock import IODelay, IOSleep, mach_absolute_time

from . import registers as mv

if TYPE_CHECKING:
    from kextlab.kernel.memory.device_memory import IOMemoryMap

#: Polls before a waiting loop starts sleeping, and their spacing (µs); then a
#: millisecond at a time, as Linux's loops, and after that every 10 ms (a firmware
#: that takes seconds is not hurried by a tighter loop).
FAST_POLLS: Final = 50
FAST_POLL_US: Final = 2
SLOW_POLLS: Final = 100
SLOW_POLL_MS: Final = 10
#: The driver version page 2 reports (host_ver: major, minor, build, reserved).
DRIVER_VERSION: Final = (1, 0, 0, 0)
_SECOND_NS: Final = 1_000_000_000


def page_checksum(content: memoryview | bytes | bytearray) -> int:
    """XOR of the bytes after the page header (``mvumi_calculate_checksum``)."""
    value = 0
    for byte in content:
        value ^= byte
    return value


def entry_size(code: int) -> int:
    """Bytes in a list entry of size code ``code``: ``(1 << code) << 2``."""
    return (1 << code) << 2


@dataclass(frozen=True, slots=True)
class FirmwareCapabilities:
    """Page 1 (FIRM_CAP) as the firmware wrote it, and what the host derives from it
    (``mvumi_hs_process_page``)."""

    number_of_ports: int
    max_devices_support: int
    max_io_support: int
    umi_ver: int
    max_transfer_size: int
    fw_ver: tuple[int, int, int, int]
    cl_in_max_entry_size: int
    cl_out_max_entry_size: int
    cl_inout_list_depth: int
    total_pages: int
    capability: int

    @classmethod
    def from_page(cls, page: memoryview) -> FirmwareCapabilities | str:
        """Parse and check page 1; a string says why it cannot be used."""
        fields = mv.PAGE1_FIRM_CAP.unpack_from(page)
        page_code, checksum, frame_length = fields[:3]
        if page_code != mv.HS_PAGE_FIRM_CAP:
            return f"page 1 came back with page code {page_code}"
        if frame_length != mv.PAGE1_FIRM_CAP.size - mv.PAGE_HEADER.size:
            return f"page 1 frame_length is {frame_length}"
        computed = page_checksum(page[mv.PAGE_HEADER.size : mv.PAGE1_FIRM_CAP.size])
        if computed != checksum:
            return f"page 1 checksum is {checksum:#04x}, its content gives {computed:#04x}"
        capabilities = cls(
            number_of_ports=fields[3],
            max_devices_support=fields[4],
            max_io_support=fields[5],
            umi_ver=fields[6],
            max_transfer_size=fields[7],
            fw_ver=(fields[8], fields[9], fields[10], fields[11]),
            cl_in_max_entry_size=fields[12],
            cl_out_max_entry_size=fields[13],
            cl_inout_list_depth=fields[14],
            total_pages=fields[15] or mv.HS_PAGE_TOTAL - 1,
            capability=fields[16],
        )
        problem = capabilities._problem()
        return problem if problem is not None else capabilities

    def _problem(self) -> str | None:
        if not self.max_devices_support:
            return "page 1 offers no devices"
        if self.max_io < 2:
            return f"page 1 offers {self.max_io_support} commands in lists of {self.list_num_io}"
        if self.sg_tablesize < 1:
            return f"inbound entries of {self.ib_max_size} bytes hold no SG entry"
        if self.ob_max_size < mv.RSP_FRAME.size + mv.MVUMI_SENSE_DATA_LENGTH:
            return f"outbound entries of {self.ob_max_size} bytes hold no response with sense"
        if self.max_transfer_size < 512:
            return f"max_transfer_size {self.max_transfer_size} is less than a block"
        if self.capability & mv.HS_CAPABILITY_SUPPORT_DYN_SRC:
            return "the firmware asks for dynamic-source lists, which this driver lacks"
        return None

    @property
    def list_num_io(self) -> int:
        """Entries per list: the depth, log2-coded with NEW_PAGE_IO_DEPTH_DEF."""
        if self.capability & mv.HS_CAPABILITY_NEW_PAGE_IO_DEPTH_DEF:
            return 1 << self.cl_inout_list_depth
        return self.cl_inout_list_depth

    @property
    def max_io(self) -> int:
        """Commands the host may have outstanding: tags, as many as both the firmware
        and a list hold."""
        return min(self.max_io_support, self.list_num_io)

    @property
    def ib_max_size(self) -> int:
        return entry_size(self.cl_in_max_entry_size)

    @property
    def ob_max_size(self) -> int:
        return entry_size(self.cl_out_max_entry_size)

    @property
    def sg_tablesize(self) -> int:
        """SG entries one inbound entry holds after the frame header (at most 32)."""
        room = (self.ib_max_size - mv.MSG_FRAME.size) // mv.SGL_ENTRY.size
        return min(mv.MVUMI_MAX_SG_ENTRY, room)

    @property
    def firmware_version(self) -> str:
        return ".".join(str(part) for part in self.fw_ver)


@dataclass(frozen=True, slots=True)
class ListLayout:
    """Page 4 (CL_INFO): where the host put the lists, and their depth."""

    ib_base: int
    ob_base: int
    depth: int


class Handshake:
    """One run of the handshake against one chip (a new one after each reset)."""

    def __init__(
        self,
        registers: IOMemoryMap,
        chip: mv.Chip,
        page: memoryview,
        page_address: int,
        *,
        slot_number: int = 0,
        interrupt_line: int = 0,
    ) -> None:
        self._registers = registers
        self._chip = chip
        self._page = page
        self._page_address = page_address
        self._slot_number = slot_number
        self._interrupt_line = interrupt_line
        #: Why the last ``run``/``wait_for_firmware`` failed, for the log.
        self.failure = ""

    # -- registers ------------------------------------------------------------------------

    def _read(self, offset: int) -> int:
        return self._registers.ioRead32(offset)

    def _write(self, offset: int, value: int) -> None:
        self._registers.ioWrite32(offset, value)

    def _poll(self, ready: Callable[[], bool], timeout_s: int = mv.FW_MAX_DELAY) -> bool:
        """Wait until ``ready()``: fast polls, then a millisecond at a time."""
        for _ in range(FAST_POLLS):
            if ready():
                return True
            IODelay(FAST_POLL_US)
        deadline = mach_absolute_time() + timeout_s * _SECOND_NS
        polls = 0
        while not ready():
            if mach_absolute_time() >= deadline:
                return False
            polls += 1
            IOSleep(1 if polls <= SLOW_POLLS else SLOW_POLL_MS)
        return True

    # -- mvumi_start / mvumi_wait_for_fw ----------------------------------------------------

    def prepare(self) -> None:
        """Acknowledge stale doorbells and let every doorbell through its mask; the
        chip's interrupt causes stay masked (see the module docstring)."""
        chip = self._chip
        self._write(chip.enpointa_mask_reg, 0)
        self._write(chip.arm_to_pciea_drbl_reg, self._read(chip.arm_to_pciea_drbl_reg))
        self._write(chip.arm_to_pciea_mask_reg, mv.INT_DRBL_INT_MASK)

    def wait_for_firmware(self) -> bool:
        """Until the firmware says READYSTATE (or DONESTATE: a driver ran before),
        ringing DRBL_MU_RESET meanwhile as Linux does."""
        chip = self._chip

        def ready() -> bool:
            state = self._read(chip.arm_to_pciea_msg1)
            if state in (mv.HANDSHAKE_READYSTATE, mv.HANDSHAKE_DONESTATE):
                return True
            self._write(chip.pciea_to_arm_drbl_reg, mv.DRBL_MU_RESET)
            return False

        if self._poll(ready):
            return True
        state = self._read(chip.arm_to_pciea_msg1)
        self.failure = f"the firmware is not ready after {mv.FW_MAX_DELAY} s (msg1 {state:#010x})"
        return False

    # -- the steps --------------------------------------------------------------------------

    def _step(self, state: int, message1: int | None = None) -> bool:
        """Send one step and check the firmware's echo."""
        chip = self._chip
        if message1 is not None:
            self._write(chip.pciea_to_arm_msg1, message1)
        self._write(chip.pciea_to_arm_msg0, mv.HS_SET_STATUS(mv.HS_STATUS_OK) | state)
        self._write(chip.pciea_to_arm_drbl_reg, mv.DRBL_HANDSHAKE)

        def rang() -> bool:
            doorbells = self._read(chip.arm_to_pciea_drbl_reg)
            if doorbells:
                self._write(chip.arm_to_pciea_drbl_reg, doorbells)  # write 1 to clear
            return bool(doorbells & mv.DRBL_HANDSHAKE)

        if not self._poll(rang):
            self.failure = f"no answer to handshake step {state} in {mv.FW_MAX_DELAY} s"
            return False
        reply = self._read(chip.arm_to_pciea_msg0)
        status, echoed = mv.HS_GET_STATUS(reply), mv.HS_GET_STATE(reply)
        if status != mv.HS_STATUS_OK or echoed != state:
            self.failure = f"handshake step {state} answered with step {echoed}, status {status}"
            return False
        return True

    def run(
        self, allocate: Callable[[FirmwareCapabilities], ListLayout | None]
    ) -> FirmwareCapabilities | None:
        """The whole handshake.  ``allocate`` is called with page 1 to make the lists
        (``mvumi_init_data``) and returns their layout for page 4, or None (the
        handshake is then abandoned).  Returns page 1 once the firmware runs."""
        chip = self._chip
        if not self._step(mv.HS_S_RESET, mv.HANDSHAKE_SIGNATURE):
            return None
        self._write(chip.arm_to_pciea_msg1, self._page_address >> 32)
        if not self._step(mv.HS_S_PAGE_ADDR, self._page_address & 0xFFFF_FFFF):
            return None
        page = self._page
        page[: mv.HSP_MAX_SIZE] = bytes(mv.HSP_MAX_SIZE)
        page[0] = mv.HS_PAGE_FIRM_CAP
        if not self._step(mv.HS_S_QUERY_PAGE):
            return None
        capabilities = FirmwareCapabilities.from_page(page)
        if isinstance(capabilities, str):
            self.failure = capabilities
            return None
        layout = allocate(capabilities)
        if layout is None:
            self.failure = "no memory for the communication lists"
            return None
        for code in (mv.HS_PAGE_HOST_INFO, mv.HS_PAGE_FIRM_CTL, mv.HS_PAGE_CL_INFO):
            self._build_page(code, capabilities, layout)
            if not self._step(mv.HS_S_SEND_PAGE):
                return None
        if not self._step(mv.HS_S_END):
            return None
        return capabilities

    # -- pages 2 to 4 -------------------------------------------------------------------------

    def _build_page(
        self, code: int, capabilities: FirmwareCapabilities, layout: ListLayout
    ) -> None:
        page = self._page
        page[: mv.HSP_MAX_SIZE] = bytes(mv.HSP_MAX_SIZE)
        if code == mv.HS_PAGE_HOST_INFO:
            shape = mv.PAGE2_HOST_INFO
            shape.pack_into(
                page,
                0,
                code,
                0,
                shape.size - mv.PAGE_HEADER.size,
                mv.HOST_TYPE,
                0,  # host_cap: no dynamic source
                *DRIVER_VERSION,
                0,  # system_io_bus
                self._slot_number,
                self._interrupt_line,  # intr_level
                self._interrupt_line,  # intr_vector
                mach_absolute_time() // _SECOND_NS,
            )
        elif code == mv.HS_PAGE_FIRM_CTL:
            shape = mv.PAGE3_FIRM_CTL
            shape.pack_into(page, 0, code, 0, shape.size - mv.PAGE_HEADER.size, 0, 0, 0, 0, 0)
        else:
            shape = mv.PAGE4_CL_INFO
            depth = layout.depth
            if capabilities.capability & mv.HS_CAPABILITY_NEW_PAGE_IO_DEPTH_DEF:
                depth = depth.bit_length() - 1
            shape.pack_into(
                page,
                0,
                code,
                0,
                shape.size - mv.PAGE_HEADER.size,
                layout.ib_base & 0xFFFF_FFFF,
                layout.ib_base >> 32,
                layout.ob_base & 0xFFFF_FFFF,
                layout.ob_base >> 32,
                capabilities.cl_in_max_entry_size,
                capabilities.cl_out_max_entry_size,
                depth,  # ob_depth
                depth,  # ib_depth
            )
        page[1] = page_checksum(page[mv.PAGE_HEADER.size : shape.size])
