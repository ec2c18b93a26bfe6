"""IOSCSIPeripheralDeviceNub and IOSCSILogicalUnitNub: what peripheral drivers match.

Mirrors ``IOSCSIPeripheralDeviceNub`` and ``IOSCSILogicalUnitNub``
(IOSCSIArchitectureModelFamily ``IOSCSIPeripheralDeviceNub.h``/``.cpp``).  A nub is
an ``IOSCSIProtocolInterface`` in front of its provider: a peripheral driver (the
disk, CD and tape drivers, or ``SCSITaskUserClientIniter`` for anything unclaimed)
matches it with ``IOProviderClass = IOSCSIPeripheralDeviceNub`` and a ``Peripheral
Device Type``, and sends its tasks to it; the nub forwards them.
``IOSCSILogicalUnitNub`` is the nub of one logical unit of an ``IOSCSITargetDevice``:
it stamps its LUN on every task it forwards.

``start`` opens the provider and interrogates the unit itself (Apple's
``InterrogateDevice``): TEST UNIT READY (a unit answering "logical unit not
supported", or not responding, is not made), then standard INQUIRY (two tries);
a peripheral qualifier of "not supported" also refuses.  It publishes the type and
the identification strings (``Peripheral Device Type``, ``Vendor Identification``,
``Product Identification``, ``Product Revision Level``; the logical unit nub also
``SCSI Logical Unit Number``, ``IOUnitLUN`` and its location), its ``Protocol
Characteristics``, and ``IOMatchCategory = SCSITaskUserClientIniter`` as real
dumps show, then registers for matching.

Matching (``matchPropertyTable``, Apple's ranking): a personality naming a
``Peripheral Device Type`` must equal the nub's (score 5000); naming the vendor as
well, 10000; the product, 15000; the revision, 20000 (each must match once named).
A personality without a device type matches only if it has an ``IOMatchCategory``
(the user-client initer's), at a score just below a device-type match.

Threading rules: ``start`` blocks (it waits for its commands; the config thread
runs it); ``ExecuteCommand`` and the feature queries forward from any context.
"""

from __future__ import annotations

from kextlab.families.scsi.definitions import (
    SCSICmd_INQUIRY_StandardData,
    kINQUIRY_PERIPHERAL_QUALIFIER_NotSupported,
    kINQUIRY_StandardDataSize,
    kIOPropertyIOUnitLUNKey,
    kIOPropertyPhysicalInterconnectLocationKey,
    kIOPropertyPhysicalInterconnectTypeKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertyReadTimeOutDurationKey,
    kIOPropertySCSIDeviceCharacteristicsKey,
    kIOPropertySCSIInquiryLengthKey,
    kIOPropertySCSILogicalUnitNumberKey,
    kIOPropertySCSIPeripheralDeviceType,
    kIOPropertySCSIPeripheralDeviceTypeSize,
    kIOPropertySCSIProductIdentification,
    kIOPropertySCSIProductRevisionLevel,
    kIOPropertySCSIVendorIdentification,
    kIOPropertyWriteTimeOutDurationKey,
    kSCSICmd_INQUIRY,
    kSCSICmd_REQUEST_SENSE,
    kSCSICmd_TEST_UNIT_READY,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIProtocolNotification_VerifyDeviceState,
    kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_DeviceNotPresent,
    kSCSITaskStatus_DeviceNotResponding,
    kSCSITaskStatus_GOOD,
    kSenseDefaultSize,
    sense_key_and_codes,
)
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface, ProviderForwarding
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.service.service import IOService, ScoreRef, kIOMessageServiceIsRequestingClose

#: ``matchPropertyTable``'s scores (IOSCSIPeripheralDeviceNub.h).
kPeripheralDeviceTypeNoMatch = 0
kDefaultProbeRanking = 5000
kFirstOrderRanking = 10000
kSecondOrderRanking = 15000
kThirdOrderRanking = 20000
#: The nub's match category (what ``SCSITaskUserClientIniter`` matches in).
kSCSITaskUserClientIniterKey = "SCSITaskUserClientIniter"
#: SCSITaskLib.h: the device category of a nub left to user space.
kIOPropertySCSITaskDeviceCategory = "SCSITaskDeviceCategory"
kIOPropertySCSITaskUserClientDevice = "SCSITaskUserClientDevice"
kIOMatchCategoryKey = "IOMatchCategory"

kTenSecondTimeoutInMS = 10_000
kMaxInquiryAttempts = 2


class IOSCSIPeripheralDeviceNub(ProviderForwarding, IOSCSIProtocolInterface):
    """A SCSI device as peripheral drivers see it."""

    def __init__(self) -> None:
        super().__init__()
        self.fProvider: IOSCSIProtocolInterface | None = None
        self.fDefaultInquiryCount = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if OSDynamicCast(IOSCSIPeripheralDeviceNub, provider) is not None:
            return False  # never a nub on a nub
        interface = OSDynamicCast(IOSCSIProtocolInterface, provider)
        if interface is None or not super().start(provider):
            return False
        self.fProvider = interface
        if not interface.open(self):
            return False
        self._take_device_characteristics(interface)
        if not self.InterrogateDevice():
            interface.close(self)
            return False
        self.setProperty(kIOMatchCategoryKey, kSCSITaskUserClientIniterKey)
        self._publish_protocol_characteristics(interface)
        self.registerService()
        return True

    def _take_device_characteristics(self, provider: IOSCSIProtocolInterface) -> None:
        self.fDefaultInquiryCount = 0
        device = OSDynamicCast(
            OSDictionary, provider.getProperty(kIOPropertySCSIDeviceCharacteristicsKey)
        )
        if device is None:
            return
        self.setProperty(kIOPropertySCSIDeviceCharacteristicsKey, device)
        length = OSDynamicCast(OSNumber, device.getObject(kIOPropertySCSIInquiryLengthKey))
        if length is not None:
            self.fDefaultInquiryCount = length.unsigned32BitValue()

    def _publish_protocol_characteristics(self, provider: IOSCSIProtocolInterface) -> None:
        current = OSDynamicCast(
            OSDictionary, provider.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        protocol = OSDictionary.withDictionary(current) if current is not None else OSDictionary()
        for key in (
            kIOPropertyPhysicalInterconnectTypeKey,
            kIOPropertyPhysicalInterconnectLocationKey,
            kIOPropertyReadTimeOutDurationKey,
            kIOPropertyWriteTimeOutDurationKey,
        ):
            value = provider.getProperty(key)
            if value is not None:
                protocol.setObject(key, value)
        self.add_protocol_characteristics(protocol)
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    def add_protocol_characteristics(self, protocol: OSDictionary) -> None:
        """Subclasses add their own keys to ``Protocol Characteristics`` (ours)."""

    def stop(self, provider: IOService) -> None:
        if provider.isOpen(self):
            provider.close(self)
        super().stop(provider)

    def free(self) -> None:
        self.fProvider = None
        super().free()

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kIOMessageServiceIsRequestingClose:
            if self.fProvider is not None and self.fProvider.isOpen(self):
                self.fProvider.close(self)
            return 0
        if type == kSCSIProtocolNotification_VerifyDeviceState:
            self.messageClients(kSCSIProtocolNotification_VerifyDeviceState)
            return 0
        return super().message(type, provider, argument)

    # -- matching ------------------------------------------------------------------------------

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        """Apple's ranking by device type, vendor, product and revision."""
        carried = min(score.value, 4000) if score.value >= 5000 else score.value
        matched = True
        type_compared = self._compare(table, kIOPropertySCSIPeripheralDeviceType)
        if type_compared is not None:
            if not type_compared:
                score.value = kPeripheralDeviceTypeNoMatch
                matched = False
            else:
                score.value = kDefaultProbeRanking
                for key, ranking in (
                    (kIOPropertySCSIVendorIdentification, kFirstOrderRanking),
                    (kIOPropertySCSIProductIdentification, kSecondOrderRanking),
                    (kIOPropertySCSIProductRevisionLevel, kThirdOrderRanking),
                ):
                    compared = self._compare(table, key)
                    if compared is None:
                        break
                    if not compared:
                        score.value = kPeripheralDeviceTypeNoMatch
                        matched = False
                        break
                    score.value = ranking
        else:
            category = OSDynamicCast(OSString, table.getObject(kIOMatchCategoryKey))
            if category is None:
                score.value = kPeripheralDeviceTypeNoMatch
                matched = False
            elif category.getCStringNoCopy() != kIOPropertySCSITaskUserClientDevice:
                score.value = kDefaultProbeRanking - 100
        if score.value != 0:
            score.value += carried
        return matched

    def _compare(self, table: OSDictionary, key: str) -> bool | None:
        """None if either side lacks ``key``; else whether they are equal."""
        wanted = table.getObject(key)
        mine = self.getProperty(key)
        if wanted is None or mine is None:
            return None
        return bool(mine.isEqualTo(wanted))

    # -- forwarding --------------------------------------------------------------------------------

    # -- interrogation -----------------------------------------------------------------------------

    def InterrogateDevice(self) -> bool:
        """TEST UNIT READY, then INQUIRY; publish what the unit says it is."""
        count = max(self.fDefaultInquiryCount, kINQUIRY_StandardDataSize)
        buffer = IOBufferMemoryDescriptor.withCapacity(count, kIODirectionIn)
        if buffer is None:
            return False
        task = SCSITask.create(self)
        try:
            if not self._unit_answers(task):
                return False
            IOSleep(100)
            if self.isInactive():
                return False
            for attempt in range(kMaxInquiryAttempts):
                task.ResetForNewTask()
                task.SetCommandDescriptorBlock(kSCSICmd_INQUIRY, 0, 0, 0, count & 0xFF, 0)
                task.SetDataTransferDirection(kSCSIDataTransfer_FromTargetToInitiator)
                task.SetDataBuffer(buffer)
                task.SetRequestedDataTransferCount(count)
                task.SetTimeoutDuration(kTenSecondTimeoutInMS)
                response = self.SendTask(task)
                status = task.GetTaskStatus()
                if (
                    response == kSCSIServiceResponse_TASK_COMPLETE
                    and status == kSCSITaskStatus_GOOD
                ):
                    break
                if _absent(response, status) or self.isInactive():
                    return False
                if attempt + 1 == kMaxInquiryAttempts:
                    return False
                IOSleep(1000)
            realized = task.GetRealizedDataTransferCount() or count
            if realized < kINQUIRY_StandardDataSize:
                return False
            inquiry = SCSICmd_INQUIRY_StandardData.from_bytes(buffer.getBytesNoCopy()[:realized])
            if inquiry.peripheral_qualifier == kINQUIRY_PERIPHERAL_QUALIFIER_NotSupported:
                return False
            self.setProperty(
                kIOPropertySCSIPeripheralDeviceType,
                inquiry.peripheral_device_type,
                kIOPropertySCSIPeripheralDeviceTypeSize,
            )
            self.setProperty(kIOPropertySCSIVendorIdentification, inquiry.VENDOR_IDENTIFICATION)
            self.setProperty(kIOPropertySCSIProductIdentification, inquiry.PRODUCT_IDENTIFICATION)
            self.setProperty(kIOPropertySCSIProductRevisionLevel, inquiry.PRODUCT_REVISION_LEVEL)
            return True
        finally:
            task.release()
            buffer.release()

    def _unit_answers(self, task: SCSITask) -> bool:
        """TEST UNIT READY: False for "not supported" or a unit that is not there."""
        task.SetCommandDescriptorBlock(kSCSICmd_TEST_UNIT_READY, 0, 0, 0, 0, 0)
        task.SetDataTransferDirection(kSCSIDataTransfer_NoDataTransfer)
        task.SetTimeoutDuration(kTenSecondTimeoutInMS)
        task.SetAutosenseCommand(kSCSICmd_REQUEST_SENSE, 0, 0, 0, kSenseDefaultSize, 0)
        response = self.SendTask(task)
        status = task.GetTaskStatus()
        if response == kSCSIServiceResponse_TASK_COMPLETE:
            if status == kSCSITaskStatus_CHECK_CONDITION:
                _, asc, ascq = sense_key_and_codes(task.GetAutoSenseData())
                if (asc, ascq) == (0x25, 0x00):
                    return False
            return True
        return not _absent(response, status)


def _absent(response: int, status: int) -> bool:
    return response == kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE and status in (
        kSCSITaskStatus_DeviceNotPresent,
        kSCSITaskStatus_DeviceNotResponding,
    )


class IOSCSILogicalUnitNub(IOSCSIPeripheralDeviceNub):
    """The nub of one logical unit of a target device."""

    def __init__(self) -> None:
        super().__init__()
        self.fLogicalUnitNumber = 0

    def SetLogicalUnitNumber(self, newLUN: int) -> None:
        self.fLogicalUnitNumber = newLUN
        self.setLocation(f"{newLUN:x}")
        self.setProperty(kIOPropertySCSILogicalUnitNumberKey, newLUN, 64)
        self.setProperty(kIOPropertyIOUnitLUNKey, newLUN, 64)

    def GetLogicalUnitNumber(self) -> int:
        return self.fLogicalUnitNumber

    def add_protocol_characteristics(self, protocol: OSDictionary) -> None:
        number = OSNumber(self.fLogicalUnitNumber, 64)
        protocol.setObject(kIOPropertySCSILogicalUnitNumberKey, number)
        number.release()

    def ExecuteCommand(self, request: SCSITask) -> None:
        # the task's ``SetLogicalUnitNumber`` and our ``_protocol``, inline: every command
        request._logical_unit = self.fLogicalUnitNumber
        request._logical_unit_bytes = None
        provider = self.fProvider
        assert provider is not None, "IOSCSILogicalUnitNub used before start"
        provider.ExecuteCommand(request)


__all__ = [
    "IOSCSILogicalUnitNub",
    "IOSCSIPeripheralDeviceNub",
    "kDefaultProbeRanking",
    "kIOPropertySCSITaskDeviceCategory",
    "kIOPropertySCSITaskUserClientDevice",
    "kSCSITaskUserClientIniterKey",
]
