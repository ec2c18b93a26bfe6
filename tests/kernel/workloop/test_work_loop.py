"""IOWorkLoop: its thread, its gate and its chain of event sources."""

from __future__ import annotations

import pytest

from kextlab.errors import KernelPanic
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.workloop import (
    IOCommandGate,
    IOInterruptEventSource,
    IOTimerEventSource,
    IOWorkLoop,
)
from kextlab.sim.thread import ThreadState
from kextlab.sim.time import MILLISECOND
from tests.kernel.workloop.conftest import Driver, SoftInterruptNub, on_thread


def _loop() -> IOWorkLoop:
    loop = IOWorkLoop.workLoop()
    assert loop is not None
    return loop


def _poke_source(loop: IOWorkLoop, driver: Driver) -> IOInterruptEventSource:
    """A provider-less interrupt source: the way to poke a work loop by hand."""

    def action(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
        assert loop.onThread()
        assert loop.inGate()
        owner.calls.append(("poke", count, sender.onThread()))

    source = IOInterruptEventSource.interruptEventSource(driver, action)
    assert source is not None
    assert loop.addEventSource(source) == kIOReturnSuccess
    return source


def _tear_down(loop: IOWorkLoop, *sources: object) -> None:
    for source in sources:
        assert isinstance(source, IOInterruptEventSource | IOTimerEventSource | IOCommandGate)
        loop.removeEventSource(source)
        source.release()
    loop.release()


def test_the_thread_sleeps_until_an_event_source_signals_work(kernel: Kernel) -> None:
    """The loop's thread blocks when idle and runs the action on itself, gate closed."""
    driver = Driver()
    loop = _loop()
    source = _poke_source(loop, driver)
    kernel.machine.run()
    thread = loop.getThread()
    assert thread is not None
    assert thread.state is ThreadState.BLOCKED
    assert driver.calls == []
    source.interruptOccurred(None, None, 0)
    source.interruptOccurred(None, None, 0)
    kernel.machine.run()
    assert driver.calls == [("poke", 2, True)]
    assert source.interrupts_seen == source.interrupts_handled == 2
    _tear_down(loop, source)
    driver.release()


def test_the_thread_is_named_after_the_first_owner(kernel: Kernel) -> None:
    """Like xnu, the work loop thread takes the class name of its first event source's owner."""
    driver = Driver()
    loop = _loop()
    source = _poke_source(loop, driver)
    thread = loop.getThread()
    assert thread is not None
    assert thread.name == "IOWorkLoop Driver"
    _tear_down(loop, source)
    driver.release()


def test_run_action_runs_on_the_callers_thread_with_the_gate_closed(kernel: Kernel) -> None:
    """runAction calls the action on the calling thread, gate held, and returns its result."""
    loop = _loop()
    seen: list[object] = []

    def action(target: object, a: object, b: object, c: object, d: object) -> int:
        seen.append((target, a, b, c, d, loop.inGate(), loop.onThread()))
        return 42

    def client() -> object:
        return loop.runAction(action, None, 1, 2, 3, 4)

    assert on_thread(kernel, client) == 42
    assert seen == [(None, 1, 2, 3, 4, True, False)]
    assert not loop.inGate()
    loop.release()


def test_a_client_waits_while_the_loop_thread_holds_the_gate(kernel: Kernel) -> None:
    """An action running on the loop thread keeps clients out until it returns."""
    driver = Driver()
    loop = _loop()
    order: list[tuple[str, int]] = []
    scheduler = kernel.scheduler

    def slow_action(owner: Driver, sender: IOInterruptEventSource, count: int) -> None:
        order.append(("action begins", scheduler.now))
        IOSleep(5)
        order.append(("action ends", scheduler.now))

    source = IOInterruptEventSource.interruptEventSource(driver, slow_action)
    assert source is not None
    loop.addEventSource(source)
    source.interruptOccurred(None, None, 0)

    def client() -> None:
        IOSleep(1)  # the loop thread is inside its action by then
        loop.runAction(lambda *_: order.append(("client", scheduler.now)), None)

    on_thread(kernel, client)
    assert [what for what, _ in order] == ["action begins", "action ends", "client"]
    assert order[2][1] >= order[1][1] == order[0][1] + 5 * MILLISECOND
    _tear_down(loop, source)
    driver.release()


def test_the_gate_is_recursive_and_try_close_fails_for_others(kernel: Kernel) -> None:
    """closeGate nests for its holder; tryCloseGate from another thread fails meanwhile."""
    loop = _loop()
    results: list[bool] = []

    def holder() -> None:
        loop.closeGate()
        loop.closeGate()
        loop.openGate()
        assert loop.inGate()
        IOSleep(10)
        loop.openGate()

    def other() -> None:
        IOSleep(1)
        results.append(loop.tryCloseGate())
        IOSleep(20)
        results.append(loop.tryCloseGate())
        loop.openGate()

    first = kernel.scheduler.spawn(holder, name="holder")
    second = kernel.scheduler.spawn(other, name="other")
    assert first.join()
    assert second.join()
    assert results == [False, True]
    loop.release()


def test_sleep_gate_releases_the_gate_until_woken(kernel: Kernel) -> None:
    """sleepGate gives the gate up while waiting; wakeupGate brings the sleeper back."""
    from kextlab.kernel.locks import THREAD_AWAKENED, THREAD_UNINT

    loop = _loop()
    trail: list[object] = []

    def sleeper() -> None:
        loop.closeGate()
        trail.append(loop.sleepGate("event", THREAD_UNINT))
        trail.append(loop.inGate())
        loop.openGate()

    def waker() -> None:
        IOSleep(1)
        loop.closeGate()  # possible only because the sleeper released it
        trail.append("waker in gate")
        loop.wakeupGate("event", True)
        loop.openGate()

    threads = [kernel.scheduler.spawn(sleeper, name="s"), kernel.scheduler.spawn(waker, name="w")]
    assert all(thread.join() for thread in threads)
    assert trail == ["waker in gate", THREAD_AWAKENED, True]
    loop.release()


def test_event_sources_are_checked_in_the_order_they_were_added(kernel: Kernel) -> None:
    """The dispatch pass visits active sources in chain order."""
    driver = Driver()
    loop = _loop()
    order: list[str] = []
    sources = []
    for name in ("first", "second", "third"):

        def action(owner: Driver, sender: object, count: int, name: str = name) -> None:
            order.append(name)

        source = IOInterruptEventSource.interruptEventSource(driver, action)
        assert source is not None
        loop.addEventSource(source)
        sources.append(source)
    for source in reversed(sources):
        source.interruptOccurred(None, None, 0)
    kernel.machine.run()
    assert order == ["first", "second", "third"]
    _tear_down(loop, *sources)
    driver.release()


def test_removing_a_source_during_dispatch_restarts_the_chain(kernel: Kernel) -> None:
    """A source removed by an action is not visited, and the pass starts over."""
    driver = Driver()
    loop = _loop()
    order: list[str] = []
    victim: list[IOInterruptEventSource] = []

    def remover(owner: Driver, sender: object, count: int) -> None:
        order.append("remover")
        loop.removeEventSource(victim[0])

    def removed(owner: Driver, sender: object, count: int) -> None:
        order.append("removed")

    first = IOInterruptEventSource.interruptEventSource(driver, remover)
    second = IOInterruptEventSource.interruptEventSource(driver, removed)
    assert first is not None
    assert second is not None
    victim.append(second)
    loop.addEventSource(first)
    loop.addEventSource(second)
    passes = loop.dispatch_passes
    first.interruptOccurred(None, None, 0)
    second.interruptOccurred(None, None, 0)
    kernel.machine.run()
    assert order == ["remover"]
    assert second.getWorkLoop() is None
    assert loop.dispatch_passes - passes >= 2  # restarted after the removal
    second.release()
    _tear_down(loop, first)
    driver.release()


def test_disable_all_interrupts_touches_only_interrupt_sources(kernel: Kernel) -> None:
    """enable/disableAllInterrupts act on interrupt sources; enable/disableAllEventSources
    on every source."""
    driver = Driver()
    nub = SoftInterruptNub()
    loop = _loop()
    interrupt = IOInterruptEventSource.interruptEventSource(driver, lambda *_: None, nub, 0)
    timer = IOTimerEventSource.timerEventSource(driver, lambda *_: None)
    assert interrupt is not None
    assert timer is not None
    loop.addEventSource(interrupt)
    loop.addEventSource(timer)
    loop.enableAllInterrupts()
    assert interrupt.isEnabled()
    assert nub.enabled[0]
    loop.disableAllInterrupts()
    assert not interrupt.isEnabled()
    assert not nub.enabled[0]
    assert timer.isEnabled()
    loop.disableAllEventSources()
    assert not timer.isEnabled()
    loop.enableAllEventSources()
    assert timer.isEnabled()
    assert interrupt.isEnabled()
    assert nub.enabled[0]
    _tear_down(loop, interrupt, timer)
    driver.release()
    nub.release()


def test_releasing_the_loop_ends_its_thread_and_releases_its_sources(kernel: Kernel) -> None:
    """Freeing a work loop stops its thread; sources still on it are released with it."""
    classes = kernel.classes
    driver = Driver()
    loop = _loop()
    source = _poke_source(loop, driver)
    thread = loop.getThread()
    assert thread is not None
    source.release()  # the loop still holds it
    assert classes.instance_counts()["IOInterruptEventSource"] == 1
    loop.release()
    kernel.machine.run()
    assert not thread.is_alive
    counts = classes.instance_counts()
    assert counts["IOWorkLoop"] == 0
    assert counts["IOInterruptEventSource"] == 0
    assert counts["IOCommandGate"] == 0
    assert kernel.scheduler.live_threads() == []
    driver.release()


def test_an_exception_in_an_action_panics_the_machine_naming_the_thread(kernel: Kernel) -> None:
    """A driver bug escaping an action is a kernel panic reported on the work loop thread."""
    driver = Driver()
    loop = _loop()

    def broken(owner: Driver, sender: object, count: int) -> None:
        raise ValueError("driver bug")

    source = IOInterruptEventSource.interruptEventSource(driver, broken)
    assert source is not None
    loop.addEventSource(source)
    source.interruptOccurred(None, None, 0)
    with pytest.raises(KernelPanic) as panic:
        kernel.machine.run()
    assert 'kernel thread "IOWorkLoop Driver"' in panic.value.report
    assert "ValueError: driver bug" in panic.value.report
