"""The requests of a storage services nub: client data, retries, completion.

Ours: the request bookkeeping Apple writes twice, in ``IOBlockStorageServices.cpp``
and ``IOCompactDiscServices.cpp`` (``struct BlockServicesClientData``,
``doAsyncReadWrite`` and the static ``AsyncReadWriteComplete``), once.  A services nub
(``IOBlockStorageServices``, ``IOCompactDiscServices``) owns a ``ServicesRequests``
and gives it the function that sends a request to its SCSI driver (``issue``);
``start`` records the client's parameters and sends it, ``finish`` (the nub's static
``AsyncReadWriteComplete``) retries or completes it.

Retries: a request carries Apple's budget, ``kNumberRetries`` (4).  An outcome that a
retry could change (``outcomes.is_final``) is sent again from the completion while
budget is left; the client then gets the last outcome.  Each retry is counted in the
block storage driver's ``Statistics`` (``IOBlockStorageDriver.incrementRetries``,
which Apple's services do not call, so Apple's ``Retries`` stay 0).  Apple retries
every error but a detached or offline device (and, for CDs, a wrong sector type or a
missing key); kextlab's final set is wider (see ``outcomes``): an error that cannot
go away reaches the client without four pointless repeats.

Allocation: Apple allocates the client data per request (``IONew``); these are kept
for reuse.  As Apple's, a request in flight holds a retain on the nub and on the SCSI
driver.

Threading rules: ``start`` runs on the client's kernel thread and does not block;
``finish`` runs in the transport's completion context (the HBA's work loop, gate
closed) and never blocks: a retry is sent asynchronously from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from kextlab.families.scsi.outcomes import FINAL_STATUSES
from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.storage import IOStorage
from kextlab.kernel.ioreturn import kIOReturnNotAttached, kIOReturnSuccess
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.memory.options import kIODirectionOut

if TYPE_CHECKING:
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.service.service import IOService

#: Apple's retry budget for a request.
kNumberRetries: Final = 4
#: Released client data kept for reuse (ours).
CLIENT_DATA_POOL_SIZE: Final = 64


class BlockServicesClientData:
    """One request in flight (Apple's ``struct BlockServicesClientData``)."""

    __slots__ = (
        "clientAttributes",
        "clientBuffer",
        "clientRequestedBlockCount",
        "clientRequestedBlockSize",
        "clientStartingBlock",
        "completionData",
        "owner",
        "provider",
        "retriesLeft",
    )

    def __init__(self, owner: ServicesRequests) -> None:
        self.owner = owner
        self.provider: IOService | None = None
        self.completionData: IOStorageCompletion | None = None
        self.clientBuffer: IOMemoryDescriptor | None = None
        self.clientStartingBlock = 0
        self.clientRequestedBlockCount = 0
        self.clientRequestedBlockSize = 0
        self.clientAttributes: IOStorageAttributes | None = None
        self.retriesLeft = kNumberRetries


#: Sends a request to the SCSI driver: ``issue(clientData) -> IOReturn``.
Issue = Callable[[BlockServicesClientData], int]


class ServicesRequests:
    """The requests of one services nub (``nub``), sent with ``issue``."""

    def __init__(self, nub: IOService, issue: Issue) -> None:
        self.nub = nub
        self.issue = issue
        self._free: list[BlockServicesClientData] = []

    def start(
        self,
        provider: IOService,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        blockSize: int,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> int:
        """Record a client's request and send it; an error means it never started
        (and its completion will not be called)."""
        nub = self.nub
        if nub.isInactive():
            return kIOReturnNotAttached
        free = self._free
        clientData = free.pop() if free else BlockServicesClientData(self)
        nub.retain()  # neither goes away while the request is in flight
        provider.retain()
        clientData.provider = provider
        clientData.completionData = completion
        clientData.clientBuffer = buffer
        clientData.clientStartingBlock = block
        clientData.clientRequestedBlockCount = nblks
        clientData.clientRequestedBlockSize = blockSize
        clientData.clientAttributes = attributes
        clientData.retriesLeft = kNumberRetries
        status = self.issue(clientData)
        if status != kIOReturnSuccess:
            self._release(clientData)
        return status

    def finish(
        self, clientData: BlockServicesClientData, status: int, actualByteCount: int
    ) -> None:
        """The SCSI driver's report on a request: send it again, or complete it."""
        if status not in FINAL_STATUSES and clientData.retriesLeft > 0:  # ``is_final``, inline
            clientData.retriesLeft -= 1
            self._count_retry(clientData)
            if self.issue(clientData) == kIOReturnSuccess:
                return
        completion = clientData.completionData
        self._release(clientData)
        IOStorage.complete(completion, status, actualByteCount)

    def _release(self, clientData: BlockServicesClientData) -> None:
        provider = clientData.provider
        clientData.provider = None
        clientData.clientBuffer = None
        clientData.clientAttributes = None
        clientData.completionData = None
        if len(self._free) < CLIENT_DATA_POOL_SIZE:
            self._free.append(clientData)
        if provider is not None:
            provider.release()
        self.nub.release()

    def _count_retry(self, clientData: BlockServicesClientData) -> None:
        driver = OSDynamicCast(IOBlockStorageDriver, self.nub.getClient())
        buffer = clientData.clientBuffer
        if driver is not None and buffer is not None:
            driver.incrementRetries(buffer.getDirection() == kIODirectionOut)

    def free(self) -> None:
        """Forget the spare client data (the nub is being freed)."""
        self._free.clear()


__all__ = ["BlockServicesClientData", "ServicesRequests", "kNumberRetries"]
