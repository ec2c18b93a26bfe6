"""IOCommandGate and IOCommandPool: serialised calls on the caller's thread,
sleeping in the gate, enabling and disabling, and the pool of commands."""

from __future__ import annotations

import pytest

from kextlab.errors import KernelPanic
from kextlab.kernel.clock import IOSleep, clock_interval_to_deadline, kSecondScale
from kextlab.kernel.ioreturn import (
    kIOReturnAborted,
    kIOReturnBadArgument,
    kIOReturnCannotLock,
    kIOReturnNotPermitted,
    kIOReturnNotReady,
    kIOReturnSuccess,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.locks import THREAD_AWAKENED, THREAD_TIMED_OUT
from kextlab.kernel.workloop import IOCommand, IOCommandGate, IOCommandPool, IOWorkLoop
from kextlab.sim.time import SECOND
from tests.kernel.workloop.conftest import Driver, on_thread


@pytest.fixture
def loop(kernel: Kernel) -> IOWorkLoop:
    made = IOWorkLoop.workLoop()
    assert made is not None
    return made


def _gate(loop: IOWorkLoop, driver: Driver, action: object = None) -> IOCommandGate:
    gate = IOCommandGate.commandGate(driver, action)  # type: ignore[arg-type]
    assert gate is not None
    assert loop.addEventSource(gate) == kIOReturnSuccess
    return gate


def _finish(loop: IOWorkLoop, gate: IOCommandGate, driver: Driver) -> None:
    loop.removeEventSource(gate)
    gate.release()
    loop.release()
    driver.release()


def test_run_action_serialises_clients_on_their_own_threads(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """Two clients' actions never overlap, each runs on its caller's thread, owner first."""
    driver = Driver()
    gate = _gate(loop, driver)
    scheduler = kernel.scheduler
    inside: list[str] = []
    trail: list[tuple[str, str]] = []

    def action(owner: Driver, name: object, _1: object, _2: object, _3: object) -> int:
        assert owner is driver
        assert not inside
        thread = scheduler.current_thread
        assert thread is not None
        inside.append(str(name))
        trail.append((str(name), thread.name))
        IOSleep(2)  # blocks holding the gate
        inside.pop()
        return kIOReturnSuccess

    threads = [
        scheduler.spawn(lambda n=name: gate.runAction(action, n), name=name)
        for name in ("client-a", "client-b")
    ]
    assert all(thread.join() for thread in threads)
    assert trail == [("client-a", "client-a"), ("client-b", "client-b")]
    assert [thread.result for thread in threads] == [kIOReturnSuccess] * 2
    _finish(loop, gate, driver)


def test_run_command_uses_the_gates_action_and_reports_missing_ones(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """runCommand calls the gate's own action; no action or no loop give Apple's errors."""
    driver = Driver()
    gate = _gate(loop, driver, lambda owner, a, b, c, d: a + b)
    assert gate.runCommand(2, 3) == 5
    bare = _gate(loop, driver)
    assert bare.runCommand() == kIOReturnBadArgument
    assert bare.runAction(None) == kIOReturnBadArgument
    loop.removeEventSource(bare)
    assert bare.runAction(lambda *_: 0) == kIOReturnNotReady
    bare.release()
    _finish(loop, gate, driver)


def test_attempt_action_never_waits(kernel: Kernel, loop: IOWorkLoop) -> None:
    """attemptAction fails with kIOReturnCannotLock while another thread holds the gate,
    and with kIOReturnNotPermitted while the gate is disabled."""
    driver = Driver()
    gate = _gate(loop, driver)
    results: list[int] = []

    def holder() -> None:
        loop.closeGate()
        IOSleep(5)
        loop.openGate()

    def attempter() -> None:
        IOSleep(1)
        results.append(gate.attemptAction(lambda *_: kIOReturnSuccess))
        IOSleep(10)
        results.append(gate.attemptAction(lambda *_: kIOReturnSuccess))
        gate.disable()
        results.append(gate.attemptAction(lambda *_: kIOReturnSuccess))

    threads = [
        kernel.scheduler.spawn(holder, name="h"),
        kernel.scheduler.spawn(attempter, name="a"),
    ]
    assert all(thread.join() for thread in threads)
    assert results == [kIOReturnCannotLock, kIOReturnSuccess, kIOReturnNotPermitted]
    _finish(loop, gate, driver)


def test_a_disabled_gate_holds_clients_until_enabled(kernel: Kernel, loop: IOWorkLoop) -> None:
    """runAction on a disabled gate waits; enable lets it through."""
    driver = Driver()
    gate = _gate(loop, driver)
    gate.disable()
    ran_at: list[int] = []

    def client() -> object:
        return gate.runAction(lambda *_: ran_at.append(kernel.scheduler.now) or 7)

    thread = kernel.scheduler.spawn(client, name="client")
    kernel.machine.run_for(SECOND)
    assert ran_at == []
    assert thread.is_alive
    gate.enable()
    assert thread.join()
    assert thread.result == 7
    assert ran_at == [kernel.scheduler.now]
    _finish(loop, gate, driver)


def test_removing_a_disabled_gate_aborts_its_waiting_clients(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """Tearing a gate down wakes the clients waiting for it with kIOReturnAborted."""
    driver = Driver()
    gate = _gate(loop, driver)
    gate.disable()
    thread = kernel.scheduler.spawn(lambda: gate.runAction(lambda *_: 0), name="client")
    kernel.machine.run_for(SECOND)
    loop.removeEventSource(gate)
    assert thread.join()
    assert thread.result == kIOReturnAborted
    gate.release()
    loop.release()
    driver.release()


def test_command_sleep_waits_for_a_wakeup_with_the_gate_open(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """commandSleep releases the gate until commandWakeup; then it holds it again."""
    driver = Driver()
    gate = _gate(loop, driver)
    trail: list[object] = []

    def waiter(owner: Driver, *_: object) -> int:
        result = gate.commandSleep("done")
        trail.append(("woken", result, loop.inGate()))
        return kIOReturnSuccess

    def waker(owner: Driver, *_: object) -> int:
        trail.append("waker ran")
        gate.commandWakeup("done")
        return kIOReturnSuccess

    first = kernel.scheduler.spawn(lambda: gate.runAction(waiter), name="waiter")
    second = kernel.scheduler.spawn(lambda: (IOSleep(1), gate.runAction(waker)), name="waker")
    assert first.join()
    assert second.join()
    assert trail == ["waker ran", ("woken", THREAD_AWAKENED, True)]
    _finish(loop, gate, driver)


def test_command_sleep_with_a_deadline_times_out_in_virtual_time(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """A 30 s deadline passes instantly in real time and reports THREAD_TIMED_OUT."""
    from kextlab.kernel.locks import THREAD_UNINT

    driver = Driver()
    gate = _gate(loop, driver)
    start = kernel.scheduler.now

    def action(owner: Driver, *_: object) -> int:
        deadline = clock_interval_to_deadline(30, kSecondScale)
        return gate.commandSleep("never", deadline, THREAD_UNINT)

    assert on_thread(kernel, lambda: gate.runAction(action)) == THREAD_TIMED_OUT
    assert kernel.scheduler.now == start + 30 * SECOND
    _finish(loop, gate, driver)


def test_command_sleep_outside_the_gate_is_a_driver_bug(kernel: Kernel, loop: IOWorkLoop) -> None:
    """Apple panics on commandSleep without the gate; kextlab's machine panics, naming it."""
    driver = Driver()
    gate = _gate(loop, driver)
    kernel.scheduler.spawn(lambda: gate.commandSleep("event"), name="careless")
    with pytest.raises(KernelPanic, match="invalid commandSleep while not holding the gate"):
        kernel.machine.run()


def test_the_pool_hands_out_commands_last_returned_first(kernel: Kernel, loop: IOWorkLoop) -> None:
    """getCommand takes the most recently returned command; non-blocking on empty gives None."""
    pool = IOCommandPool.withWorkLoop(loop)
    assert pool is not None
    commands = [IOCommand() for _ in range(3)]
    for command in commands:
        pool.returnCommand(command)
    assert pool.command_count() == 3

    def take_all() -> list[object]:
        return [pool.getCommand(False) for _ in range(4)]

    taken = on_thread(kernel, take_all)
    assert taken == [commands[2], commands[1], commands[0], None]
    for command in commands:
        command.release()
    pool.release()
    loop.release()


def test_a_blocking_get_waits_until_a_command_is_returned(kernel: Kernel, loop: IOWorkLoop) -> None:
    """getCommand(True) on an empty pool sleeps in the gate until returnCommand."""
    pool = IOCommandPool.withWorkLoop(loop)
    assert pool is not None
    command = IOCommand()
    got: list[tuple[object, int]] = []

    def taker() -> None:
        got.append((pool.getCommand(True), kernel.scheduler.now))

    def giver() -> None:
        IOSleep(3)
        pool.returnCommand(command)

    start = kernel.scheduler.now
    threads = [kernel.scheduler.spawn(taker, name="t"), kernel.scheduler.spawn(giver, name="g")]
    assert all(thread.join() for thread in threads)
    assert got == [(command, start + 3_000_000)]
    command.release()
    pool.release()
    loop.release()
