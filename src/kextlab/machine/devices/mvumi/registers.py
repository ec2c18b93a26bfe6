"""Marvell UMI (88SE9143 / 88SE9580): the datasheet.

Marvell published no datasheet for its "Universal Message Interface" RAID
controllers; what is public is the Linux ``mvumi`` driver (``drivers/scsi/mvumi.h``
and ``mvumi.c``, summarised in ``shared/spec/scsi.md`` §2).  This module collects
that interface as a datasheet would: register offsets per chip, bit names, the
handshake constants and pages, the frame formats.  Names are the driver's own
(``struct mvumi_hw_regs`` fields, ``DRBL_*``, ``HS_S_*``, ``CMD_FLAG_*``), so that a
reader can hold this file next to the driver.  Values the driver does not fix (the
PCI class code, the firmware's version and event codes) are the emulator's choice
and say so.

Identity
--------
Vendor 0x1B4B (``PCI_VENDOR_ID_MARVELL_EXT``), device 0x9143 or 0x9580, class
0x010400 (mass storage, RAID bus controller), revision 1, subsystem 0x1B4B:<device>.
The driver matches on vendor and device only; the class code is our choice (the
chips are sold as RAID controllers), not read from a real part.

Configuration space
-------------------
=======  ======================================================================
BAR0     9143: 32-bit memory, 1 MiB: the registers below (``REGISTER_BAR_SIZE``)
BAR2     9580: the same registers at the 9580 offsets (BAR0 is not implemented)
INTx     INTA#
=======  ======================================================================

The 1 MiB window covers every offset of ``struct mvumi_hw_regs`` (the highest,
``rstoutn_en_reg``, is 0xF1400).  Registers are 32 bits wide, little-endian, and take
32-bit accesses only (the driver uses ``ioread32``/``iowrite32``).

Registers
---------
======================  =======  =======  ======  ====================================
name                    9143     9580     access  meaning
======================  =======  =======  ======  ====================================
ctrl_sts_reg            0x20104  0x20104  RW      ARM control/status (no effect here)
rstoutn_mask_reg        0x20108  --       RW      (no effect here)
sys_soft_rst_reg        0x2010C  --       RW      (no effect here)
main_int_cause_reg      0x20200  0x10200  RO      pending causes & enpointa_mask:
                                                  int_dl_cpu2pciea (a doorbell),
                                                  int_comaout (completions),
                                                  int_comaerr (list errors)
enpointa_mask_reg       0x2020C  0x1020C  RW      which causes reach INTx
rstoutn_en_reg          0xF1400  0xF1400  RW      (no effect here)
pciea_to_arm_drbl_reg   0x20400  0x10460  W1S     host-to-firmware doorbell (DRBL_*)
arm_to_pciea_drbl_reg   0x20408  0x10480  W1C     firmware-to-host doorbell (DRBL_*)
arm_to_pciea_mask_reg   0x2040C  0x10484  RW      doorbell bits that raise the cause
pciea_to_arm_msg0       0x20430  0x10400  RW      host-to-firmware mailbox
pciea_to_arm_msg1       0x20434  0x10404  RW      host-to-firmware mailbox
arm_to_pciea_msg0       0x20438  0x10420  RO      firmware-to-host mailbox: the
                                                  handshake step just completed
arm_to_pciea_msg1       0x2043C  0x10424  RW      firmware state signature; the host
                                                  writes the handshake page's
                                                  address high word here (sic)
reset_request           --       0x10108  RW      9580 chip reset: 0x10 here while
reset_enable            --       0x1010C  RW      0x10 is set in reset_enable
inb_aval_count_basel    0x508    0x4008   RW      address of ib_shadow (host memory),
inb_aval_count_baseh    0x50C    0x400C   RW      which gets the free inbound entries
inb_write_pointer       0x518    0x4018   RW      doorbell: last inbound slot written
inb_read_pointer        0x51C    0x401C   RO      last inbound slot the firmware took
outb_copy_basel         0x5B0    0x4058   RW      address of ob_shadow (host memory),
outb_copy_baseh         0x5B4    0x405C   RW      9143: gets the last outbound slot
outb_copy_pointer       0x544    0x406C   RO      last outbound slot the firmware wrote
outb_read_pointer       0x548    0x4070   RW      last outbound slot the host took
outb_isr_cause          0x560    0x4088   W1C     clic_irq, clic_in_err, clic_out_err
outb_coal_cfg           0x568    0x4080   RW      coalescing (not implemented)
======================  =======  =======  ======  ====================================

Interrupts: ``main_int_cause_reg`` shows int_dl_cpu2pciea while
``arm_to_pciea_drbl & arm_to_pciea_mask`` is non-zero, int_comaout while
``outb_isr_cause`` has clic_irq, int_comaerr while it has clic_in_err or
clic_out_err; each only if enabled in ``enpointa_mask_reg``.  INTx is asserted
while ``main_int_cause & int_mu`` is non-zero (on the 9580, int_mu leaves out
int_comaerr).  The driver quiets the chip by writing the bits back to the two W1C
registers.

Slot pointers
-------------
``pointer = slot | toggle``: the slot index in the low bits (``cl_slot_num_mask``)
and a toggle bit (``cl_pointer_toggle``) that flips each time the pointer wraps.
Both lists start at ``(depth - 1) | toggle``, so the first slot used is 0 with the
toggle clear.  ``kextlab.machine.devices.mvumi.rings`` has the arithmetic.

Host memory structures
----------------------
All little-endian, natural C alignment.  The handshake pages (``PAGE*``), the
inbound frame (``MSG_FRAME`` + ``SGL_ENTRY`` x sg_counts), the response frame
(``RSP_FRAME`` + 18-byte fixed-format sense), the event list (``EVENT_REQUEST`` +
``DRIVER_EVENT`` x count) are below, each as a precompiled ``struct.Struct``.

Firmware responses the driver does not define
----------------------------------------------
The response frame carries a SAM status byte and, with CHECK CONDITION, 18 bytes of
fixed-format sense; the protocol has no residual and no host status.  So failures
below the SCSI layer are reported as CHECK CONDITION with these sense codes (the
emulator's choice, in the way RAID firmware reports them):

=================================  =====================================================
failure                            response
=================================  =====================================================
no device at the target ID         ILLEGAL REQUEST 25/00 LOGICAL UNIT NOT SUPPORTED
target ID >= max_devices_support   the same, and a guest error
DMA fault moving data or SG list   ABORTED COMMAND 4B/00 DATA PHASE ERROR
command aborted                    ABORTED COMMAND 00/00
bus reset ended the command        UNIT ATTENTION 29/02 SCSI BUS RESET OCCURRED
malformed frame                    ILLEGAL REQUEST 24/00 INVALID FIELD IN CDB
unknown req_function               ILLEGAL REQUEST 20/00 INVALID COMMAND OPERATION CODE
=================================  =====================================================

SCSI statuses from the targets (GOOD, CHECK CONDITION with their sense, BUSY, TASK
SET FULL, RESERVATION CONFLICT) pass through unchanged.  The firmware holds at most
``max_io_support`` commands; inbound entries beyond that stay in the list until a
command finishes (``inb_read_pointer`` does not move past them), which is how the
chip pushes back.

A frame the firmware cannot even read (the inbound list is not in RAM) gets no
response at all: the firmware sets clic_in_err (int_comaerr) and the command times
out on the host, as the driver's comment on int_comaerr says.  A response it cannot
write sets clic_out_err the same way.

Firmware commands and notifications
-----------------------------------
Two CDBs never reach a target: ``F4 00`` (APICDB0_EVENT, APICDB1_EVENT_GETEVENT), a
DATA_IN answered with the event log as ``struct mvumi_event_req``, and ``E1 01 0B``
(the shutdown flush), GOOD when a target is present at the frame's device_id.  When
a target comes or goes the firmware logs an event and rings DRBL_BUS_CHANGE and
DRBL_EVENT_NOTIFY; the driver rescans with INQUIRY, which fails for empty IDs.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

# -- identity -----------------------------------------------------------------------------------

VENDOR_ID: Final = 0x1B4B  # PCI_VENDOR_ID_MARVELL_EXT
DEVICE_ID_9143: Final = 0x9143  # PCI_DEVICE_ID_MARVELL_MV9143
DEVICE_ID_9580: Final = 0x9580  # PCI_DEVICE_ID_MARVELL_MV9580
CLASS_CODE: Final = 0x010400  # mass storage, RAID bus controller (our choice, see above)
REVISION_ID: Final = 0x01
SUBSYSTEM_VENDOR_ID: Final = VENDOR_ID
REGISTER_BAR_SIZE: Final = 0x10_0000  # covers rstoutn_en_reg at 0xF1400


# -- register maps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterMap:
    """Offsets of one chip's registers in its register BAR (``struct mvumi_hw_regs``).

    None: the chip has no register at a known offset under that name (the 9580's
    reset_request/reset_enable sit where the 9143's sys_soft_rst/rstoutn_mask are).
    """

    ctrl_sts_reg: int
    rstoutn_mask_reg: int | None
    sys_soft_rst_reg: int | None
    main_int_cause_reg: int
    enpointa_mask_reg: int
    rstoutn_en_reg: int
    pciea_to_arm_drbl_reg: int
    arm_to_pciea_drbl_reg: int
    arm_to_pciea_mask_reg: int
    pciea_to_arm_msg0: int
    pciea_to_arm_msg1: int
    arm_to_pciea_msg0: int
    arm_to_pciea_msg1: int
    reset_request: int | None
    reset_enable: int | None
    inb_aval_count_basel: int
    inb_aval_count_baseh: int
    inb_write_pointer: int
    inb_read_pointer: int
    outb_copy_basel: int
    outb_copy_baseh: int
    outb_copy_pointer: int
    outb_read_pointer: int
    outb_isr_cause: int
    outb_coal_cfg: int


REGISTERS_9143: Final = RegisterMap(
    ctrl_sts_reg=0x20104,
    rstoutn_mask_reg=0x20108,
    sys_soft_rst_reg=0x2010C,
    main_int_cause_reg=0x20200,
    enpointa_mask_reg=0x2020C,
    rstoutn_en_reg=0xF1400,
    pciea_to_arm_drbl_reg=0x20400,
    arm_to_pciea_drbl_reg=0x20408,
    arm_to_pciea_mask_reg=0x2040C,
    pciea_to_arm_msg0=0x20430,
    pciea_to_arm_msg1=0x20434,
    arm_to_pciea_msg0=0x20438,
    arm_to_pciea_msg1=0x2043C,
    reset_request=None,
    reset_enable=None,
    inb_aval_count_basel=0x508,
    inb_aval_count_baseh=0x50C,
    inb_write_pointer=0x518,
    inb_read_pointer=0x51C,
    outb_copy_basel=0x5B0,
    outb_copy_baseh=0x5B4,
    outb_copy_pointer=0x544,
    outb_read_pointer=0x548,
    outb_isr_cause=0x560,
    outb_coal_cfg=0x568,
)

REGISTERS_9580: Final = RegisterMap(
    ctrl_sts_reg=0x20104,
    rstoutn_mask_reg=None,  # 0x1010C: reset_enable
    sys_soft_rst_reg=None,  # 0x10108: reset_request
    main_int_cause_reg=0x10200,
    enpointa_mask_reg=0x1020C,
    rstoutn_en_reg=0xF1400,
    pciea_to_arm_drbl_reg=0x10460,
    arm_to_pciea_drbl_reg=0x10480,
    arm_to_pciea_mask_reg=0x10484,
    pciea_to_arm_msg0=0x10400,
    pciea_to_arm_msg1=0x10404,
    arm_to_pciea_msg0=0x10420,
    arm_to_pciea_msg1=0x10424,
    reset_request=0x10108,
    reset_enable=0x1010C,
    inb_aval_count_basel=0x4008,
    inb_aval_count_baseh=0x400C,
    inb_write_pointer=0x4018,
    inb_read_pointer=0x401C,
    outb_copy_basel=0x4058,
    outb_copy_baseh=0x405C,
    outb_copy_pointer=0x406C,
    outb_read_pointer=0x4070,
    outb_isr_cause=0x4088,
    outb_coal_cfg=0x4080,
)


@dataclass(frozen=True)
class ChipBits:
    """The bit settings of ``mvumi_cfg_hw_reg`` ("Bit setting for HW")."""

    int_comaout: int  # main_int_cause: outbound list has new entries
    int_comaerr: int  # main_int_cause: communication list error
    int_dl_cpu2pciea: int  # main_int_cause: firmware-to-host doorbell
    cl_pointer_toggle: int
    cl_slot_num_mask: int
    clic_irq: int  # outb_isr_cause: completion interrupt
    clic_in_err: int  # outb_isr_cause: inbound list error (0: the chip has none)
    clic_out_err: int  # outb_isr_cause: outbound list error
    int_mu: int  # the causes that raise INTx ("message unit" causes)
    int_drbl_int_mask: int = 0x3FFF_FFFF  # what the driver writes to arm_to_pciea_mask

    @property
    def list_errors(self) -> int:
        return self.clic_in_err | self.clic_out_err


BITS_9143: Final = ChipBits(
    int_comaout=1 << 8,
    int_comaerr=1 << 6,
    int_dl_cpu2pciea=1 << 1,
    cl_pointer_toggle=1 << 12,
    cl_slot_num_mask=0xFFF,
    clic_irq=1 << 1,
    clic_in_err=1 << 8,
    clic_out_err=1 << 12,
    int_mu=(1 << 1) | (1 << 8) | (1 << 6),  # int_dl_cpu2pciea | int_comaout | int_comaerr
)

BITS_9580: Final = ChipBits(
    int_comaout=1 << 4,
    int_comaerr=1 << 29,
    int_dl_cpu2pciea=1 << 12,
    cl_pointer_toggle=1 << 14,
    cl_slot_num_mask=0x3FFF,
    clic_irq=1 << 0,
    clic_in_err=0,
    clic_out_err=1 << 1,
    int_mu=(1 << 12) | (1 << 4),  # int_dl_cpu2pciea | int_comaout
)


@dataclass(frozen=True)
class Chip:
    """One member of the family: identity, where its registers are, what they mean."""

    name: str
    device_id: int
    register_bar: int
    registers: RegisterMap
    bits: ChipBits
    #: The 9143 firmware DMA-writes the outbound slot it just filled into ob_shadow
    #: (the driver spins until ``outb_copy_pointer & mask == *ob_shadow``); the 9580's
    #: driver never programs outb_copy_base.
    writes_ob_shadow: bool


MV9143: Final = Chip("88SE9143", DEVICE_ID_9143, 0, REGISTERS_9143, BITS_9143, True)
MV9580: Final = Chip("88SE9580", DEVICE_ID_9580, 2, REGISTERS_9580, BITS_9580, False)

#: 9580 chip reset: writing this bit to reset_request while it is set in reset_enable.
RESET_9580_BIT: Final = 0x10


# -- doorbells (both directions) ----------------------------------------------------------------


class Doorbell(enum.IntFlag):
    DRBL_HANDSHAKE = 1 << 0
    DRBL_SOFT_RESET = 1 << 1
    DRBL_BUS_CHANGE = 1 << 2
    DRBL_EVENT_NOTIFY = 1 << 3
    DRBL_MU_RESET = 1 << 4


# -- firmware state and the handshake ---------------------------------------------------------

#: arm_to_pciea_msg1 values: what the firmware is doing.
HANDSHAKE_SIGNATURE: Final = 0x5A5A_5A5A  # host -> firmware with HS_S_RESET
HANDSHAKE_READYSTATE: Final = 0x55AA_5AA5  # booted, waiting for a handshake
HANDSHAKE_DONESTATE: Final = 0x55AA_A55A  # handshake done, running


class HandshakeStatus(enum.IntEnum):
    HS_STATUS_OK = 1
    HS_STATUS_ERR = 2
    HS_STATUS_INVALID = 3


class HandshakeState(enum.IntEnum):
    """HS_S_*: the step a mailbox message asks for, and the one the firmware echoes."""

    HS_S_START = 1  # host-internal: never sent
    HS_S_RESET = 2
    HS_S_PAGE_ADDR = 3
    HS_S_QUERY_PAGE = 4
    HS_S_SEND_PAGE = 5
    HS_S_END = 6
    HS_S_ABORT = 7


def handshake_message(status: int, state: int) -> int:
    """msg0 format: ``state & 0xFFFF | status << 16`` (HS_SET_STATE / HS_SET_STATUS)."""
    return (state & 0xFFFF) | (status & 0xFFFF) << 16


def handshake_state(message: int) -> int:
    return message & 0xFFFF  # HS_GET_STATE


def handshake_status(message: int) -> int:
    return (message >> 16) & 0xFFFF  # HS_GET_STATUS


class PageCode(enum.IntEnum):
    HS_PAGE_FIRM_CAP = 1  # firmware -> host: capabilities
    HS_PAGE_HOST_INFO = 2  # host -> firmware
    HS_PAGE_FIRM_CTL = 3  # host -> firmware
    HS_PAGE_CL_INFO = 4  # host -> firmware: communication list addresses
    HS_PAGE_TOTAL = 5


#: Every page starts ``u8 page_code, u8 checksum, u16 frame_length``; frame_length is
#: the page's size minus this header; checksum is the XOR of those frame_length bytes.
PAGE_HEADER: Final = struct.Struct("<BBH")

#: Page 1, FIRM_CAP: page_code, checksum, frame_length, number_of_ports,
#: max_devices_support, max_io_support, umi_ver, max_transfer_size, fw_ver (major,
#: minor, oem, build), cl_in_max_entry_size, cl_out_max_entry_size,
#: cl_inout_list_depth, total_pages (0 means 4), capability, reserved1.
PAGE1_FIRM_CAP: Final = struct.Struct("<BBHHHHHI4IBBBBHH")
#: Page 2, HOST_INFO: header, host_type, host_cap, 2 reserved, host_ver (4 x u32),
#: system_io_bus, slot_number, intr_level, intr_vector, seconds_since1970 (u64).
PAGE2_HOST_INFO: Final = struct.Struct("<BBHBB2x4I4IQ")
#: Page 3, FIRM_CTL: header, control, 2 reserved, host_bufferaddr_l/h,
#: host_eventaddr_l/h.
PAGE3_FIRM_CTL: Final = struct.Struct("<BBHH2x4I")
#: Page 4, CL_INFO: header, ib_baseaddr_l/h, ob_baseaddr_l/h, ib_entry_size,
#: ob_entry_size (both log2-coded, see ``entry_size``), ob_depth, ib_depth.
PAGE4_CL_INFO: Final = struct.Struct("<BBHIIIIBBBB")
#: The host's handshake page buffer: the largest page (HSP_MAX_SIZE).
HSP_MAX_SIZE: Final = max(
    PAGE1_FIRM_CAP.size, PAGE2_HOST_INFO.size, PAGE3_FIRM_CTL.size, PAGE4_CL_INFO.size
)

assert (PAGE1_FIRM_CAP.size, PAGE2_HOST_INFO.size) == (40, 48)
assert (PAGE3_FIRM_CTL.size, PAGE4_CL_INFO.size, HSP_MAX_SIZE) == (24, 24, 48)

#: Host type in page 2 ("3 mean linux").
HOST_TYPE_LINUX: Final = 3
#: Page 2 host_cap: the host asks for dynamic-source inbound lists.
HOST_CAP_DYNAMIC_SOURCE: Final = 0x08


def page_checksum(content: bytes | bytearray | memoryview) -> int:
    """XOR of the bytes after the page header (``mvumi_calculate_checksum``)."""
    value = 0
    for byte in content:
        value ^= byte
    return value


def entry_size(code: int) -> int:
    """Bytes in a list entry of size code ``code``: ``(1 << code) << 2``."""
    return (1 << code) << 2


class Capability(enum.IntFlag):
    """Page 1 ``capability`` (HS_CAPABILITY_*).  The emulated firmware reports none."""

    HS_CAPABILITY_SUPPORT_COMPACT_SG = 1 << 4  # 12-byte SG entries, EOT at bit 22
    HS_CAPABILITY_SUPPORT_PRD_HOST = 1 << 5
    HS_CAPABILITY_SUPPORT_DYN_SRC = 1 << 6  # the IB list holds pointers to frames
    HS_CAPABILITY_NEW_PAGE_IO_DEPTH_DEF = 1 << 14  # list depths are log2-coded


#: The emulated firmware's version in page 1 (emulator-defined) and UMI version.
FIRMWARE_VERSION: Final = (1, 1, 0, 2011)
UMI_VERSION: Final = 1
#: One SCSI bus behind the firmware.
NUMBER_OF_PORTS: Final = 1


# -- inbound frames ------------------------------------------------------------------------------

#: ``struct mvumi_msg_frame``: device_id (target | lun << 8), tag, cmd_flag,
#: req_function, cdb_length, sg_counts, data_transfer_length, request_id, reserved1,
#: cdb[16]; the SG list follows at +32.
MSG_FRAME: Final = struct.Struct("<HHBBBBIHH16s")
MAX_COMMAND_SIZE: Final = 16
CL_FUN_SCSI_CMD: Final = 0x1  # req_function: a SCSI command


class CommandFlag(enum.IntFlag):
    """``cmd_flag`` (CMD_FLAG_*)."""

    CMD_FLAG_NON_DATA = 1 << 0
    CMD_FLAG_DMA = 1 << 1
    CMD_FLAG_PIO = 1 << 2
    CMD_FLAG_DATA_IN = 1 << 3  # the host reads data
    CMD_FLAG_DATA_OUT = 1 << 4  # the host writes data
    CMD_FLAG_PRDT_IN_HOST = 1 << 5


#: ``struct mvumi_sgl``: baseaddr_l, baseaddr_h, flags, size; EOT marks the last.
SGL_ENTRY: Final = struct.Struct("<IIII")
SGD_EOT: Final = 1 << 27
#: Compact SG entries (12 bytes, size in flags & 0x3FFFFF, EOT at bit 22) exist only
#: with HS_CAPABILITY_SUPPORT_COMPACT_SG, which the emulated firmware does not offer.
SGD_EOT_COMPACT: Final = 1 << 22
MVUMI_MAX_SG_ENTRY: Final = 32

#: ``struct mvumi_dyn_list_entry`` (DYN_SRC only, not offered): src_low_addr,
#: src_high_addr, if_length (frame length >> 2), reserve.
DYN_LIST_ENTRY: Final = struct.Struct("<IIII")


def max_sg_entries(inbound_entry_size: int) -> int:
    """SG entries that fit an inbound entry after the 32-byte frame header."""
    return min(MVUMI_MAX_SG_ENTRY, (inbound_entry_size - MSG_FRAME.size) // SGL_ENTRY.size)


# -- outbound (response) frames -----------------------------------------------------------------

#: ``struct mvumi_rsp_frame``: device_id, tag, req_status (SAM status), rsp_flag,
#: request_id; with CL_RSP_FLAG_SENSEDATA the 18-byte fixed-format sense follows.
RSP_FRAME: Final = struct.Struct("<HHBBH")
CL_RSP_FLAG_NODATA: Final = 0x0
CL_RSP_FLAG_SENSEDATA: Final = 0x1
SENSE_DATA_LENGTH: Final = 18  # struct mvumi_sense_data
RESPONSE_LENGTH: Final = RSP_FRAME.size + SENSE_DATA_LENGTH


# -- firmware API commands ------------------------------------------------------------------------

#: CDB[0] of the firmware's event API, CDB[1] the function.
APICDB0_EVENT: Final = 0xF4
APICDB1_EVENT_GETEVENT: Final = 0  # returns an EVENT_REQUEST
APICDB1_HOST_GETEVENT: Final = 1  # hot-plug bitmaps (not implemented: unused by drivers)
#: The flush sent per target at shutdown: CDB E1 01 0B.
SCSI_CMD_MARVELL_SPECIFIC: Final = 0xE1
CDB_CORE_MODULE: Final = 0x1
CDB_CORE_SHUTDOWN: Final = 0xB

#: ``struct mvumi_event_req``: count, 3 reserved, then up to MAX_EVENTS_RETURNED events.
EVENT_REQUEST: Final = struct.Struct("<B3x")
MAX_EVENTS_RETURNED: Final = 6
#: ``struct mvumi_driver_event``: time_stamp, sequence_no, event_id, severity,
#: param_count, device_id, params[4], sense_data_length, Reserved1, sense_data[30].
DRIVER_EVENT: Final = struct.Struct("<IIIBBH4IBB30s")
EVENT_PARAMETERS: Final = 4
EVENT_SENSE_LENGTH: Final = 30
EVENT_REQUEST_SIZE: Final = EVENT_REQUEST.size + MAX_EVENTS_RETURNED * DRIVER_EVENT.size

assert (MSG_FRAME.size, RSP_FRAME.size, DRIVER_EVENT.size, EVENT_REQUEST_SIZE) == (32, 8, 64, 388)


class EventId(enum.IntEnum):
    """Event codes the emulated firmware reports (Marvell's own codes are not public)."""

    DEVICE_ARRIVAL = 0x0001  # device_id: the target that appeared
    DEVICE_REMOVAL = 0x0002  # device_id: the target that went away
    DEVICE_ERROR = 0x0010  # posted by fault injection


class EventSeverity(enum.IntEnum):
    """Event severities (emulator-defined, ordered like syslog's)."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4
