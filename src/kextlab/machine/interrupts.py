"""Interrupt lines and the interrupt controller.

PCI interrupts (INTA#..INTD#) are *level-triggered* and *shareable*: a wire is
asserted while any device on it asserts, and drops only when all of them have
deasserted (a wired-OR).  ``InterruptLine`` is such a wire, tracking its asserting
sources; it feeds one input of the ``InterruptController``.

The controller (an OpenPIC-flavoured model with 32 inputs, kextlab's own design)
keeps, per input, the *level*, a *mask* bit (all masked at reset) and an
*in-service* bit.  An input is deliverable when its level is high, it is unmasked and
it is not in service.  The controller's output to the CPU is asserted while any input
is deliverable.  The platform's interrupt handler then:

1. *acknowledges*: reads ``ACKNOWLEDGE``, which returns the lowest-numbered
   deliverable input and marks it in service (``SPURIOUS_VECTOR`` if none);
2. runs the handlers of the devices on that input, which quiet their devices;
3. signals *end of interrupt*: writes the input number to ``END_OF_INTERRUPT``,
   clearing in-service.  If the level is still high (another device on the shared
   line, or a device not yet quieted) the input is deliverable again at once.

Registers (32-bit, little-endian, at the controller's base address)::

    0x00 FEATURES          RO  bits 7:0 number of inputs, bits 15:8 version (1)
    0x04 PENDING           RO  bit n: input n's level is high
    0x08 IN_SERVICE        RO  bit n: input n acknowledged, awaiting end of interrupt
    0x0C MASK              RW  bit n: input n masked (reset: all ones)
    0x10 ACKNOWLEDGE       RO  read: take the lowest deliverable input (0xFF if none)
    0x14 END_OF_INTERRUPT  WO  write n: input n's service is over
    0x18 MASK_SET          WO  write 1s: mask those inputs
    0x1C MASK_CLEAR        WO  write 1s: unmask those inputs

The same operations are methods (``acknowledge``, ``end_of_interrupt``, ``mask``...)
for kernel code that models the platform side in Python.

Every interrupt taken costs two level changes (the device asserts, then its handler
quiets it), an acknowledge and an end of interrupt, so the register block compares
offsets with plain integers (``ControllerRegister`` members are read once, at
import; reading an enum member through its class costs a Python-level lookup each
time), a line hands a change straight to the controller, and the controller
recomputes its output in place (``_update_output``, inlined where it is hot) and
keeps the CPU's interrupt input (``scheduler.interrupts``, fixed for a scheduler's
life).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Final

from kextlab.machine.address_space import MmioRegion

if TYPE_CHECKING:
    from kextlab.machine.guest_errors import GuestErrorLog
    from kextlab.sim.scheduler import Scheduler

SPURIOUS_VECTOR: Final = 0xFF
CONTROLLER_VERSION: Final = 1
REGISTER_BLOCK_SIZE: Final = 0x1000


class ControllerRegister(IntEnum):
    FEATURES = 0x00
    PENDING = 0x04
    IN_SERVICE = 0x08
    MASK = 0x0C
    ACKNOWLEDGE = 0x10
    END_OF_INTERRUPT = 0x14
    MASK_SET = 0x18
    MASK_CLEAR = 0x1C


_FEATURES = int(ControllerRegister.FEATURES)
_PENDING = int(ControllerRegister.PENDING)
_IN_SERVICE = int(ControllerRegister.IN_SERVICE)
_MASK = int(ControllerRegister.MASK)
_ACKNOWLEDGE = int(ControllerRegister.ACKNOWLEDGE)
_END_OF_INTERRUPT = int(ControllerRegister.END_OF_INTERRUPT)
_MASK_SET = int(ControllerRegister.MASK_SET)
_MASK_CLEAR = int(ControllerRegister.MASK_CLEAR)


class InterruptLine:
    """A level-triggered wire into one controller input, shareable by many sources."""

    __slots__ = ("_sources", "_trace", "controller", "number")

    def __init__(self, controller: InterruptController, number: int) -> None:
        self.controller = controller
        self.number = number
        self._sources: dict[str, bool] = {}
        self._trace = controller.scheduler.trace

    def __repr__(self) -> str:
        return f"<InterruptLine {self.number} {'high' if self.asserted else 'low'}>"

    @property
    def asserted(self) -> bool:
        return bool(self._sources)

    def sources(self) -> list[str]:
        """Names of the sources asserting the line now, in the order they asserted."""
        return list(self._sources)

    def set_level(self, source: str, asserted: bool) -> None:
        """``source`` asserts or releases the line; the wire is the OR of all sources."""
        sources = self._sources
        was_low = not sources
        if asserted:
            sources[source] = True
        else:
            sources.pop(source, None)
        if self._trace.enabled:
            self.controller.scheduler.trace_point(
                "irq.level", f"input {self.number} {source} {'assert' if asserted else 'release'}"
            )
        if was_low is not (not sources):  # the wire changed: it is high iff it was low
            self.controller.input_changed(self.number, was_low)


class InterruptController:
    """32 level-sensitive inputs, per-input mask and in-service bits, one CPU output."""

    def __init__(
        self,
        scheduler: Scheduler,
        guest_errors: GuestErrorLog,
        *,
        name: str = "interrupt-controller",
        inputs: int = 32,
    ) -> None:
        if not 1 <= inputs <= 32:
            raise ValueError(f"an interrupt controller has 1 to 32 inputs, not {inputs}")
        self.scheduler = scheduler
        self._cpu = scheduler.interrupts
        self.name = name
        self.inputs = inputs
        self._guest_errors = guest_errors
        self._lines = [InterruptLine(self, number) for number in range(inputs)]
        self._levels = 0
        self._mask = (1 << inputs) - 1
        self._in_service = 0
        self.acknowledged = 0
        self.spurious = 0
        self.region = MmioRegion(
            name,
            REGISTER_BLOCK_SIZE,
            self._read_register,
            self._write_register,
            access_sizes=(4,),
        )

    # -- wiring ------------------------------------------------------------------------------

    def line(self, number: int) -> InterruptLine:
        if not 0 <= number < self.inputs:
            raise ValueError(f"{self.name} has inputs 0-{self.inputs - 1}, not {number}")
        return self._lines[number]

    def input_changed(self, number: int, level: bool) -> None:
        levels = self._levels | 1 << number if level else self._levels & ~(1 << number)
        self._levels = levels
        self._cpu.set_asserted(bool(levels & ~self._mask & ~self._in_service))  # _update_output

    # -- state -------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Bit n set: input n's level is high."""
        return self._levels

    @property
    def in_service(self) -> int:
        return self._in_service

    @property
    def mask_bits(self) -> int:
        return self._mask

    @property
    def deliverable(self) -> int:
        return self._levels & ~self._mask & ~self._in_service

    def is_masked(self, number: int) -> bool:
        return bool(self._mask >> number & 1)

    def is_pending(self, number: int) -> bool:
        return bool(self._levels >> number & 1)

    # -- operations (also reachable through the registers) -----------------------------------

    def mask(self, number: int) -> None:
        self._set_mask(self._mask | (1 << self.line(number).number))

    def unmask(self, number: int) -> None:
        self._set_mask(self._mask & ~(1 << self.line(number).number))

    def acknowledge(self) -> int:
        """Take the lowest-numbered deliverable input into service; return its number."""
        deliverable = self._levels & ~self._mask & ~self._in_service  # self.deliverable
        if not deliverable:
            self.spurious += 1
            return SPURIOUS_VECTOR
        number = (deliverable & -deliverable).bit_length() - 1
        self._in_service |= 1 << number
        self.acknowledged += 1
        # _update_output, inlined: the input just taken is no longer deliverable.
        self._cpu.set_asserted(bool(deliverable & ~(1 << number)))
        return number

    def end_of_interrupt(self, number: int) -> None:
        if not 0 <= number < self.inputs or not self._in_service >> number & 1:
            self._guest_errors.report(
                self.name, f"end of interrupt for input {number}, which is not in service"
            )
            return
        in_service = self._in_service & ~(1 << number)
        self._in_service = in_service
        self._cpu.set_asserted(bool(self._levels & ~self._mask & ~in_service))  # _update_output

    def _set_mask(self, mask: int) -> None:
        self._mask = mask & ((1 << self.inputs) - 1)
        self._update_output()

    def _update_output(self) -> None:
        deliverable = self._levels & ~self._mask & ~self._in_service  # self.deliverable
        self._cpu.set_asserted(bool(deliverable))

    # -- register block ------------------------------------------------------------------------

    def _read_register(self, offset: int, size: int) -> int:
        if offset == _ACKNOWLEDGE:
            return self.acknowledge()
        if offset == _FEATURES:
            return self.inputs | CONTROLLER_VERSION << 8
        if offset == _PENDING:
            return self._levels
        if offset == _IN_SERVICE:
            return self._in_service
        if offset == _MASK:
            return self._mask
        if offset in (_END_OF_INTERRUPT, _MASK_SET, _MASK_CLEAR):
            self._guest_errors.report(self.name, f"read of write-only register {offset:#x}")
            return 0
        self._guest_errors.report(self.name, f"read of unknown register {offset:#x}")
        return 0xFFFF_FFFF

    def _write_register(self, offset: int, size: int, value: int) -> None:
        if offset == _END_OF_INTERRUPT:
            self.end_of_interrupt(value)
        elif offset == _MASK:
            self._set_mask(value)
        elif offset == _MASK_SET:
            self._set_mask(self._mask | value)
        elif offset == _MASK_CLEAR:
            self._set_mask(self._mask & ~value)
        elif offset in (_FEATURES, _PENDING, _IN_SERVICE, _ACKNOWLEDGE):
            self._guest_errors.report(self.name, f"write of read-only register {offset:#x}")
        else:
            self._guest_errors.report(self.name, f"write of unknown register {offset:#x}")
