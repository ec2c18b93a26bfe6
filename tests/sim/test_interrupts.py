"""The CPU's interrupt input: delivery, interrupt context, disabling and storms."""

from __future__ import annotations

import pytest

from kextlab.errors import InterruptContextViolation, KernelPanic, LockError
from kextlab.sim import Context, Scheduler
from kextlab.sim.interrupts import INTERRUPT_STORM_LIMIT


class Device:
    """A level-sensitive source: asserted until its handler acknowledges it."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.pending = 0
        self.handled: list[tuple[int, Context]] = []

    def raise_interrupt(self) -> None:
        self.pending += 1
        self.scheduler.interrupts.set_asserted(True)

    def handler(self) -> None:
        self.handled.append((self.scheduler.now, self.scheduler.context))
        self.pending -= 1
        self.scheduler.interrupts.set_asserted(self.pending > 0)


def test_an_asserted_line_runs_the_handler_in_interrupt_context() -> None:
    """Delivery is an event; the handler runs in interrupt context, then the CPU goes on."""
    scheduler = Scheduler()
    device = Device(scheduler)
    scheduler.interrupts.connect(device.handler)
    scheduler.at(100, device.raise_interrupt, "device")
    scheduler.run()
    assert device.handled == [(100, Context.INTERRUPT)]
    assert scheduler.interrupts.delivered == 1
    assert scheduler.context is Context.HOST


def test_a_level_still_asserted_after_the_handler_is_delivered_again() -> None:
    """Level semantics: two pending causes mean two deliveries until the line drops."""
    scheduler = Scheduler()
    device = Device(scheduler)
    scheduler.interrupts.connect(device.handler)
    device.pending = 1
    device.raise_interrupt()
    scheduler.run()
    assert len(device.handled) == 2
    assert not scheduler.interrupts.asserted


def test_disabled_interrupts_are_deferred_until_restore() -> None:
    """With interrupts disabled the handler waits; restore delivers before it returns."""
    scheduler = Scheduler()
    device = Device(scheduler)
    scheduler.interrupts.connect(device.handler)
    log: list[str] = []

    def spinlock_holder() -> None:
        state = scheduler.interrupts.disable()
        scheduler.consume(1000)  # the device interrupts meanwhile
        log.append(f"critical section done, handled {len(device.handled)}")
        scheduler.interrupts.restore(state)
        log.append(f"restored, handled {len(device.handled)}")

    scheduler.spawn(spinlock_holder, name="holder")
    scheduler.at(500, device.raise_interrupt, "device")
    scheduler.run()
    assert log == ["critical section done, handled 0", "restored, handled 1"]
    assert device.handled == [(1000, Context.INTERRUPT)]
    assert scheduler.interrupts.deferred == 1


def test_nested_disables_need_matching_restores() -> None:
    """Interrupts come back only when the outermost disable is restored."""
    scheduler = Scheduler()
    interrupts = scheduler.interrupts
    outer = interrupts.disable()
    inner = interrupts.disable()
    interrupts.restore(inner)
    assert not interrupts.enabled
    interrupts.restore(outer)
    assert interrupts.enabled
    with pytest.raises(LockError, match="never disabled"):
        interrupts.restore(outer)


def test_restoring_interrupts_from_another_thread_is_refused() -> None:
    """Only the party that disabled interrupts may restore them."""
    scheduler = Scheduler()
    state = scheduler.interrupts.disable()

    def other() -> None:
        scheduler.interrupts.restore(state)

    scheduler.spawn(other, name="other")
    with pytest.raises(KernelPanic, match="other restores interrupts that host disabled"):
        scheduler.run()


def test_blocking_with_interrupts_disabled_is_a_violation() -> None:
    """Sleeping while holding interrupts disabled (a spinlock) raises at once."""
    scheduler = Scheduler()
    state = scheduler.interrupts.disable()
    with pytest.raises(InterruptContextViolation, match="with interrupts disabled"):
        scheduler.sleep(10)
    scheduler.interrupts.restore(state)
    scheduler.sleep(10)
    assert scheduler.now == 10


def test_a_thread_that_ends_with_interrupts_disabled_panics() -> None:
    """Leaving interrupts disabled at thread exit is caught as a panic."""
    scheduler = Scheduler()
    scheduler.spawn(scheduler.interrupts.disable, name="leaky")
    with pytest.raises(KernelPanic, match="finished with interrupts disabled"):
        scheduler.run()
    assert scheduler.interrupts.enabled


def test_a_handler_that_never_acknowledges_is_an_interrupt_storm() -> None:
    """A line that stays asserted forever panics instead of hanging the machine."""
    scheduler = Scheduler()
    scheduler.interrupts.connect(lambda: None)
    scheduler.interrupts.set_asserted(True)
    with pytest.raises(KernelPanic, match="interrupt storm") as panic:
        scheduler.run()
    assert scheduler.interrupts.delivered == INTERRUPT_STORM_LIMIT - 1
    assert 'event "cpu.interrupt"' in panic.value.report


def test_nothing_is_delivered_without_a_handler() -> None:
    """Before the platform connects its handler the line just stays pending."""
    scheduler = Scheduler()
    device = Device(scheduler)
    device.raise_interrupt()
    scheduler.run()
    assert scheduler.interrupts.asserted
    scheduler.interrupts.connect(device.handler)
    scheduler.run()
    assert len(device.handled) == 1
