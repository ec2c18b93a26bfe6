"""One kernel's memory: its allocator, its books, and what the leak checks read.

xnu keeps kernel memory state in globals (``kernel_map``, ``debug_iomalloc_size``,
the ``IOTracking`` queues of ``IOKitDebug.cpp``); kextlab keeps it per machine
(ARCHITECTURE.md §2) in one ``KernelMemory``, created lazily the first time code
running on that machine allocates, and registered in the scheduler's
``extensions`` under ``"kernel.memory"``.  It holds:

* the ``PhysicalAllocator`` over the machine's RAM, with the policy of the kernel's
  word size (``physical.py``);
* the **allocation books**: every outstanding allocation by address, with its size,
  alignment, the function that made it, the allocation site (``file:line`` of the
  first caller outside this package) and the virtual time, which is what
  ``IOFree`` checks its arguments against and what xnu's ``IOTracking`` would show;
* the registries of **live buffer descriptors** and **prepared DMA commands**;
* the figures Apple publishes in the registry root's ``IOKitDiagnostics``
  (``"IOMalloc allocation"``, ``"Pageable allocation"``: requested bytes, as
  ``debug_iomalloc_size`` counts them) and DMA statistics (bounce traffic).

Kernel addresses are physical addresses (identity mapping, no MMU), and
``kernel_view(address, length)`` is how kernel code touches the bytes: a zero-copy
``memoryview`` of RAM.  The leak-visibility functions at the end of this module
take an optional ``Kernel`` and never create state: a kernel that never allocated
has nothing outstanding.

Threading rules: any context; nothing here blocks.  ``check_may_allocate`` is the
gate of the allocating calls: they may block on a real kernel (``Z_WAITOK``), so
interrupt context and interrupts-disabled callers get ``InterruptContextViolation``.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from kextlab.errors import InternalError
from kextlab.kernel.memory.errors import BadFreeError, KernelAddressError
from kextlab.kernel.memory.physical import PhysicalAllocator
from kextlab.sim.context import Context
from kextlab.sim.scheduler import Scheduler, current_scheduler
from kextlab.sim.time import format_seconds

if TYPE_CHECKING:
    from kextlab.kernel.kernel import Kernel
    from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
    from kextlab.machine.machine import Machine
    from kextlab.machine.memory import PhysicalMemory

#: The name the memory state registers under in ``Scheduler.extensions``.
MEMORY_EXTENSION: Final = "kernel.memory"
#: kalloc's smallest block and alignment: every allocation is a multiple of it.
MALLOC_GRANULE: Final = 16
#: How many freed addresses are remembered to name a double free as such.
FREED_HISTORY: Final = 4096
_PACKAGE = __name__.rpartition(".")[0]


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """One outstanding allocation."""

    address: int
    size: int  # what the caller asked for
    alignment: int
    function: str  # the allocating call: "IOMalloc", "IOMallocAligned", ...
    site: str  # file:line of the caller
    time: int  # virtual ns
    reserved: int  # bytes taken from the allocator (size rounded up)
    pageable: bool = False
    owner: str | None = None  # the object the memory belongs to, if any

    def __str__(self) -> str:
        owner = f" for {self.owner}" if self.owner else ""
        return (
            f"{self.function}({self.size}) at {self.address:#x}{owner}, from {self.site} "
            f"at {format_seconds(self.time)} s"
        )


@dataclass(frozen=True)
class LiveBuffer:
    """A buffer memory descriptor not yet freed."""

    descriptor: str
    capacity: int
    address: int
    retain_count: int
    site: str
    time: int

    def __str__(self) -> str:
        return (
            f"{self.descriptor}: {self.capacity} bytes at {self.address:#x}, retain count "
            f"{self.retain_count}, created at {self.site} at {format_seconds(self.time)} s"
        )


@dataclass(frozen=True)
class PreparedCommand:
    """A DMA command prepared and not completed."""

    command: str
    memory: str
    offset: int
    length: int
    bounce_bytes: int
    site: str
    time: int

    def __str__(self) -> str:
        bounce = f", {self.bounce_bytes} bytes bounced" if self.bounce_bytes else ""
        return (
            f"{self.command} prepared over {self.memory} [{self.offset:#x}, "
            f"+{self.length:#x}){bounce}, at {self.site} at {format_seconds(self.time)} s"
        )


@dataclass
class DMAStatistics:
    """Counters of ``IODMACommand`` activity in one kernel."""

    prepares: int = 0  # preparations (outermost prepare calls)
    bounced_prepares: int = 0  # of which needed a bounce buffer
    bytes_bounced: int = 0  # bytes copied through bounce buffers, both directions


#: A prepared command's entry in the books (see ``KernelMemory.command_prepared``).
_PreparedEntry = tuple[Callable[[], str], object, int, int, int, tuple[str, int], int]


class TrackedBuffer(Protocol):
    """What the registry asks of a live buffer descriptor."""

    def getCapacity(self) -> int: ...

    def buffer_address(self) -> int: ...

    def getRetainCount(self) -> int: ...


def format_records(records: Iterable[object]) -> str:
    """One line per record, for a leak report."""
    return "\n".join(f"  {record}" for record in records)


def caller_location(depth: int = 1) -> tuple[str, int]:
    """File name and line of the innermost caller outside ``kextlab.kernel.memory``,
    to be formatted by ``format_location`` when a report needs it.  A caller that
    knows how many of its own frames lie above it says so with ``depth`` (1: start
    the search at the caller's frame)."""
    frame = sys._getframe(depth)
    while frame.f_globals.get("__name__", "").startswith(_PACKAGE):
        back = frame.f_back
        if back is None:
            break
        frame = back
    return frame.f_code.co_filename, frame.f_lineno


def format_location(location: tuple[str, int]) -> str:
    """``file:line`` of a ``caller_location``."""
    return f"{os.path.basename(location[0])}:{location[1]}"


def caller_site() -> str:
    """``file:line`` of the innermost caller outside ``kextlab.kernel.memory``."""
    return format_location(caller_location())


def check_may_allocate(operation: str) -> None:
    """Raise ``InterruptContextViolation`` if the caller may not block (an allocation
    that can wait, ``Z_WAITOK``, panics in interrupt context on a real kernel)."""
    check_may_allocate_in(current_scheduler(), operation)


def check_may_allocate_in(scheduler: Scheduler | None, operation: str) -> None:
    """``check_may_allocate`` for a caller that has looked up its scheduler already."""
    if scheduler is not None and scheduler.context is not Context.EVENT:
        scheduler.current_waiter(operation)


# -- the state -----------------------------------------------------------------------------------


class KernelMemory:
    """The memory books of one kernel."""

    def __init__(self, memory: PhysicalMemory, kernel_bits: int, scheduler: Scheduler) -> None:
        self.physical = memory
        self.scheduler = scheduler
        self.allocator = PhysicalAllocator(
            [(ram.base, ram.size) for ram in memory.ranges], kernel_bits=kernel_bits
        )
        self._allocations: dict[int, Allocation] = {}
        self._freed: OrderedDict[int, Allocation] = OrderedDict()
        self._buffers: dict[TrackedBuffer, tuple[str, int]] = {}
        #: Prepared commands: what ``prepared()`` reports of each, recorded raw at
        #: every ``prepare`` (once per I/O) and formatted only when a report asks.
        self._commands: dict[object, _PreparedEntry] = {}
        #: ``IOMallocContiguous`` allocations made as buffer descriptors, by address.
        self.contiguous_buffers: dict[int, IOBufferMemoryDescriptor] = {}
        self.dma = DMAStatistics()

    # -- allocation -----------------------------------------------------------------------------

    def allocate(
        self,
        size: int,
        *,
        function: str,
        alignment: int = 1,
        limit: int | None = None,
        zero: bool = False,
        pageable: bool = False,
        owner: str | None = None,
        site: str | None = None,
    ) -> int:
        """Allocate and record ``size`` bytes; the address, or 0 when memory is short."""
        alignment = max(alignment, MALLOC_GRANULE)
        reserved = -(-size // MALLOC_GRANULE) * MALLOC_GRANULE
        address = self.allocator.allocate(reserved, alignment=alignment, limit=limit)
        if address is None:
            return 0
        if zero:
            self.zero(address, reserved)
        self._freed.pop(address, None)
        self._allocations[address] = Allocation(
            address,
            size,
            alignment,
            function,
            site if site is not None else caller_site(),
            self.scheduler.now,
            reserved,
            pageable,
            owner,
        )
        return address

    def release(self, address: int, size: int, *, function: str, frees: Iterable[str]) -> None:
        """Free an allocation made by one of the functions ``frees``, checking the
        caller's address and size against the books (``function`` names the call)."""
        allocation = self._allocations.get(address)
        call = f"{function}({address:#x}, {size})"
        if allocation is None:
            freed = self._freed.get(address)
            if freed is not None:
                raise BadFreeError(
                    f"{call}: double free; the memory was allocated by {freed} and has "
                    "been freed already"
                )
            raise BadFreeError(
                f"{call}: no allocation starts at {address:#x} (never allocated, or an "
                "address inside a block)"
            )
        if allocation.function not in frees:
            raise BadFreeError(
                f"{call}: the memory was allocated by {allocation}; "
                f"{allocation.function} memory is not freed by {function}"
            )
        if allocation.size != size:
            raise BadFreeError(
                f"{call}: wrong size, {size} bytes given but {allocation.size} allocated "
                f"(by {allocation})"
            )
        del self._allocations[address]
        self.allocator.free(address, allocation.reserved)
        self._freed[address] = allocation
        if len(self._freed) > FREED_HISTORY:
            self._freed.popitem(last=False)

    def allocation_at(self, address: int) -> Allocation | None:
        return self._allocations.get(address)

    def allocations(self, *, include_owned: bool = False) -> list[Allocation]:
        """Outstanding allocations in address order (without those of descriptors
        and other owners unless ``include_owned``)."""
        return [
            allocation
            for _, allocation in sorted(self._allocations.items())
            if include_owned or allocation.owner is None
        ]

    def diagnostics(self) -> dict[str, int]:
        """``IOKitDiagnostics``' allocation figures (requested bytes)."""
        wired = sum(a.size for a in self._allocations.values() if not a.pageable)
        pageable = sum(a.size for a in self._allocations.values() if a.pageable)
        return {"IOMalloc allocation": wired, "Pageable allocation": pageable}

    # -- bytes ----------------------------------------------------------------------------------

    def view(self, address: int, length: int) -> memoryview:
        """Zero-copy access to ``length`` bytes of kernel memory at ``address``."""
        view = self.physical.view(address, length)
        if view is None:
            raise KernelAddressError(
                f"kernel address range [{address:#x}, +{length:#x}) is not RAM "
                f"(RAM is {self.physical.describe()}): a page fault on a real kernel"
            )
        return view

    def zero(self, address: int, length: int) -> None:
        view = self.view(address, length)
        for start in range(0, length, len(_ZEROS)):
            end = min(start + len(_ZEROS), length)
            view[start:end] = _ZEROS[: end - start]

    # -- registries ------------------------------------------------------------------------------

    def buffer_created(self, buffer: TrackedBuffer, site: str) -> None:
        self._buffers[buffer] = (site, self.scheduler.now)

    def buffer_freed(self, buffer: TrackedBuffer) -> None:
        self._buffers.pop(buffer, None)

    def live_buffers(self) -> list[LiveBuffer]:
        return [
            LiveBuffer(
                repr(buffer),
                buffer.getCapacity(),
                buffer.buffer_address(),
                buffer.getRetainCount(),
                site,
                time,
            )
            for buffer, (site, time) in self._buffers.items()
        ]

    def command_prepared(
        self,
        command: object,
        describe: Callable[[], str],
        memory: object,
        offset: int,
        length: int,
        bounce_bytes: int,
        location: tuple[str, int],
    ) -> None:
        """Book a preparation: ``describe`` names the command as it was prepared,
        ``memory`` is named as it is when reported, ``location`` is the caller's
        ``caller_location()``."""
        self._commands[command] = (
            describe,
            memory,
            offset,
            length,
            bounce_bytes,
            location,
            self.scheduler.now,
        )

    def command_completed(self, command: object) -> None:
        self._commands.pop(command, None)

    def prepared(self) -> list[PreparedCommand]:
        return [
            PreparedCommand(
                describe(), repr(memory), offset, length, bounce, format_location(location), time
            )
            for describe, memory, offset, length, bounce, location, time in self._commands.values()
        ]


_ZEROS = bytes(1 << 16)


# -- finding it ----------------------------------------------------------------------------------


def kernel_memory(scheduler: Scheduler | None = None) -> KernelMemory:
    """The memory state of the kernel the calling code runs in (created on first use)."""
    if scheduler is None:
        scheduler = current_scheduler()
    if scheduler is None:
        raise InternalError("kernel memory used by code that runs in no machine")
    state = scheduler.extensions.get(MEMORY_EXTENSION)
    if isinstance(state, KernelMemory):
        return state
    from kextlab.kernel.kernel import Kernel

    kernel = scheduler.extensions.get("kernel")
    if not isinstance(kernel, Kernel):
        raise InternalError("kernel memory used on a machine whose kernel has not started")
    machine = kernel.machine
    state = KernelMemory(machine.memory, machine.description.kernel_bits, scheduler)
    scheduler.extensions[MEMORY_EXTENSION] = state
    return state


def current_machine() -> Machine | None:
    """The machine of the kernel the calling code runs in; None for a kernel without
    hardware (``kextmatch``) or code outside any machine."""
    from kextlab.kernel.kernel import Kernel

    scheduler = current_scheduler()
    kernel = scheduler.extensions.get("kernel") if scheduler is not None else None
    return kernel.machine if isinstance(kernel, Kernel) else None


def kernel_view(address: int, length: int) -> memoryview:
    """A zero-copy ``memoryview`` of ``length`` bytes of kernel memory at ``address``
    (an address from ``IOMalloc``, ``getBytesNoCopy``, ``getVirtualAddress``...)."""
    return kernel_memory().view(address, length)


def _existing(kernel: Kernel | None) -> KernelMemory | None:
    scheduler = kernel.scheduler if kernel is not None else current_scheduler()
    if scheduler is None:
        return None
    state = scheduler.extensions.get(MEMORY_EXTENSION)
    return state if isinstance(state, KernelMemory) else None


def outstanding_allocations(
    kernel: Kernel | None = None, *, include_owned: bool = False
) -> list[Allocation]:
    """IOMalloc-family allocations not freed, in address order (memory that belongs
    to a descriptor is reported with the descriptor, unless ``include_owned``)."""
    state = _existing(kernel)
    return state.allocations(include_owned=include_owned) if state is not None else []


def live_buffer_descriptors(kernel: Kernel | None = None) -> list[LiveBuffer]:
    """``IOBufferMemoryDescriptor``s not yet freed, in creation order."""
    state = _existing(kernel)
    return state.live_buffers() if state is not None else []


def prepared_commands(kernel: Kernel | None = None) -> list[PreparedCommand]:
    """``IODMACommand``s prepared and not completed, in preparation order."""
    state = _existing(kernel)
    return state.prepared() if state is not None else []


def memory_diagnostics(kernel: Kernel | None = None) -> dict[str, int]:
    """The ``"IOMalloc allocation"`` and ``"Pageable allocation"`` figures."""
    state = _existing(kernel)
    if state is None:
        return {"IOMalloc allocation": 0, "Pageable allocation": 0}
    return state.diagnostics()


def dma_statistics(kernel: Kernel | None = None) -> DMAStatistics:
    """A copy of the kernel's ``IODMACommand`` counters."""
    state = _existing(kernel)
    if state is None:
        return DMAStatistics()
    return DMAStatistics(**vars(state.dma))
