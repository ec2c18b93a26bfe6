"""IOCreateThread, IOExitThread and thread calls (immediate, delayed, cancelled, freed)."""

from __future__ import annotations

from typing import Any

import pytest

from kextlab.errors import InterruptContextViolation, KernelPanic, SchedulingError
from kextlab.kernel.clock import IOSleep, clock_interval_to_deadline, kMillisecondScale
from kextlab.kernel.threads import (
    IOCreateThread,
    IOExitThread,
    ThreadCallError,
    thread_call_allocate,
    thread_call_cancel,
    thread_call_enter,
    thread_call_enter1,
    thread_call_enter1_delayed,
    thread_call_enter_delayed,
    thread_call_free,
    thread_call_isactive,
)
from kextlab.sim.context import Context
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.thread import KernelThread
from kextlab.sim.time import MILLISECOND
from tests.kernel.runtime.conftest import Device


class Driver:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.log: list[str] = []

    def worker(self, argument: str) -> None:
        IOSleep(1)
        thread = self.scheduler.current_thread
        assert thread is not None
        self.log.append(f"{thread.name} got {argument} at {self.scheduler.now}")


def test_iocreatethread_runs_the_function_on_a_named_kernel_thread(scheduler: Scheduler) -> None:
    """The thread is named after the function's qualified name and may block."""
    driver = Driver(scheduler)
    thread = IOCreateThread(driver.worker, "work")
    assert isinstance(thread, KernelThread)
    assert thread.name == "Driver.worker"
    thread.join()
    assert driver.log == [f"Driver.worker got work at {MILLISECOND}"]
    assert not thread.is_alive


def test_ioexitthread_ends_the_thread_and_runs_its_cleanup(scheduler: Scheduler) -> None:
    """Code after IOExitThread never runs; finally blocks do."""
    log: list[str] = []

    def body(_: object) -> None:
        try:
            log.append("running")
            IOExitThread()
            log.append("never")
        finally:
            log.append("cleanup")

    IOCreateThread(body, None).join()
    assert log == ["running", "cleanup"]
    assert scheduler.live_threads() == []


def test_thread_functions_refuse_the_wrong_contexts(scheduler: Scheduler) -> None:
    """IOExitThread needs a kernel thread; IOCreateThread may not run in a handler."""
    with pytest.raises(SchedulingError, match="IOExitThread called in host context"):
        IOExitThread()
    errors: list[type[BaseException]] = []

    def on_interrupt() -> None:
        try:
            IOCreateThread(print, None)
        except InterruptContextViolation as error:
            errors.append(type(error))

    Device(scheduler, on_interrupt).interrupt_at(1)
    scheduler.run()
    assert errors == [InterruptContextViolation]


def test_an_exception_in_a_created_thread_panics_naming_it(scheduler: Scheduler) -> None:
    """An uncaught exception in driver code is a kernel panic."""

    def broken(_: object) -> None:
        raise RuntimeError("driver bug")

    IOCreateThread(broken, None)
    with pytest.raises(KernelPanic, match='kernel thread "test_an_exception_in_a_created'):
        scheduler.run()


# -- thread calls -----------------------------------------------------------------------------


class Recorder:
    """A thread call function recording where, when and with what it ran."""

    def __init__(self, scheduler: Scheduler, sleep_ms: int = 0) -> None:
        self.scheduler = scheduler
        self.sleep_ms = sleep_ms
        self.calls: list[tuple[Any, Any, int, str]] = []

    def __call__(self, param0: Any, param1: Any) -> None:
        scheduler = self.scheduler
        assert scheduler.context is Context.THREAD  # never in event context
        thread = scheduler.current_thread
        assert thread is not None
        self.calls.append((param0, param1, scheduler.now, thread.name))
        if self.sleep_ms:
            IOSleep(self.sleep_ms)


def test_an_entered_call_runs_once_on_a_callout_thread(scheduler: Scheduler) -> None:
    """thread_call_enter runs func(param0, None) on a callout thread that then ends."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, "param0")
    assert not thread_call_isactive(call)
    assert thread_call_enter(call) is False
    assert thread_call_isactive(call)
    assert thread_call_enter(call) is True  # already pending: still one invocation
    scheduler.run()
    assert recorder.calls == [("param0", None, 0, "thread call high #1")]
    assert not thread_call_isactive(call)
    assert scheduler.live_threads() == []
    assert thread_call_free(call)


def test_reentering_a_pending_call_replaces_its_parameter(scheduler: Scheduler) -> None:
    """thread_call_enter1 while pending returns True; the invocation gets the new param1."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, 0)
    assert thread_call_enter1(call, "first") is False
    assert thread_call_enter1(call, "second") is True
    scheduler.run()
    assert [entry[1] for entry in recorder.calls] == ["second"]


def test_a_delayed_call_runs_at_its_deadline(scheduler: Scheduler) -> None:
    """Entered with a deadline, the call runs then; re-entering moves the deadline."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, "p0")
    first = clock_interval_to_deadline(10, kMillisecondScale)
    assert thread_call_enter_delayed(call, first) is False
    assert call.deadline == 10 * MILLISECOND
    deadline = clock_interval_to_deadline(4, kMillisecondScale)
    assert thread_call_enter1_delayed(call, "p1", deadline) is True
    assert thread_call_isactive(call)
    scheduler.run()
    assert recorder.calls == [("p0", "p1", 4 * MILLISECOND, "thread call high #1")]
    assert scheduler.now == 4 * MILLISECOND  # the 10 ms deadline was withdrawn
    assert scheduler.pending_events() == 0


def test_an_immediate_enter_overrides_a_delayed_one(scheduler: Scheduler) -> None:
    """thread_call_enter on a delayed call runs it now, once, and says it was pending."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, None)
    thread_call_enter_delayed(call, 50 * MILLISECOND)
    assert thread_call_enter(call) is True
    scheduler.run()
    assert [entry[2] for entry in recorder.calls] == [0]


def test_cancel_withdraws_a_pending_call_but_not_a_running_one(scheduler: Scheduler) -> None:
    """cancel returns True for a pending call (which then never runs), False otherwise;
    isactive stays True while an invocation runs."""
    recorder = Recorder(scheduler, sleep_ms=5)
    call = thread_call_allocate(recorder, None)
    assert thread_call_cancel(call) is False
    thread_call_enter_delayed(call, 3 * MILLISECOND)
    assert thread_call_cancel(call) is True
    scheduler.run()
    assert recorder.calls == []
    assert not thread_call_isactive(call)
    thread_call_enter(call)
    scheduler.run(MILLISECOND)  # running: asleep in its 5 ms
    assert thread_call_isactive(call)
    assert thread_call_cancel(call) is False
    scheduler.run()
    assert len(recorder.calls) == 1
    assert not thread_call_isactive(call)


def test_entering_a_running_call_queues_another_invocation(scheduler: Scheduler) -> None:
    """A running call is not pending: a second invocation runs on a second callout
    thread while the first still sleeps."""
    recorder = Recorder(scheduler, sleep_ms=5)
    call = thread_call_allocate(recorder, None)
    thread_call_enter1(call, 1)
    scheduler.run(MILLISECOND)
    assert thread_call_enter1(call, 2) is False
    scheduler.run()
    assert [(entry[1], entry[2], entry[3]) for entry in recorder.calls] == [
        (1, 0, "thread call high #1"),
        (2, MILLISECOND, "thread call high #2"),
    ]
    assert scheduler.now == 6 * MILLISECOND


def test_due_calls_run_in_order_and_idle_callout_threads_end(scheduler: Scheduler) -> None:
    """Calls falling due together are taken in order; a callout thread free again takes
    the next one, and the threads started for calls already taken end at once."""
    recorder = Recorder(scheduler)
    calls = [thread_call_allocate(recorder, name) for name in "abc"]
    for call in calls:
        thread_call_enter(call)
    scheduler.run()
    assert [(entry[0], entry[3]) for entry in recorder.calls] == [
        ("a", "thread call high #1"),
        ("b", "thread call high #1"),
        ("c", "thread call high #1"),
    ]
    assert scheduler.live_threads() == []


def test_free_refuses_a_pending_call_and_use_after_free_raises(scheduler: Scheduler) -> None:
    """thread_call_free is False while an invocation is pending; after a free, any
    use raises ThreadCallError."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, None)
    thread_call_enter_delayed(call, MILLISECOND)
    assert thread_call_free(call) is False
    scheduler.run()
    assert thread_call_free(call) is True
    for use in (thread_call_enter, thread_call_cancel, thread_call_isactive, thread_call_free):
        with pytest.raises(ThreadCallError, match="Recorder was freed"):
            use(call)


def test_thread_calls_can_be_entered_from_an_interrupt_handler(scheduler: Scheduler) -> None:
    """Entering never blocks: a handler may defer work to a callout thread."""
    recorder = Recorder(scheduler)
    call = thread_call_allocate(recorder, "deferred")

    def on_interrupt() -> None:
        thread_call_enter1_delayed(call, "from handler", scheduler.now + 100)

    Device(scheduler, on_interrupt).interrupt_at(1000)
    scheduler.run()
    assert recorder.calls == [("deferred", "from handler", 1100, "thread call high #1")]


def test_ioexitthread_in_a_call_leaves_the_other_calls_to_run(scheduler: Scheduler) -> None:
    """A call that ends its callout thread does not strand the calls due after it."""
    order: list[str] = []

    def quitter(param0: object, param1: object) -> None:
        order.append("quitter")
        IOExitThread()

    first = thread_call_allocate(quitter, None)
    second = thread_call_allocate(lambda p0, p1: order.append("second"), None)
    thread_call_enter(first)
    thread_call_enter(second)
    scheduler.run()
    assert order == ["quitter", "second"]
    assert scheduler.live_threads() == []


def test_thread_call_allocate_refuses_interrupt_context(scheduler: Scheduler) -> None:
    """Allocating may block, so a handler must allocate its thread call beforehand."""
    errors: list[type[BaseException]] = []

    def on_interrupt() -> None:
        try:
            thread_call_allocate(print, None)
        except InterruptContextViolation as error:
            errors.append(type(error))

    Device(scheduler, on_interrupt).interrupt_at(1)
    scheduler.run()
    assert errors == [InterruptContextViolation]
