"""The Marvell UMI chips as the driver sees them: ``mvumi.h``, written out for I/O Kit.

What a driver author keeps next to the code: register offsets per chip, bit names,
the handshake constants and pages, the frame layouts, the firmware's own commands.
Written from the protocol description (``shared/spec/scsi.md`` §2, which summarises
Linux ``drivers/scsi/mvumi.h``), not from the emulator: the driver and the chip
model share no code, so a misreading on either side shows up as a failing test, as
it would between a real driver and real silicon.  Names are Linux's (``struct
mvumi_hw_regs`` fields, ``DRBL_*``, ``HS_S_*``, ``CMD_FLAG_*``), so that this file
can be held next to ``mvumi.h``.

Two chips: the 88SE9143 (registers in BAR0, ob_shadow written by the firmware)
and the 88SE9580 (BAR2, other offsets and bits, no ob_shadow, a reset through
``reset_enable``/``reset_request``).  ``CHIPS`` maps the PCI device ID to its
``Chip``; everything else is common.

All structures are little-endian with natural C alignment; each has one
precompiled ``struct.Struct``.

Threading rules: constants only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

# -- identity ---------------------------------------------------------------------------------

PCI_VENDOR_ID_MARVELL_EXT: Final = 0x1B4B
PCI_DEVICE_ID_MARVELL_MV9143: Final = 0x9143
PCI_DEVICE_ID_MARVELL_MV9580: Final = 0x9580

#: ``IOPCIDevice.h``: the configuration offsets of BAR0 and BAR2, the keys
#: ``mapDeviceMemoryWithRegister`` takes.
kIOPCIConfigBaseAddress0: Final = 0x10
kIOPCIConfigBaseAddress2: Final = 0x18


# -- the chips --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chip:
    """One chip: where its registers are (``struct mvumi_hw_regs``) and what its bits
    mean (``mvumi_cfg_hw_reg``).  ``None``: the chip has no such register."""

    name: str
    device_id: int
    register_bar: int  # the configuration offset of the register BAR
    # registers
    main_int_cause_reg: int
    enpointa_mask_reg: int
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
    # bits
    int_comaout: int  # main_int_cause: new outbound entries
    int_comaerr: int  # main_int_cause: communication list error
    int_dl_cpu2pciea: int  # main_int_cause: a firmware doorbell
    int_mu: int  # the causes that are ours ("message unit")
    cl_pointer_toggle: int
    cl_slot_num_mask: int
    clic_irq: int  # outb_isr_cause: completion
    clic_in_err: int  # outb_isr_cause: inbound list error (0: none on this chip)
    clic_out_err: int  # outb_isr_cause: outbound list error
    #: The 9143's firmware DMA-writes the last outbound slot into ob_shadow.
    has_ob_shadow: bool
    #: Inbound room: the 9143 host compares inb_read_pointer with its own cursor;
    #: the 9580 firmware writes the free count into ib_shadow.
    inbound_room_from_read_pointer: bool

    @property
    def clic_errors(self) -> int:
        return self.clic_in_err | self.clic_out_err


MV9143: Final = Chip(
    name="88SE9143",
    device_id=PCI_DEVICE_ID_MARVELL_MV9143,
    register_bar=kIOPCIConfigBaseAddress0,
    main_int_cause_reg=0x20200,
    enpointa_mask_reg=0x2020C,
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
    int_comaout=1 << 8,
    int_comaerr=1 << 6,
    int_dl_cpu2pciea=1 << 1,
    int_mu=(1 << 1) | (1 << 8) | (1 << 6),
    cl_pointer_toggle=1 << 12,
    cl_slot_num_mask=0xFFF,
    clic_irq=1 << 1,
    clic_in_err=1 << 8,
    clic_out_err=1 << 12,
    has_ob_shadow=True,
    inbound_room_from_read_pointer=True,
)

MV9580: Final = Chip(
    name="88SE9580",
    device_id=PCI_DEVICE_ID_MARVELL_MV9580,
    register_bar=kIOPCIConfigBaseAddress2,
    main_int_cause_reg=0x10200,
    enpointa_mask_reg=0x1020C,
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
    int_comaout=1 << 4,
    int_comaerr=1 << 29,
    int_dl_cpu2pciea=1 << 12,
    int_mu=(1 << 12) | (1 << 4),
    cl_pointer_toggle=1 << 14,
    cl_slot_num_mask=0x3FFF,
    clic_irq=1 << 0,
    clic_in_err=0,
    clic_out_err=1 << 1,
    has_ob_shadow=False,
    inbound_room_from_read_pointer=False,
)

CHIPS: Final = {chip.device_id: chip for chip in (MV9143, MV9580)}

#: What the driver writes to arm_to_pciea_mask to let every doorbell through.
INT_DRBL_INT_MASK: Final = 0x3FFF_FFFF
#: main_int_cause of a chip that fell off the bus (every read returns all ones).
DEAD_CHIP: Final = 0xFFFF_FFFF
#: 9580 host reset: this bit in reset_enable, then in reset_request.
RESET_9580_BIT: Final = 0x10
#: The inbound-available count the 9580 firmware has not yet rewritten.
IB_SHADOW_INVALID: Final = 0xFFFF

# -- doorbells (both directions) ------------------------------------------------------------------

DRBL_HANDSHAKE: Final = 1 << 0
DRBL_SOFT_RESET: Final = 1 << 1
DRBL_BUS_CHANGE: Final = 1 << 2
DRBL_EVENT_NOTIFY: Final = 1 << 3
DRBL_MU_RESET: Final = 1 << 4

# -- the handshake --------------------------------------------------------------------------------

HANDSHAKE_SIGNATURE: Final = 0x5A5A_5A5A
HANDSHAKE_READYSTATE: Final = 0x55AA_5AA5
HANDSHAKE_DONESTATE: Final = 0x55AA_A55A

HS_STATUS_OK: Final = 1
HS_STATUS_ERR: Final = 2
HS_STATUS_INVALID: Final = 3

HS_S_START: Final = 1
HS_S_RESET: Final = 2
HS_S_PAGE_ADDR: Final = 3
HS_S_QUERY_PAGE: Final = 4
HS_S_SEND_PAGE: Final = 5
HS_S_END: Final = 6
HS_S_ABORT: Final = 7

HS_PAGE_FIRM_CAP: Final = 1
HS_PAGE_HOST_INFO: Final = 2
HS_PAGE_FIRM_CTL: Final = 3
HS_PAGE_CL_INFO: Final = 4
HS_PAGE_TOTAL: Final = 5


def HS_SET_STATE(state: int) -> int:
    return state & 0xFFFF


def HS_SET_STATUS(status: int) -> int:
    return (status & 0xFFFF) << 16


def HS_GET_STATE(message: int) -> int:
    return message & 0xFFFF


def HS_GET_STATUS(message: int) -> int:
    return (message >> 16) & 0xFFFF


#: Page 1, FIRM_CAP (firmware -> host): page_code, checksum, frame_length,
#: number_of_ports, max_devices_support, max_io_support, umi_ver, max_transfer_size,
#: fw_ver (major, minor, oem, build), cl_in_max_entry_size, cl_out_max_entry_size,
#: cl_inout_list_depth, total_pages, capability, reserved.
PAGE1_FIRM_CAP: Final = struct.Struct("<BBHHHHHI4IBBBBHH")
#: Page 2, HOST_INFO: header, host_type, host_cap, reserved[2], host_ver (major,
#: minor, build_number, reserved), system_io_bus, slot_number, intr_level,
#: intr_vector, seconds_since1970.
PAGE2_HOST_INFO: Final = struct.Struct("<BBHBB2x4I4IQ")
#: Page 3, FIRM_CTL: header, control, reserved[2], host_bufferaddr_l/h,
#: host_eventaddr_l/h.
PAGE3_FIRM_CTL: Final = struct.Struct("<BBHH2x4I")
#: Page 4, CL_INFO: header, ib_baseaddr_l/h, ob_baseaddr_l/h, ib_entry_size,
#: ob_entry_size, ob_depth, ib_depth.
PAGE4_CL_INFO: Final = struct.Struct("<BBHIIIIBBBB")
#: The page header every page starts with.
PAGE_HEADER: Final = struct.Struct("<BBH")
#: HSP_MAX_SIZE: the handshake page buffer holds the largest page.
HSP_MAX_SIZE: Final = max(
    PAGE1_FIRM_CAP.size, PAGE2_HOST_INFO.size, PAGE3_FIRM_CTL.size, PAGE4_CL_INFO.size
)

#: Page 2 host_type: the firmware knows Linux (3) and Windows; there is no code for
#: Mac OS X, and Marvell's own OS X driver had to say something: it says "Linux".
HOST_TYPE: Final = 3
#: Page 2 host_cap: the host wants dynamic-source inbound lists (only with DYN_SRC).
HOST_CAP_DYN_SRC: Final = 0x08

HS_CAPABILITY_SUPPORT_COMPACT_SG: Final = 1 << 4
HS_CAPABILITY_SUPPORT_PRD_HOST: Final = 1 << 5
HS_CAPABILITY_SUPPORT_DYN_SRC: Final = 1 << 6
HS_CAPABILITY_NEW_PAGE_IO_DEPTH_DEF: Final = 1 << 14

#: FW_MAX_DELAY: how long the firmware may take to boot or answer a step (seconds).
FW_MAX_DELAY: Final = 30

# -- frames ---------------------------------------------------------------------------------------

#: ``struct mvumi_msg_frame``: device_id, tag, cmd_flag, req_function, cdb_length,
#: sg_counts, data_transfer_length, request_id, reserved1, cdb[16]; SG list at +32.
MSG_FRAME: Final = struct.Struct("<HHBBBBIHH16s")
MAX_COMMAND_SIZE: Final = 16
CL_FUN_SCSI_CMD: Final = 0x1

CMD_FLAG_NON_DATA: Final = 1 << 0
CMD_FLAG_DMA: Final = 1 << 1
CMD_FLAG_PIO: Final = 1 << 2
CMD_FLAG_DATA_IN: Final = 1 << 3
CMD_FLAG_DATA_OUT: Final = 1 << 4
CMD_FLAG_PRDT_IN_HOST: Final = 1 << 5

#: ``struct mvumi_sgl``: baseaddr_l, baseaddr_h, flags, size.
SGL_ENTRY: Final = struct.Struct("<IIII")
SGD_EOT: Final = 1 << 27
MVUMI_MAX_SG_ENTRY: Final = 32
#: Where an entry's ``flags`` word is, for marking the last one.
SGL_FLAGS: Final = struct.Struct("<I")
SGL_FLAGS_OFFSET: Final = 8

#: ``struct mvumi_rsp_frame``: device_id, tag, req_status, rsp_flag, request_id;
#: the 18-byte fixed-format sense follows when rsp_flag is CL_RSP_FLAG_SENSEDATA.
RSP_FRAME: Final = struct.Struct("<HHBBH")
CL_RSP_FLAG_NODATA: Final = 0x0
CL_RSP_FLAG_SENSEDATA: Final = 0x1
MVUMI_SENSE_DATA_LENGTH: Final = 18  # sizeof(struct mvumi_sense_data)

assert (MSG_FRAME.size, SGL_ENTRY.size, RSP_FRAME.size) == (32, 16, 8)

# -- the firmware's own commands ----------------------------------------------------------------

#: APICDB0_EVENT / APICDB1_EVENT_GETEVENT: read the firmware's event log.
APICDB0_EVENT: Final = 0xF4
APICDB1_EVENT_GETEVENT: Final = 0
#: ``struct mvumi_event_req``: count, reserved[3], events[MAX_EVENTS_RETURNED].
EVENT_REQUEST_HEADER: Final = struct.Struct("<B3x")
MAX_EVENTS_RETURNED: Final = 6
#: ``struct mvumi_driver_event``: time_stamp, sequence_no, event_id, severity,
#: param_count, device_id, params[4], sense_data_length, Reserved1, sense_data[30].
DRIVER_EVENT: Final = struct.Struct("<IIIBBH4IBB30s")
EVENT_REQUEST_SIZE: Final = EVENT_REQUEST_HEADER.size + MAX_EVENTS_RETURNED * DRIVER_EVENT.size

#: The cache flush sent to each present target before the controller stops:
#: SCSI_CMD_MARVELL_SPECIFIC, CDB_CORE_MODULE, CDB_CORE_SHUTDOWN.
SCSI_CMD_MARVELL_SPECIFIC: Final = 0xE1
CDB_CORE_MODULE: Final = 0x1
CDB_CORE_SHUTDOWN: Final = 0xB

#: INQUIRY as mvumi_probe_devices sends it: 44 bytes (MVUMI_INQUIRY_LENGTH) into a
#: 64-byte buffer; 9580 targets carry an 8-byte unique ID at offset 36.
MVUMI_INQUIRY_LENGTH: Final = 44
MVUMI_INQUIRY_UUID_OFF: Final = 36
MVUMI_INQUIRY_UUID_LEN: Final = 8

assert EVENT_REQUEST_SIZE == 388
