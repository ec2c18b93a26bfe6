"""Reading a completed SCSI task: its sense, its outcome in words, and the IOReturn a
storage client gets for it.

Ours, shared by the peripheral drivers (``IOSCSIBlockCommandsDevice``,
``IOSCSIMultimediaCommandsDevice``) where Apple's ``AsyncReadWriteCompletion``
methods each decide inline.  Apple's 2004 family answers ``kIOReturnIOError`` for
every failed READ or WRITE except a recovered error that moved all its data (a
success); the block storage services then retry any error but a detached or offline
device.  kextlab keeps those two rules and says *which* error it was, with the
IOReturn whose meaning fits (``IOReturn.h``), so that a client, a tool and a test can
tell a bad block from a write-protected disk, an empty drive, a timeout and a target
that is gone:

====================================================  ==========================  =====
outcome                                               IOReturn                    final
====================================================  ==========================  =====
TASK_COMPLETE, GOOD                                   ``kIOReturnSuccess``
CHECK CONDITION, RECOVERED ERROR, all data moved      ``kIOReturnSuccess``
CHECK CONDITION, NOT READY, MEDIUM NOT PRESENT 3A/xx  ``kIOReturnNoMedia``        yes
CHECK CONDITION, NOT READY (other)                    ``kIOReturnNotReady``
CHECK CONDITION, MEDIUM ERROR / HARDWARE ERROR        ``kIOReturnIOError``
CHECK CONDITION, ILLEGAL REQUEST                      ``kIOReturnBadArgument``    yes
CHECK CONDITION, UNIT ATTENTION                       ``kIOReturnIOError``
CHECK CONDITION, DATA PROTECT                         ``kIOReturnNotWritable``    yes
CHECK CONDITION, ABORTED COMMAND (transport)          ``kIOReturnIOError``
CHECK CONDITION (other keys, or no sense)             ``kIOReturnIOError``
BUSY, TASK SET FULL, ACA ACTIVE                       ``kIOReturnBusy``
RESERVATION CONFLICT                                  ``kIOReturnExclusiveAccess``  yes
SERVICE DELIVERY FAILURE: task or protocol timeout    ``kIOReturnTimeout``
SERVICE DELIVERY FAILURE: device not responding       ``kIOReturnNotResponding``
SERVICE DELIVERY FAILURE: device not present          ``kIOReturnNoDevice``       yes
SERVICE DELIVERY FAILURE: delivery failure            ``kIOReturnIOError``
SERVICE DELIVERY FAILURE: no status (access closed)   ``kIOReturnNotAttached``    yes
====================================================  ==========================  =====

*Final* outcomes are not retried (``is_final``): sending the same command again
cannot change them, and retrying a vanished target or an empty drive would only
delay the error.  Everything else is retried a bounded number of times by the
storage services (Apple's ``kNumberRetries``, 4), which is what makes a unit
attention, a transport error or a timeout that a reset recovered from invisible to
the client.

Threading rules: pure functions of a completed task; called from completions.
"""

from __future__ import annotations

from typing import Final

from kextlab.families.scsi.definitions import (
    SENSE_RESPONSE_CODE_DESCRIPTOR_CURRENT,
    SENSE_RESPONSE_CODE_DESCRIPTOR_DEFERRED,
    SCSI_Sense_Data,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_ACA_ACTIVE,
    kSCSITaskStatus_BUSY,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_DeliveryFailure,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_DeviceNotResponding,
    kSCSITaskStatus_GOOD,
    kSCSITaskStatus_No_Status,
    kSCSITaskStatus_ProtocolTimeoutOccurred,
    kSCSITaskStatus_RESERVATION_CONFLICT,
    kSCSITaskStatus_TASK_SET_FULL,
    kSCSITaskStatus_TaskTimeoutOccurred,
    kSENSE_KEY_DATA_PROTECT,
    kSENSE_KEY_ILLEGAL_REQUEST,
    kSENSE_KEY_Mask,
    kSENSE_KEY_NOT_READY,
    kSENSE_KEY_RECOVERED_ERROR,
    kSENSE_RESPONSE_CODE_Mask,
    sense_key_and_codes,
)
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnBusy,
    kIOReturnExclusiveAccess,
    kIOReturnIOError,
    kIOReturnNoDevice,
    kIOReturnNoMedia,
    kIOReturnNotAttached,
    kIOReturnNotPrivileged,
    kIOReturnNotReady,
    kIOReturnNotResponding,
    kIOReturnNotWritable,
    kIOReturnOffline,
    kIOReturnSuccess,
    kIOReturnTimeout,
    kIOReturnUnsupportedMode,
)

#: NOT READY, MEDIUM NOT PRESENT (SPC-4: ASC 3Ah, any qualifier).
ASC_MEDIUM_NOT_PRESENT: Final = 0x3A
#: UNIT ATTENTION, NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED.
ASC_MEDIUM_MAY_HAVE_CHANGED: Final = 0x28

#: Outcomes a retry cannot change (see the module).
FINAL_STATUSES: Final = frozenset(
    {
        kIOReturnSuccess,
        kIOReturnNotAttached,
        kIOReturnOffline,
        kIOReturnNoMedia,
        kIOReturnNotWritable,
        kIOReturnNoDevice,
        kIOReturnBadArgument,
        kIOReturnExclusiveAccess,
        kIOReturnUnsupportedMode,
        kIOReturnNotPrivileged,
    }
)

_SERVICE_DELIVERY: Final = {
    kSCSITaskStatus_TaskTimeoutOccurred: ("task timeout", kIOReturnTimeout),
    kSCSITaskStatus_ProtocolTimeoutOccurred: ("protocol timeout", kIOReturnTimeout),
    kSCSITaskStatus_DeviceNotResponding: ("device not responding", kIOReturnNotResponding),
    kSCSITaskStatus_DeviceNotPresent: ("device not present", kIOReturnNoDevice),
    kSCSITaskStatus_DeliveryFailure: ("delivery failure", kIOReturnIOError),
    kSCSITaskStatus_No_Status: ("no status", kIOReturnNotAttached),
}
_TASK_STATUS: Final = {
    kSCSITaskStatus_BUSY: ("BUSY", kIOReturnBusy),
    kSCSITaskStatus_TASK_SET_FULL: ("TASK SET FULL", kIOReturnBusy),
    kSCSITaskStatus_ACA_ACTIVE: ("ACA ACTIVE", kIOReturnBusy),
    kSCSITaskStatus_RESERVATION_CONFLICT: ("RESERVATION CONFLICT", kIOReturnExclusiveAccess),
}
SENSE_KEY_NAMES: Final = (
    "NO SENSE",
    "RECOVERED ERROR",
    "NOT READY",
    "MEDIUM ERROR",
    "HARDWARE ERROR",
    "ILLEGAL REQUEST",
    "UNIT ATTENTION",
    "DATA PROTECT",
    "BLANK CHECK",
    "VENDOR SPECIFIC",
    "COPY ABORTED",
    "ABORTED COMMAND",
    "sense key 0xC",
    "VOLUME OVERFLOW",
    "MISCOMPARE",
    "sense key 0xF",
)


def sense_of(request: SCSITask) -> SCSI_Sense_Data | None:
    """The task's autosense data as fixed-format sense, or None if it has none
    (Apple's ``GetAutoSenseData(request, &senseData, size)`` answering true).
    Descriptor-format sense (a unit with D_SENSE set) is converted: its key, ASC and
    ASCQ in a fixed-format structure, as the drivers read them."""
    data = request.GetAutoSenseData()
    if not data:
        return None
    if data[0] & kSENSE_RESPONSE_CODE_Mask in (
        SENSE_RESPONSE_CODE_DESCRIPTOR_CURRENT,
        SENSE_RESPONSE_CODE_DESCRIPTOR_DEFERRED,
    ):
        return SCSI_Sense_Data(*sense_key_and_codes(data))
    return SCSI_Sense_Data.from_bytes(data)


def describe_outcome(request: SCSITask) -> str:
    """A completed task's outcome in words: ``"GOOD"``, ``"CHECK CONDITION, MEDIUM
    ERROR 03/11/00"``, ``"service delivery failure (task timeout)"``..."""
    status = request.GetTaskStatus()
    if request.GetServiceResponse() != kSCSIServiceResponse_TASK_COMPLETE:
        reason = _SERVICE_DELIVERY.get(status, (f"status {status:#04x}", 0))[0]
        return f"service delivery failure ({reason})"
    if status == kSCSITaskStatus_GOOD:
        return "GOOD"
    if status != kSCSITaskStatus_CHECK_CONDITION:
        return _TASK_STATUS.get(status, (f"status {status:#04x}", 0))[0]
    sense = sense_of(request)
    if sense is None:
        return "CHECK CONDITION without sense"
    key = sense.SENSE_KEY & kSENSE_KEY_Mask
    return (
        f"CHECK CONDITION, {SENSE_KEY_NAMES[key]} {key:02X}/"
        f"{sense.ADDITIONAL_SENSE_CODE:02X}/{sense.ADDITIONAL_SENSE_CODE_QUALIFIER:02X}"
    )


def io_status_of(request: SCSITask) -> int:
    """The IOReturn a storage client gets for a completed READ or WRITE (the table of
    the module)."""
    status = request.GetTaskStatus()
    if request.GetServiceResponse() != kSCSIServiceResponse_TASK_COMPLETE:
        return _SERVICE_DELIVERY.get(status, ("", kIOReturnIOError))[1]
    if status == kSCSITaskStatus_GOOD:
        return kIOReturnSuccess
    if status != kSCSITaskStatus_CHECK_CONDITION:
        return _TASK_STATUS.get(status, ("", kIOReturnIOError))[1]
    sense = sense_of(request)
    if sense is None:
        return kIOReturnIOError
    key = sense.SENSE_KEY & kSENSE_KEY_Mask
    if key == kSENSE_KEY_RECOVERED_ERROR:
        complete = request.GetRealizedDataTransferCount() == request.GetRequestedDataTransferCount()
        return kIOReturnSuccess if complete else kIOReturnIOError
    if key == kSENSE_KEY_NOT_READY:
        if sense.ADDITIONAL_SENSE_CODE == ASC_MEDIUM_NOT_PRESENT:
            return kIOReturnNoMedia
        return kIOReturnNotReady
    if key == kSENSE_KEY_ILLEGAL_REQUEST:
        return kIOReturnBadArgument
    if key == kSENSE_KEY_DATA_PROTECT:
        return kIOReturnNotWritable
    return kIOReturnIOError


def is_final(status: int) -> bool:
    """Whether an outcome stands as it is (no retry can change it)."""
    return status in FINAL_STATUSES


__all__ = [
    "ASC_MEDIUM_MAY_HAVE_CHANGED",
    "ASC_MEDIUM_NOT_PRESENT",
    "FINAL_STATUSES",
    "SENSE_KEY_NAMES",
    "describe_outcome",
    "io_status_of",
    "is_final",
    "sense_of",
]
