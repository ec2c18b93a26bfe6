"""IOInterruptController's bookkeeping against a controller the test drives: direct
vectors, a vector that becomes shared on its second registration, refusals.

``ToyController`` is a minimal controller driver: its "hardware" is a list of the
vector hooks called, and the test plays the CPU by calling ``handleInterrupt`` with
a vector number in interrupt context.  Its provider is not an ``IOPlatformDevice``,
so only a second registration makes a vector shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnNoResources,
    kIOReturnSuccess,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.platform import (
    IOInterruptController,
    IOInterruptVector,
    IOSharedInterruptController,
    getPlatform,
    kIOInterruptTypeEdge,
)
from kextlab.kernel.service.interrupts import InterruptTypeRef
from kextlab.kernel.service.service import IOService
from kextlab.testing.kernel import booted_kernel
from tests.kernel.interrupt_nubs import interrupt_nub, vector_specifier

NAME = "IOInterruptController0000CAFE"


class ToyController(IOInterruptController):
    """Records its vector hooks; dispatches like a real controller's handler."""

    def __init__(self) -> None:
        super().__init__()
        self.shareable = True
        self.hooks: list[tuple[str, int]] = []

    def vectorCanBeShared(self, vectorNumber: int, vector: IOInterruptVector) -> bool:
        return self.shareable

    def initVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        self.hooks.append(("init", vectorNumber))

    def disableVectorHard(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        self.hooks.append(("mask", vectorNumber))

    def enableVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        self.hooks.append(("unmask", vectorNumber))

    def handleInterrupt(self, refCon: object, nub: IOService | None, source: int) -> int:
        vector = self.vectors[source]
        if vector.interruptDisabledSoft:
            vector.interruptDisabledHard = True
            self.disableVectorHard(source, vector)
        elif vector.interruptRegistered and vector.handler is not None:
            vector.handler(vector.target, vector.refCon, vector.nub, vector.source)
        return kIOReturnSuccess


@dataclass
class Toy:
    kernel: Kernel
    controller: ToyController
    calls: list[str] = field(default_factory=list)

    def nub(self, vector: int) -> IOService:
        """A nub whose one interrupt is ``vector`` of the toy controller."""
        return interrupt_nub(NAME, vector_specifier(vector))

    def handler(self, label: str) -> object:
        def record(target: object, refCon: object, nub: object, source: int) -> None:
            self.calls.append(label)

        return record

    def fire(self, vector: int) -> None:
        self.kernel.scheduler.run_in_interrupt_context(
            lambda: self.controller.handleInterrupt(None, None, vector)
        )


@pytest.fixture
def toy() -> Iterator[Toy]:
    with booted_kernel() as kernel, kernel.entered():
        controller = ToyController()
        controller.make_vectors(8)
        platform = getPlatform()
        assert platform is not None
        platform.registerInterruptController(NAME, controller)
        yield Toy(kernel, controller)
        platform.deregisterInterruptController(NAME)
        controller.release_vectors()


def test_a_first_registration_owns_the_vector_and_starts_disabled(toy: Toy) -> None:
    """Registered, soft- and hard-disabled, initVector called; enable unmasks; the
    handler runs; a disable is soft until the next interrupt masks the vector."""
    nub = toy.nub(2)
    assert nub.registerInterrupt(0, "target", toy.handler("a"), "ref") == kIOReturnSuccess
    vector = toy.controller.vectors[2]
    assert (vector.interruptRegistered, vector.interruptDisabledSoft) == (True, True)
    assert (vector.target, vector.refCon, vector.nub, vector.source) == ("target", "ref", nub, 0)
    assert vector.sharedController is None
    assert nub.enableInterrupt(0) == kIOReturnSuccess
    toy.fire(2)
    assert toy.calls == ["a"]
    assert nub.disableInterrupt(0) == kIOReturnSuccess
    assert toy.controller.hooks == [("init", 2), ("unmask", 2)]  # the disable is soft
    toy.fire(2)
    assert toy.calls == ["a"]
    assert toy.controller.hooks[-1] == ("mask", 2)
    assert nub.enableInterrupt(0) == kIOReturnSuccess
    assert toy.controller.hooks[-1] == ("unmask", 2)
    interrupt_type = InterruptTypeRef(-1)
    assert nub.getInterruptType(0, interrupt_type) == kIOReturnSuccess
    assert interrupt_type.value == kIOInterruptTypeEdge
    assert toy.controller.getInterruptType(nub, 0, None) == kIOReturnBadArgument


def test_a_vector_that_cannot_be_shared_refuses_a_second_registration(toy: Toy) -> None:
    """vectorCanBeShared False: the second nub on the vector gets kIOReturnNoResources."""
    toy.controller.shareable = False
    assert toy.nub(1).registerInterrupt(0, None, toy.handler("a")) == kIOReturnSuccess
    assert toy.nub(1).registerInterrupt(0, None, toy.handler("b")) == kIOReturnNoResources


def test_a_second_registration_makes_the_vector_shared_and_keeps_the_first_enabled(
    toy: Toy,
) -> None:
    """The first handler moves to a new IOSharedInterruptController still enabled; the
    second starts disabled, so the line is disabled at its next interrupt until the
    second handler is enabled too; then both run."""
    first, second = toy.nub(5), toy.nub(5)
    assert first.registerInterrupt(0, None, toy.handler("first")) == kIOReturnSuccess
    assert first.enableInterrupt(0) == kIOReturnSuccess
    assert second.registerInterrupt(0, None, toy.handler("second")) == kIOReturnSuccess
    shared = toy.controller.vectors[5].sharedController
    assert isinstance(shared, IOSharedInterruptController)
    assert (shared.vectors_registered, shared.vectors_enabled) == (2, 1)
    toy.fire(5)
    assert toy.calls == ["first"]
    toy.fire(5)  # the shared controller disabled the line: now it is masked
    assert toy.calls == ["first"]
    assert toy.controller.hooks[-1] == ("mask", 5)
    assert second.enableInterrupt(0) == kIOReturnSuccess
    assert toy.controller.hooks[-1] == ("unmask", 5)
    toy.fire(5)
    assert toy.calls == ["first", "first", "second"]


def test_unregistering_a_disabled_handler_reenables_the_shared_line(toy: Toy) -> None:
    """With the disabled handler gone, every remaining handler is enabled: the shared
    controller enables the line again."""
    first, second = toy.nub(3), toy.nub(3)
    for nub, label in ((first, "first"), (second, "second")):
        assert nub.registerInterrupt(0, None, toy.handler(label)) == kIOReturnSuccess
        assert nub.enableInterrupt(0) == kIOReturnSuccess
    assert second.disableInterrupt(0) == kIOReturnSuccess
    toy.fire(3)  # second is disabled: the line is disabled
    toy.fire(3)  # and masked
    assert toy.calls == ["first"]
    assert second.unregisterInterrupt(0) == kIOReturnSuccess
    assert toy.controller.hooks[-1] == ("unmask", 3)
    toy.fire(3)
    assert toy.calls == ["first", "first"]
