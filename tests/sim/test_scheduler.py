"""The scheduler's event queue, virtual clock, contexts and panics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kextlab.errors import InternalError, KernelPanic
from kextlab.sim import Context, Scheduler
from kextlab.sim.sync import WaitQueue
from kextlab.sim.time import MILLISECOND, SECOND, format_log_stamp, format_seconds


def test_events_run_in_virtual_time_order() -> None:
    """Events run by time, whatever order they were scheduled in."""
    scheduler = Scheduler()
    seen: list[tuple[str, int]] = []
    for name, time in (("c", 30), ("a", 10), ("b", 20)):
        scheduler.at(time, lambda name=name: seen.append((name, scheduler.now)), name)
    scheduler.run()
    assert seen == [("a", 10), ("b", 20), ("c", 30)]


def test_ties_are_broken_by_scheduling_order() -> None:
    """Two events due at the same instant run in the order they were scheduled."""
    scheduler = Scheduler()
    seen: list[int] = []
    for number in range(10):
        scheduler.at(5, lambda number=number: seen.append(number), f"event {number}")
    scheduler.run()
    assert seen == list(range(10))


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=60))
def test_dispatch_order_is_time_then_sequence(times: list[int]) -> None:
    """For any schedule, dispatch order is sorted by (time, scheduling order)."""
    scheduler = Scheduler()
    seen: list[tuple[int, int]] = []
    for index, time in enumerate(times):
        scheduler.at(time, lambda index=index, time=time: seen.append((time, index)), "e")
    scheduler.run()
    assert seen == sorted((time, index) for index, time in enumerate(times))


def test_idle_time_costs_nothing_and_the_clock_jumps() -> None:
    """A one-hour timeout is reached at once: the clock jumps to the next event."""
    scheduler = Scheduler()
    fired: list[int] = []
    scheduler.after(3600 * SECOND, lambda: fired.append(scheduler.now), "timeout")
    scheduler.run()
    assert fired == [3600 * SECOND]
    assert scheduler.now == 3600 * SECOND


def test_run_until_stops_and_sets_the_clock() -> None:
    """run(until) runs events due up to and including ``until`` and ends exactly there."""
    scheduler = Scheduler()
    seen: list[int] = []
    for time in (10, 20, 30):
        scheduler.at(time, lambda time=time: seen.append(time), "e")
    scheduler.run(20)
    assert seen == [10, 20]
    assert scheduler.now == 20
    scheduler.run_for(5)
    assert scheduler.now == 25
    assert scheduler.pending_events() == 1
    assert scheduler.next_event_time() == 30


def test_cancelled_events_do_not_run() -> None:
    """A cancelled event is skipped and not counted as pending."""
    scheduler = Scheduler()
    seen: list[str] = []
    event = scheduler.at(10, lambda: seen.append("cancelled"), "cancelled")
    scheduler.at(20, lambda: seen.append("kept"), "kept")
    event.cancel()
    assert scheduler.pending_events() == 1
    scheduler.run()
    assert seen == ["kept"]


def test_cancelled_timeouts_do_not_pile_up_in_the_queue() -> None:
    """Timeouts armed and cancelled per command are dropped from the queue long before
    they fall due, and the events left run exactly as they would have."""
    scheduler = Scheduler()
    seen: list[tuple[int, int]] = []
    for command in range(1000):
        scheduler.after(30 * SECOND, lambda: seen.append((-1, scheduler.now)), "timeout").cancel()
        scheduler.at(command, lambda command=command: seen.append((command, scheduler.now)), "e")
        scheduler.run(command)
    assert len(scheduler._queue) < 100
    scheduler.at(5000, lambda: seen.append((5000, scheduler.now)), "last")
    scheduler.run()
    assert seen == [(command, command) for command in range(1000)] + [(5000, 5000)]
    assert scheduler.now == 5000


def test_the_queue_may_be_compacted_by_the_event_running() -> None:
    """An event that schedules and cancels enough timeouts to compact the queue under
    the running loop leaves the loop's view of the queue intact."""
    scheduler = Scheduler()
    seen: list[int] = []

    def burst() -> None:
        for _ in range(500):
            scheduler.after(SECOND, lambda: seen.append(-1), "timeout").cancel()
        scheduler.after(1, lambda: seen.append(scheduler.now), "after the burst")

    scheduler.at(10, burst, "burst")
    scheduler.at(20, lambda: seen.append(scheduler.now), "later")
    scheduler.run()
    assert seen == [11, 20]
    assert scheduler.now == 20


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=1000), st.booleans()), max_size=200))
def test_dropping_cancelled_events_keeps_the_dispatch_order(plan: list[tuple[int, bool]]) -> None:
    """For any mix of kept and cancelled events, the kept ones run in (time, scheduling
    order), however often the queue was compacted meanwhile."""
    scheduler = Scheduler()
    seen: list[tuple[int, int]] = []
    for index, (time, cancelled) in enumerate(plan):
        event = scheduler.at(time, lambda index=index, time=time: seen.append((time, index)), "e")
        if cancelled:
            event.cancel()
    scheduler.run()
    expected = sorted(
        (time, index) for index, (time, cancelled) in enumerate(plan) if not cancelled
    )
    assert seen == expected


def test_external_events_do_not_keep_the_machine_running() -> None:
    """run() stops when only external events are left; a run that reaches their time
    runs them, in order with the machine's own."""
    scheduler = Scheduler()
    seen: list[tuple[str, int]] = []
    scheduler.at_external(5 * SECOND, lambda: seen.append(("plug", scheduler.now)), "plug")
    scheduler.at(MILLISECOND, lambda: seen.append(("boot", scheduler.now)), "boot")
    scheduler.run()
    assert seen == [("boot", MILLISECOND)]
    assert scheduler.now == MILLISECOND
    assert scheduler.pending_events() == 1
    scheduler.run_for(5 * SECOND)
    assert seen[-1] == ("plug", 5 * SECOND)
    assert scheduler.pending_events() == 0


def test_the_machines_own_work_runs_the_external_events_it_passes() -> None:
    """An external event due before the machine's last event of its own runs in time
    order; a cancelled event of the machine's does not count as work."""
    scheduler = Scheduler()
    seen: list[str] = []
    scheduler.at(3 * SECOND, lambda: seen.append("dead timeout"), "timeout").cancel()
    scheduler.at_external(SECOND, lambda: seen.append("plug"), "plug")
    scheduler.at_external(4 * SECOND, lambda: seen.append("unplug"), "unplug")
    scheduler.run()
    assert seen == []
    scheduler.at(2 * SECOND, lambda: seen.append("work"), "work")
    scheduler.run()
    assert seen == ["plug", "work"]
    assert scheduler.now == 2 * SECOND


def test_a_host_waiting_for_an_external_event_gets_it() -> None:
    """A host that blocks until something is plugged in runs the machine to that time."""
    scheduler = Scheduler()
    queue = WaitQueue(scheduler, "arrival")
    scheduler.at_external(7 * MILLISECOND, lambda: queue.wakeup_all(), "plug")
    assert queue.wait()
    assert scheduler.now == 7 * MILLISECOND


def test_cancelled_external_events_leave_the_queue_with_the_rest() -> None:
    scheduler = Scheduler()
    for number in range(100):
        scheduler.at_external(SECOND + number, lambda: None, "plug").cancel()
    for _ in range(100):
        scheduler.after(SECOND, lambda: None, "timeout").cancel()
    scheduler.at(1, lambda: None, "work")
    scheduler.run()
    assert scheduler._external == set()
    assert scheduler.pending_events() == 0


def test_scheduling_in_the_past_is_a_bug() -> None:
    """An event before the present raises InternalError, never reorders time."""
    scheduler = Scheduler()
    scheduler.run_for(100)
    with pytest.raises(InternalError, match="before the present"):
        scheduler.at(50, lambda: None, "late")
    with pytest.raises(InternalError, match="in the past"):
        scheduler.after(-1, lambda: None, "late")


def test_host_consume_runs_due_events_first() -> None:
    """Host code that spends CPU time sees the events that fell due meanwhile."""
    scheduler = Scheduler()
    seen: list[int] = []
    scheduler.at(150, lambda: seen.append(scheduler.now), "device done")
    scheduler.consume(100)
    assert seen == []
    assert scheduler.now == 100
    scheduler.consume(100)
    assert seen == [150]
    assert scheduler.now == 200


def test_event_callbacks_run_in_event_context_and_may_not_block() -> None:
    """An event callback is instantaneous: consume is a no-op and sleeping is refused."""
    scheduler = Scheduler()
    contexts: list[Context] = []

    def callback() -> None:
        contexts.append(scheduler.context)
        before = scheduler.now
        scheduler.consume(1000)
        assert scheduler.now == before
        scheduler.sleep(10)

    scheduler.at(5, callback, "device")
    with pytest.raises(KernelPanic, match="an event callback cannot block"):
        scheduler.run()
    assert contexts == [Context.EVENT]
    assert scheduler.context is Context.HOST


def test_an_exception_in_an_event_panics_the_machine_for_good() -> None:
    """An exception escaping a callback becomes a KernelPanic report, raised on every run."""
    scheduler = Scheduler(seed=3)

    def broken() -> None:
        raise ValueError("register decode went wrong")

    scheduler.at(2 * MILLISECOND, broken, "broken.device")
    with pytest.raises(KernelPanic) as panic:
        scheduler.run()
    report = panic.value.report
    assert 'event "broken.device" raised ValueError: register decode went wrong' in report
    assert "virtual time: 0.002000000 s, seed 3" in report
    assert "Traceback" in report
    assert scheduler.panicked
    with pytest.raises(KernelPanic):
        scheduler.run()


def test_panic_report_hooks_add_context() -> None:
    """Layers above (the kernel's log) can append to a panic report."""
    scheduler = Scheduler()
    scheduler.panic_report_hooks.append(lambda: "last log lines: hello")

    def broken() -> None:
        raise RuntimeError("boom")

    scheduler.at(0, broken, "e")
    with pytest.raises(KernelPanic, match="last log lines: hello"):
        scheduler.run()


def test_run_from_inside_the_loop_is_refused() -> None:
    """Only the host drives the loop; a callback calling run() is a bug."""
    scheduler = Scheduler()
    scheduler.at(0, lambda: scheduler.run(), "recursive")
    with pytest.raises(KernelPanic, match="cannot run the machine from event context"):
        scheduler.run()


def test_time_formats_are_exact() -> None:
    """Trace times print every nanosecond; log stamps microseconds, kernel-log style."""
    assert format_seconds(1_234_567_891) == "1.234567891"
    assert format_seconds(0) == "0.000000000"
    assert format_log_stamp(1_234_567_891) == "[    1.234567]"
