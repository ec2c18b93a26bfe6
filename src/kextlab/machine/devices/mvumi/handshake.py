"""The firmware side of the Marvell UMI handshake: four checksummed pages over a mailbox.

Design
------
Before the firmware takes commands, host and firmware agree on limits and on where
the communication lists are.  The Linux driver (``mvumi_check_handshake`` ->
``mvumi_handshake``; ``shared/spec/scsi.md`` §2.2) runs it as a conversation of
mailbox steps.  Each step, the host writes ``pciea_to_arm_msg0 = OK << 16 | step``
(and msg1 as the step needs) and rings ``DRBL_HANDSHAKE``; the firmware does the
step, writes ``arm_to_pciea_msg0 = status << 16 | step`` and rings
``DRBL_HANDSHAKE`` back.  The host reads which step completed and sends the next:

=============  ====================================  ===================================
step           host sends                            firmware does
=============  ====================================  ===================================
HS_S_RESET     msg1 = HANDSHAKE_SIGNATURE            forgets any earlier handshake
HS_S_PAGE_ADDR page address: low word in             remembers where the page buffer is
               pciea_to_arm_msg1, high word in
               arm_to_pciea_msg1 (sic: the host
               writes the firmware's mailbox)
HS_S_QUERY_PAGE page_code 1 in the buffer's header   DMA-writes page 1, FIRM_CAP: its
                                                     limits, with checksum
HS_S_SEND_PAGE pages 2 HOST_INFO, 3 FIRM_CTL and     DMA-reads the page, checks code,
               4 CL_INFO, one per step               length and checksum, keeps it
HS_S_END       --                                    builds the lists from page 4 and
                                                     starts (DONESTATE in msg1)
=============  ====================================  ===================================

Every page starts with ``page_code, checksum, frame_length``; the checksum is the
XOR of the ``frame_length`` bytes after that header, and frame_length is the page
size less the header.  The host checks page 1 the same way.

The firmware is strict where real firmware must be, since it trusts nothing it
reads from host memory: a step out of order, a RESET without the signature, a page
with a bad code, length or checksum, a page 4 whose lists exceed what page 1
offered, a DMA that cannot reach the buffer: each answers HS_STATUS_ERR (and is a
guest error), leaving the handshake where it was, so the host can start over with
HS_S_RESET as the driver does.  A step number the firmware does not know (or a
status other than OK in the host's message) answers HS_STATUS_INVALID.

The class here holds the negotiation only; the firmware state machine
(``firmware.py``) owns the mailbox registers, the doorbells and what happens when
the handshake ends.

Threading rules: none; called from the firmware's scheduler events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kextlab.machine.devices.mvumi import registers as mv

_OK = mv.HandshakeStatus.HS_STATUS_OK
_ERR = mv.HandshakeStatus.HS_STATUS_ERR
_INVALID = mv.HandshakeStatus.HS_STATUS_INVALID
_S = mv.HandshakeState
_PAGE = mv.PageCode

#: The smallest entries that make sense: a frame header plus one SG entry inbound,
#: a response with its sense outbound.
MIN_INBOUND_ENTRY_CODE = 4  # 64 bytes
MIN_OUTBOUND_ENTRY_CODE = 3  # 32 bytes


class HostMemory(Protocol):
    """What the handshake needs of the PCI function: DMA and the guest-error channels."""

    def dma_view(self, address: int, length: int, *, writing: bool) -> memoryview | None: ...

    def guest_error(self, message: str) -> None: ...

    def unimplemented(self, message: str) -> None: ...


@dataclass(frozen=True)
class FirmwareCapabilities:
    """What page 1 (FIRM_CAP) tells the host."""

    max_devices: int
    max_io: int
    max_transfer: int
    inbound_entry_code: int  # cl_in_max_entry_size
    outbound_entry_code: int  # cl_out_max_entry_size
    list_depth: int  # cl_inout_list_depth
    number_of_ports: int = mv.NUMBER_OF_PORTS
    umi_version: int = mv.UMI_VERSION
    firmware_version: tuple[int, int, int, int] = mv.FIRMWARE_VERSION
    total_pages: int = mv.PageCode.HS_PAGE_TOTAL - 1
    capability: int = 0

    @property
    def inbound_entry_size(self) -> int:
        return mv.entry_size(self.inbound_entry_code)

    @property
    def outbound_entry_size(self) -> int:
        return mv.entry_size(self.outbound_entry_code)

    def page(self) -> bytes:
        """Page 1 as the firmware DMA-writes it, checksum included."""
        page = bytearray(mv.PAGE1_FIRM_CAP.size)
        mv.PAGE1_FIRM_CAP.pack_into(
            page,
            0,
            _PAGE.HS_PAGE_FIRM_CAP,
            0,
            mv.PAGE1_FIRM_CAP.size - mv.PAGE_HEADER.size,
            self.number_of_ports,
            self.max_devices,
            self.max_io,
            self.umi_version,
            self.max_transfer,
            *self.firmware_version,
            self.inbound_entry_code,
            self.outbound_entry_code,
            self.list_depth,
            self.total_pages,
            self.capability,
            0,
        )
        page[1] = mv.page_checksum(page[mv.PAGE_HEADER.size :])
        return bytes(page)


@dataclass(frozen=True)
class HostInfo:
    """Page 2 (HOST_INFO)."""

    host_type: int
    host_cap: int
    host_version: tuple[int, int, int, int]
    system_io_bus: int
    slot_number: int
    intr_level: int
    intr_vector: int
    seconds_since1970: int


@dataclass(frozen=True)
class FirmwareControl:
    """Page 3 (FIRM_CTL); the Linux driver sends it all zero."""

    control: int
    host_buffer_address: int
    host_event_address: int


@dataclass(frozen=True)
class ListConfiguration:
    """Page 4 (CL_INFO): where the communication lists are and their shape."""

    inbound_base: int
    outbound_base: int
    inbound_entry_size: int  # bytes
    outbound_entry_size: int
    inbound_depth: int
    outbound_depth: int


@dataclass(frozen=True)
class StepResult:
    """The answer to one step: the status to echo, and whether the handshake ended."""

    status: mv.HandshakeStatus
    finished: bool = False


@dataclass
class _Progress:
    reset: bool = False
    page_address: int | None = None
    capabilities_sent: bool = False
    pages: set[int] = field(default_factory=set)


class Handshake:
    """One firmware's handshake: the steps so far and the pages received."""

    def __init__(self, capabilities: FirmwareCapabilities, memory: HostMemory) -> None:
        self.capabilities = capabilities
        self._memory = memory
        self._progress = _Progress()
        self.host_info: HostInfo | None = None
        self.firmware_control: FirmwareControl | None = None
        self.lists: ListConfiguration | None = None

    @property
    def in_progress(self) -> bool:
        return self._progress.reset

    @property
    def page_address(self) -> int | None:
        return self._progress.page_address

    def restart(self) -> None:
        """Forget every step and page (a reset, or a new HS_S_RESET)."""
        self._progress = _Progress()
        self.host_info = None
        self.firmware_control = None
        self.lists = None

    def step(self, message0: int, message1: int, address_high: int) -> StepResult:
        """Do the step in ``message0``; ``message1`` and ``address_high`` carry its data."""
        state = mv.handshake_state(message0)
        status = mv.handshake_status(message0)
        if status != _OK:
            self._memory.guest_error(
                f"handshake message {message0:#010x} carries status {status}, not HS_STATUS_OK"
            )
            return StepResult(_INVALID)
        if state == _S.HS_S_RESET:
            return self._reset(message1)
        if state not in (
            _S.HS_S_PAGE_ADDR,
            _S.HS_S_QUERY_PAGE,
            _S.HS_S_SEND_PAGE,
            _S.HS_S_END,
            _S.HS_S_ABORT,
        ):
            self._memory.guest_error(f"handshake step {state} is not one the firmware knows")
            return StepResult(_INVALID)
        name = _S(state).name
        if not self._progress.reset:
            return self._refuse(f"{name} before HS_S_RESET")
        if state == _S.HS_S_ABORT:
            self.restart()
            return StepResult(_OK)
        if state == _S.HS_S_PAGE_ADDR:
            self._progress.page_address = address_high << 32 | message1
            return StepResult(_OK)
        address = self._progress.page_address
        if address is None:
            return self._refuse(f"{name} before HS_S_PAGE_ADDR")
        if state == _S.HS_S_QUERY_PAGE:
            return self._query_page(address)
        if state == _S.HS_S_SEND_PAGE:
            if not self._progress.capabilities_sent:
                return self._refuse("HS_S_SEND_PAGE before the host queried page 1")
            return self._receive_page(address)
        return self._end()

    # -- the steps ----------------------------------------------------------------------------

    def _refuse(self, reason: str) -> StepResult:
        self._memory.guest_error(f"handshake: {reason}")
        return StepResult(_ERR)

    def _reset(self, signature: int) -> StepResult:
        if signature != mv.HANDSHAKE_SIGNATURE:
            return self._refuse(
                f"HS_S_RESET with {signature:#010x} in pciea_to_arm_msg1, not the "
                f"signature {mv.HANDSHAKE_SIGNATURE:#010x}"
            )
        self.restart()
        self._progress.reset = True
        return StepResult(_OK)

    def _query_page(self, address: int) -> StepResult:
        header = self._memory.dma_view(address, mv.PAGE_HEADER.size, writing=False)
        if header is None:
            return self._refuse(f"the handshake page at {address:#x} is not reachable")
        page_code = header[0]
        if page_code != _PAGE.HS_PAGE_FIRM_CAP:
            return self._refuse(f"HS_S_QUERY_PAGE for page {page_code}; only page 1 is queried")
        page = self.capabilities.page()
        view = self._memory.dma_view(address, len(page), writing=True)
        if view is None:
            return self._refuse(f"page 1 cannot be written at {address:#x}")
        view[:] = page
        self._progress.capabilities_sent = True
        return StepResult(_OK)

    def _receive_page(self, address: int) -> StepResult:
        header = self._memory.dma_view(address, mv.PAGE_HEADER.size, writing=False)
        if header is None:
            return self._refuse(f"the handshake page at {address:#x} is not reachable")
        page_code, checksum, frame_length = mv.PAGE_HEADER.unpack_from(header)
        layout = _HOST_PAGES.get(page_code)
        if layout is None:
            return self._refuse(f"HS_S_SEND_PAGE with page code {page_code}; expected 2, 3 or 4")
        expected = layout.size - mv.PAGE_HEADER.size
        if frame_length != expected:
            return self._refuse(
                f"page {page_code} frame_length is {frame_length}, expected {expected}"
            )
        view = self._memory.dma_view(address, layout.size, writing=False)
        if view is None:
            return self._refuse(f"page {page_code} at {address:#x} is not reachable")
        computed = mv.page_checksum(view[mv.PAGE_HEADER.size :])
        if computed != checksum:
            return self._refuse(
                f"page {page_code} checksum is {checksum:#04x}, its content gives {computed:#04x}"
            )
        fields = layout.unpack_from(view)
        if page_code == _PAGE.HS_PAGE_HOST_INFO:
            accepted = self._host_info(fields)
        elif page_code == _PAGE.HS_PAGE_FIRM_CTL:
            accepted = self._firmware_control(fields)
        else:
            accepted = self._list_info(fields)
        if not accepted:
            return StepResult(_ERR)
        self._progress.pages.add(page_code)
        return StepResult(_OK)

    def _host_info(self, fields: tuple[int, ...]) -> bool:
        host_type, host_cap = fields[3], fields[4]
        if host_cap & mv.HOST_CAP_DYNAMIC_SOURCE:
            self._memory.guest_error(
                "page 2 asks for dynamic-source lists, which page 1 did not offer"
            )
            return False
        self.host_info = HostInfo(
            host_type,
            host_cap,
            (fields[5], fields[6], fields[7], fields[8]),
            fields[9],
            fields[10],
            fields[11],
            fields[12],
            fields[13],
        )
        return True

    def _firmware_control(self, fields: tuple[int, ...]) -> bool:
        control = fields[3]
        if control:
            self._memory.unimplemented(f"page 3 control {control:#06x} (ignored)")
        self.firmware_control = FirmwareControl(
            control, fields[5] << 32 | fields[4], fields[7] << 32 | fields[6]
        )
        return True

    def _list_info(self, fields: tuple[int, ...]) -> bool:
        ib_low, ib_high, ob_low, ob_high, ib_code, ob_code, ob_depth, ib_depth = fields[3:]
        capabilities = self.capabilities
        problems = []
        if not MIN_INBOUND_ENTRY_CODE <= ib_code <= capabilities.inbound_entry_code:
            problems.append(
                f"ib_entry_size {ib_code} outside {MIN_INBOUND_ENTRY_CODE}-"
                f"{capabilities.inbound_entry_code}"
            )
        if not MIN_OUTBOUND_ENTRY_CODE <= ob_code <= capabilities.outbound_entry_code:
            problems.append(
                f"ob_entry_size {ob_code} outside {MIN_OUTBOUND_ENTRY_CODE}-"
                f"{capabilities.outbound_entry_code}"
            )
        for name, depth in (("ib_depth", ib_depth), ("ob_depth", ob_depth)):
            if not 1 <= depth <= capabilities.list_depth:
                problems.append(f"{name} {depth} outside 1-{capabilities.list_depth}")
        if problems:
            self._memory.guest_error("page 4 refused: " + "; ".join(problems))
            return False
        self.lists = ListConfiguration(
            ib_high << 32 | ib_low,
            ob_high << 32 | ob_low,
            mv.entry_size(ib_code),
            mv.entry_size(ob_code),
            ib_depth,
            ob_depth,
        )
        return True

    def _end(self) -> StepResult:
        missing = sorted(set(_HOST_PAGES) - self._progress.pages)
        if missing:
            return self._refuse(
                "HS_S_END before the host sent page"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(str(page) for page in missing)
            )
        # The pages stay for the firmware to use; the steps start over, so that only a
        # new HS_S_RESET can begin another handshake.
        self._progress = _Progress()
        return StepResult(_OK, finished=True)


_HOST_PAGES = {
    _PAGE.HS_PAGE_HOST_INFO: mv.PAGE2_HOST_INFO,
    _PAGE.HS_PAGE_FIRM_CTL: mv.PAGE3_FIRM_CTL,
    _PAGE.HS_PAGE_CL_INFO: mv.PAGE4_CL_INFO,
}
