"""Seeded preemption: races show under some seed, replay under it, and locks hold.

The racy scenario is the one the default schedule hides: two kernel threads take
turns, 5 us apart, at a read / MMIO access (``consume``) / write of a shared counter.
Under the default schedule the windows never overlap and no update is lost; under
seeded preemption a slice that ends inside one thread's window lets the other one in.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kextlab.errors import KernelPanic
from kextlab.sim import Mutex, Scheduler, TraceRecorder, WaitQueue
from kextlab.sim.preemption import (
    DEFAULT_MAX_SLICE_NS,
    DEFAULT_MAX_WAKEUP_LATENCY_NS,
    DEFAULT_PROBABILITY,
    PreemptionPolicy,
)
from kextlab.sim.time import MICROSECOND

#: What one MMIO read costs on the emulated PCI bus (``BusTiming.memory_read_ns``).
MMIO_READ_NS = 250
ITERATIONS = 10
PERIOD_NS = 10 * MICROSECOND
#: Seeds scanned for a lost update; the brief asks for a race within a few dozen.
SEEDS = range(40)
#: Every preemption point of a kernel thread ends its slice; wakeups are on time.
ALWAYS = PreemptionPolicy(probability=1.0, max_wakeup_latency_ns=0)


@dataclass
class Outcome:
    lost: int
    end: int
    preemptions: int
    trace: str


def counter_scenario(
    seed: int, policy: PreemptionPolicy | None, *, locked: bool = False
) -> Outcome:
    """Two threads increment a counter ITERATIONS times each, read / consume / write."""
    stream = io.StringIO()
    scheduler = Scheduler(seed=seed, trace=TraceRecorder(stream), preemption=policy)
    lock = Mutex(scheduler, "counter")
    counter = [0]

    def worker(offset: int) -> None:
        scheduler.sleep(offset)
        for _ in range(ITERATIONS):
            if locked:
                lock.lock()
                scheduler.preemption_point()  # a lock operation is a preemption point
            value = counter[0]
            scheduler.consume(MMIO_READ_NS)
            counter[0] = value + 1
            if locked:
                lock.unlock()
            scheduler.sleep(PERIOD_NS)

    first = scheduler.spawn(worker, 0, name="worker0")
    second = scheduler.spawn(worker, PERIOD_NS // 2, name="worker1")
    first.join()
    second.join()
    preemption = scheduler.preemption
    return Outcome(
        lost=2 * ITERATIONS - counter[0],
        end=scheduler.now,
        preemptions=preemption.preemptions if preemption is not None else 0,
        trace=stream.getvalue(),
    )


def losing_seeds(policy: PreemptionPolicy) -> list[int]:
    return [seed for seed in SEEDS if counter_scenario(seed, policy).lost]


# -- races show, and replay ------------------------------------------------------------------


def test_with_preemption_off_the_racy_counter_never_loses_an_update() -> None:
    """The default schedule hides the race: no lost update, no preemption, same run per seed."""
    runs = [counter_scenario(seed, None) for seed in range(5)]
    for run in runs:
        assert run.lost == 0
        assert run.preemptions == 0
        assert "sched.preempt" not in run.trace
        assert run.trace == runs[0].trace  # nothing in this schedule depends on the seed
    # Each thread: ITERATIONS x (access + period), the second one started half a period late.
    assert runs[0].end == PERIOD_NS // 2 + ITERATIONS * (MMIO_READ_NS + PERIOD_NS)


def test_the_default_policy_loses_an_update_under_some_seed() -> None:
    """Seeded preemption with its defaults finds the read-modify-write race in a few dozen seeds."""
    assert losing_seeds(PreemptionPolicy())


def test_a_losing_seed_reproduces_its_lost_count_and_trace_exactly() -> None:
    """Re-running the first losing seed loses the same updates and writes the same trace."""
    seed = losing_seeds(PreemptionPolicy())[0]
    first = counter_scenario(seed, PreemptionPolicy())
    again = counter_scenario(seed, PreemptionPolicy())
    assert first.lost > 0
    assert (again.lost, again.end, again.preemptions) == (first.lost, first.end, first.preemptions)
    assert again.trace == first.trace
    assert "sched.preempt worker" in first.trace
    assert "thread.preempt worker" in first.trace


def test_different_seeds_give_different_schedules() -> None:
    """The seed drives the schedule: two seeds, two traces."""
    assert (
        counter_scenario(1, PreemptionPolicy()).trace
        != counter_scenario(2, PreemptionPolicy()).trace
    )


def test_a_mutex_protected_counter_never_loses_an_update_under_fifty_seeds() -> None:
    """The same threads holding a Mutex lose nothing, though preempted inside the lock."""
    preempted = 0
    for seed in range(50):
        run = counter_scenario(seed, PreemptionPolicy(), locked=True)
        assert run.lost == 0, f"seed {seed} lost {run.lost} updates"
        preempted += run.preemptions
    harsh = [counter_scenario(seed, ALWAYS, locked=True) for seed in range(10)]
    assert all(run.lost == 0 for run in harsh)
    assert preempted > 0
    assert all(run.preemptions > 0 for run in harsh)


def test_a_device_event_lands_in_a_preempted_window_under_some_seed() -> None:
    """A slice lets device events in too: a thread's read-modify-write races a callback."""

    def lost(seed: int, policy: PreemptionPolicy | None) -> int:
        scheduler = Scheduler(seed=seed, preemption=policy)
        counter = [0]

        def device_completion(remaining: int) -> None:
            counter[0] += 1  # the device model's side of the shared state
            if remaining > 1:
                scheduler.after(
                    PERIOD_NS, lambda: device_completion(remaining - 1), "device.complete"
                )

        scheduler.after(PERIOD_NS // 2, lambda: device_completion(ITERATIONS), "device.complete")

        def driver() -> None:
            for _ in range(ITERATIONS):
                value = counter[0]
                scheduler.consume(MMIO_READ_NS)
                counter[0] = value + 1
                scheduler.sleep(PERIOD_NS - MMIO_READ_NS)

        scheduler.spawn(driver, name="driver").join()
        scheduler.run()
        return 2 * ITERATIONS - counter[0]

    assert all(lost(seed, None) == 0 for seed in range(5))
    assert any(lost(seed, PreemptionPolicy()) for seed in SEEDS)


# -- where preemption happens, and where it never does ---------------------------------------


def test_probability_one_ends_the_slice_at_every_kernel_thread_preemption_point() -> None:
    """With probability 1 each consume, yield and preemption_point of a thread preempts it."""
    scheduler = Scheduler(preemption=ALWAYS)

    def thread() -> None:
        scheduler.consume(MMIO_READ_NS)
        scheduler.yield_thread()
        scheduler.preemption_point()

    scheduler.spawn(thread, name="thread").join()
    preemption = scheduler.preemption
    assert preemption is not None
    assert (preemption.points, preemption.preemptions) == (3, 3)
    assert scheduler.now > MMIO_READ_NS


def test_slices_are_bounded_and_spread_from_nanoseconds_to_the_maximum() -> None:
    """Slices lie in [1, max_slice_ns], short and long ones alike (log-uniform)."""
    maximum = 4096
    scheduler = Scheduler(seed=3, preemption=PreemptionPolicy(1.0, maximum, 0))
    slices: list[int] = []

    def thread() -> None:
        for _ in range(2000):
            before = scheduler.now
            scheduler.preemption_point()  # takes no time: the clock moves by the slice alone
            slices.append(scheduler.now - before)

    scheduler.spawn(thread, name="thread").join()
    assert min(slices) >= 1
    assert max(slices) <= maximum
    octaves = {slice_ns.bit_length() for slice_ns in slices}
    assert octaves == set(range(1, maximum.bit_length() + 1))  # every octave, 1 ns to 4 us
    short = sum(slice_ns < 64 for slice_ns in slices)
    long = sum(slice_ns >= 64 for slice_ns in slices)
    assert short > 500
    assert long > 500


def test_the_host_is_never_preempted() -> None:
    """Host code (tests, tools) consumes and yields on the exact clock, never preempted."""
    scheduler = Scheduler(preemption=ALWAYS)
    for _ in range(100):
        scheduler.consume(MMIO_READ_NS)
        scheduler.preemption_point()
        scheduler.yield_thread()
    assert scheduler.now == 100 * MMIO_READ_NS
    preemption = scheduler.preemption
    assert preemption is not None
    assert (preemption.points, preemption.preemptions) == (0, 0)


def test_event_callbacks_and_interrupt_handlers_are_never_preempted() -> None:
    """Preemption points in event or interrupt context stay instantaneous and draw nothing."""
    scheduler = Scheduler(preemption=ALWAYS)
    seen: list[int] = []

    def handler() -> None:
        scheduler.consume(MMIO_READ_NS)
        scheduler.preemption_point()
        seen.append(scheduler.now)
        scheduler.interrupts.set_asserted(False)

    def device_event() -> None:
        scheduler.consume(MMIO_READ_NS)
        scheduler.preemption_point()
        seen.append(scheduler.now)
        scheduler.interrupts.set_asserted(True)

    scheduler.interrupts.connect(handler)
    scheduler.at(1000, device_event, "device.event")
    scheduler.run()
    assert seen == [1000, 1000]
    preemption = scheduler.preemption
    assert preemption is not None
    assert preemption.points == 0


@pytest.mark.parametrize(
    ("policy", "peer_runs_in_between"), [(None, False), (ALWAYS, True)], ids=["off", "always"]
)
def test_preemption_point_lets_a_runnable_peer_in_only_under_the_policy(
    policy: PreemptionPolicy | None, peer_runs_in_between: bool
) -> None:
    """Off, a thread runs through preemption_point(); preempted there, its peer runs first."""
    scheduler = Scheduler(preemption=policy)
    order: list[str] = []

    def first() -> None:
        order.append("first before")
        scheduler.preemption_point()
        order.append("first after")

    scheduler.spawn(first, name="first")
    scheduler.spawn(lambda: order.append("second"), name="second")
    scheduler.run()
    expected = ["first before", "first after", "second"]
    if peer_runs_in_between:
        expected = ["first before", "second", "first after"]
    assert order == expected


def test_a_thread_with_interrupts_off_a_spin_lock_or_preemption_disabled_keeps_the_cpu() -> None:
    """Disabled interrupts, a spin lock held or disabled preemption keep the thread on the CPU."""
    scheduler = Scheduler(preemption=ALWAYS)
    times: list[int] = []

    def thread() -> None:
        state = scheduler.interrupts.disable()
        scheduler.consume(MMIO_READ_NS)
        times.append(scheduler.now)
        scheduler.interrupts.restore(state)
        me = scheduler.current_thread
        assert me is not None
        me.spin_locks_held += 1  # what IOSimpleLockLock records
        scheduler.consume(MMIO_READ_NS)
        times.append(scheduler.now)
        me.spin_locks_held -= 1
        scheduler.disable_preemption()
        scheduler.disable_preemption()
        scheduler.consume(MMIO_READ_NS)
        scheduler.enable_preemption()
        scheduler.consume(MMIO_READ_NS)  # still disabled once
        times.append(scheduler.now)
        scheduler.enable_preemption()
        scheduler.consume(MMIO_READ_NS)  # preempted again
        times.append(scheduler.now)

    scheduler.spawn(thread, name="spinner").join()
    assert times[:3] == [MMIO_READ_NS, 2 * MMIO_READ_NS, 4 * MMIO_READ_NS]
    assert times[3] > 5 * MMIO_READ_NS
    preemption = scheduler.preemption
    assert preemption is not None
    assert preemption.preemptions == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda scheduler: scheduler.enable_preemption(), "never disabled preemption"),
        (lambda scheduler: scheduler.disable_preemption(), "finished with preemption disabled"),
    ],
    ids=["enable-without-disable", "exit-with-preemption-disabled"],
)
def test_unbalanced_preemption_disabling_panics_naming_the_thread(
    body: Callable[[Scheduler], None], message: str
) -> None:
    """enable_preemption without disable, or exiting still disabled, is a kernel panic."""
    scheduler = Scheduler(preemption=ALWAYS)
    scheduler.spawn(body, scheduler, name="sloppy")
    with pytest.raises(KernelPanic, match=message) as caught:
        scheduler.run()
    assert 'kernel thread "sloppy"' in str(caught.value)


def test_disabling_preemption_does_nothing_when_the_policy_is_off() -> None:
    """Off, disable/enable_preemption are no-ops: nothing is preempted, nothing counted."""
    scheduler = Scheduler()

    def thread() -> None:
        scheduler.enable_preemption()
        scheduler.disable_preemption()

    scheduler.spawn(thread, name="thread").join()
    assert scheduler.preemption is None


# -- ties: threads made runnable at the same instant --------------------------------------------


def wake_order(seed: int, policy: PreemptionPolicy | None) -> list[str]:
    """Three threads block on one queue; a broadcast wakes them at one instant."""
    scheduler = Scheduler(seed=seed, preemption=policy)
    queue = WaitQueue(scheduler, "event")
    order: list[str] = []

    def waiter(name: str) -> None:
        queue.wait()
        order.append(name)

    threads = [scheduler.spawn(waiter, name, name=name) for name in ("a", "b", "c")]
    scheduler.run()
    queue.wakeup_all()
    for thread in threads:
        thread.join()
    return order


def test_threads_woken_together_run_in_wake_order_when_the_policy_is_off() -> None:
    """Off, ties go by scheduling order: the broadcast's FIFO order, whatever the seed."""
    assert all(wake_order(seed, None) == ["a", "b", "c"] for seed in range(10))


def test_threads_woken_together_run_in_a_seeded_order_under_the_policy() -> None:
    """Under the policy a seeded wakeup latency orders simultaneous wakeups, reproducibly."""
    policy = PreemptionPolicy()
    orders = {tuple(wake_order(seed, policy)) for seed in range(30)}
    assert len(orders) == 6  # all permutations of three threads
    assert wake_order(5, policy) == wake_order(5, policy)


def start_time(seed: int, max_wakeup_latency_ns: int) -> int:
    """When a thread spawned at time 0 first runs, under a policy that never preempts."""
    scheduler = Scheduler(seed=seed, preemption=PreemptionPolicy(0.0, 1, max_wakeup_latency_ns))
    started: list[int] = []
    scheduler.spawn(lambda: started.append(scheduler.now), name="thread").join()
    return started[0]


def test_wakeup_latency_is_bounded_and_can_be_switched_off() -> None:
    """A woken thread runs at most max_wakeup_latency_ns late, and on time with a bound of 0."""
    late = [start_time(seed, 700) for seed in range(20)]
    assert all(0 <= time <= 700 for time in late)
    assert len(set(late)) > 10
    assert all(start_time(seed, 0) == 0 for seed in range(20))


# -- the policy's parameters --------------------------------------------------------------------


def test_the_default_policy_has_the_documented_parameters() -> None:
    """PreemptionPolicy() is 5 % per point, slices up to 1 ms, wakeups up to 1 us late."""
    policy = PreemptionPolicy()
    assert (policy.probability, policy.max_slice_ns, policy.max_wakeup_latency_ns) == (
        DEFAULT_PROBABILITY,
        DEFAULT_MAX_SLICE_NS,
        DEFAULT_MAX_WAKEUP_LATENCY_NS,
    )
    assert (DEFAULT_PROBABILITY, DEFAULT_MAX_SLICE_NS, DEFAULT_MAX_WAKEUP_LATENCY_NS) == (
        0.05,
        1_000_000,
        1_000,
    )
    assert policy.describe() == ("probability 0.05 max_slice 1000000 ns max_wakeup_latency 1000 ns")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"probability": 1.5}, "probability: expected a number from 0 to 1, not 1.5"),
        ({"probability": -0.1}, "probability: expected a number from 0 to 1, not -0.1"),
        ({"probability": True}, "probability: expected a number from 0 to 1, not True"),
        ({"max_slice_ns": 0}, "max_slice_ns: expected an integer of at least 1 ns, not 0"),
        ({"max_slice_ns": 2.5}, "max_slice_ns: expected an integer of at least 1 ns, not 2.5"),
        (
            {"max_wakeup_latency_ns": -1},
            "max_wakeup_latency_ns: expected a non-negative integer, not -1",
        ),
    ],
    ids=[
        "probability-above-1",
        "negative-probability",
        "boolean",
        "zero-slice",
        "float-slice",
        "negative-latency",
    ],
)
def test_bad_policy_parameters_are_refused_by_name(
    arguments: dict[str, object], message: str
) -> None:
    """Each invalid parameter raises ValueError naming it, its value and what was expected."""
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        PreemptionPolicy(**arguments)  # type: ignore[arg-type]
