"""The exceptions of kernel memory: driver bugs that panic or corrupt a real kernel.

I/O Kit's memory calls report ordinary failures the I/O Kit way: ``IOMalloc`` returns
0 (NULL) when memory runs out, ``prepare`` returns ``kIOReturnVMError``,
``IODMACommand`` returns ``kIOReturnNotReady``.  What is left are the bugs xnu
answers with a panic, an assertion or silent corruption; kextlab raises at the
offending call instead, naming the address and sizes involved::

    KernelMemoryError (KextlabError)
     +-- BadFreeError           (ValueError)    IOFree of an unknown address, with the
     |                                          wrong size or the wrong function, or twice
     +-- MemoryNotWiredError    (RuntimeError)  physical addresses of virtual memory that
     |                                          is not prepared ("IOGMD: not wired")
     +-- DMAActiveError         (RuntimeError)  the last complete() of memory an
     |                                          IODMACommand still holds
     +-- KernelAddressError     (IndexError)    a kernel address range that is not RAM
     +-- DeviceMemoryAccessError (IndexError)   a map access outside the map, misaligned,
                                                after unmap, or a write to a read-only map

Raised in a kernel thread, any of them stops the machine with a panic report, which
is what the real kernel would have done.
"""

from __future__ import annotations

from kextlab.errors import KextlabError


class KernelMemoryError(KextlabError):
    """Base class of the kernel-memory misuse errors."""


class BadFreeError(KernelMemoryError, ValueError):
    """``IOFree`` (or a sibling) of memory that is not allocated as the call says."""


class MemoryNotWiredError(KernelMemoryError, RuntimeError):
    """Physical addresses were asked of a virtual memory descriptor that is not prepared."""


class DMAActiveError(KernelMemoryError, RuntimeError):
    """A memory descriptor was completed for the last time while an ``IODMACommand``
    still had it set (xnu: ``panic("complete() while dma active")``)."""


class KernelAddressError(KernelMemoryError, IndexError):
    """A kernel address range that is not RAM (a page fault in a real kernel)."""


class DeviceMemoryAccessError(KernelMemoryError, IndexError):
    """A register access outside its map, not naturally aligned, through a map that
    was unmapped, or a write through a read-only map."""
