"""The communication lists in host memory, their toggle pointers, and the tags.

Mirrors Linux ``mvumi_init_data`` (one coherent block holding both lists and their
shadow words), ``mvumi_get_ib_list_entry``/``mvumi_send_ib_list_entry``, the
"inbound full" checks ``mvumi_check_ib_list_9143``/``_9580``, the outbound walk of
``mvumi_receive_ob_list_entry``, and the tag stack (``tag_pool_init``,
``tag_get_one``, ``tag_release_one``); ``shared/spec/scsi.md`` §2.3 and §2.5.

Design
------
*Memory.*  One physically contiguous ``IOBufferMemoryDescriptor`` (Linux:
``pci_alloc_consistent``, seed 000: ``IOMallocContiguous``) made with
``inTaskWithPhysicalMask`` and a 64-bit mask: the chip takes 64-bit addresses
everywhere (page 4 and the shadow registers have high words), so on a 64-bit
kernel the block may sit above 4 GiB, and on a 32-bit one it is below anyway::

    +0                   inbound list   depth x ib_max_size   (128-aligned)
    +ib                  ib_shadow      u32 free-entry count  (8-aligned)
    +ib+8                ob_shadow      u32 last OB slot      (9143)
    +align128(ib+16)     outbound list  depth x ob_max_size   (128-aligned)

Every entry is used through a ``memoryview`` of the block, made once: building a
frame or reading a response is ``pack_into``/``unpack_from`` on that view, no copy.

*Pointers.*  ``slot | toggle``; the toggle flips at each wrap, both cursors start
at ``(depth - 1) | toggle`` so the first entry used is slot 0 (the firmware does the
same).  The host owns ``ib_cur_slot`` (the last entry it wrote) and
``ob_cur_slot`` (the last response it took).

*Inbound room.*  The 9143 reports the last entry it took in ``inb_read_pointer``:
full when the slots are equal and the toggles differ.  The 9580 DMA-writes the
number of free entries into ib_shadow (0xFFFF until it has).  Reading a register
for every command costs an MMIO access; the host knows how many entries it wrote
since it last saw the firmware's position, so it asks the chip only when that
count says the list could be full.  With the emulated firmware (tags never exceed
the depth) that is never, which is the point: the check is there for firmware
that holds entries back.

*Tags.*  A stack of ``max_io`` tags, each indexing the table of commands in flight,
so a response finds its command in one list access.

Threading rules: no locking of its own; the driver calls it with the work loop's
gate held (or before the controller starts), never in interrupt context (the
allocation may block).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import kernel_task
from kextlab.kernel.memory.options import kIODirectionInOut, kIOMemoryPhysicallyContiguous
from kextlab.kernel.memory.refs import ByteCountRef

from . import registers as mv
from .handshake import FirmwareCapabilities, ListLayout

if TYPE_CHECKING:
    from kextlab.kernel.memory.device_memory import IOMemoryMap

#: Lists start on 128 bytes, shadows on 8 (mvumi_init_data's round-ups).
LIST_ALIGNMENT: Final = 128
SHADOW_ALIGNMENT: Final = 8
#: 64 address bits, 128-byte alignment: what ``inTaskWithPhysicalMask`` is given.
LIST_PHYSICAL_MASK: Final = 0xFFFF_FFFF_FFFF_FFFF & ~(LIST_ALIGNMENT - 1)
_U32: Final = struct.Struct("<I")


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def dma_buffer(length: int, mask: int = LIST_PHYSICAL_MASK) -> IOBufferMemoryDescriptor | None:
    """A wired, physically contiguous buffer the chip reaches (64-bit addresses)."""
    return IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
        kernel_task, kIODirectionInOut | kIOMemoryPhysicallyContiguous, length, mask
    )


def physical_address(buffer: IOBufferMemoryDescriptor) -> int:
    """The bus address of a contiguous buffer (``getPhysicalSegment`` at 0)."""
    return buffer.getPhysicalSegment(0, ByteCountRef())


class TagPool:
    """Linux's tag stack: ``max_io`` tags, the most recently freed handed out first."""

    __slots__ = ("_free", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = list(range(size - 1, -1, -1))

    def __len__(self) -> int:
        """Free tags."""
        return len(self._free)

    def get(self) -> int | None:
        free = self._free
        return free.pop() if free else None

    def release(self, tag: int) -> None:
        self._free.append(tag)

    def reset(self) -> None:
        self._free = list(range(self.size - 1, -1, -1))


class CommunicationLists:
    """The inbound and outbound lists of one handshake, and the host's cursors."""

    def __init__(
        self, chip: mv.Chip, capabilities: FirmwareCapabilities, memory: IOBufferMemoryDescriptor
    ) -> None:
        self.chip = chip
        self.depth = depth = capabilities.list_num_io
        self.ib_size = ib_size = capabilities.ib_max_size
        self.ob_size = ob_size = capabilities.ob_max_size
        self.memory = memory
        self.base = physical_address(memory)
        self.ib_shadow_offset = _align(depth * ib_size, SHADOW_ALIGNMENT)
        self.ob_shadow_offset = self.ib_shadow_offset + SHADOW_ALIGNMENT
        self.ob_offset = _align(self.ob_shadow_offset + SHADOW_ALIGNMENT, LIST_ALIGNMENT)
        view = memory.getBytesNoCopy()
        self._view = view
        self.inbound = [view[slot * ib_size : (slot + 1) * ib_size] for slot in range(depth)]
        ob = self.ob_offset
        self.outbound = [
            view[ob + slot * ob_size : ob + (slot + 1) * ob_size] for slot in range(depth)
        ]
        self._ib_shadow = view[self.ib_shadow_offset : self.ib_shadow_offset + _U32.size]
        self._ob_shadow = view[self.ob_shadow_offset : self.ob_shadow_offset + _U32.size]
        self._toggle = chip.cl_pointer_toggle
        self._mask = chip.cl_slot_num_mask
        self.start = (depth - 1) | self._toggle
        self.ib_cur_slot = self.start
        self.ob_cur_slot = self.start
        #: Entries written since the host last learnt how far the firmware has read.
        self._unconfirmed = 0

    @staticmethod
    def size_for(capabilities: FirmwareCapabilities) -> int:
        depth = capabilities.list_num_io
        ib_shadow = _align(depth * capabilities.ib_max_size, SHADOW_ALIGNMENT)
        outbound = _align(ib_shadow + 2 * SHADOW_ALIGNMENT, LIST_ALIGNMENT)
        return outbound + depth * capabilities.ob_max_size

    @classmethod
    def allocate(
        cls, chip: mv.Chip, capabilities: FirmwareCapabilities
    ) -> CommunicationLists | None:
        memory = dma_buffer(cls.size_for(capabilities))
        if memory is None:
            return None
        return cls(chip, capabilities, memory)

    def release(self) -> None:
        """Give the block back; the views of it must not be used again."""
        self.inbound = []
        self.outbound = []
        self.memory.release()

    @property
    def layout(self) -> ListLayout:
        return ListLayout(self.base, self.base + self.ob_offset, self.depth)

    # -- after HS_S_END -------------------------------------------------------------------

    def start_lists(self, registers: IOMemoryMap) -> None:
        """Reset the cursors and program the shadow addresses (the tail of Linux's
        handshake, HS_S_END)."""
        chip = self.chip
        self.ib_cur_slot = self.ob_cur_slot = self.start
        self._unconfirmed = 0
        _U32.pack_into(self._ib_shadow, 0, self.depth)
        ib_shadow = self.base + self.ib_shadow_offset
        registers.ioWrite32(chip.inb_aval_count_basel, ib_shadow & 0xFFFF_FFFF)
        registers.ioWrite32(chip.inb_aval_count_baseh, ib_shadow >> 32)
        if chip.has_ob_shadow:
            _U32.pack_into(self._ob_shadow, 0, self.start)
            ob_shadow = self.base + self.ob_shadow_offset
            registers.ioWrite32(chip.outb_copy_basel, ob_shadow & 0xFFFF_FFFF)
            registers.ioWrite32(chip.outb_copy_baseh, ob_shadow >> 32)

    # -- pointers ---------------------------------------------------------------------------

    def advance(self, pointer: int) -> int:
        slot = (pointer & self._mask) + 1
        toggle = pointer & self._toggle
        if slot >= self.depth:
            return toggle ^ self._toggle
        return toggle | slot

    # -- inbound ----------------------------------------------------------------------------

    def inbound_full(self, registers: IOMemoryMap) -> bool:
        """No room for another entry (asks the chip only when it could be so)."""
        if self._unconfirmed < self.depth:
            return False
        chip = self.chip
        if chip.inbound_room_from_read_pointer:  # 9143
            read_pointer = registers.ioRead32(chip.inb_read_pointer)
            mask, toggle, current = self._mask, self._toggle, self.ib_cur_slot
            position = (read_pointer & mask) + (self.depth if read_pointer & toggle else 0)
            mine = (current & mask) + (self.depth if current & toggle else 0)
            self._unconfirmed = (mine - position) % (2 * self.depth)
        else:  # 9580: the free count in ib_shadow
            (free,) = _U32.unpack_from(self._ib_shadow)
            if free == mv.IB_SHADOW_INVALID:
                return True
            self._unconfirmed = self.depth - free
        return self._unconfirmed >= self.depth

    def free_entry(self) -> memoryview:
        """The entry after ``ib_cur_slot``, to write a frame into (``post`` commits
        it; a frame abandoned half-written leaves the cursor where it was)."""
        return self.inbound[self.advance(self.ib_cur_slot) & self._mask]

    def post(self) -> None:
        """The entry ``free_entry`` gave is written: it becomes the current one."""
        self.ib_cur_slot = self.advance(self.ib_cur_slot)
        self._unconfirmed += 1

    def ring(self, registers: IOMemoryMap) -> None:
        """Hand the entries written so far to the firmware (``inb_write_pointer``)."""
        _U32.pack_into(self._ib_shadow, 0, mv.IB_SHADOW_INVALID)
        registers.ioWrite32(self.chip.inb_write_pointer, self.ib_cur_slot)

    # -- outbound ---------------------------------------------------------------------------

    def outbound_end(self, registers: IOMemoryMap) -> int:
        """The last outbound entry the firmware wrote (``outb_copy_pointer``); on the
        9143 once ob_shadow agrees, so the entries have reached memory."""
        chip = self.chip
        copy = registers.ioRead32(chip.outb_copy_pointer)
        if chip.has_ob_shadow:
            for _ in range(16):
                if _U32.unpack_from(self._ob_shadow)[0] == copy & self._mask:
                    break
                copy = registers.ioRead32(chip.outb_copy_pointer)
        return copy

    def taken(self, registers: IOMemoryMap) -> None:
        """Tell the firmware the host took every entry up to ``ob_cur_slot``."""
        registers.ioWrite32(self.chip.outb_read_pointer, self.ob_cur_slot)
