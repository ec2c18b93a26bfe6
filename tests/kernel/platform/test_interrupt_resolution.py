"""A nub's interrupt source keeps the vector its controller found for it
(``IOInterruptSource.resolved``); these tests change what it names and check that
enabling and disabling always reach the vector it names now."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kextlab.kernel.ioreturn import kIOReturnNoInterrupt, kIOReturnSuccess
from kextlab.kernel.platform import (
    IOInterruptController,
    IOInterruptVector,
    IOSharedInterruptController,
    getPlatform,
)
from kextlab.kernel.service.service import IOService
from kextlab.testing.kernel import booted_kernel
from tests.kernel.interrupt_nubs import interrupt_nub, vector_specifier

NAME = "IOInterruptController0000BEEF"


class Recorder(IOInterruptController):
    """A shareable controller whose hardware is the list of vectors it unmasked."""

    def __init__(self) -> None:
        super().__init__()
        self.unmasked: list[int] = []

    def vectorCanBeShared(self, vectorNumber: int, vector: IOInterruptVector) -> bool:
        return True

    def enableVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        self.unmasked.append(vectorNumber)


def make_nub(vector: int) -> IOService:
    """A nub whose one interrupt is ``vector`` of the recorder."""
    return interrupt_nub(NAME, vector_specifier(vector))


def handler(target: object, refCon: object, nub: object, source: int) -> None:
    """A handler that is never called here."""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with booted_kernel() as kernel, kernel.entered():
        controller = Recorder()
        controller.make_vectors(8)
        platform = getPlatform()
        assert platform is not None
        platform.registerInterruptController(NAME, controller)
        yield controller
        platform.deregisterInterruptController(NAME)
        controller.release_vectors()


def test_enabling_after_the_controller_remade_its_vectors_reaches_the_new_vector(
    recorder: Recorder,
) -> None:
    """The kept vector belongs to the old table: a new table is looked up afresh."""
    nub = make_nub(2)
    assert nub.registerInterrupt(0, None, handler) == kIOReturnSuccess
    assert nub.enableInterrupt(0) == kIOReturnSuccess
    old = recorder.vectors[2]
    assert nub.unregisterInterrupt(0) == kIOReturnSuccess
    recorder.make_vectors(8)
    assert nub.registerInterrupt(0, None, handler) == kIOReturnSuccess
    assert nub.enableInterrupt(0) == kIOReturnSuccess
    vector = recorder.vectors[2]
    assert vector is not old
    assert vector.interruptRegistered
    assert vector.nub is nub
    assert not vector.interruptDisabledSoft
    assert recorder.unmasked == [2, 2]
    assert nub.unregisterInterrupt(0) == kIOReturnSuccess
    nub.release()


def test_a_source_moved_to_a_shared_controller_is_enabled_and_disabled_there(
    recorder: Recorder,
) -> None:
    """After sharing, the first nub's enable and disable count on the shared
    controller, not on the parent vector it used before."""
    first, second = make_nub(5), make_nub(5)
    assert first.registerInterrupt(0, None, handler) == kIOReturnSuccess
    assert first.enableInterrupt(0) == kIOReturnSuccess
    assert second.registerInterrupt(0, None, handler) == kIOReturnSuccess
    shared = recorder.vectors[5].sharedController
    assert isinstance(shared, IOSharedInterruptController)
    assert shared.vectors_enabled == 1
    assert first.disableInterrupt(0) == kIOReturnSuccess
    assert shared.vectors_enabled == 0
    assert first.enableInterrupt(0) == kIOReturnSuccess
    assert second.enableInterrupt(0) == kIOReturnSuccess
    assert shared.vectors_enabled == 2
    for nub in (first, second):
        assert nub.unregisterInterrupt(0) == kIOReturnSuccess
        nub.release()


def test_a_source_unregistered_from_a_shared_controller_is_unresolved(
    recorder: Recorder,
) -> None:
    """Its kept vector goes with it: enabling answers kIOReturnNoInterrupt until a new
    registration resolves it again, on a fresh shared vector."""
    first, second = make_nub(6), make_nub(6)
    for nub in (first, second):
        assert nub.registerInterrupt(0, None, handler) == kIOReturnSuccess
        assert nub.enableInterrupt(0) == kIOReturnSuccess
    shared = recorder.vectors[6].sharedController
    assert isinstance(shared, IOSharedInterruptController)
    assert second.unregisterInterrupt(0) == kIOReturnSuccess
    assert second.enableInterrupt(0) == kIOReturnNoInterrupt
    assert second.disableInterrupt(0) == kIOReturnNoInterrupt
    assert (shared.vectors_registered, shared.vectors_enabled) == (1, 1)
    assert second.registerInterrupt(0, None, handler) == kIOReturnSuccess
    assert second.enableInterrupt(0) == kIOReturnSuccess
    assert (shared.vectors_registered, shared.vectors_enabled) == (2, 2)
    for nub in (first, second):
        assert nub.unregisterInterrupt(0) == kIOReturnSuccess
        nub.release()
