"""The communication lists: inbound and outbound rings in host memory, toggle pointers.

Design
------
The Marvell message unit talks to the host through two rings of fixed-size entries
that live in host memory (Linux ``mvumi_init_data`` allocates them; their addresses
reach the firmware in handshake page 4):

* the **inbound list** carries command frames from the host.  The host fills the
  entry after its current slot and then writes the slot to ``inb_write_pointer``:
  that write is the doorbell.  The firmware takes every entry up to it and reports
  the last one taken in ``inb_read_pointer``;
* the **outbound list** carries response frames to the host.  The firmware writes
  the entry after ``outb_copy_pointer``, then moves that register (and, on the 9143,
  DMA-writes the slot into the host's ``ob_shadow`` word).  The host takes entries
  up to it and reports the last one in ``outb_read_pointer``.

A pointer is ``slot | toggle``: the toggle bit flips each time the pointer wraps
past the last slot, so that "equal slots, equal toggles" means empty and "equal
slots, different toggles" means full (``mvumi_check_ib_list_9143``), without a
count.  Both lists start at ``(depth - 1) | toggle``: the first entry used is slot 0
with the toggle clear.

Here a pointer is mapped onto a position on a circle of ``2 * depth`` steps (the
toggle selects the half), so that the distance between two pointers is one modular
subtraction: the number of entries between them.  A distance above ``depth`` cannot
happen in a correct exchange; the firmware treats it as a ring overrun.

This module holds the list geometry and the pointer arithmetic; moving entries by
DMA and reporting misuse belong to the message unit (``message_unit.py``).  The
arithmetic runs several times per command, so each list keeps its toggle bit and
slot mask as plain attributes, the hot methods compute inline, and the two that
move to the next entry (``InboundList.take``, ``OutboundList.next_entry``) also
return its address.

Threading rules: none; the firmware calls it from scheduler events and register
handlers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PointerFormat:
    """How a chip encodes a slot pointer: its toggle bit and slot mask."""

    toggle: int
    slot_mask: int


class CommunicationList:
    """One ring: where it is, its entry size and depth, and its pointer arithmetic."""

    __slots__ = ("base", "depth", "entry_size", "format", "name", "slot_mask", "start", "toggle")

    def __init__(
        self, name: str, pointer_format: PointerFormat, base: int, entry_size: int, depth: int
    ) -> None:
        if not 0 < depth <= pointer_format.slot_mask + 1:
            raise ValueError(f"{name}: depth {depth} does not fit the slot mask")
        self.name = name
        self.format = pointer_format
        self.toggle = pointer_format.toggle
        self.slot_mask = pointer_format.slot_mask
        self.base = base
        self.entry_size = entry_size
        self.depth = depth
        #: Where both ends start: the last slot with the toggle set.
        self.start = (depth - 1) | pointer_format.toggle

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name} at {self.base:#x}, "
            f"{self.depth} x {self.entry_size} bytes>"
        )

    def well_formed(self, pointer: int) -> bool:
        """Only slot and toggle bits, and a slot inside the list."""
        mask = self.slot_mask
        return not pointer & ~(self.toggle | mask) and (pointer & mask) < self.depth

    def slot(self, pointer: int) -> int:
        return pointer & self.slot_mask

    def position(self, pointer: int) -> int:
        """The pointer's place on the circle of ``2 * depth`` steps."""
        return (pointer & self.slot_mask) + (self.depth if pointer & self.toggle else 0)

    def distance(self, older: int, newer: int) -> int:
        """Entries from ``older`` (exclusive) to ``newer`` (inclusive)."""
        mask, toggle, depth = self.slot_mask, self.toggle, self.depth
        newer_position = (newer & mask) + (depth if newer & toggle else 0)
        older_position = (older & mask) + (depth if older & toggle else 0)
        return (newer_position - older_position) % (2 * depth)

    def advance(self, pointer: int) -> int:
        """The pointer to the next entry, flipping the toggle at the wrap."""
        toggle = pointer & self.toggle
        slot = (pointer & self.slot_mask) + 1
        if slot >= self.depth:
            slot = 0
            toggle ^= self.toggle
        return toggle | slot

    def address(self, pointer: int) -> int:
        """Physical address of the entry ``pointer`` designates."""
        return self.base + (pointer & self.slot_mask) * self.entry_size


class InboundList(CommunicationList):
    """The host-to-firmware list: what the firmware has taken so far."""

    __slots__ = ("read_pointer",)

    def __init__(
        self, pointer_format: PointerFormat, base: int, entry_size: int, depth: int
    ) -> None:
        super().__init__("inbound", pointer_format, base, entry_size, depth)
        self.read_pointer = self.start

    def pending(self, write_pointer: int) -> int:
        """Entries the host has posted up to ``write_pointer`` and the firmware not taken."""
        mask, toggle, depth, read = self.slot_mask, self.toggle, self.depth, self.read_pointer
        newer = (write_pointer & mask) + (depth if write_pointer & toggle else 0)
        older = (read & mask) + (depth if read & toggle else 0)
        return (newer - older) % (2 * depth)

    def take(self) -> int:
        """Consume the next entry (it becomes the read pointer); returns its address."""
        pointer = self.read_pointer
        toggle = pointer & self.toggle
        slot = (pointer & self.slot_mask) + 1
        if slot >= self.depth:
            slot = 0
            toggle ^= self.toggle
        self.read_pointer = toggle | slot
        return self.base + slot * self.entry_size


class OutboundList(CommunicationList):
    """The firmware-to-host list: what the firmware wrote, what the host took."""

    __slots__ = ("copy_pointer", "read_pointer")

    def __init__(
        self, pointer_format: PointerFormat, base: int, entry_size: int, depth: int
    ) -> None:
        super().__init__("outbound", pointer_format, base, entry_size, depth)
        self.copy_pointer = self.start
        self.read_pointer = self.start

    @property
    def outstanding(self) -> int:
        """Entries written and not yet taken by the host."""
        return self.distance(self.read_pointer, self.copy_pointer)

    @property
    def full(self) -> bool:
        mask, toggle, depth = self.slot_mask, self.toggle, self.depth
        read, copy = self.read_pointer, self.copy_pointer
        written = (copy & mask) + (depth if copy & toggle else 0)
        taken = (read & mask) + (depth if read & toggle else 0)
        return (written - taken) % (2 * depth) >= depth  # distance(read, copy), inlined

    def next_entry(self) -> tuple[int, int]:
        """The pointer the next response goes to, and that entry's address
        (``copy_pointer`` moves on ``commit``)."""
        pointer = self.copy_pointer
        toggle = pointer & self.toggle
        slot = (pointer & self.slot_mask) + 1
        if slot >= self.depth:
            slot = 0
            toggle ^= self.toggle
        return toggle | slot, self.base + slot * self.entry_size

    def commit(self, pointer: int) -> None:
        self.copy_pointer = pointer

    def host_took(self, read_pointer: int) -> bool:
        """The host reports it took entries up to ``read_pointer``; False if it cannot have."""
        mask, toggle, depth = self.slot_mask, self.toggle, self.depth
        old, copy = self.read_pointer, self.copy_pointer
        old_position = (old & mask) + (depth if old & toggle else 0)
        taken = (read_pointer & mask) + (depth if read_pointer & toggle else 0) - old_position
        written = (copy & mask) + (depth if copy & toggle else 0) - old_position
        if taken % (2 * depth) > written % (2 * depth):  # distance() of each, inlined
            return False
        self.read_pointer = read_pointer
        return True
