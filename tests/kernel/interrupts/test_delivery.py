"""Interrupts from the wire to the handler: registerInterrupt on the test cards' nubs,
the shared line, enabling and disabling, the controller's counts, software interrupts.

The default machine's two test cards share controller input 18.  A test raises a
card's interrupt the way a driver would, through its BAR 0 registers
(``INTERRUPT_ENABLE`` then ``INTERRUPT_SET`` bit 2, SOFTWARE), and a handler quiets
it by writing the bit back to ``INTERRUPT_STATUS``.  No driver is loaded: the tests
register handlers on the nubs themselves, and the machine boots without its
extensions, so the HBA in slot 4 (input 16) stays without a driver and quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kextlab.errors import InterruptContextViolation, KernelPanic
from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import (
    kIOReturnNoInterrupt,
    kIOReturnNoResources,
    kIOReturnSuccess,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.device_memory import IOMemoryMap
from kextlab.kernel.platform import (
    IOInterruptController,
    KextLabInterruptController,
    getPlatform,
    kIOInterruptTypeLevel,
)
from kextlab.kernel.service.interrupts import InterruptTypeRef
from kextlab.kernel.service.service import IOService, kIOServiceSynchronous
from kextlab.machine.devices.testcard_registers import Interrupt, Register
from kextlab.sim.context import Context
from kextlab.sim.scheduler import current_scheduler
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.tools.ioclasscount import ioclasscount
from tests.kernel.interrupt_nubs import interrupt_nub

CONTROLLER = "IOInterruptControllerFF800400"
INPUT = 18  # where both test cards' INTx lands


#: The cards a test mapped (their maps are released when the test ends).
MAPPED: list[Card] = []


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    MAPPED.clear()
    with booted_kernel(extensions=()) as booted:
        yield booted
        if not booted.scheduler.panicked:
            with booted.entered():
                for mapped in MAPPED:
                    mapped.registers.release()
    MAPPED.clear()


@dataclass
class Card:
    """A test card, driven at register level through its nub's BAR 0."""

    name: str
    nub: IOPCIDevice
    registers: IOMemoryMap

    def raise_interrupt(self) -> None:
        self.registers.ioWrite32(Register.INTERRUPT_ENABLE, Interrupt.SOFTWARE)
        self.registers.ioWrite32(Register.INTERRUPT_SET, Interrupt.SOFTWARE)

    def asserted(self) -> bool:
        return bool(self.registers.ioRead32(Register.INTERRUPT_STATUS) & Interrupt.SOFTWARE)

    def quiet(self) -> None:
        self.registers.ioWrite32(Register.INTERRUPT_STATUS, Interrupt.SOFTWARE)


def card(kernel: Kernel, alias: str) -> Card:
    nub = kernel.registry.fromPath(f"IODeviceTree:{alias}")
    assert isinstance(nub, IOPCIDevice)
    with kernel.entered():
        nub.setMemoryEnable(True)
        registers = nub.mapDeviceMemoryWithIndex(0)
    assert registers is not None
    chosen = Card(alias, nub, registers)
    MAPPED.append(chosen)
    return chosen


@dataclass
class Call:
    time: int
    context: Context
    target: object
    refCon: object
    nub: object
    source: int
    own: bool


@dataclass
class Handler:
    """Records each call and quiets its own card when that card asserted."""

    card: Card
    calls: list[Call] = field(default_factory=list)

    def __call__(self, target: object, refCon: object, nub: object, source: int) -> None:
        scheduler = current_scheduler()
        assert scheduler is not None
        own = self.card.asserted()
        self.calls.append(Call(scheduler.now, scheduler.context, target, refCon, nub, source, own))
        if own:
            self.card.quiet()


def controller(kernel: Kernel) -> KextLabInterruptController:
    with kernel.entered():
        platform = getPlatform()
        assert platform is not None
        found = platform.lookUpInterruptController(CONTROLLER)
    assert isinstance(found, KextLabInterruptController)
    return found


def masked(kernel: Kernel) -> bool:
    return kernel.machine.interrupt_controller.is_masked(INPUT)


def registered(kernel: Kernel, alias: str, *, enable: bool = True) -> tuple[Card, Handler]:
    chosen = card(kernel, alias)
    handler = Handler(chosen)
    with kernel.entered():
        assert chosen.nub.registerInterrupt(0, chosen, handler, alias) == kIOReturnSuccess
        if enable:
            assert chosen.nub.enableInterrupt(0) == kIOReturnSuccess
    return chosen, handler


# -- delivery --------------------------------------------------------------------------------------


def test_a_handler_runs_in_interrupt_context_when_its_card_interrupts(kernel: Kernel) -> None:
    """handler(target, refCon, nub, source) runs once, in interrupt context, and the
    controller counts one delivery on input 18."""
    testcard1, handler = registered(kernel, "testcard1")
    assert not masked(kernel)
    with kernel.entered():
        testcard1.raise_interrupt()
    kernel.machine.run()
    (call,) = handler.calls
    assert call.context is Context.INTERRUPT
    assert (call.target, call.refCon, call.nub, call.source) == (
        testcard1,
        "testcard1",
        testcard1.nub,
        0,
    )
    assert call.own
    assert not testcard1.asserted()
    statistics = controller(kernel).statistics[INPUT]
    assert (statistics.delivered, statistics.disabled, statistics.unhandled) == (1, 0, 0)


def test_both_handlers_on_the_shared_line_run_and_each_sees_whether_its_card_asserted(
    kernel: Kernel,
) -> None:
    """Input 18 is shared: when testcard1 interrupts, both handlers run, testcard0's
    finds its card quiet; one IOSharedInterruptController serves the line."""
    testcard0, first = registered(kernel, "testcard0")
    testcard1, second = registered(kernel, "testcard1")
    with kernel.entered():
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert [call.own for call in first.calls] == [False]
    assert [call.own for call in second.calls] == [True]
    with kernel.entered():
        testcard0.raise_interrupt()
        testcard1.raise_interrupt()
    kernel.machine.run()
    # testcard0's interrupt arrives first and runs both handlers, then testcard1's.
    assert [call.own for call in first.calls] == [False, True, False]
    assert [call.own for call in second.calls] == [True, False, True]
    port = io.IOMainPort(kernel.registry, kernel)
    assert ioclasscount(port, ["IOSharedInterruptController"]).stdout == [
        "IOSharedInterruptController = 1"
    ]


def test_the_interrupt_type_of_a_test_card_is_level(kernel: Kernel) -> None:
    """getInterruptType fills the out-parameter box with kIOInterruptTypeLevel."""
    testcard0 = card(kernel, "testcard0")
    interrupt_type = InterruptTypeRef(-1)
    with kernel.entered():
        assert testcard0.nub.getInterruptType(0, interrupt_type) == kIOReturnSuccess
    assert interrupt_type.value == kIOInterruptTypeLevel


# -- enabling and disabling ------------------------------------------------------------------------


def test_a_handler_starts_disabled_with_its_input_masked(kernel: Kernel) -> None:
    """registerInterrupt leaves the source disabled: nothing is delivered until
    enableInterrupt, which unmasks the input and lets the waiting level in."""
    testcard1, handler = registered(kernel, "testcard1", enable=False)
    assert masked(kernel)
    with kernel.entered():
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert handler.calls == []
    with kernel.entered():
        assert testcard1.nub.enableInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert [call.own for call in handler.calls] == [True]


def test_a_disabled_sole_handler_leaves_the_input_masked_until_it_is_enabled(
    kernel: Kernel,
) -> None:
    """disableInterrupt is soft: the interrupt that arrives while disabled is not
    handed to the handler, the input is masked then (counted Disabled), and after
    enableInterrupt the still-asserted level is delivered."""
    testcard1, handler = registered(kernel, "testcard1")
    with kernel.entered():
        assert testcard1.nub.disableInterrupt(0) == kIOReturnSuccess
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert handler.calls == []
    assert masked(kernel)
    assert kernel.machine.interrupt_controller.is_pending(INPUT)
    assert controller(kernel).statistics[INPUT].disabled == 1
    raised_at = kernel.scheduler.now
    kernel.machine.run_for(1_000_000)
    with kernel.entered():
        assert testcard1.nub.enableInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    (call,) = handler.calls
    assert call.own
    assert call.time >= raised_at + 1_000_000
    assert not masked(kernel)


def test_a_disabled_handler_masks_the_shared_line_for_every_handler_until_it_is_enabled(
    kernel: Kernel,
) -> None:
    """Apple's rule for a shared level line: while any handler on it is disabled the
    line is masked at its next interrupt, even for the enabled handlers; enabling the
    last one unmasks it and every handler runs."""
    testcard0, first = registered(kernel, "testcard0")
    testcard1, second = registered(kernel, "testcard1")
    with kernel.entered():
        assert testcard0.nub.disableInterrupt(0) == kIOReturnSuccess
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert first.calls == []
    assert [call.own for call in second.calls] == [True]  # the line was still enabled
    with kernel.entered():
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert len(second.calls) == 1  # now the line is masked
    assert masked(kernel)
    with kernel.entered():
        assert testcard0.nub.enableInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert [call.own for call in first.calls] == [False]
    assert [call.own for call in second.calls] == [True, True]
    assert not masked(kernel)


# -- unregistering and errors ----------------------------------------------------------------------


def test_an_unregistered_handler_is_no_longer_called_and_can_register_again(
    kernel: Kernel,
) -> None:
    """After unregisterInterrupt the card's interrupt reaches nobody (the line is masked
    at once, no storm); the source can be enabled no more, and registers again."""
    testcard1, handler = registered(kernel, "testcard1")
    with kernel.entered():
        assert testcard1.nub.unregisterInterrupt(0) == kIOReturnSuccess
        assert testcard1.nub.enableInterrupt(0) == kIOReturnNoInterrupt
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert handler.calls == []
    assert masked(kernel)
    again = Handler(testcard1)
    with kernel.entered():
        assert testcard1.nub.registerInterrupt(0, None, again) == kIOReturnSuccess
        assert testcard1.nub.enableInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert [call.own for call in again.calls] == [True]
    assert handler.calls == []


def test_unregistering_a_source_never_registered_leaves_the_others_alone(
    kernel: Kernel,
) -> None:
    """testcard0's source is resolved by getInterruptType but never registered: its
    unregisterInterrupt must not take the shared line from testcard1's handler."""
    testcard1, handler = registered(kernel, "testcard1")
    testcard0 = card(kernel, "testcard0")
    with kernel.entered():
        assert testcard0.nub.getInterruptType(0, InterruptTypeRef()) == kIOReturnSuccess
        assert testcard0.nub.unregisterInterrupt(0) == kIOReturnSuccess
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert [call.own for call in handler.calls] == [True]


def test_unregister_all_interrupts_unregisters_every_source(kernel: Kernel) -> None:
    """unregisterAllInterrupts on the nub: its one source is gone."""
    testcard1, handler = registered(kernel, "testcard1")
    with kernel.entered():
        testcard1.nub.unregisterAllInterrupts()
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert handler.calls == []
    assert masked(kernel)


def test_a_source_the_nub_does_not_have_is_no_interrupt(kernel: Kernel) -> None:
    """A test card has one interrupt: source 1 and -1 are kIOReturnNoInterrupt, and
    enabling a source never registered too."""
    testcard0 = card(kernel, "testcard0")
    handler = Handler(testcard0)
    with kernel.entered():
        assert testcard0.nub.enableInterrupt(0) == kIOReturnNoInterrupt
        assert testcard0.nub.registerInterrupt(1, None, handler) == kIOReturnNoInterrupt
        assert testcard0.nub.registerInterrupt(-1, None, handler) == kIOReturnNoInterrupt
        assert testcard0.nub.disableInterrupt(1) == kIOReturnNoInterrupt
        assert testcard0.nub.causeInterrupt(1) == kIOReturnNoInterrupt


def test_a_nub_without_interrupts_has_no_resources(kernel: Kernel) -> None:
    """The bridge has no interrupt properties: no controller can be found."""
    bridge = kernel.registry.fromPath("IODeviceTree:/pci/pci-bridge")
    assert isinstance(bridge, IOService)
    with kernel.entered():
        assert bridge.registerInterrupt(0, None, Handler(card(kernel, "testcard0"))) == (
            kIOReturnNoResources
        )
        assert bridge.getInterruptType(0, InterruptTypeRef()) == kIOReturnNoResources


# -- the controller --------------------------------------------------------------------------------


def test_a_spurious_acknowledge_is_counted_and_dispatches_nothing(kernel: Kernel) -> None:
    """The CPU handler finds nothing to acknowledge (0xFF): one spurious interrupt, no
    handler, no end of interrupt; the count is published live."""
    testcard1, handler = registered(kernel, "testcard1")
    pic = controller(kernel)
    with kernel.entered():
        kernel.scheduler.run_in_interrupt_context(lambda: pic.handleInterrupt(None, None, 0))
    assert pic.spurious == 1
    assert handler.calls == []
    port = io.IOMainPort(kernel.registry, kernel)
    service = io.IOServiceGetMatchingService(
        port, {"IOProviderClass": "KextLabInterruptController"}
    )
    assert service is not None
    statistics = io.IORegistryEntryCreateCFProperty(service, "InterruptStatistics")
    assert statistics == {"Inputs": {}, "Spurious": 1}
    with kernel.entered():
        testcard1.raise_interrupt()
    kernel.machine.run()
    statistics = io.IORegistryEntryCreateCFProperty(service, "InterruptStatistics")
    assert statistics == {
        "Inputs": {"18": {"Delivered": 1, "Caused": 0, "Disabled": 0, "Unhandled": 0}},
        "Spurious": 1,
    }


def test_an_interrupt_nobody_registered_is_counted_unhandled_and_masked(kernel: Kernel) -> None:
    """If an input is unmasked with no handler (a controller driver bug), its interrupt
    is counted Unhandled and the input masked again: no interrupt storm."""
    testcard1 = card(kernel, "testcard1")
    pic = controller(kernel)
    with kernel.entered():
        pic.enableVector(INPUT, pic.vectors[INPUT])
        testcard1.raise_interrupt()
    kernel.machine.run()
    assert pic.statistics[INPUT].unhandled == 1
    assert masked(kernel)


def test_blocking_in_a_handler_raises_interrupt_context_violation_and_panics(
    kernel: Kernel,
) -> None:
    """IOSleep in a handler: InterruptContextViolation escapes the interrupt and the
    machine panics."""
    testcard1 = card(kernel, "testcard1")

    def sleepy(target: object, refCon: object, nub: object, source: int) -> None:
        IOSleep(1)

    with kernel.entered():
        assert testcard1.nub.registerInterrupt(0, None, sleepy) == kIOReturnSuccess
        assert testcard1.nub.enableInterrupt(0) == kIOReturnSuccess
        with pytest.raises(KernelPanic) as panic:
            testcard1.raise_interrupt()
    assert InterruptContextViolation.__name__ in str(panic.value)


def test_a_nub_registering_before_its_controller_starts_waits_for_it(kernel: Kernel) -> None:
    """registerInterrupt on a kernel thread blocks in lookUpInterruptController until a
    controller of the nub's controller name registers, then succeeds."""

    class LateController(IOInterruptController):
        """A controller of four unshared vectors."""

    name = "IOInterruptController12345678"
    results: list[tuple[int, int]] = []

    def handler(target: object, refCon: object, nub: object, source: int) -> None:
        """Never called."""

    with kernel.entered():
        nub = interrupt_nub(name, bytes.fromhex("0000000300000001"))

        def register() -> None:
            result = nub.registerInterrupt(0, None, handler)
            results.append((kernel.scheduler.now, result))

        thread = kernel.scheduler.spawn(register, name="early driver")
    kernel.machine.run_for(1_000_000)
    registered_at = kernel.scheduler.now
    assert results == []
    assert thread.is_alive
    with kernel.entered():
        late = LateController()
        late.make_vectors(4)
        platform = getPlatform()
        assert platform is not None
        assert platform.registerInterruptController(name, late) == kIOReturnSuccess
    kernel.machine.run()
    assert results == [(registered_at, kIOReturnSuccess)]
    assert not thread.is_alive
    vector = late.vectors[3]
    assert vector.interruptRegistered
    assert vector.handler is handler
    assert vector.nub is nub
    with kernel.entered():
        assert platform.deregisterInterruptController(name) == kIOReturnSuccess
        late.release_vectors()


def test_stopping_the_controller_masks_every_input_and_disconnects_the_cpu(
    kernel: Kernel,
) -> None:
    """Terminating the controller's driver: all inputs masked, the CPU has no
    handler, the name is deregistered."""
    pic = controller(kernel)
    with kernel.entered():
        assert pic.terminate(kIOServiceSynchronous)
    kernel.machine.run()
    hardware = kernel.machine.interrupt_controller
    assert hardware.mask_bits == (1 << hardware.inputs) - 1
    assert pic.vectors == []
    testcard1 = card(kernel, "testcard1")
    with kernel.entered():
        testcard1.raise_interrupt()
        kernel.machine.run()
        assert not kernel.scheduler.interrupts.asserted  # masked
        hardware.unmask(INPUT)
    kernel.machine.run()
    assert kernel.scheduler.interrupts.asserted  # and nobody takes it
    assert kernel.scheduler.interrupts.delivered == 0


# -- software interrupts ---------------------------------------------------------------------------


def test_cause_interrupt_runs_the_handlers_without_the_hardware(kernel: Kernel) -> None:
    """causeInterrupt posts a software interrupt: every enabled handler on the line
    runs in interrupt context, no card asserted, counted Caused."""
    _, first = registered(kernel, "testcard0")
    testcard1, second = registered(kernel, "testcard1")
    with kernel.entered():
        assert testcard1.nub.causeInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert [(call.context, call.own) for call in first.calls] == [(Context.INTERRUPT, False)]
    assert [(call.context, call.own) for call in second.calls] == [(Context.INTERRUPT, False)]
    assert controller(kernel).statistics[INPUT].caused == 1


def test_a_caused_interrupt_on_a_disabled_source_waits_for_enable(kernel: Kernel) -> None:
    """A software interrupt on a line whose handler is disabled: the first one reaches
    the shared controller, which calls no handler and disables the line; the next one
    stays pending, masked, and runs the handler once the source is enabled again."""
    testcard1, handler = registered(kernel, "testcard1")
    with kernel.entered():
        assert testcard1.nub.disableInterrupt(0) == kIOReturnSuccess
        assert testcard1.nub.causeInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    with kernel.entered():
        assert testcard1.nub.causeInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert handler.calls == []
    statistics = controller(kernel).statistics[INPUT]
    assert (statistics.caused, statistics.disabled) == (1, 1)
    with kernel.entered():
        assert testcard1.nub.enableInterrupt(0) == kIOReturnSuccess
    kernel.machine.run()
    assert [(call.context, call.own) for call in handler.calls] == [(Context.INTERRUPT, False)]
    assert (statistics.caused, statistics.disabled) == (2, 1)


def test_a_software_interrupt_waits_while_the_cpu_has_interrupts_disabled(
    kernel: Kernel,
) -> None:
    """A thread holding interrupts disabled across a preemption point: the software
    interrupt it causes runs only after it restores them."""
    testcard1, handler = registered(kernel, "testcard1")
    times: dict[str, int] = {}

    def critical_section() -> None:
        scheduler = kernel.scheduler
        state = scheduler.interrupts.disable()
        testcard1.nub.causeInterrupt(0)
        scheduler.consume(10_000)  # preempted with interrupts off: events run meanwhile
        times["restore"] = scheduler.now
        scheduler.interrupts.restore(state)

    with kernel.entered():
        kernel.scheduler.spawn(critical_section, name="critical section")
    kernel.machine.run()
    (call,) = handler.calls
    assert call.time >= times["restore"]
