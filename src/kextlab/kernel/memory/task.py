"""Tasks as memory descriptors see them: whose addresses a range is in.

Mirrors the part of ``task_t`` that ``IOMemoryDescriptor`` uses (xnu passes the task
so it can wire the pages of that task's map and find their physical addresses).
A descriptor made with a task holds *virtual* ranges of that task; made without one
(``withPhysicalAddress``, ``task=None``) it holds physical ranges.

Only ``kernel_task`` exists for now.  kextlab's kernel memory is identity-mapped
(no MMU): a kernel virtual address is its physical address, and a kernel range is
mapped exactly when it is RAM, inside one RAM region.

How user tasks will fit (user clients are a later issue): a user task is a ``Task``
subclass owning its own address space, a map from its virtual pages to physical
pages the kernel allocated for it.  ``translate`` then returns one physical run per
stretch of physically contiguous pages, so a user buffer becomes a descriptor with
many physical segments, exactly what ``IODMACommand`` exists to walk; and mapping
a kernel buffer into the task (``createMappingInTask``, ``IOConnectMapMemory``)
adds pages to that map.  Nothing else in the descriptors changes: they call
``translate`` when they are prepared (wired) and use the runs it returns.

Threading rules: immutable; any context.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kextlab.machine.memory import PhysicalMemory


class Task(ABC):
    """An address space descriptors can describe memory in."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    @abstractmethod
    def translate(
        self, memory: PhysicalMemory, address: int, length: int
    ) -> list[tuple[int, int]] | None:
        """The physical runs ``(address, length)`` behind ``[address, +length)`` of this
        task, in order; None when part of the range is not mapped."""


class KernelTask(Task):
    """The kernel's task: identity-mapped RAM."""

    def translate(
        self, memory: PhysicalMemory, address: int, length: int
    ) -> list[tuple[int, int]] | None:
        if length == 0:
            return []
        if not memory.contains(address, length):
            return None
        return [(address, length)]


#: The kernel's own task (xnu's ``kernel_task``).
kernel_task = KernelTask("kernel_task")
