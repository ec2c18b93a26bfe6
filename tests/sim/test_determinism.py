"""Same machine, same seed, same run: traces are byte-identical; seeds matter."""

from __future__ import annotations

import io

import pytest

from kextlab.sim import DeterministicRandom, Mutex, Scheduler, Semaphore, TraceRecorder
from kextlab.sim.time import MICROSECOND


def busy_scenario(seed: int) -> str:
    """Threads, a lock, a semaphore, random delays and interrupts; returns the trace."""
    stream = io.StringIO()
    scheduler = Scheduler(seed=seed, trace=TraceRecorder(stream))
    random = scheduler.rng.stream("scenario")
    lock = Mutex(scheduler, "lock")
    done = Semaphore(scheduler, "done")
    interrupts: list[int] = []

    def handler() -> None:
        interrupts.append(scheduler.now)
        scheduler.interrupts.set_asserted(False)

    scheduler.interrupts.connect(handler)

    def worker(number: int) -> None:
        for step in range(5):
            scheduler.sleep(random.randrange(1, 50) * MICROSECOND)
            lock.lock()
            scheduler.consume(random.randrange(1, 5) * MICROSECOND)
            scheduler.trace_point("worker", f"{number} step {step}")
            lock.unlock()
            if random.random() < 0.3:
                scheduler.after(
                    random.randrange(10) * MICROSECOND,
                    lambda: scheduler.interrupts.set_asserted(True),
                    "device.irq",
                )
        done.signal()

    for number in range(4):
        scheduler.spawn(worker, number, name=f"worker{number}")
    for _ in range(4):
        done.wait()
    scheduler.run()
    return stream.getvalue()


def test_same_seed_gives_byte_identical_traces() -> None:
    """Two runs with one seed write the same trace, byte for byte."""
    first = busy_scenario(7)
    second = busy_scenario(7)
    assert first == second
    assert first.count("\n") > 50
    assert "thread.start worker0" in first
    assert "cpu.interrupt" in first


def test_different_seeds_give_different_runs() -> None:
    """The seed really drives the run: another seed, another trace."""
    assert busy_scenario(7) != busy_scenario(8)


def test_named_streams_are_reproducible_and_independent() -> None:
    """A stream depends only on the seed and its name, not on other streams' use."""
    first = DeterministicRandom(11)
    second = DeterministicRandom(11)
    second.stream("other").random()
    assert first.stream("disk0").random() == second.stream("disk0").random()
    assert first.stream("disk0") is first.stream("disk0")
    assert (
        DeterministicRandom(12).stream("disk0").random()
        != DeterministicRandom(11).stream("disk0").random()
    )
    with pytest.raises(ValueError, match="non-negative"):
        DeterministicRandom(-1)


def test_trace_lines_carry_the_virtual_time() -> None:
    """Every trace line starts with seconds.nanoseconds of virtual time."""
    stream = io.StringIO()
    scheduler = Scheduler(trace=TraceRecorder(stream))
    scheduler.at(1_500, lambda: scheduler.trace_point("device", "hello"), "device.event")
    scheduler.run()
    assert stream.getvalue().splitlines() == [
        "0.000001500 device.event",
        "0.000001500 device hello",
    ]


def test_tracing_off_writes_nothing() -> None:
    """A recorder without a stream is disabled and records nothing."""
    recorder = TraceRecorder()
    assert not recorder.enabled
    recorder.record(0, "anything")
    assert recorder.lines_written == 0
