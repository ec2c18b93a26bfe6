"""PCI configuration space: register offsets and bits (PCI Local Bus Specification 3.0).

A data module, read like the specification's tables.  Names follow the spec (and
Linux's ``pci_regs.h`` where the spec has none); I/O Kit's own names for the same
registers (``kIOPCIConfigVendorID`` ...) belong to the kernel's IOPCIFamily.

Common header (both types)::

    0x00 Vendor ID        0x02 Device ID
    0x04 Command          0x06 Status
    0x08 Revision ID      0x09 Class Code (prog-if, subclass, base class)
    0x0C Cache Line Size  0x0D Latency Timer   0x0E Header Type   0x0F BIST

Type 0 (endpoint)::

    0x10-0x24 Base Address Registers 0-5
    0x28 CardBus CIS      0x2C Subsystem Vendor ID   0x2E Subsystem ID
    0x30 Expansion ROM Base Address
    0x34 Capabilities Pointer
    0x3C Interrupt Line   0x3D Interrupt Pin   0x3E Min_Gnt   0x3F Max_Lat

Type 1 (PCI-to-PCI bridge)::

    0x10-0x14 Base Address Registers 0-1
    0x18 Primary Bus Number   0x19 Secondary Bus Number   0x1A Subordinate Bus Number
    0x1B Secondary Latency Timer
    0x1C I/O Base   0x1D I/O Limit   0x1E Secondary Status
    0x20 Memory Base   0x22 Memory Limit
    0x24 Prefetchable Memory Base   0x26 Prefetchable Memory Limit
    0x28 Prefetchable Base Upper 32 Bits   0x2C Prefetchable Limit Upper 32 Bits
    0x30 I/O Base Upper 16 Bits   0x32 I/O Limit Upper 16 Bits
    0x34 Capabilities Pointer   0x38 Expansion ROM Base Address
    0x3C Interrupt Line   0x3D Interrupt Pin   0x3E Bridge Control
"""

from __future__ import annotations

from typing import Final

CONFIG_SPACE_SIZE: Final = 256

# -- common header ----------------------------------------------------------------------
VENDOR_ID: Final = 0x00
DEVICE_ID: Final = 0x02
COMMAND: Final = 0x04
STATUS: Final = 0x06
REVISION_ID: Final = 0x08
CLASS_PROG: Final = 0x09  # programming interface
CLASS_DEVICE: Final = 0x0A  # subclass (0x0A) and base class (0x0B)
CACHE_LINE_SIZE: Final = 0x0C
LATENCY_TIMER: Final = 0x0D
HEADER_TYPE: Final = 0x0E
BIST: Final = 0x0F

# -- type 0 -------------------------------------------------------------------------------
BASE_ADDRESS_0: Final = 0x10
BASE_ADDRESS_5: Final = 0x24
CARDBUS_CIS: Final = 0x28
SUBSYSTEM_VENDOR_ID: Final = 0x2C
SUBSYSTEM_ID: Final = 0x2E
ROM_ADDRESS: Final = 0x30
CAPABILITY_LIST: Final = 0x34
INTERRUPT_LINE: Final = 0x3C
INTERRUPT_PIN: Final = 0x3D
MIN_GNT: Final = 0x3E
MAX_LAT: Final = 0x3F

# -- type 1 -------------------------------------------------------------------------------
PRIMARY_BUS: Final = 0x18
SECONDARY_BUS: Final = 0x19
SUBORDINATE_BUS: Final = 0x1A
SEC_LATENCY_TIMER: Final = 0x1B
IO_BASE: Final = 0x1C
IO_LIMIT: Final = 0x1D
SEC_STATUS: Final = 0x1E
MEMORY_BASE: Final = 0x20
MEMORY_LIMIT: Final = 0x22
PREF_MEMORY_BASE: Final = 0x24
PREF_MEMORY_LIMIT: Final = 0x26
PREF_BASE_UPPER32: Final = 0x28
PREF_LIMIT_UPPER32: Final = 0x2C
IO_BASE_UPPER16: Final = 0x30
IO_LIMIT_UPPER16: Final = 0x32
ROM_ADDRESS1: Final = 0x38
BRIDGE_CONTROL: Final = 0x3E

# -- Command register (0x04) -----------------------------------------------------------
COMMAND_IO: Final = 0x0001  # I/O Space enable
COMMAND_MEMORY: Final = 0x0002  # Memory Space enable
COMMAND_MASTER: Final = 0x0004  # Bus Master enable
COMMAND_SPECIAL: Final = 0x0008  # Special Cycles
COMMAND_INVALIDATE: Final = 0x0010  # Memory Write and Invalidate enable
COMMAND_VGA_PALETTE: Final = 0x0020
COMMAND_PARITY: Final = 0x0040  # Parity Error Response
COMMAND_SERR: Final = 0x0100  # SERR# enable
COMMAND_FAST_BACK: Final = 0x0200  # Fast Back-to-Back enable
COMMAND_INTX_DISABLE: Final = 0x0400  # Interrupt Disable

# -- Status register (0x06) ------------------------------------------------------------
STATUS_INTERRUPT: Final = 0x0008  # Interrupt Status (read-only)
STATUS_CAP_LIST: Final = 0x0010  # Capabilities List
STATUS_66MHZ: Final = 0x0020  # 66 MHz Capable
STATUS_UDF: Final = 0x0040  # User Definable Features supported (PCI 2.1; reserved later)
STATUS_FAST_BACK: Final = 0x0080  # Fast Back-to-Back Transactions Capable
STATUS_PARITY: Final = 0x0100  # Master Data Parity Error
STATUS_DEVSEL_MASK: Final = 0x0600  # DEVSEL timing
STATUS_DEVSEL_SHIFT: Final = 9
DEVSEL_FAST: Final = 0
DEVSEL_MEDIUM: Final = 1
DEVSEL_SLOW: Final = 2
STATUS_SIG_TARGET_ABORT: Final = 0x0800  # Signaled Target Abort
STATUS_REC_TARGET_ABORT: Final = 0x1000  # Received Target Abort
STATUS_REC_MASTER_ABORT: Final = 0x2000  # Received Master Abort
STATUS_SIG_SYSTEM_ERROR: Final = 0x4000  # Signaled System Error
STATUS_DETECTED_PARITY: Final = 0x8000  # Detected Parity Error
#: The error bits software clears by writing 1 to them.
STATUS_WRITE_1_TO_CLEAR: Final = (
    STATUS_PARITY
    | STATUS_SIG_TARGET_ABORT
    | STATUS_REC_TARGET_ABORT
    | STATUS_REC_MASTER_ABORT
    | STATUS_SIG_SYSTEM_ERROR
    | STATUS_DETECTED_PARITY
)

# -- Header Type register (0x0E) -----------------------------------------------------------
HEADER_TYPE_MASK: Final = 0x7F
HEADER_TYPE_NORMAL: Final = 0x00
HEADER_TYPE_BRIDGE: Final = 0x01
HEADER_TYPE_CARDBUS: Final = 0x02
HEADER_TYPE_MULTI_FUNCTION: Final = 0x80

# -- Base Address Registers ----------------------------------------------------------------
BAR_SPACE_IO: Final = 0x01  # bit 0: 1 = I/O space
BAR_MEM_TYPE_MASK: Final = 0x06  # bits 2:1 of a memory BAR
BAR_MEM_TYPE_32: Final = 0x00
BAR_MEM_TYPE_1M: Final = 0x02  # below 1 MB (PCI 2.x legacy)
BAR_MEM_TYPE_64: Final = 0x04
BAR_MEM_PREFETCH: Final = 0x08
BAR_MEM_ADDRESS_MASK: Final = 0xFFFFFFF0
BAR_IO_ADDRESS_MASK: Final = 0xFFFFFFFC
ROM_ENABLE: Final = 0x01
ROM_ADDRESS_MASK: Final = 0xFFFFF800

# -- Interrupt Pin (0x3D) --------------------------------------------------------------------
INTERRUPT_PIN_NONE: Final = 0
INTA: Final = 1
INTB: Final = 2
INTC: Final = 3
INTD: Final = 4

# -- Bridge windows (type 1) -------------------------------------------------------------------
IO_RANGE_TYPE_MASK: Final = 0x0F  # low nibble of I/O Base/Limit
IO_RANGE_TYPE_16: Final = 0x00
IO_RANGE_TYPE_32: Final = 0x01
IO_RANGE_MASK: Final = 0xF0  # bits 15:12 of the address
MEMORY_RANGE_MASK: Final = 0xFFF0  # bits 31:20 of the address
PREF_RANGE_TYPE_MASK: Final = 0x000F
PREF_RANGE_TYPE_32: Final = 0x0000
PREF_RANGE_TYPE_64: Final = 0x0001
IO_WINDOW_GRANULARITY: Final = 0x1000  # 4 KiB
MEMORY_WINDOW_GRANULARITY: Final = 0x100000  # 1 MiB

# -- Bridge Control (0x3E) ------------------------------------------------------------------
BRIDGE_CTL_PARITY: Final = 0x0001
BRIDGE_CTL_SERR: Final = 0x0002
BRIDGE_CTL_ISA: Final = 0x0004
BRIDGE_CTL_VGA: Final = 0x0008
BRIDGE_CTL_MASTER_ABORT: Final = 0x0020
BRIDGE_CTL_BUS_RESET: Final = 0x0040  # Secondary Bus Reset
BRIDGE_CTL_FAST_BACK: Final = 0x0080

# -- Capabilities -------------------------------------------------------------------------------
CAPABILITY_ID_POWER_MANAGEMENT: Final = 0x01
CAPABILITY_ID_MSI: Final = 0x05
CAPABILITY_ID_VENDOR: Final = 0x09
CAPABILITY_ID_PCI_EXPRESS: Final = 0x10
CAPABILITY_LIST_START: Final = 0x40  # the first byte after the header
PM_CAPABILITIES: Final = 2  # offsets within the Power Management capability
PM_CONTROL_STATUS: Final = 4
PM_CONTROL_STATE_MASK: Final = 0x0003  # PowerState D0..D3hot
CAPABILITY_SIZE_POWER_MANAGEMENT: Final = 8

# -- Configuration Mechanism #1 (the CONFIG_ADDRESS register) -----------------------------------
CONFIG_ADDRESS_ENABLE: Final = 0x80000000
CONFIG_ADDRESS_PORT: Final = 0xCF8
CONFIG_DATA_PORT: Final = 0xCFC

# -- Class codes used by the firmware and the bus -------------------------------------------------
CLASS_BRIDGE_HOST: Final = 0x0600
CLASS_BRIDGE_PCI: Final = 0x0604
