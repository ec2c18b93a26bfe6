"""What a kernel holds, and what it holds beyond a baseline: leak reports.

A driver that stops cleanly gives back everything it took: its work loop (and so
the work loop's thread), its event sources, timers and interrupt registrations,
its memory descriptors, mappings and DMA commands, its ``IOMalloc`` memory.  This
module takes a ``ResourceSnapshot`` of a kernel (the kernel takes one when boot has
finished, ``Kernel.boot_state``) and lists what a later moment holds beyond it:
live kernel threads, pending events, instances of the driver-runtime classes and of
classes that kexts loaded after the snapshot defined, outstanding ``IOMalloc``
allocations (with the site that made them) and prepared DMA commands.  That is
xnu's ``IOTracking`` and ``ioclasscount`` put to work as one report; kextlab's
test suite runs it after every test (``kextlab.testing.leaks``).

Threading rules: host context, with the machine stopped or quiet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.kernel.memory.kernel_memory import outstanding_allocations, prepared_commands

if TYPE_CHECKING:
    from kextlab.kernel.kernel import Kernel

#: The driver-runtime classes whose instances must not outlive their drivers.
RUNTIME_CLASSES: Final = (
    "IOWorkLoop",
    "IOEventSource",
    "IOCommandPool",
    "IOCommand",
    "IOMemoryDescriptor",
    "IOMemoryMap",
    "IODMACommand",
)


@dataclass(frozen=True)
class ResourceSnapshot:
    """What a kernel held at one moment."""

    time_ns: int
    threads: frozenset[int]
    instance_counts: dict[str, int]
    kexts: frozenset[str]
    allocations: frozenset[int]

    @classmethod
    def capture(cls, kernel: Kernel) -> ResourceSnapshot:
        scheduler = kernel.scheduler
        return cls(
            time_ns=scheduler.now,
            threads=frozenset(thread.tid for thread in scheduler.live_threads()),
            instance_counts=dict(kernel.classes.instance_counts()),
            kexts=frozenset(meta.getKmodName() for meta in kernel.classes.classes()),
            allocations=frozenset(
                allocation.address for allocation in outstanding_allocations(kernel)
            ),
        )


def resources_beyond(kernel: Kernel, baseline: ResourceSnapshot) -> list[str]:
    """One line per resource ``kernel`` holds now that it did not hold at ``baseline``."""
    scheduler = kernel.scheduler
    problems: list[str] = []
    for thread in scheduler.live_threads():
        if thread.tid not in baseline.threads:
            state = thread.blocked_on or thread.state.value
            problems.append(f'live kernel thread "{thread.name}" (thread {thread.tid}, {state})')
    for event in scheduler.pending():
        problems.append(f'pending event "{event.label}" at {event.time} ns')
    counts = kernel.classes.instance_counts()
    new_kext_classes = {
        meta.getClassName()
        for meta in kernel.classes.classes()
        if meta.getKmodName() not in baseline.kexts
    }
    for name in sorted(set(RUNTIME_CLASSES) | new_kext_classes):
        extra = counts.get(name, 0) - baseline.instance_counts.get(name, 0)
        if extra > 0:
            problems.append(f"{extra} more {name} instance(s) than at boot")
    for allocation in outstanding_allocations(kernel):
        if allocation.address not in baseline.allocations:
            problems.append(f"unfreed kernel memory: {allocation}")
    for command in prepared_commands(kernel):
        problems.append(f"DMA command still prepared: {command}")
    return problems
