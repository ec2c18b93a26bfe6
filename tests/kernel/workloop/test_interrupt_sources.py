"""IOInterruptEventSource and IOFilterInterruptEventSource against a provider the
test drives: registration, level auto-disable, counts, filters in interrupt context."""

from __future__ import annotations

import pytest

from kextlab.errors import KernelPanic
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.service.interrupts import kIOInterruptTypeEdge
from kextlab.kernel.workloop import (
    IOFilterInterruptEventSource,
    IOInterruptEventSource,
    IOWorkLoop,
)
from kextlab.sim.context import Context
from tests.kernel.workloop.conftest import Driver, SoftInterruptNub


@pytest.fixture
def loop(kernel: Kernel) -> IOWorkLoop:
    made = IOWorkLoop.workLoop()
    assert made is not None
    return made


def _record(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
    owner.calls.append(("action", count))


def _source(
    loop: IOWorkLoop, driver: Driver, nub: SoftInterruptNub, action: object = _record
) -> IOInterruptEventSource:
    source = IOInterruptEventSource.interruptEventSource(driver, action, nub, 0)  # type: ignore[arg-type]
    assert source is not None
    loop.addEventSource(source)
    return source


def _finish(loop: IOWorkLoop, *objects: object) -> None:
    for item in objects:
        if isinstance(item, IOInterruptEventSource):
            loop.removeEventSource(item)
        item.release()  # type: ignore[attr-defined]
    loop.release()


def test_a_level_interrupt_stays_disabled_until_its_action_has_run(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """The primary handler disables a level interrupt; checkForWork re-enables it after
    the action."""
    driver, nub = Driver(), SoftInterruptNub()
    seen_enabled: list[bool] = []

    def action(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
        seen_enabled.append(nub.enabled[0])
        nub.quiet()  # the driver quiets its device
        owner.calls.append(("action", count))

    source = _source(loop, driver, nub, action)
    assert source.getAutoDisable()
    source.enable()
    nub.fire()
    assert nub.contexts == [Context.INTERRUPT]
    assert not nub.enabled[0]  # masked by the handler
    kernel.machine.run()
    assert seen_enabled == [False]
    assert driver.calls == [("action", 1)]
    assert nub.enabled[0]
    _finish(loop, source, driver, nub)


def test_a_still_asserted_level_interrupt_comes_back_after_the_action(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """An action that does not quiet its device gets the interrupt again on re-enable."""
    driver, nub = Driver(), SoftInterruptNub()

    def action(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
        owner.calls.append(("action", count))
        if len(owner.calls) == 2:
            nub.quiet()

    source = _source(loop, driver, nub, action)
    source.enable()
    nub.fire()
    kernel.machine.run()
    assert driver.calls == [("action", 1), ("action", 1)]
    assert source.interrupts_seen == source.interrupts_handled == 2
    _finish(loop, source, driver, nub)


def test_an_explicit_disable_in_the_action_is_respected(kernel: Kernel, loop: IOWorkLoop) -> None:
    """A driver that disables its source in the action is not re-enabled behind its back."""
    driver, nub = Driver(), SoftInterruptNub()

    def action(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
        nub.quiet()
        sender.disable()

    source = _source(loop, driver, nub, action)
    source.enable()
    nub.fire()
    kernel.machine.run()
    assert not nub.enabled[0]
    assert not source.isEnabled()
    _finish(loop, source, driver, nub)


def test_edge_interrupts_are_counted_and_coalesced_without_disabling(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """Edge interrupts are not masked; several before the action runs arrive as one count."""
    driver, nub = Driver(), SoftInterruptNub(interrupt_type=kIOInterruptTypeEdge)
    source = _source(loop, driver, nub)
    assert not source.getAutoDisable()
    source.enable()
    for _ in range(3):
        nub.fire()
    assert nub.enabled[0]
    assert source.interrupts_seen == 3
    assert source.interrupts_handled == 0
    kernel.machine.run()
    assert driver.calls == [("action", 3)]
    assert source.interrupts_handled == 3
    _finish(loop, source, driver, nub)


def test_registration_fails_for_a_negative_or_unknown_index(kernel: Kernel) -> None:
    """init refuses a negative index, and an index the provider has no interrupt for."""
    driver, nub = Driver(), SoftInterruptNub()
    assert IOInterruptEventSource.interruptEventSource(driver, _record, nub, -1) is None
    assert IOInterruptEventSource.interruptEventSource(driver, _record, nub, 3) is None
    assert nub.handlers == {}
    driver.release()
    nub.release()


def test_leaving_the_work_loop_unregisters_the_handler(kernel: Kernel, loop: IOWorkLoop) -> None:
    """Removing the source from its loop unregisters it from the provider at once."""
    driver, nub = Driver(), SoftInterruptNub()
    source = _source(loop, driver, nub)
    assert 0 in nub.handlers
    assert source.getIntIndex() == 0
    loop.removeEventSource(source)
    assert nub.handlers == {}
    assert source.getIntIndex() < 0
    loop.addEventSource(source)
    assert 0 in nub.handlers
    assert source.getIntIndex() == 0
    _finish(loop, source, driver, nub)


def test_a_filter_runs_in_interrupt_context_and_false_never_wakes_the_loop(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """The filter sees interrupt context; refusing the interrupt leaves the loop asleep."""
    driver, nub = Driver(), SoftInterruptNub(interrupt_type=kIOInterruptTypeEdge)
    contexts: list[Context] = []
    claim = [False]

    def filter_(owner: Driver, sender: IOFilterInterruptEventSource) -> bool:
        contexts.append(kernel.scheduler.context)
        return claim[0]

    source = IOFilterInterruptEventSource.filterInterruptEventSource(
        driver, _record, filter_, nub, 0
    )
    assert source is not None
    loop.addEventSource(source)
    source.enable()
    kernel.machine.run()
    passes = loop.dispatch_passes
    nub.fire()
    kernel.machine.run()
    assert contexts == [Context.INTERRUPT]
    assert loop.dispatch_passes == passes
    assert driver.calls == []
    assert source.filter_refused == 1
    claim[0] = True
    nub.fire()
    kernel.machine.run()
    assert driver.calls == [("action", 1)]
    assert source.filter_claimed == 1
    _finish(loop, source, driver, nub)


def test_a_claiming_filter_disables_a_level_interrupt_until_the_action(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """For a level interrupt a claimed filter masks it; the action's return unmasks it."""
    driver, nub = Driver(), SoftInterruptNub()

    def filter_(owner: Driver, sender: IOFilterInterruptEventSource) -> bool:
        nub.quiet()  # the filter acknowledges its device
        return True

    source = IOFilterInterruptEventSource.filterInterruptEventSource(
        driver, _record, filter_, nub, 0
    )
    assert source is not None
    loop.addEventSource(source)
    source.enable()
    nub.fire()
    assert not nub.enabled[0]
    kernel.machine.run()
    assert nub.enabled[0]
    assert driver.calls == [("action", 1)]
    _finish(loop, source, driver, nub)


def test_a_filter_may_signal_the_interrupt_itself(kernel: Kernel, loop: IOWorkLoop) -> None:
    """A filter that does the urgent work can still wake the action with signalInterrupt."""
    driver, nub = Driver(), SoftInterruptNub(interrupt_type=kIOInterruptTypeEdge)

    def filter_(owner: Driver, sender: IOFilterInterruptEventSource) -> bool:
        sender.signalInterrupt()
        sender.signalInterrupt()
        return False

    source = IOFilterInterruptEventSource.filterInterruptEventSource(
        driver, _record, filter_, nub, 0
    )
    assert source is not None
    loop.addEventSource(source)
    source.enable()
    nub.fire()
    kernel.machine.run()
    assert driver.calls == [("action", 2)]
    _finish(loop, source, driver, nub)


def test_a_filter_that_blocks_panics_with_an_interrupt_context_violation(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """Sleeping in a filter is what would hang a real machine: it panics, naming the cause."""
    driver, nub = Driver(), SoftInterruptNub(interrupt_type=kIOInterruptTypeEdge)

    def filter_(owner: Driver, sender: IOFilterInterruptEventSource) -> bool:
        IOSleep(1)
        return True

    source = IOFilterInterruptEventSource.filterInterruptEventSource(
        driver, _record, filter_, nub, 0
    )
    assert source is not None
    loop.addEventSource(source)
    source.enable()

    def interrupt() -> None:
        nub.fire()

    kernel.scheduler.at(kernel.scheduler.now, interrupt, "device interrupt")
    with pytest.raises(KernelPanic, match="InterruptContextViolation"):
        kernel.machine.run()


def test_a_filter_source_needs_a_filter(kernel: Kernel) -> None:
    """Without a filter, or through the plain factory, no filter source is made."""
    driver, nub = Driver(), SoftInterruptNub()
    assert (
        IOFilterInterruptEventSource.filterInterruptEventSource(driver, _record, None, nub, 0)
        is None
    )
    assert IOFilterInterruptEventSource.interruptEventSource(driver, _record, nub, 0) is None
    assert nub.handlers == {}
    driver.release()
    nub.release()
