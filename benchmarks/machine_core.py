"""Real-time cost of kextlab's machine core, as ratios against raw Python baselines.

Run it with ``python3 dev.py python benchmarks/machine_core.py`` (add ``--quick`` for
a smoke run of about a second).  Each measurement times a piece of the machine core
and, in the same run, a *baseline*: the least plain Python that does the same job.
Absolute rates depend on the host (CPU, load, Python build, frequency scaling) and
mean little on their own; the **ratio** (how many times slower the machine core is
than its baseline) largely cancels the host out, so ratios are the numbers to
compare across machines and across commits.  Both are printed.

The figures
-----------
events
    Events per second through ``Scheduler.at`` + ``Scheduler.run``: N events with
    no-op callbacks, scheduled at scattered virtual times, then dispatched.
    Baseline: ``heapq.heappush`` of N ``(time, seq, obj)`` tuples, then ``heappop``
    of all of them, calling a no-op for each.  The two phases are also shown apart
    (``at()`` alone, ``run()`` alone) against the matching half of the baseline.
switch (yield) / switch (semaphore)
    Round trips per second between two kernel threads (``Scheduler.spawn``) that
    hand the CPU to each other: thread A runs, B runs, A runs again is one round
    trip.  ``yield`` uses ``Scheduler.yield_thread()`` (the other thread's resume
    event is always due, so every yield switches); ``semaphore`` uses a pair of
    ``kextlab.sim.sync.Semaphore`` (every ``wait`` but the first blocks).  Each turn
    checks that the other thread ran since, so a missed switch fails the run.  One
    round trip is four greenlet switches (thread -> loop -> thread, twice) plus two
    events.  Baseline: two raw greenlets switching back and forth as often.
mmio read32 / write64 / write32
    CPU accesses per second on the booted default machine, from the host:
    ``machine.read(BAR0 + 0x40, 4)`` (the test card's SCRATCH register),
    ``machine.write(BAR0 + 0x40, 8, v)`` and ``machine.write(BAR0 + 0x20, 4, v)``
    (DESCRIPTOR_ADDRESS_LOW, a plain 32-bit RW register).  Each access goes through
    the address space, the register file and the scheduler's preemption point.
    Baseline: a plain function doing ``int.from_bytes(buf[64:68], "little")`` on a
    bytearray (for writes: ``buf[o:o+n] = v.to_bytes(n, "little")``).
dma copy 1 MiB
    Throughput (MB/s, 10**6 bytes) of the test card copying 1 MiB between two RAM
    buffers, counting everything a driver does per transfer: write the descriptor,
    program DESCRIPTOR_ADDRESS_LOW/HIGH and DESCRIPTOR_LENGTH, ring DOORBELL, run the
    machine until the card is done, read COMPLETION_STATUS.  Baseline: ``dst[:] = src``
    between two 1 MiB memoryviews.
dma transfer overhead
    Wall time of one complete 64-byte transfer (the same steps; the copy itself is
    negligible), i.e. the fixed cost per descriptor list.  Its "ratio" column is that
    time in units of the raw register-read baseline call.  The summary also shows the
    1 MiB transfer time minus the 1 MiB memcpy time: the same overhead, derived.

Method: every figure is the best (shortest) of ``--repeat`` timings, with baseline
and subject interleaved in each repetition and the garbage collector off while the
clock runs (as ``timeit`` does); ``time.perf_counter`` is the clock.  Every
measurement checks its own result (events dispatched, alternation, register
read-back, no guest errors, completion status and copied bytes) so a broken machine
core cannot post a fast time.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
from collections.abc import Callable

from greenlet import getcurrent, greenlet
from harness import (
    BenchmarkError,
    Row,
    best_of,
    check,
    format_seconds,
    parse_arguments,
    print_header,
    report,
    scaled_counts,
)

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.machine.devices import testcard_registers as tc
from kextlab.machine.devices.testcard import TestCard
from kextlab.machine.machine import Machine
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.sync import Semaphore

MiB = 1 << 20
COMMAND_REGISTER = 0x04
COMMAND_BUS_MASTER = 0x0004

# Physical addresses of the DMA buffers, all in the default machine's low 2 GiB of RAM.
DESCRIPTOR_ADDRESS = 0x0010_0000
SOURCE_ADDRESS = 0x0100_0000
DESTINATION_ADDRESS = 0x0200_0000

# Iteration counts of a full run; ``--quick`` divides them by QUICK_DIVISOR.
FULL_COUNTS = {
    "events": 200_000,
    "switches": 50_000,
    "mmio": 200_000,
    "dma_1mib": 600,
    "dma_small": 6_000,
    "memcpy": 3_000,
}
QUICK_DIVISOR = 20


def noop() -> None:
    pass


# -- 1. events through the scheduler --------------------------------------------------------


def event_times(count: int) -> list[int]:
    """Scattered virtual times (a permutation of 0, 10, 20... ns), the same every run."""
    times = [index * 10 for index in range(count)]
    random.Random(1).shuffle(times)
    return times


def bench_events(count: int, repeat: int) -> list[Row]:
    times = event_times(count)
    split: dict[str, float] = {"at": float("inf"), "run": float("inf")}
    raw_split: dict[str, float] = {"push": float("inf"), "pop": float("inf")}

    def scheduler_run() -> float:
        scheduler = Scheduler()
        at = scheduler.at
        action = noop
        start = time.perf_counter()
        for when in times:
            at(when, action, "bench")
        middle = time.perf_counter()
        scheduler.run()
        end = time.perf_counter()
        check(scheduler.events_dispatched == count, "the scheduler lost events")
        check(scheduler.now == max(times), "the clock did not reach the last event")
        check(scheduler.pending_events() == 0, "events left in the queue")
        split["at"] = min(split["at"], middle - start)
        split["run"] = min(split["run"], end - middle)
        return end - start

    def heapq_run() -> float:
        queue: list[tuple[int, int, object]] = []
        push = heapq.heappush
        pop = heapq.heappop
        sequence = itertools.count()
        item = object()
        action = noop
        dispatched = 0
        start = time.perf_counter()
        for when in times:
            push(queue, (when, next(sequence), item))
        middle = time.perf_counter()
        while queue:
            pop(queue)
            action()
            dispatched += 1
        end = time.perf_counter()
        check(dispatched == count, "baseline lost items")
        raw_split["push"] = min(raw_split["push"], middle - start)
        raw_split["pop"] = min(raw_split["pop"], end - middle)
        return end - start

    raw, machine = best_of(repeat, heapq_run, scheduler_run)
    return [
        Row("events: at() + run()", "events", count, machine, raw, "heappush + heappop + call"),
        Row("  at() alone", "events", count, split["at"], raw_split["push"], "heappush"),
        Row("  run() alone", "events", count, split["run"], raw_split["pop"], "heappop + call"),
    ]


# -- 2. switches between kernel threads -------------------------------------------------------


class TurnLog:
    """Records whose turn it is; fails on two turns in a row by the same thread."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.turns = 0
        self.handoffs = 0

    def turn(self, me: str) -> None:
        last = self.last
        if last == me:
            raise BenchmarkError(f"thread {me} ran twice in a row: no switch happened")
        if last is not None:
            self.handoffs += 1
        self.last = me
        self.turns += 1


def bench_switches(rounds: int, repeat: int) -> list[Row]:
    def yield_run() -> float:
        scheduler = Scheduler()
        log = TurnLog()

        def player(me: str) -> None:
            turn = log.turn
            yield_thread = scheduler.yield_thread
            for _ in range(rounds):
                turn(me)
                yield_thread()

        scheduler.spawn(player, "a", name="a")
        scheduler.spawn(player, "b", name="b")
        start = time.perf_counter()
        scheduler.run()
        end = time.perf_counter()
        check(log.turns == 2 * rounds, f"{log.turns} turns, expected {2 * rounds}")
        check(log.handoffs == 2 * rounds - 1, f"only {log.handoffs} switches")
        check(not scheduler.live_threads(), "threads left running")
        return end - start

    def semaphore_run() -> float:
        scheduler = Scheduler()
        log = TurnLog()
        ping = Semaphore(scheduler, "ping")
        pong = Semaphore(scheduler, "pong")

        def first() -> None:
            turn = log.turn
            for _ in range(rounds):
                turn("a")
                pong.signal()
                ping.wait()

        def second() -> None:
            turn = log.turn
            for _ in range(rounds):
                pong.wait()
                turn("b")
                ping.signal()

        scheduler.spawn(first, name="a")
        scheduler.spawn(second, name="b")
        start = time.perf_counter()
        scheduler.run()
        end = time.perf_counter()
        check(log.turns == 2 * rounds, f"{log.turns} turns, expected {2 * rounds}")
        check(log.handoffs == 2 * rounds - 1, f"only {log.handoffs} switches")
        check(not scheduler.live_threads(), "threads left running")
        return end - start

    def greenlet_run() -> float:
        log = TurnLog()
        main = getcurrent()

        def partner() -> None:
            turn = log.turn
            back = main.switch
            for _ in range(rounds):
                turn("b")
                back()

        other = greenlet(partner)
        turn = log.turn
        forth = other.switch
        start = time.perf_counter()
        for _ in range(rounds):
            turn("a")
            forth()
        end = time.perf_counter()
        other.switch()  # let the partner return
        check(other.dead, "baseline greenlet still alive")
        check(log.handoffs == 2 * rounds - 1, "baseline greenlets did not alternate")
        return end - start

    raw, yielding, semaphore = best_of(repeat, greenlet_run, yield_run, semaphore_run)
    baseline = "raw greenlet.switch pair"
    return [
        Row("switch: yield_thread", "round trips", rounds, yielding, raw, baseline),
        Row("switch: Semaphore pair", "round trips", rounds, semaphore, raw, baseline),
    ]


# -- machines ----------------------------------------------------------------------------------


def booted_machine() -> Machine:
    machine = Machine.from_name("default")
    OpenFirmware(machine).power_on()
    return machine


def register_base(machine: Machine, name: str) -> int:
    function = machine.pci_function(name)
    return function.bar_address(function.bars[tc.REGISTER_BAR])


# -- 3. MMIO --------------------------------------------------------------------------------


def bench_mmio(count: int, repeat: int) -> tuple[list[Row], float]:
    """The MMIO rows, and the seconds one raw register-read call takes."""
    machine = booted_machine()
    scheduler = machine.scheduler
    timing = machine.timing
    base = register_base(machine, "testcard0")
    scratch = base + tc.Register.SCRATCH
    low = base + tc.Register.DESCRIPTOR_ADDRESS_LOW
    check(
        machine.read(base + tc.Register.IDENTIFICATION, 4) == tc.IDENTIFICATION_VALUE,
        "testcard0 does not answer at BAR0",
    )
    machine.write(scratch, 8, 0x0123_4567_89AB_CDEF)
    check(machine.read(scratch, 4) == 0x89AB_CDEF, "SCRATCH did not read back")
    errors_before = machine.guest_errors.count()
    buffer = bytearray(tc.REGISTER_BAR_SIZE)
    values = list(range(count))

    def raw_read(offset: int, size: int) -> int:
        return int.from_bytes(buffer[offset : offset + size], "little")

    def raw_write(offset: int, size: int, value: int) -> None:
        buffer[offset : offset + size] = value.to_bytes(size, "little")

    def raw_read_run() -> float:
        read = raw_read
        offset = tc.Register.SCRATCH.value
        start = time.perf_counter()
        for _ in values:
            read(offset, 4)
        return time.perf_counter() - start

    def raw_write_run(offset: int, size: int) -> Callable[[], float]:
        def run() -> float:
            write = raw_write
            start = time.perf_counter()
            for value in values:
                write(offset, size, value)
            return time.perf_counter() - start

        return run

    def machine_read_run() -> float:
        read = machine.read
        before = scheduler.now
        start = time.perf_counter()
        for _ in values:
            read(scratch, 4)
        end = time.perf_counter()
        check(scheduler.now - before == count * timing.memory_read_ns, "reads did not cost time")
        return end - start

    def machine_write_run(address: int, size: int) -> Callable[[], float]:
        def run() -> float:
            write = machine.write
            before = scheduler.now
            start = time.perf_counter()
            for value in values:
                write(address, size, value)
            end = time.perf_counter()
            check(
                scheduler.now - before == count * timing.memory_write_ns,
                "writes did not cost time",
            )
            check(machine.read(address, 4) == count - 1, "the last write did not land")
            return end - start

        return run

    raw_r, raw_w8, raw_w4, read, write8, write4 = best_of(
        repeat,
        raw_read_run,
        raw_write_run(tc.Register.SCRATCH.value, 8),
        raw_write_run(tc.Register.DESCRIPTOR_ADDRESS_LOW.value, 4),
        machine_read_run,
        machine_write_run(scratch, 8),
        machine_write_run(low, 4),
    )
    check(
        machine.guest_errors.count() == errors_before,
        f"guest errors during MMIO: {machine.guest_errors.messages()[-3:]}",
    )
    machine.close()
    rows = [
        Row("mmio: read32 SCRATCH", "accesses", count, read, raw_r, "int.from_bytes(buf[64:68])"),
        Row("mmio: write64 SCRATCH", "accesses", count, write8, raw_w8, "buf[64:72] = to_bytes"),
        Row("mmio: write32 DESC_ADDR_LOW", "accesses", count, write4, raw_w4, "buf[32:36] = ..."),
    ]
    return rows, raw_r / count


# -- 4. DMA -----------------------------------------------------------------------------------


class DmaBench:
    """testcard0 on a booted default machine, set up for COPY descriptors."""

    def __init__(self) -> None:
        self.machine = machine = booted_machine()
        function = machine.pci_function("testcard0")
        check(isinstance(function, TestCard), "testcard0 is not a test card")
        assert isinstance(function, TestCard)
        self.card = function
        bus = function.bus
        assert bus is not None
        location = (bus.number, function.device_number, function.function_number)
        command = machine.config_read(*location, COMMAND_REGISTER, 2)
        machine.config_write(*location, COMMAND_REGISTER, 2, command | COMMAND_BUS_MASTER)
        check(function.bus_master_enabled(), "Bus Master did not get enabled")
        self.base = register_base(machine, "testcard0")
        self.source = random.Random(2).randbytes(MiB)
        check(machine.memory.write(SOURCE_ADDRESS, self.source), "source buffer not in RAM")
        check(machine.memory.fill(DESTINATION_ADDRESS, MiB, 0), "destination not in RAM")

    def transfer(self, length: int) -> None:
        """One complete transfer, as a polling driver does it."""
        machine = self.machine
        base = self.base
        write = machine.write
        R = tc.Register
        machine.memory.write(
            DESCRIPTOR_ADDRESS,
            tc.DESCRIPTOR.pack(
                tc.Opcode.COPY, 0, 0, 0, SOURCE_ADDRESS, DESTINATION_ADDRESS, length
            ),
        )
        write(base + R.DESCRIPTOR_ADDRESS_LOW, 4, DESCRIPTOR_ADDRESS & 0xFFFF_FFFF)
        write(base + R.DESCRIPTOR_ADDRESS_HIGH, 4, DESCRIPTOR_ADDRESS >> 32)
        write(base + R.DESCRIPTOR_LENGTH, 4, tc.DESCRIPTOR_SIZE)
        write(base + R.DOORBELL, 4, 1)
        machine.run()
        status = machine.read(base + R.COMPLETION_STATUS, 4)
        if status != tc.Completion.SUCCESS:
            raise BenchmarkError(f"DMA completion status {status}")

    def run(self, length: int, transfers: int) -> Callable[[], float]:
        card = self.card
        transfer = self.transfer

        def timing() -> float:
            completed = card.descriptors_completed
            copied = card.dma_bytes_written
            start = time.perf_counter()
            for _ in range(transfers):
                transfer(length)
            end = time.perf_counter()
            check(card.descriptors_completed - completed == transfers, "descriptors lost")
            # Each descriptor writes ``length`` bytes of data and a 4-byte status word.
            check(
                card.dma_bytes_written - copied == transfers * (length + 4),
                "the card did not move every byte",
            )
            return end - start

        return timing

    def verify(self, length: int) -> None:
        memory = self.machine.memory
        check(
            memory.read(DESTINATION_ADDRESS, length) == self.source[:length],
            "destination differs from source",
        )
        status = memory.read_int(DESCRIPTOR_ADDRESS + tc.DESCRIPTOR_STATUS_OFFSET, 4)
        check(
            status == tc.DESCRIPTOR_DONE | tc.Completion.SUCCESS, f"descriptor status {status:#x}"
        )
        check(self.machine.guest_errors.count() == 0, "guest errors during DMA")

    def clear_destination(self) -> None:
        self.machine.memory.fill(DESTINATION_ADDRESS, MiB, 0)


def bench_dma(
    big_transfers: int, small_transfers: int, copies: int, repeat: int, raw_call: float
) -> tuple[list[Row], list[str]]:
    bench = DmaBench()
    small = 64
    # Warm up: commit the RAM pages, then prove a single transfer copies correctly.
    bench.transfer(MiB)
    bench.verify(MiB)
    bench.clear_destination()

    source = memoryview(bytearray(random.Random(3).randbytes(MiB)))
    destination = memoryview(bytearray(MiB))

    def memcpy_run() -> float:
        start = time.perf_counter()
        for _ in range(copies):
            destination[:] = source
        end = time.perf_counter()
        check(destination == source, "baseline copy failed")
        return end - start

    raw, big, tiny = best_of(
        repeat, memcpy_run, bench.run(MiB, big_transfers), bench.run(small, small_transfers)
    )
    bench.verify(MiB)  # the last transfer was a small one over a full copy: still equal
    bench.machine.close()

    per_copy = raw / copies
    per_transfer = big / big_transfers
    per_small = tiny / small_transfers
    rows = [
        Row(
            "dma: copy 1 MiB",
            "bytes",
            MiB * big_transfers,
            big,
            per_copy * big_transfers,
            "memoryview dst[:] = src",
        ),
        Row(
            "dma: 64-byte transfer",
            "transfers",
            small_transfers,
            tiny,
            raw_call * small_transfers,
            "raw register-read call",
            ratio_override=per_small / raw_call,
            ratio_note="x raw call",
        ),
    ]
    notes = [
        f"1 MiB transfer: {format_seconds(per_transfer)} each; "
        f"1 MiB memcpy: {format_seconds(per_copy)}; "
        f"derived overhead per transfer: {format_seconds(per_transfer - per_copy)}",
        f"64-byte transfer (all overhead): {format_seconds(per_small)} each "
        f"= {per_small / raw_call:,.0f} raw register-read calls",
    ]
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        argv, "Time kextlab's machine core against raw Python baselines.", QUICK_DIVISOR
    )
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR)
    repeat = arguments.repeat
    print_header("machine core", arguments)
    started = time.perf_counter()
    rows: list[Row] = []

    def events() -> None:
        rows.extend(bench_events(counts["events"], repeat))

    def switches() -> None:
        rows.extend(bench_switches(counts["switches"], repeat))

    raw_call: list[float] = []

    def mmio() -> None:
        mmio_rows, seconds = bench_mmio(counts["mmio"], repeat)
        rows.extend(mmio_rows)
        raw_call.append(seconds)

    notes: list[str] = []

    def dma() -> None:
        dma_rows, dma_notes = bench_dma(
            counts["dma_1mib"], counts["dma_small"], counts["memcpy"], repeat, raw_call[0]
        )
        rows.extend(dma_rows)
        notes.extend(dma_notes)

    steps: list[tuple[str, Callable[[], None]]] = [
        ("events", events),
        ("switches", switches),
        ("mmio", mmio),
        ("dma", dma),
    ]
    for name, step in steps:
        step_start = time.perf_counter()
        print(f"  {name} ...", end="", flush=True)
        step()
        print(f" {time.perf_counter() - step_start:.1f} s", flush=True)

    report(rows, started, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
