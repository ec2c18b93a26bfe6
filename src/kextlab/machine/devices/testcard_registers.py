"""The kextlab test card: its datasheet.

The test card is kextlab's own PCI device, made to exercise every path a real
driver takes: configuration space, BAR decoding, register access, bus-master DMA,
INTx interrupts and an expansion ROM.  Nothing real is emulated, so everything here
is specified here.

Identity
--------
Vendor 0x1234 (the ID QEMU's own test and display devices use; no shipping product
answers 1234:4b4c), device 0x4B4C ("KL"), revision 1, class 0xFF0000 ("device does not
fit any defined class"), subsystem vendor 0x1234, subsystem ID set per card.

Configuration space
-------------------
=======  =====================================================================
BAR0     32-bit memory, non-prefetchable, 4 KiB: the registers below
BAR1     I/O, 32 bytes: registers 0x00-0x1F again, for port-I/O drivers
BAR2-3   64-bit memory, prefetchable, ``sram_size`` bytes: on-card SRAM, any width
ROM      16 KiB expansion ROM: a PCI expansion ROM image (code type 1, Open Firmware)
INTx     ``interrupt_pin`` (INTA# by default)
Caps     Power Management (PCI PM 1.2; PowerState bits writable, no other effect)
=======  =====================================================================

Registers (BAR0; 32-bit, little-endian, 32-bit accesses unless noted)
----------------------------------------------------------------------
======  =========================  ======  ==============================================
offset  name                       access  meaning
======  =========================  ======  ==============================================
0x00    IDENTIFICATION             RO      0x4B4C5443 ("KLTC" in ASCII hex)
0x04    VERSION                    RO      0x00010000: 1.0
0x08    CONTROL                    RW      bit 0 SOFT_RESET (self-clearing): stop the
                                           engine and clear every register below;
                                           bit 1 ABORT (self-clearing): stop the engine
                                           after the descriptor in progress
0x0C    STATUS                     RO      bit 0 BUSY: a descriptor list is running;
                                           bit 1 ERROR: the last list ended in an error
0x10    INTERRUPT_STATUS           W1C     bit 0 DONE: a descriptor list finished;
                                           bit 1 ERROR: it finished with an error;
                                           bit 2 SOFTWARE: set through INTERRUPT_SET
0x14    INTERRUPT_ENABLE           RW      which INTERRUPT_STATUS bits assert INTx
0x18    INTERRUPT_SET              WO      write 1s: set those INTERRUPT_STATUS bits
0x1C    DOORBELL                   WO      any write: run the descriptor list
0x20    DESCRIPTOR_ADDRESS_LOW     RW      physical address of the descriptor list,
0x24    DESCRIPTOR_ADDRESS_HIGH    RW      bits 31:0 and 63:32
0x28    DESCRIPTOR_LENGTH          RW      bytes in the list; a non-zero multiple of 32
0x2C    COMPLETION_STATUS          RO      ``Completion`` code of the last list
0x30    COMPLETED_DESCRIPTORS      RO      descriptors completed in the last list
0x34    ERROR_DESCRIPTOR           RO      index of the descriptor that failed
0x38    MISMATCH_OFFSET            RO      COMPARE: offset of the first differing byte
0x40    SCRATCH                    RW      64 bits; 1, 2, 4 and 8-byte accesses
======  =========================  ======  ==============================================

INTx is asserted while ``INTERRUPT_STATUS & INTERRUPT_ENABLE`` is non-zero; the
driver quiets the card by writing the bits back to INTERRUPT_STATUS.  (A fault
parameter, ``interrupt_wire_cut``, models a board whose INTx never reaches the bus:
the status bits still set, the interrupt never arrives.)

Descriptors (32 bytes each, little-endian, in host memory)
-----------------------------------------------------------
======  ====  =================================================================
offset  size  field
======  ====  =================================================================
0x00    1     opcode: 1 COPY, 2 FILL, 3 COMPARE
0x01    1     flags (reserved, must be 0)
0x02    2     reserved
0x04    4     status, written back by the card: bit 31 DONE, bits 7:0 ``Completion``
0x08    8     source address (COPY, COMPARE); FILL: the fill byte in bits 7:0
0x10    8     destination address (COPY, FILL), second operand (COMPARE)
0x18    8     length in bytes (at most ``max_transfer``)
======  ====  =================================================================

The card fetches a descriptor by DMA, spends ``descriptor_latency_ns`` plus the
transfer time at ``dma_rate_mib_per_s`` (plus seeded jitter, if configured), moves
the data, writes the status back, and goes on to the next.  A list stops at the
first error.  With ``dma_address_bits = 32`` the card drives only 32 address lines:
every address it puts on the bus (descriptor list, source, destination) is truncated
to its low 32 bits, silently, exactly as a real 32-bit device would.
"""

from __future__ import annotations

import enum
import struct
from typing import Final

VENDOR_ID: Final = 0x1234
DEVICE_ID: Final = 0x4B4C
REVISION_ID: Final = 0x01
CLASS_CODE: Final = 0xFF0000
SUBSYSTEM_VENDOR_ID: Final = 0x1234

IDENTIFICATION_VALUE: Final = 0x4B4C5443  # "KLTC" in the hex digits of the dword
VERSION_VALUE: Final = 0x00010000

REGISTER_BAR: Final = 0
REGISTER_BAR_SIZE: Final = 0x1000
PORT_BAR: Final = 1
PORT_BAR_SIZE: Final = 0x20
SRAM_BAR: Final = 2
ROM_SIZE: Final = 0x4000


class Register(enum.IntEnum):
    IDENTIFICATION = 0x00
    VERSION = 0x04
    CONTROL = 0x08
    STATUS = 0x0C
    INTERRUPT_STATUS = 0x10
    INTERRUPT_ENABLE = 0x14
    INTERRUPT_SET = 0x18
    DOORBELL = 0x1C
    DESCRIPTOR_ADDRESS_LOW = 0x20
    DESCRIPTOR_ADDRESS_HIGH = 0x24
    DESCRIPTOR_LENGTH = 0x28
    COMPLETION_STATUS = 0x2C
    COMPLETED_DESCRIPTORS = 0x30
    ERROR_DESCRIPTOR = 0x34
    MISMATCH_OFFSET = 0x38
    SCRATCH = 0x40


class Control(enum.IntFlag):
    SOFT_RESET = 0x1
    ABORT = 0x2


class Status(enum.IntFlag):
    BUSY = 0x1
    ERROR = 0x2


class Interrupt(enum.IntFlag):
    DONE = 0x1
    ERROR = 0x2
    SOFTWARE = 0x4


ALL_INTERRUPTS: Final = Interrupt.DONE | Interrupt.ERROR | Interrupt.SOFTWARE


class Opcode(enum.IntEnum):
    COPY = 1
    FILL = 2
    COMPARE = 3


class Completion(enum.IntEnum):
    """Outcome of a descriptor (written back) and of a list (COMPLETION_STATUS)."""

    SUCCESS = 0
    BAD_OPCODE = 1
    BAD_DESCRIPTOR_LIST = 2  # length zero or not a multiple of 32
    DESCRIPTOR_ABORT = 3  # master abort fetching or writing back a descriptor
    DATA_ABORT = 4  # master abort moving data
    MISMATCH = 5  # COMPARE found a difference
    TOO_LONG = 6  # length above max_transfer
    ABORTED = 7  # CONTROL.ABORT stopped the list


DESCRIPTOR: Final = struct.Struct("<BBHIQQQ")
DESCRIPTOR_SIZE: Final = DESCRIPTOR.size
DESCRIPTOR_STATUS_OFFSET: Final = 4
DESCRIPTOR_DONE: Final = 0x8000_0000

assert DESCRIPTOR_SIZE == 32
