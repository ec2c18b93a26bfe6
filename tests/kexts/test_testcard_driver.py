"""The finished sample driver, KextLabTestCardDriver, in the scenarios issue 5 names:
a normal transfer, a card that never interrupts, a shared interrupt line, spurious
interrupts, a 32-bit card on a 64-bit kernel with buffers above 4 GiB (and what
skipping IODMACommand does there), termination with a transfer in flight, and a
deliberately racy variant caught by seeded preemption."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import (
    kIOReturnAborted,
    kIOReturnNotAttached,
    kIOReturnSuccess,
    kIOReturnTimeout,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python, to_user
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import ByteCountRef
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService, kIOServiceSynchronous
from kextlab.kexts import shipped
from kextlab.machine.devices.testcard import TestCard
from kextlab.sim.time import MILLISECOND
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io

BUNDLE_ID = "com.kextlab.driver.KextLabTestCard"
CLASS = "KextLabTestCardDriver"
SHARED_INPUT = 18  # both cards' INTx reach this controller input
FOUR_GIB = 1 << 32


def load_driver(kernel: Kernel, *, start_matching: bool = True) -> None:
    port = io.IOMainPort(kernel.registry, kernel)
    result = io.KextManagerLoadKextWithURL(
        port, str(shipped("KextLabTestCard")), start_matching=start_matching
    )
    assert result.ok, result.messages


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """The default machine with the test card kext loaded and started on both cards."""
    with booted_kernel() as booted:
        load_driver(booted)
        yield booted


def drivers(kernel: Kernel) -> dict[str, Any]:
    """The running drivers by card: ``"64"`` (testcard0, behind the bridge) and
    ``"32"`` (testcard1, the 32-bit board on the root bus)."""
    plane = kernel.registry.plane(kIOServicePlane)
    found = {}
    for entry in kernel.registry.getRoot().iterate(plane, recursive=True):
        if isinstance(entry, IOService) and entry.metaCast(CLASS) is not None:
            bits = to_user(entry.getProperty("DMA Address Bits"))
            found[str(bits)] = entry
    return found


def statistics(driver: IOService) -> dict[str, int]:
    """The driver's ``Statistics`` property as user space reads it."""
    table = driver.getProperty("Statistics")
    assert table is not None
    values = to_user(table)
    assert isinstance(values, dict)
    return values


def card(kernel: Kernel, bits: str) -> TestCard:
    """The device model behind a driver: testcard0 is the 64-bit board, testcard1
    the 32-bit one (``default.toml``)."""
    device = kernel.machine.device("testcard0" if bits == "64" else "testcard1")
    assert isinstance(device, TestCard)
    return device


def on_thread(kernel: Kernel, work: Callable[[], Any], name: str = "client") -> Any:
    thread = kernel.scheduler.spawn(work, name=name)
    assert thread.join()
    return thread.result


class Buffers:
    """A source filled with a pattern and a zeroed destination, released together."""

    def __init__(self, length: int, pattern: int = 0x5A) -> None:
        source = IOBufferMemoryDescriptor.withCapacity(length, kIODirectionOut)
        destination = IOBufferMemoryDescriptor.withCapacity(length, kIODirectionIn)
        assert source is not None
        assert destination is not None
        self.source = source
        self.destination = destination
        self.payload = bytes((pattern + index * 7) & 0xFF for index in range(length))
        source.getBytesNoCopy()[:] = self.payload

    def copied(self) -> bool:
        return bytes(self.destination.getBytesNoCopy()) == self.payload

    def physical(self, memory: IOMemoryDescriptor) -> int:
        memory.prepare()
        address = memory.getPhysicalSegment(0, ByteCountRef())
        memory.complete()
        return address

    def release(self) -> None:
        self.source.release()
        self.destination.release()


def test_a_copy_and_a_fill_move_data_through_the_whole_driver(kernel: Kernel) -> None:
    """Client -> command gate -> IODMACommand -> descriptors -> card -> filter interrupt
    -> work loop action -> client, on both cards; statistics are published."""
    for bits, driver in sorted(drivers(kernel).items()):
        with kernel.entered():
            buffers = Buffers(64 << 10)
            copy = on_thread(
                kernel,
                lambda d=driver, b=buffers: d.copyMemory(b.source, b.destination),
            )
            assert copy == kIOReturnSuccess
            assert buffers.copied(), bits
            fill = on_thread(kernel, lambda d=driver, b=buffers: d.fillMemory(b.destination, 0xEE))
            assert fill == kIOReturnSuccess
            assert bytes(buffers.destination.getBytesNoCopy()) == b"\xee" * (64 << 10)
            buffers.release()
        stats = statistics(driver)
        assert stats["Transfers"] == 2
        assert stats["Bytes"] == 2 * (64 << 10)
        assert stats["Errors"] == stats["Timeouts"] == 0
        assert stats["Interrupts"] == 2


def test_a_card_that_never_interrupts_times_out_cleanly_and_recovers(kernel: Kernel) -> None:
    """With INTx cut the request fails with kIOReturnTimeout after its timeout, the card
    is reset, and once the wire is mended the next request succeeds."""
    driver = drivers(kernel)["64"]
    device = card(kernel, "64")
    device.interrupt_wire_cut = True
    with kernel.entered():
        buffers = Buffers(4096)
        start = kernel.scheduler.now
        result = on_thread(
            kernel, lambda: driver.copyMemory(buffers.source, buffers.destination, 30)
        )
        assert result == kIOReturnTimeout
        assert kernel.scheduler.now - start == pytest.approx(30 * MILLISECOND, abs=MILLISECOND)
        assert not device.busy
        device.interrupt_wire_cut = False
        assert (
            on_thread(kernel, lambda: driver.copyMemory(buffers.source, buffers.destination, 30))
            == kIOReturnSuccess
        )
        assert buffers.copied()
        buffers.release()
    stats = statistics(driver)
    assert stats["Timeouts"] == 1
    assert stats["Errors"] == 1
    assert stats["Transfers"] == 2
    logged = [record.message for record in kernel.message_buffer.records()]
    assert "KextLabTestCardDriver: no interrupt in 30 ms; card reset" in logged


def test_on_the_shared_line_each_filter_refuses_the_other_cards_interrupts(
    kernel: Kernel,
) -> None:
    """Both cards interrupt on one wire; each filter claims only its own card's
    interrupts, and both concurrent transfers complete intact."""
    found = drivers(kernel)
    with kernel.entered():
        pairs = {  # different sizes, so that the cards finish at different times
            bits: Buffers((64 << 10) << (2 * index), pattern=index)
            for index, bits in enumerate(sorted(found))
        }
        threads = [
            kernel.scheduler.spawn(
                lambda d=driver, b=pairs[bits]: d.copyMemory(b.source, b.destination),
                name=f"client {bits}",
            )
            for bits, driver in found.items()
        ]
        assert all(thread.join() for thread in threads)
        assert [thread.result for thread in threads] == [kIOReturnSuccess] * 2
        assert all(buffers.copied() for buffers in pairs.values())
        for buffers in pairs.values():
            buffers.release()
    counts = {bits: statistics(driver) for bits, driver in found.items()}
    assert all(stats["Interrupts"] == 1 for stats in counts.values())
    assert sum(stats["Interrupts (Not Ours)"] for stats in counts.values()) >= 1


def test_a_spurious_interrupt_is_refused_by_every_filter_and_changes_nothing(
    kernel: Kernel,
) -> None:
    """A glitch on the shared line while a transfer runs: both filters refuse it, the
    transfer completes as if nothing happened."""
    found = drivers(kernel)
    driver = found["64"]
    line = kernel.machine.interrupt_controller.line(SHARED_INPUT)
    scheduler = kernel.scheduler
    with kernel.entered():
        buffers = Buffers(1 << 20)
        client = scheduler.spawn(
            lambda: driver.copyMemory(buffers.source, buffers.destination), name="client"
        )
        kernel.machine.run_for(100_000)  # the card is busy with the megabyte
        assert client.is_alive

        def glitch() -> None:
            line.set_level("glitch", True)
            scheduler.at(scheduler.now, lambda: line.set_level("glitch", False), "glitch ends")

        scheduler.at(scheduler.now, glitch, "glitch")
        assert client.join()
        assert client.result == kIOReturnSuccess
        assert buffers.copied()
        buffers.release()
    assert statistics(found["64"])["Interrupts (Not Ours)"] >= 1
    assert statistics(found["32"])["Interrupts (Not Ours)"] >= 1
    assert statistics(driver)["Interrupts"] == 1


def test_a_32_bit_card_gets_intact_data_from_buffers_above_4_gib(kernel: Kernel) -> None:
    """On the 64-bit kernel the client's buffers sit above 4 GiB; the 32-bit board's
    IODMACommand bounces them below, and the data arrives intact."""
    driver = drivers(kernel)["32"]
    with kernel.entered():
        buffers = Buffers(128 << 10)
        assert buffers.physical(buffers.source) >= FOUR_GIB
        assert buffers.physical(buffers.destination) >= FOUR_GIB
        result = on_thread(kernel, lambda: driver.copyMemory(buffers.source, buffers.destination))
        assert result == kIOReturnSuccess
        assert buffers.copied()
        buffers.release()


def naive_dma_variant(base: type) -> type:
    """The sample driver minus IODMACommand: it hands the card raw physical addresses."""

    class KextLabTestCardNaiveDriver(base):  # type: ignore[misc, valid-type]
        """Deliberately wrong: ignores the board's 32 address lines."""

        def _segments(self, command: object, memory: IOMemoryDescriptor) -> list[tuple[int, int]]:
            memory.prepare()
            address = memory.getPhysicalSegment(0, ByteCountRef())
            memory.complete()
            return [(address, memory.getLength())]

        def _finish_dma(self) -> None:
            pass

    return KextLabTestCardNaiveDriver


def replace_driver(kernel: Kernel, variant: type, secondary_match: str, score: int) -> None:
    """Register ``variant`` and give it a personality that beats the sample driver's
    on the card ``secondary_match`` names; then let matching run."""
    kernel.classes.register(variant, kext="com.kextlab.test.variants")
    personality = from_python(
        {
            "CFBundleIdentifier": "com.kextlab.test.variants",
            "IOClass": variant.__name__,
            "IOProviderClass": "IOPCIDevice",
            "IOPCIMatch": "0x4b4c1234",
            "IOPCISecondaryMatch": secondary_match,
            "IOProbeScore": score,
            "DMA Address Bits": 32 if secondary_match == "0x00021234" else 64,
        }
    )
    assert isinstance(personality, OSDictionary)
    with kernel.entered():
        kernel.services.catalogue.addDrivers([personality], doNubMatching=True)
    personality.release()
    kernel.machine.run()


def base_driver_class(kernel: Kernel) -> type:
    meta = kernel.classes.getMetaClassWithName(CLASS)
    assert meta is not None
    return meta.cls


def test_skipping_iodmacommand_corrupts_memory_on_a_32_bit_card() -> None:
    """The same transfer with raw physical addresses: the card truncates them to 32
    bits, writes into low memory, and the destination never changes."""
    with booted_kernel() as kernel:
        load_driver(kernel, start_matching=False)
        replace_driver(kernel, naive_dma_variant(base_driver_class(kernel)), "0x00021234", 5000)
        driver = drivers(kernel)["32"]
        assert driver.getClassName() == "KextLabTestCardNaiveDriver"
        with kernel.entered():
            length = 64 << 10
            buffers = Buffers(length)
            memory = kernel.machine.memory
            wrong_source = buffers.physical(buffers.source) & 0xFFFF_FFFF
            wrong_destination = buffers.physical(buffers.destination) & 0xFFFF_FFFF
            memory.fill(wrong_source, length, 0xA5)  # whatever happens to live down there
            result = on_thread(
                kernel, lambda: driver.copyMemory(buffers.source, buffers.destination)
            )
            untouched = bytes(buffers.destination.getBytesNoCopy()) == bytes(length)
            buffers.release()
        assert result == kIOReturnSuccess  # the card saw nothing wrong
        assert untouched  # the client's destination never got the data
        assert memory.read(wrong_destination, length) == b"\xa5" * length  # low memory did


def test_terminating_the_driver_mid_transfer_aborts_the_request_cleanly(kernel: Kernel) -> None:
    """Terminate while an 8 MiB copy runs: the client gets kIOReturnAborted, the card
    is reset, later requests are refused, and the leak check finds nothing left."""
    driver = drivers(kernel)["64"]
    device = card(kernel, "64")
    scheduler = kernel.scheduler
    with kernel.entered():
        buffers = Buffers(8 << 20)
        client = scheduler.spawn(
            lambda: driver.copyMemory(buffers.source, buffers.destination), name="client"
        )
        kernel.machine.run_for(MILLISECOND)
        assert device.busy
        driver.terminate(kIOServiceSynchronous)
        assert client.join()
        assert client.result == kIOReturnAborted
        kernel.machine.run()
        assert not device.busy
        assert driver.isInactive()
        assert (
            on_thread(kernel, lambda: driver.copyMemory(buffers.source, buffers.destination))
            == kIOReturnNotAttached
        )
        buffers.release()
    assert kernel.classes.instance_counts()[CLASS] == 1  # the other card's driver


def racy_variant(base: type) -> type:
    """The sample driver with the classic race: it starts the card outside the gate,
    so the interrupt action may run before the driver remembers what it started."""

    class KextLabTestCardRacyDriver(base):  # type: ignore[misc, valid-type]
        """Deliberately wrong: programs the card without holding the work loop's gate."""

        def _run(self, request: Any) -> int:
            gate = self.commandGate
            if gate is None or self.terminating:
                return kIOReturnNotAttached
            status = self._program(request)  # BUG: outside the gate
            if status != kIOReturnSuccess:
                return int(status)
            result: int = gate.runAction(type(self).gatedWait, request)
            return result

        def gatedWait(self, request: Any, *_: object) -> int:
            while not request.done:
                self.commandGate.commandSleep(request, 0)
            self._finish_dma()
            return int(self._account(request, request.status))

    return KextLabTestCardRacyDriver


def transfers_under_seed(seed: int, *, racy: bool, count: int = 8) -> list[int]:
    """Run ``count`` copies on testcard0 under seeded preemption; their results."""
    with booted_kernel(seed=seed, preemption="seeded") as kernel:
        load_driver(kernel, start_matching=not racy)
        if racy:
            replace_driver(kernel, racy_variant(base_driver_class(kernel)), "0x00011234", 5000)
        driver = drivers(kernel)["64"]
        with kernel.entered():
            buffers = Buffers(4096)

            def client() -> list[int]:
                results = []
                for _ in range(count):
                    results.append(driver.copyMemory(buffers.source, buffers.destination, 100))
                    IOSleep(1)
                return results

            results: list[int] = on_thread(kernel, client)
            buffers.release()
        return results


def test_the_racy_variant_is_caught_by_some_seed_and_the_seed_reproduces_it() -> None:
    """Seeded preemption finds the race (a completion the action ignored, so the
    request times out), and re-running the failing seed fails the same way."""
    failing = next(
        (
            seed
            for seed in range(40)
            if any(result != kIOReturnSuccess for result in transfers_under_seed(seed, racy=True))
        ),
        None,
    )
    assert failing is not None, "no seed in 0..39 exposed the race"
    first = transfers_under_seed(failing, racy=True)
    assert kIOReturnTimeout in first
    assert transfers_under_seed(failing, racy=True) == first


def test_the_racy_variant_passes_without_preemption() -> None:
    """Under the default schedule the race never shows: why seeded preemption exists."""
    with booted_kernel() as kernel:
        load_driver(kernel, start_matching=False)
        replace_driver(kernel, racy_variant(base_driver_class(kernel)), "0x00011234", 5000)
        driver = drivers(kernel)["64"]
        with kernel.entered():
            buffers = Buffers(4096)
            results = [
                on_thread(kernel, lambda: driver.copyMemory(buffers.source, buffers.destination))
                for _ in range(8)
            ]
            buffers.release()
        assert results == [kIOReturnSuccess] * 8


@pytest.mark.parametrize("seed", range(0, 40, 2))
def test_the_correct_driver_passes_under_many_seeds(seed: int) -> None:
    """The sample driver, whose shared state is touched only in the gate, survives
    every seeded schedule."""
    assert transfers_under_seed(seed, racy=False) == [kIOReturnSuccess] * 8
