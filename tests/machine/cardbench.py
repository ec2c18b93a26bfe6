"""A register-level bench for the test card: what a driver does, with no kernel at all.

Tests drive the card the way a CPU would: configuration cycles through the host
bridge, loads and stores to its BARs, descriptors placed in RAM, interrupts taken
from the interrupt controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kextlab.machine.description import INTERRUPT_CONTROLLER_BASE
from kextlab.machine.devices import testcard_registers as tc
from kextlab.machine.devices.testcard import TestCard
from kextlab.machine.interrupts import SPURIOUS_VECTOR, ControllerRegister
from kextlab.machine.machine import Machine
from kextlab.machine.pci import registers as r


@dataclass
class CardBench:
    """One test card on a machine whose firmware has assigned its BARs."""

    machine: Machine
    card: TestCard
    interrupts_taken: list[int] = field(default_factory=list)

    @classmethod
    def attach(cls, machine: Machine, name: str = "testcard0") -> CardBench:
        card = machine.pci_function(name)
        assert isinstance(card, TestCard)
        return cls(machine, card)

    # -- configuration -----------------------------------------------------------------

    @property
    def address(self) -> tuple[int, int, int]:
        card = self.card
        assert card.bus is not None
        return card.bus.number, card.device_number, card.function_number

    def config_read(self, offset: int, size: int) -> int:
        return self.machine.config_read(*self.address, offset, size)

    def config_write(self, offset: int, size: int, value: int) -> None:
        self.machine.config_write(*self.address, offset, size, value)

    def set_command(self, *, set_bits: int = 0, clear_bits: int = 0) -> None:
        command = self.config_read(r.COMMAND, 2)
        self.config_write(r.COMMAND, 2, (command | set_bits) & ~clear_bits)

    def enable_bus_master(self) -> None:
        self.set_command(set_bits=r.COMMAND_MASTER)

    # -- registers ---------------------------------------------------------------------------

    @property
    def registers_base(self) -> int:
        return self.card.bar_address(self.card.bars[tc.REGISTER_BAR])

    def read(self, register: int, size: int = 4) -> int:
        return self.machine.read(self.registers_base + register, size)

    def write(self, register: int, value: int, size: int = 4) -> None:
        self.machine.write(self.registers_base + register, size, value)

    # -- the DMA engine ------------------------------------------------------------------------

    def descriptor(self, opcode: int, source: int, destination: int, length: int) -> bytes:
        return tc.DESCRIPTOR.pack(opcode, 0, 0, 0, source, destination, length)

    def run_list(self, list_address: int, descriptors: list[bytes], *, wait: bool = True) -> int:
        """Place descriptors at ``list_address``, ring the doorbell; the completion code."""
        memory = self.machine.memory
        memory.write(list_address, b"".join(descriptors))
        self.write(tc.Register.DESCRIPTOR_ADDRESS_LOW, list_address & 0xFFFF_FFFF)
        self.write(tc.Register.DESCRIPTOR_ADDRESS_HIGH, list_address >> 32)
        self.write(tc.Register.DESCRIPTOR_LENGTH, tc.DESCRIPTOR_SIZE * len(descriptors))
        self.write(tc.Register.DOORBELL, 1)
        if wait:
            self.wait_idle()
        return self.read(tc.Register.COMPLETION_STATUS)

    def wait_idle(self) -> None:
        """Poll STATUS.BUSY like a driver without interrupts would."""
        while self.read(tc.Register.STATUS) & tc.Status.BUSY:
            pass

    def descriptor_status(self, list_address: int, index: int) -> int:
        return self.machine.memory.read_int(
            list_address + index * tc.DESCRIPTOR_SIZE + tc.DESCRIPTOR_STATUS_OFFSET, 4
        )

    # -- interrupts ------------------------------------------------------------------------------

    def take_interrupts(self) -> None:
        """Connect a platform handler: acknowledge, quiet the card, end of interrupt."""
        machine = self.machine

        def handler() -> None:
            vector = machine.read(INTERRUPT_CONTROLLER_BASE + ControllerRegister.ACKNOWLEDGE, 4)
            if vector == SPURIOUS_VECTOR:
                return
            self.interrupts_taken.append(vector)
            status = self.read(tc.Register.INTERRUPT_STATUS)
            self.write(tc.Register.INTERRUPT_STATUS, status)
            machine.write(
                INTERRUPT_CONTROLLER_BASE + ControllerRegister.END_OF_INTERRUPT, 4, vector
            )

        machine.scheduler.interrupts.connect(handler)
