"""IOCommand: the base of the commands an ``IOCommandPool`` hands out.

Mirrors ``IOCommand.h`` (xnu): an object a driver subclasses to carry everything
one request needs (its memory descriptor, DMA command, completion), pre-allocated
so that the I/O path never allocates.  ``fCommandChain`` links it into a pool or a
driver's own queues.

Threading rules: none of its own; pools and queues serialise access.
"""

from __future__ import annotations

from kextlab.kernel.libkern.object import OSObject


class IOCommand(OSObject):
    """A reusable request object."""

    def __init__(self) -> None:
        super().__init__()
        #: The queue link (``queue_chain_t fCommandChain``): the pool's or a driver's.
        self.fCommandChain: object = None

    def init(self) -> bool:
        return True
