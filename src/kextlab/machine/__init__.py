"""Emulated hardware: memory, PCI, interrupts, device models, machine descriptions.

Public surface::

    Machine, BusTiming              a whole machine and what CPU accesses cost
    load_machine_description, parse_machine_description, MachineDescription
    DeviceCatalog, DeviceModel, Parameter          device models and their parameters
    PhysicalMemory, AddressSpace, MmioRegion       RAM and register routing
    InterruptController, InterruptLine             level-triggered, shareable INTx
    GuestErrorLog                                  the guest-error channel

This package never imports the kernel: devices see only their configuration space,
their registers, physical memory and their interrupt line.
"""

from kextlab.machine.address_space import AddressSpace, MmioRegion
from kextlab.machine.description import (
    MachineDescription,
    embedded_machine_names,
    load_machine_description,
    parse_machine_description,
)
from kextlab.machine.device import DeviceModel, Parameter
from kextlab.machine.devices import DeviceCatalog
from kextlab.machine.guest_errors import GuestErrorLog
from kextlab.machine.interrupts import InterruptController, InterruptLine
from kextlab.machine.machine import BusTiming, Machine
from kextlab.machine.memory import PhysicalMemory

__all__ = [
    "AddressSpace",
    "BusTiming",
    "DeviceCatalog",
    "DeviceModel",
    "GuestErrorLog",
    "InterruptController",
    "InterruptLine",
    "Machine",
    "MachineDescription",
    "MmioRegion",
    "Parameter",
    "PhysicalMemory",
    "embedded_machine_names",
    "load_machine_description",
    "parse_machine_description",
]
