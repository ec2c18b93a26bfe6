"""A nub with interrupts, for the tests of interrupt controllers and delivery."""

from __future__ import annotations

from kextlab.kernel.libkern.collections import OSArray
from kextlab.kernel.libkern.values import OSData, OSSymbol
from kextlab.kernel.service.service import IOService


def interrupt_nub(controller: str, *specifiers: bytes) -> IOService:
    """A nub whose interrupts are ``specifiers`` of the controller named
    ``controller`` (``IOInterruptControllers`` and ``IOInterruptSpecifiers``, as the
    platform expert sets them from the device tree)."""
    nub = IOService()
    name = OSSymbol.withCString(controller)
    controllers = OSArray([name] * len(specifiers))
    name.release()
    datas = [OSData(specifier) for specifier in specifiers]
    specifier_array = OSArray(datas)
    for data in datas:
        data.release()
    table = nub.getPropertyTable()
    table.setObject("IOInterruptControllers", controllers)
    table.setObject("IOInterruptSpecifiers", specifier_array)
    controllers.release()
    specifier_array.release()
    return nub


def vector_specifier(vector: int) -> bytes:
    """The specifier of vector ``vector``: a big-endian 32-bit number."""
    return vector.to_bytes(4, "big")
