"""Real-time cost of kextlab's driver runtime, as ratios against raw Python baselines.

Run it with ``python3 dev.py python benchmarks/runtime.py`` (add ``--quick`` for a
smoke run of a second or two).  Like ``machine_core.py``, each measurement times a
piece of the runtime (``kextlab.kernel.workloop``, ``kextlab.kernel.memory``) on the
booted default machine (a 64-bit kernel, 2 GiB of RAM below 4 GiB and 1 GiB above)
and, in the same run, a *baseline*: the least plain Python that does the same job.
Rates depend on the host; the **ratio** (how many times slower the runtime is than
its baseline) largely cancels the host out, so ratios are the numbers to compare
across machines and commits.  Both are printed.  Everything here is real (wall
clock) time; the machine's own clock is virtual and is only used by the checks.

The figures
-----------
workloop: runAction (IOCommandGate) / (IOWorkLoop)
    Calls per second of ``IOCommandGate::runAction(action, a0, a1, a2, a3)`` (and of
    ``IOWorkLoop::runAction(action, owner, a0..a3)``) from a kernel thread that is
    not the loop's, the action a trivial function (it counts its calls).  Each call
    closes the loop's gate (an ``IORecursiveLock``, with its preemption points and
    checks that the caller may block), calls the action and opens the gate; the
    command gate also checks that it is enabled and counts the actions inside it
    (what its teardown waits for).  Baseline: the same action called through a trivial
    lock-free wrapper, ``wrapper(action, owner, a0, a1, a2, a3)`` (one extra Python
    frame, as ``runAction`` adds one).
workloop: interrupt -> action
    Interrupt-to-action cycles per second through a provider-less
    ``IOInterruptEventSource``: a scheduler event enters interrupt context and calls
    the source's primary handler (``interruptOccurred``), which counts the interrupt
    and signals the work loop; the loop's thread wakes, closes its gate, walks its
    event chain and runs the action, which schedules the next interrupt and returns;
    the thread goes back to sleep.  The notes give the *latency*: the mean real time
    from entering the primary handler to the first line of the action.  Baseline: a
    raw greenlet switch pair (the "interrupt" switches to a worker greenlet that
    calls the same action and switches back), chosen over a direct call because
    handing work to another thread is what a work loop is: a greenlet switch is the
    cheapest way to do that in Python, and the runtime's kernel threads are greenlets.
workloop: card INTx -> action
    The same cycle with a real interrupt, from the test card through the interrupt
    controller: a scheduler event writes SOFTWARE to the card's INTERRUPT_SET
    register (through the nub's BAR 0 ``IOMemoryMap``), the card asserts INTx, the
    PCI bus routes it to the PIC, the CPU takes the interrupt (an event), the
    platform's controller acknowledges it and dispatches to the nub's vector, whose
    handler is an ``IOFilterInterruptEventSource``: the filter (interrupt context)
    reads INTERRUPT_STATUS and clears it (INTx drops), the level interrupt is
    disabled, the loop's thread runs the action, and the source enables it again.
    Latency is measured from just before the INTERRUPT_SET write.  The next
    interrupt is raised by an event, after the source has re-enabled its interrupt:
    raised from inside the action it would meet the disabled vector and cost a
    second CPU interrupt (the controller masks the vector in hardware then, as
    xnu's lazy disable does), which the checks would count.  Baseline: the greenlet
    switch pair above.
timer: arm/fire (thread call) / (work loop)
    Fires per second of an ``IOTimerEventSource`` armed with ``setTimeoutUS(1)`` and
    re-armed from its own action, N times: with the default options (the expiry is
    a ``thread_call`` that runs on a callout thread, which closes the gate and calls
    the action) and with ``kIOTimerEventSourceOptionsPriorityWorkLoop`` (the expiry
    is an event that signals the work loop, whose thread runs the action).
    Baseline: ``heapq.heappush`` of a deadline, ``heappop``, and a call of the
    callback, which pushes the next deadline.
dma: IODMACommand 1 MiB, 64-bit / bounced Out / bounced In
    Throughput (MB/s, 10**6 bytes) of the per-I/O work a driver does with an
    ``IODMACommand`` (``OutputHost64``, 64 KiB maximum segment, so 16 segments per
    MiB) on a 1 MiB ``IOBufferMemoryDescriptor``, which the 64-bit kernel places
    above 4 GiB: ``setMemoryDescriptor`` (which prepares), ``gen64IOVMSegments`` of
    the whole range, ``clearMemoryDescriptor`` (which completes).  ``64-bit``: a
    64-bit specification, nothing bounced, no byte copied by the CPU (the figure is
    the ceiling a driver's per-transfer overhead puts on a 64-bit device).
    ``bounced Out``: a 32-bit specification, memory the device reads
    (``kIODirectionOut``): prepare allocates a copy buffer below 4 GiB and copies the
    MiB into it.  ``bounced In``: memory the device writes (``kIODirectionIn``): the
    device's bytes land in the copy buffer and complete copies them back.  Only the
    driver's calls are timed: the checks between them (and, for ``In``, the
    simulated device writing the bounce buffer through ``kernel_view``) are not.
    Baseline: ``dst[:] = src`` between two 1 MiB memoryviews.

Method: every figure is the best (shortest) of ``--repeat`` timings, with baseline
and subject interleaved in each repetition and the garbage collector off while the
clock runs (``harness.py``).  Every measurement checks its own result: calls and
fires counted, interrupts seen, handled and claimed by the filter, exactly one CPU
interrupt per cycle, actions on the right thread with the gate closed, the virtual
time the timers took, segments (count, addresses, below 4 GiB when bounced), the
bytes in the bounce buffers or back in memory (a new pattern each transfer), the
kernel's DMA statistics, no guest errors; and after each figure, that the kernel
holds nothing it did not hold at boot (``Kernel.resources_since_boot``: threads,
events, objects, allocations, prepared commands).  A broken runtime cannot post a
fast time.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import greenlet as greenlet_module
from greenlet import getcurrent, greenlet
from harness import (
    Row,
    best_of,
    check,
    format_seconds,
    parse_arguments,
    print_header,
    report,
    scaled_counts,
)

from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import dma_statistics, kernel_view
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.dma_command import IODMACommand, Segment64
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.physical import FOUR_GIB
from kextlab.kernel.memory.refs import UInt32Ref, UInt64Ref
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop import (
    IOCommandGate,
    IOEventSource,
    IOFilterInterruptEventSource,
    IOInterruptEventSource,
    IOTimerEventSource,
    IOWorkLoop,
)
from kextlab.kernel.workloop.timer_event_source import kIOTimerEventSourceOptionsPriorityWorkLoop
from kextlab.machine.devices import testcard_registers as tc
from kextlab.sim.time import MICROSECOND
from kextlab.testing.kernel import booted_kernel

MiB = 1 << 20
#: The DMA commands' maximum segment size: 16 segments per MiB.
MAX_SEGMENT = 64 << 10
SEGMENTS = MiB // MAX_SEGMENT
#: The test card the interrupt figure drives (its nub is also its device-tree entry).
CARD_PATH = "IODeviceTree:testcard0"

# Iteration counts of a full run; ``--quick`` divides them by QUICK_DIVISOR.
FULL_COUNTS = {
    "actions": 100_000,
    "interrupts": 20_000,
    "card_interrupts": 4_000,
    "timers": 20_000,
    "dma": 400,
    "dma_bounced": 200,
}
QUICK_DIVISOR = 20
GREENLET_BASELINE = "greenlet switch pair + call"

T = TypeVar("T")


class BenchDriver(IOService):
    """The owner of the event sources; its actions count here."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0


def made(thing: T | None, what: str) -> T:
    """``thing``, checked to exist (a constructor returned it)."""
    check(thing is not None, f"no {what}")
    assert thing is not None
    return thing


def new_loop() -> tuple[BenchDriver, IOWorkLoop]:
    return BenchDriver(), made(IOWorkLoop.workLoop(), "work loop")


def add(loop: IOWorkLoop, source: IOEventSource) -> None:
    check(loop.addEventSource(source) == kIOReturnSuccess, f"addEventSource({source}) failed")


def tear_down(kernel: Kernel, what: str, owner: BenchDriver, loop: IOWorkLoop) -> None:
    """Release the loop and its owner; then ``check_clean``."""
    loop.release()
    owner.release()
    check_clean(kernel, what)


def check_clean(kernel: Kernel, what: str) -> None:
    """Let the machine finish (a freed loop's thread ends), then check that the kernel
    holds nothing beyond its state at boot, and that no guest error was logged."""
    kernel.machine.run()
    leaks = kernel.resources_since_boot()
    check(not leaks, f"{what} left resources behind: {leaks[:5]}")
    check(
        kernel.classes.instance_counts().get(BenchDriver.__name__, 0) == 0,
        f"{what} left a BenchDriver alive",
    )
    check(kernel.machine.guest_errors.count() == 0, f"guest errors: {what}")


def on_thread(kernel: Kernel, function: Callable[[], float], name: str) -> float:
    """Run ``function`` on a new kernel thread until it returns; its result."""
    thread = kernel.scheduler.spawn(function, name=name)
    check(thread.join(), f"kernel thread {name} did not finish")
    result = thread.result
    assert isinstance(result, float)
    return result


# -- 1. runAction -----------------------------------------------------------------------------


def count_call(owner: BenchDriver, arg0: object, arg1: object, arg2: object, arg3: object) -> int:
    """The trivial action: count the call."""
    owner.calls += 1
    return kIOReturnSuccess


def direct_call(
    action: Callable[..., Any],
    owner: BenchDriver,
    arg0: object,
    arg1: object,
    arg2: object,
    arg3: object,
) -> Any:
    """The baseline's wrapper: what runAction does, without the gate."""
    return action(owner, arg0, arg1, arg2, arg3)


def bench_run_action(kernel: Kernel, count: int, repeat: int) -> list[Row]:
    owner, loop = new_loop()
    gate = made(IOCommandGate.commandGate(owner), "command gate")
    add(loop, gate)
    seen: list[tuple[bool, bool]] = []

    def probe(owner: BenchDriver, *_: object) -> int:
        seen.append((loop.inGate(), loop.onThread()))
        return kIOReturnSuccess

    def probe_client() -> float:
        check(gate.runAction(probe) == kIOReturnSuccess, "runAction(probe) failed")
        check(loop.runAction(probe, owner) == kIOReturnSuccess, "runAction(probe) failed")
        return 0.0

    on_thread(kernel, probe_client, "probe")
    check(seen == [(True, False)] * 2, f"the actions ran with (inGate, onThread) = {seen}")
    indices = range(count)

    def gate_client() -> float:
        run, action = gate.runAction, count_call
        start = time.perf_counter()
        for _ in indices:
            run(action, 1, 2, 3, 4)
        return time.perf_counter() - start

    def loop_client() -> float:
        run, action, target = loop.runAction, count_call, owner
        start = time.perf_counter()
        for _ in indices:
            run(action, target, 1, 2, 3, 4)
        return time.perf_counter() - start

    def direct_client() -> float:
        run, action, target = direct_call, count_call, owner
        start = time.perf_counter()
        for _ in indices:
            run(action, target, 1, 2, 3, 4)
        return time.perf_counter() - start

    def timing(client: Callable[[], float], on_kernel_thread: bool) -> Callable[[], float]:
        def run() -> float:
            before = owner.calls
            elapsed = on_thread(kernel, client, "client") if on_kernel_thread else client()
            check(owner.calls - before == count, f"{client.__name__} lost calls")
            check(not loop.inGate(), "the gate was left closed")
            return elapsed

        return run

    raw, gated, looped = best_of(
        repeat,
        timing(direct_client, False),
        timing(gate_client, True),
        timing(loop_client, True),
    )
    loop.removeEventSource(gate)
    gate.release()
    tear_down(kernel, "runAction", owner, loop)
    baseline = "action via plain wrapper call"
    return [
        Row("workloop: runAction (IOCommandGate)", "calls", count, gated, raw, baseline),
        Row("workloop: runAction (IOWorkLoop)", "calls", count, looped, raw, baseline),
    ]


# -- 2. interrupt -> action -------------------------------------------------------------------


class Cycles:
    """Interrupt -> action cycles: ``action`` is the interrupt source's action; it
    measures the latency since ``raised_at`` and schedules the next interrupt (an
    event calling ``raise_interrupt``) until ``count`` were handled."""

    def __init__(self, kernel: Kernel, loop: IOWorkLoop | None, count: int) -> None:
        self.scheduler = kernel.scheduler
        self.machine = kernel.machine
        self.loop = loop
        self.count = count
        self.raise_interrupt: Callable[[], None] = lambda: None
        self.raised_at = 0.0
        self.handled = 0
        self.latency = 0.0
        self.misfires = 0  # actions told of more than one interrupt, or off the loop thread
        self.best_latency = float("inf")

    def action(self, owner: object, sender: object, interrupts: int) -> None:
        self.latency += time.perf_counter() - self.raised_at
        loop = self.loop
        if interrupts != 1 or (loop is not None and not loop.onThread()):
            self.misfires += 1
        self.handled += interrupts
        if self.handled < self.count and loop is not None:
            scheduler = self.scheduler
            scheduler.at(scheduler.now, self.raise_interrupt, "bench interrupt")

    def run(self) -> float:
        """One timing: the first interrupt, then the machine runs every cycle."""
        self.handled, self.latency, self.misfires = 0, 0.0, 0
        scheduler = self.scheduler
        scheduler.at(scheduler.now, self.raise_interrupt, "bench interrupt")
        start = time.perf_counter()
        self.machine.run()
        elapsed = time.perf_counter() - start
        self.check()
        return elapsed

    def check(self) -> None:
        count = self.count
        check(self.handled == count, f"{self.handled} interrupts handled, not {count}")
        check(self.misfires == 0, f"{self.misfires} actions coalesced or off the loop")
        self.best_latency = min(self.best_latency, self.latency / count)


def greenlet_baseline(cycles: Cycles) -> Callable[[], float]:
    """Raw greenlets: the "interrupt" switches to a worker greenlet that calls the
    action, which switches back."""

    def run() -> float:
        cycles.handled, cycles.latency, cycles.misfires = 0, 0.0, 0
        main = getcurrent()

        def worker() -> None:
            back, action = main.switch, cycles.action
            while True:
                action(None, None, 1)
                back()

        other = greenlet(worker)
        forth = other.switch
        perf_counter = time.perf_counter
        start = perf_counter()
        for _ in range(cycles.count):
            cycles.raised_at = perf_counter()
            forth()
        elapsed = perf_counter() - start
        other.throw(greenlet_module.GreenletExit)
        check(other.dead, "the baseline's worker greenlet is still alive")
        cycles.check()
        return elapsed

    return run


def bench_soft_interrupts(kernel: Kernel, count: int, repeat: int) -> tuple[Row, float, float]:
    """The soft interrupt row, its best mean latency, and the baseline's."""
    scheduler = kernel.scheduler
    owner, loop = new_loop()
    cycles = Cycles(kernel, loop, count)
    source = made(IOInterruptEventSource.interruptEventSource(owner, cycles.action), "source")
    add(loop, source)

    def primary() -> None:
        cycles.raised_at = time.perf_counter()
        source.interruptOccurred(None, None, 0)

    cycles.raise_interrupt = lambda: scheduler.run_in_interrupt_context(primary)
    kernel.machine.run()  # the loop's thread is asleep

    def runtime_run() -> float:
        seen, handled = source.interrupts_seen, source.interrupts_handled
        elapsed = cycles.run()
        check(source.interrupts_seen - seen == count, "the primary handler missed interrupts")
        check(source.interrupts_handled - handled == count, "the source lost interrupts")
        return elapsed

    baseline = Cycles(kernel, None, count)
    raw, soft = best_of(repeat, greenlet_baseline(baseline), runtime_run)
    loop.removeEventSource(source)
    source.release()
    tear_down(kernel, "interrupt -> action", owner, loop)
    row = Row("workloop: interrupt -> action", "cycles", count, soft, raw, GREENLET_BASELINE)
    return row, cycles.best_latency, baseline.best_latency


def bench_card_interrupts(
    kernel: Kernel, count: int, repeat: int, raw_per_cycle: float
) -> tuple[Row, float]:
    """The test-card interrupt row and its best mean latency."""
    scheduler = kernel.scheduler
    nub = kernel.registry.fromPath(CARD_PATH)
    check(isinstance(nub, IOPCIDevice), f"{CARD_PATH} is not a PCI nub")
    assert isinstance(nub, IOPCIDevice)
    registers = made(nub.mapDeviceMemoryWithIndex(0), "BAR 0 mapping")
    read32, write32 = registers.ioRead32, registers.ioWrite32
    check(
        read32(tc.Register.IDENTIFICATION) == tc.IDENTIFICATION_VALUE,
        "testcard0 does not answer at BAR 0",
    )
    status_register = tc.Register.INTERRUPT_STATUS
    set_register = tc.Register.INTERRUPT_SET
    software = int(tc.Interrupt.SOFTWARE)
    write32(tc.Register.INTERRUPT_ENABLE, 0)
    write32(status_register, tc.ALL_INTERRUPTS)
    owner, loop = new_loop()
    cycles = Cycles(kernel, loop, count)

    def raise_interrupt() -> None:
        cycles.raised_at = time.perf_counter()
        write32(set_register, software)

    def interrupt_filter(owner: BenchDriver, sender: IOFilterInterruptEventSource) -> bool:
        status = read32(status_register)
        if not status & software:
            return False
        write32(status_register, status)  # write 1 to clear: INTx drops
        return True

    cycles.raise_interrupt = raise_interrupt
    source = made(
        IOFilterInterruptEventSource.filterInterruptEventSource(
            owner, cycles.action, interrupt_filter, nub, 0
        ),
        "filter interrupt source on testcard0",
    )
    check(source.getAutoDisable(), "testcard0's INTx is not a level interrupt")
    add(loop, source)
    write32(tc.Register.INTERRUPT_ENABLE, software)
    source.enable()
    kernel.machine.run()

    def runtime_run() -> float:
        claimed, refused = source.filter_claimed, source.filter_refused
        handled = source.interrupts_handled
        delivered = scheduler.interrupts.delivered
        elapsed = cycles.run()
        check(source.filter_claimed - claimed == count, "the filter missed interrupts")
        check(source.filter_refused == refused, "the filter saw interrupts not its own")
        check(source.interrupts_handled - handled == count, "the source lost interrupts")
        cpu = scheduler.interrupts.delivered - delivered
        check(cpu == count, f"{cpu} CPU interrupts for {count} cycles")
        check(read32(status_register) == 0, "the card's interrupt was left pending")
        return elapsed

    (card,) = best_of(repeat, runtime_run)
    write32(tc.Register.INTERRUPT_ENABLE, 0)
    loop.disableAllInterrupts()
    loop.removeEventSource(source)
    source.release()
    registers.release()
    tear_down(kernel, "card INTx -> action", owner, loop)
    row = Row(
        "workloop: card INTx -> action",
        "cycles",
        count,
        card,
        raw_per_cycle * count,
        GREENLET_BASELINE,
    )
    return row, cycles.best_latency


# -- 3. timers --------------------------------------------------------------------------------


def bench_timers(kernel: Kernel, count: int, repeat: int) -> list[Row]:
    scheduler = kernel.scheduler
    owner, loop = new_loop()

    def runtime(options: tuple[int, ...], on_loop_thread: bool) -> Callable[[], float]:
        fired = [0]
        first: list[tuple[bool, bool]] = []

        def action(owner: BenchDriver, sender: IOTimerEventSource) -> None:
            fired[0] += 1
            if not first:
                first.append((loop.inGate(), loop.onThread()))
            if fired[0] < count:
                sender.setTimeoutUS(1)

        def run() -> float:
            timer = made(IOTimerEventSource.timerEventSource(*options, owner, action), "timer")
            add(loop, timer)
            fired[0] = 0
            first.clear()
            began = scheduler.now
            start = time.perf_counter()
            timer.setTimeoutUS(1)
            kernel.machine.run()
            elapsed = time.perf_counter() - start
            check(fired[0] == count == timer.fired, f"{fired[0]} fires, not {count}")
            check(
                first == [(True, on_loop_thread)],
                f"the action ran with (inGate, onThread) = {first}",
            )
            check(
                scheduler.now - began >= count * MICROSECOND,
                "the timers fired before their deadlines",
            )
            check(not timer.is_armed(), "the timer is still armed")
            loop.removeEventSource(timer)
            timer.release()
            return elapsed

        return run

    def heapq_run() -> float:
        queue: list[tuple[int, int, Callable[[], None]]] = []
        push, pop = heapq.heappush, heapq.heappop
        sequence = itertools.count()
        fired = [0]
        now = 0

        def callback() -> None:
            fired[0] += 1
            if fired[0] < count:
                push(queue, (now + MICROSECOND, next(sequence), callback))

        start = time.perf_counter()
        push(queue, (now + MICROSECOND, next(sequence), callback))
        while queue:
            now, _, function = pop(queue)
            function()
        elapsed = time.perf_counter() - start
        check(fired[0] == count and now == count * MICROSECOND, "the baseline lost timers")
        return elapsed

    raw, callout, workloop = best_of(
        repeat,
        heapq_run,
        runtime((), False),
        runtime((kIOTimerEventSourceOptionsPriorityWorkLoop,), True),
    )
    tear_down(kernel, "timers", owner, loop)
    baseline = "heappush + heappop + call"
    return [
        Row("timer: arm/fire (thread call)", "fires", count, callout, raw, baseline),
        Row("timer: arm/fire (work loop)", "fires", count, workloop, raw, baseline),
    ]


# -- 4. DMA -----------------------------------------------------------------------------------


def patterns() -> list[bytes]:
    """Distinct 1 MiB patterns: each transfer moves a different one than the last."""
    return [random.Random(seed).randbytes(MiB) for seed in (11, 12, 13)]


class DmaFigure:
    """One command and one 1 MiB buffer: a timing of ``transfers`` I/Os."""

    def __init__(self, bits: int, direction: int, transfers: int, data: list[bytes]) -> None:
        self.bits = bits
        self.direction = direction
        self.transfers = transfers
        self.data = data
        self.memory = made(IOBufferMemoryDescriptor.withCapacity(MiB, direction), "buffer")
        self.command = made(
            IODMACommand.withSpecification(IODMACommand.OutputHost64, bits, MAX_SEGMENT),
            "DMA command",
        )
        self.base = self.memory.buffer_address()
        check(self.base >= FOUR_GIB, "the 64-bit kernel put the buffer below 4 GiB")
        self.view = made(self.memory.getBytesNoCopy(), "view of the buffer")
        self.bounced = bits < 64

    def timing(self) -> float:
        return self.run(self.transfers)

    def run(self, transfers: int) -> float:
        """Time ``transfers`` I/Os, checking each one between the timed calls."""
        command, memory, view = self.command, self.memory, self.view
        segments = [Segment64() for _ in range(SEGMENTS)]
        perf_counter = time.perf_counter
        before = dma_statistics()
        elapsed = 0.0
        for index in range(transfers):
            pattern = self.data[index % len(self.data)]
            if self.direction == kIODirectionOut:
                view[:] = pattern  # what the device is to read
            start = perf_counter()
            prepared = command.setMemoryDescriptor(memory)
            offset, found = UInt64Ref(0), UInt32Ref(SEGMENTS)
            generated = command.gen64IOVMSegments(offset, segments, found)
            middle = perf_counter()
            self.check_segments(prepared, generated, offset, found, segments, pattern)
            resumed = perf_counter()
            command.clearMemoryDescriptor()
            end = perf_counter()
            elapsed += (middle - start) + (end - resumed)
            if self.direction == kIODirectionIn and self.bounced:
                check(view.tobytes() == pattern, "what the device wrote did not reach memory")
        after = dma_statistics()
        check(after.prepares - before.prepares == transfers, "prepares were not counted")
        bounced = transfers if self.bounced else 0
        check(after.bounced_prepares - before.bounced_prepares == bounced, "bounce count")
        check(after.bytes_bounced - before.bytes_bounced == bounced * MiB, "bytes bounced")
        check(command.getMemoryDescriptor() is None, "the command kept its memory")
        return elapsed

    def check_segments(
        self,
        prepared: int,
        generated: int,
        offset: UInt64Ref,
        found: UInt32Ref,
        segments: list[Segment64],
        pattern: bytes,
    ) -> None:
        check(prepared == kIOReturnSuccess, f"setMemoryDescriptor returned {prepared:#x}")
        check(generated == kIOReturnSuccess, f"gen64IOVMSegments returned {generated:#x}")
        check(found.value == SEGMENTS and offset.value == MiB, "not every segment came out")
        check(self.command.bounce_bytes() == (MiB if self.bounced else 0), "bounce bytes")
        position = 0
        for segment in segments:
            address, length = segment.fIOVMAddr, segment.fLength
            check(length == MAX_SEGMENT, f"a segment of {length} bytes")
            if not self.bounced:
                check(address == self.base + position, "a segment is not the buffer's")
            else:
                check(address + length <= FOUR_GIB, "a bounced segment is above 4 GiB")
                device = kernel_view(address, length)
                piece = pattern[position : position + length]
                if self.direction == kIODirectionOut:
                    check(device.tobytes() == piece, "the bounce buffer does not hold the data")
                else:
                    device[:] = piece  # the device writes
            position += length

    def close(self) -> None:
        self.command.release()
        self.memory.release()


def bench_dma(
    kernel: Kernel, transfers: int, bounced_transfers: int, repeat: int
) -> tuple[list[Row], list[str]]:
    data = patterns()
    figures = [
        DmaFigure(64, kIODirectionOut, transfers, data),
        DmaFigure(32, kIODirectionOut, bounced_transfers, data),
        DmaFigure(32, kIODirectionIn, bounced_transfers, data),
    ]
    for figure in figures:  # warm up: commit the pages, prove one transfer right
        figure.run(1)
    source = memoryview(bytearray(data[0]))
    destination = memoryview(bytearray(MiB))
    copies = transfers

    def memcpy_run() -> float:
        start = time.perf_counter()
        for _ in range(copies):
            destination[:] = source
        elapsed = time.perf_counter() - start
        check(destination.tobytes() == data[0], "the baseline copy failed")
        return elapsed

    raw, plain, bounced_out, bounced_in = best_of(
        repeat, memcpy_run, *(figure.timing for figure in figures)
    )
    for figure in figures:
        figure.close()
    check_clean(kernel, "IODMACommand")
    per_copy = raw / copies
    rows = [
        Row(
            f"dma: IODMACommand 1 MiB, {name}",
            "bytes",
            MiB * figure.transfers,
            seconds,
            per_copy * figure.transfers,
            "memoryview dst[:] = src",
        )
        for name, figure, seconds in zip(
            ("64-bit", "bounced Out", "bounced In"),
            figures,
            (plain, bounced_out, bounced_in),
            strict=True,
        )
    ]
    notes = [
        f"1 MiB through IODMACommand (prepare + 16 segments + complete): 64-bit "
        f"{format_seconds(plain / transfers)}, bounced Out "
        f"{format_seconds(bounced_out / bounced_transfers)}, bounced In "
        f"{format_seconds(bounced_in / bounced_transfers)}; 1 MiB memcpy "
        f"{format_seconds(per_copy)}",
    ]
    return rows, notes


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(
        argv, "Time kextlab's driver runtime against raw Python baselines.", QUICK_DIVISOR
    )
    counts = scaled_counts(FULL_COUNTS, arguments, QUICK_DIVISOR)
    repeat = arguments.repeat
    print_header("driver runtime", arguments)
    started = time.perf_counter()
    rows: list[Row] = []
    notes: list[str] = []
    with booted_kernel() as kernel, kernel.entered():
        check(kernel.machine.description.kernel_bits == 64, "the default machine is not 64-bit")
        rows.extend(bench_run_action(kernel, counts["actions"], repeat))
        soft, soft_latency, raw_latency = bench_soft_interrupts(
            kernel, counts["interrupts"], repeat
        )
        card, card_latency = bench_card_interrupts(
            kernel, counts["card_interrupts"], repeat, soft.baseline_seconds / soft.count
        )
        rows.extend((soft, card))
        notes.append(
            f"interrupt -> action latency (mean): soft {format_seconds(soft_latency)}, "
            f"test card {format_seconds(card_latency)}; baseline greenlet switch "
            f"{format_seconds(raw_latency)} (x{soft_latency / raw_latency:,.0f} and "
            f"x{card_latency / raw_latency:,.0f})"
        )
        notes.append(
            f"full cycle (interrupt, action, back to sleep): soft "
            f"{format_seconds(soft.seconds / soft.count)}, test card "
            f"{format_seconds(card.seconds / card.count)}"
        )
        rows.extend(bench_timers(kernel, counts["timers"], repeat))
        dma_rows, dma_notes = bench_dma(kernel, counts["dma"], counts["dma_bounced"], repeat)
        rows.extend(dma_rows)
        notes.extend(dma_notes)
    report(rows, started, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
