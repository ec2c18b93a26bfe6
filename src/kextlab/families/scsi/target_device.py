"""IOSCSITargetDevice: one SCSI target, its presence, its INQUIRY and its logical units.

Mirrors ``IOSCSITargetDevice`` (IOSCSIArchitectureModelFamily
``IOSCSITargetDevice.h``/``.cpp``), spec ``scsi.md`` §1.7 steps 3 and 4.  A protocol
services nub (the parallel family's per-target nub) creates it with
``IOSCSITargetDevice.Create(provider)``, which attaches and starts it and then scans,
on the caller's thread, waiting for each command:

1. **Presence** (``VerifyTargetPresence``): TEST UNIT READY to LUN 0, 10 s timeout,
   one try.  *Any* ``TASK_COMPLETE`` proves a target is there, CHECK CONDITION
   included (a drive without a medium, a unit attention), unless the sense says
   ASC/ASCQ 0x25/0x00, "logical unit not supported" (when the command brought no
   sense, a REQUEST SENSE fetches it).  A delivery failure (``DeviceNotPresent``,
   ``DeviceNotResponding``) means nobody is there: the target device goes away again
   and the nub stays unregistered.
2. **INQUIRY** of LUN 0 (``DetermineTargetCharacteristics``): first the 5-byte header
   plus one, then the whole standard data (or the ``Inquiry Length`` the protocol
   asks for); its type, identification strings and ANSI version are published; the
   VPD pages 0x80 (serial number) and 0x83 (device identification) if page 0x00
   lists them.
3. **Logical units** (``ScanForLogicalUnits``): the highest LUN from the protocol
   (``kSCSIProtocolFeature_GetMaximumLogicalUnitNumber``).  A target claiming SPC or
   later is asked REPORT LUNS (header first, then the whole list); entries in
   peripheral device addressing on bus 0 name LUNs, each still TEST UNIT READY
   verified; LUN 0 is created even when the list omits it.  An older target (or one
   that fails REPORT LUNS) is scanned by brute force: LUN 0, then TEST UNIT READY to
   each LUN up to the highest.  Each LUN becomes an ``IOSCSILogicalUnitNub``.
4. The standard INQUIRY data goes to the protocol
   (``kSCSIProtocolFeature_SubmitDefaultInquiryData``: the parallel nub derives the
   SPI features and registers itself), then the target device registers.

Departure: Apple's class derives from ``IOSCSIPrimaryCommandsDevice`` for its
synchronous ``SendCommand`` and command builders; this one derives from
``IOSCSIProtocolInterface`` directly, builds its four CDBs itself and waits with
``SendTask``, so that the scan does not depend on the peripheral-driver layer.
Multipathing (Apple's path managers, node unique identifiers) is not modelled: every
target device has one path.

Threading rules: ``Create`` and the scan run on a kernel thread that may block (the
config thread starting the parallel nub, or the thread an HBA creates targets on),
never on the HBA's work loop thread.  ``ExecuteCommand`` forwards from any context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    SCSICmd_INQUIRY_StandardData,
    kINQUIRY_ANSI_VERSION_SCSI_SPC_Compliant,
    kINQUIRY_MaximumDataSize,
    kINQUIRY_Page00_PageCode,
    kINQUIRY_Page80_PageCode,
    kINQUIRY_Page83_AssociationMask,
    kINQUIRY_Page83_CodeSetASCIIData,
    kINQUIRY_Page83_CodeSetMask,
    kINQUIRY_Page83_IdentifierTypeMask,
    kINQUIRY_Page83_PageCode,
    kINQUIRY_StandardDataHeaderSize,
    kIOPropertyPhysicalInterconnectLocationKey,
    kIOPropertyPhysicalInterconnectTypeKey,
    kIOPropertyProtocolCharacteristicsKey,
    kIOPropertySCSIDeviceCharacteristicsKey,
    kIOPropertySCSIINQUIRYDeviceIdAssociation,
    kIOPropertySCSIINQUIRYDeviceIdCodeSet,
    kIOPropertySCSIINQUIRYDeviceIdentification,
    kIOPropertySCSIINQUIRYDeviceIdentifier,
    kIOPropertySCSIINQUIRYDeviceIdType,
    kIOPropertySCSIInquiryLengthKey,
    kIOPropertySCSIINQUIRYUnitSerialNumber,
    kIOPropertySCSIPeripheralDeviceType,
    kIOPropertySCSIPeripheralDeviceTypeSize,
    kIOPropertySCSIProductIdentification,
    kIOPropertySCSIProductRevisionLevel,
    kIOPropertySCSIVendorIdentification,
    kREPORT_LUNS_ADDRESS_METHOD_OFFSET,
    kREPORT_LUNS_ADDRESS_METHOD_PERIPHERAL_DEVICE,
    kREPORT_LUNS_HeaderSize,
    kSCSICmd_INQUIRY,
    kSCSICmd_REPORT_LUNS,
    kSCSICmd_REQUEST_SENSE,
    kSCSICmd_TEST_UNIT_READY,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIProtocolFeature_GetMaximumLogicalUnitNumber,
    kSCSIProtocolFeature_SubmitDefaultInquiryData,
    kSCSIProtocolNotification_VerifyDeviceState,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_GOOD,
    kSenseDefaultSize,
    report_luns_entries,
    sense_key_and_codes,
)
from kextlab.families.scsi.protocol_interface import IOSCSIProtocolInterface, ProviderForwarding
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.libkern.collections import OSArray, OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.memory.refs import UInt32Ref
from kextlab.kernel.service.service import IOService, kIOMessageServiceIsRequestingClose

if TYPE_CHECKING:
    from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub

kTenSecondTimeoutInMS = 10_000
kTURMaxRetries = 1
kMaxInquiryAttempts = 2
kSCSILogicalUnitZero = 0
#: "Logical unit not supported": the one CHECK CONDITION that means nobody is there.
LOGICAL_UNIT_NOT_SUPPORTED = (0x25, 0x00)


class IOSCSITargetDevice(ProviderForwarding, IOSCSIProtocolInterface):
    """A SCSI target: scans itself and carries one nub per logical unit."""

    def __init__(self) -> None:
        super().__init__()
        self.fProvider: IOSCSIProtocolInterface | None = None
        self.fClients: list[IOService] = []
        self.fDefaultInquiryCount = 0
        self.fTargetPeripheralDeviceType = 0
        self.fTargetANSIVersion = 0
        self._inquiry: bytes = b""

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def Create(cls, provider: IOSCSIProtocolInterface) -> bool:
        """Make the target device of ``provider`` and scan it; False (and nothing
        left behind) when no target answers."""
        device = cls()
        device.init()
        result = False
        if device.attach(provider):
            if device.start(provider):
                result = device.CreateTargetDeviceOrPath(provider)
                if not result:
                    device.stop(provider)
            if not result:
                device.detach(provider)
        device.release()
        return result

    def CreateTargetDeviceOrPath(self, provider: IOSCSIProtocolInterface) -> bool:
        if not self.VerifyTargetPresence():
            return False
        self.RetrieveCharacteristicsFromProvider()
        if not self.DetermineTargetCharacteristics():
            return False
        self.ScanForLogicalUnits()
        return True

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        interface = OSDynamicCast(IOSCSIProtocolInterface, provider)
        if interface is None or not super().start(provider):
            return False
        if not interface.open(self):
            return False
        self.fProvider = interface
        return True

    def stop(self, provider: IOService) -> None:
        if provider.isOpen(self):
            provider.close(self)
        super().stop(provider)

    def free(self) -> None:
        self.fProvider = None
        self.fClients.clear()
        super().free()

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kIOMessageServiceIsRequestingClose:
            if provider.isOpen(self):
                provider.close(self)
            return 0
        if type == kSCSIProtocolNotification_VerifyDeviceState:
            # A bus reset: every logical unit's driver must check its device again.
            self.messageClients(kSCSIProtocolNotification_VerifyDeviceState)
            return 0
        return super().message(type, provider, argument)

    # -- the logical-unit nubs open the target -------------------------------------------------

    def handleOpen(self, forClient: IOService, options: int, arg: object) -> bool:
        from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub

        if OSDynamicCast(IOSCSILogicalUnitNub, forClient) is None:
            return False
        if forClient not in self.fClients:
            self.fClients.append(forClient)
        return True

    def handleClose(self, forClient: IOService, options: int) -> None:
        if forClient in self.fClients:
            self.fClients.remove(forClient)
            provider = self.fProvider
            if not self.fClients and self.isInactive() and provider is not None:
                self.message(kIOMessageServiceIsRequestingClose, provider)

    def handleIsOpen(self, forClient: IOService | None) -> bool:
        if forClient is None:
            return bool(self.fClients)
        return forClient in self.fClients

    # -- forwarding to the protocol ------------------------------------------------------------

    def ExecuteCommand(self, request: SCSITask) -> None:
        # the task's ``SetTargetLayerReference`` and our ``_protocol``, inline: every command
        request._references[2] = self
        provider = self.fProvider
        assert provider is not None, "IOSCSITargetDevice used before start"
        provider.ExecuteCommand(request)

    # -- commands ------------------------------------------------------------------------------

    def _command(
        self,
        lun: int,
        cdb: tuple[int, ...],
        buffer: IOBufferMemoryDescriptor | None = None,
        count: int = 0,
    ) -> SCSITask:
        """Run one command to ``lun`` and wait for it; the ended task (release it)."""
        task = SCSITask.create(self)
        task.SetCommandDescriptorBlock(*cdb)
        task.SetLogicalUnitNumber(lun)
        task.SetTimeoutDuration(kTenSecondTimeoutInMS)
        task.SetAutosenseCommand(kSCSICmd_REQUEST_SENSE, 0, 0, 0, kSenseDefaultSize, 0)
        if buffer is not None and count:
            task.SetDataBuffer(buffer)
            task.SetRequestedDataTransferCount(count)
            task.SetDataTransferDirection(kSCSIDataTransfer_FromTargetToInitiator)
        else:
            task.SetDataTransferDirection(kSCSIDataTransfer_NoDataTransfer)
        self.SendTask(task)
        return task

    def _read(self, lun: int, cdb: tuple[int, ...], count: int) -> bytes | None:
        """The data of a data-in command that ended GOOD, else None."""
        buffer = IOBufferMemoryDescriptor.withCapacity(max(count, 1), kIODirectionIn)
        if buffer is None:
            return None
        try:
            task = self._command(lun, cdb, buffer, count)
            try:
                good = (
                    task.GetServiceResponse() == kSCSIServiceResponse_TASK_COMPLETE
                    and task.GetTaskStatus() == kSCSITaskStatus_GOOD
                )
                if not good:
                    return None
                realized = min(task.GetRealizedDataTransferCount() or count, count)
                return bytes(buffer.getBytesNoCopy()[:realized])
            finally:
                task.release()
        finally:
            buffer.release()

    # -- presence --------------------------------------------------------------------------------

    def VerifyTargetPresence(self) -> bool:
        return self.VerifyLogicalUnitPresence(kSCSILogicalUnitZero)

    def VerifyLogicalUnitPresence(self, logicalUnit: int) -> bool:
        """TEST UNIT READY: any TASK_COMPLETE is presence, except "not supported"."""
        for _ in range(kTURMaxRetries):
            task = self._command(logicalUnit, (kSCSICmd_TEST_UNIT_READY, 0, 0, 0, 0, 0))
            try:
                if task.GetServiceResponse() != kSCSIServiceResponse_TASK_COMPLETE:
                    continue  # DeviceNotPresent / DeviceNotResponding: nobody there
                if task.GetTaskStatus() == kSCSITaskStatus_CHECK_CONDITION:
                    _, asc, ascq = sense_key_and_codes(task.GetAutoSenseData())
                    if (asc, ascq) == LOGICAL_UNIT_NOT_SUPPORTED:
                        return False
                return True
            finally:
                task.release()
        return False

    # -- characteristics ---------------------------------------------------------------------------

    def RetrieveCharacteristicsFromProvider(self) -> None:
        """Take the protocol's ``SCSI Device Characteristics`` (and its ``Inquiry
        Length``) and ``Protocol Characteristics`` with the interconnect."""
        provider = self._protocol()
        self.fDefaultInquiryCount = 0
        device = OSDynamicCast(
            OSDictionary, provider.getProperty(kIOPropertySCSIDeviceCharacteristicsKey)
        )
        if device is not None:
            self.setProperty(kIOPropertySCSIDeviceCharacteristicsKey, device)
            length = OSDynamicCast(OSNumber, device.getObject(kIOPropertySCSIInquiryLengthKey))
            if length is not None:
                self.fDefaultInquiryCount = length.unsigned32BitValue()
        current = OSDynamicCast(
            OSDictionary, provider.getProperty(kIOPropertyProtocolCharacteristicsKey)
        )
        protocol = OSDictionary.withDictionary(current) if current is not None else OSDictionary()
        for key in (
            kIOPropertyPhysicalInterconnectTypeKey,
            kIOPropertyPhysicalInterconnectLocationKey,
        ):
            value = provider.getProperty(key)
            if value is not None:
                protocol.setObject(key, value)
        self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        protocol.release()

    def DetermineTargetCharacteristics(self) -> bool:
        if not self.PublishDefaultINQUIRYInformation():
            return False
        self.PublishINQUIRYVitalProductDataInformation(self, kSCSILogicalUnitZero)
        return True

    def PublishDefaultINQUIRYInformation(self) -> bool:
        length = self.fDefaultInquiryCount
        if not length:
            header = self.RetrieveDefaultINQUIRYData(
                kSCSILogicalUnitZero, kINQUIRY_StandardDataHeaderSize + 1
            )
            if header is None or len(header) < kINQUIRY_StandardDataHeaderSize:
                return False
            length = header[4] + kINQUIRY_StandardDataHeaderSize
        data = self.RetrieveDefaultINQUIRYData(kSCSILogicalUnitZero, length)
        if data is None:
            return False
        self.SetCharacteristicsFromINQUIRY(data)
        self._inquiry = data
        return True

    def RetrieveDefaultINQUIRYData(self, logicalUnit: int, inquirySize: int) -> bytes | None:
        """Standard INQUIRY, tried ``kMaxInquiryAttempts`` times a second apart."""
        for attempt in range(kMaxInquiryAttempts):
            data = self._read(
                logicalUnit, (kSCSICmd_INQUIRY, 0, 0, 0, inquirySize & 0xFF, 0), inquirySize
            )
            if data is not None:
                return data
            if attempt + 1 < kMaxInquiryAttempts:
                IOSleep(1000)
        return None

    def RetrieveINQUIRYDataPage(
        self, logicalUnit: int, inquiryPage: int, inquirySize: int
    ) -> bytes | None:
        return self._read(
            logicalUnit, (kSCSICmd_INQUIRY, 1, inquiryPage, 0, inquirySize & 0xFF, 0), inquirySize
        )

    def SetCharacteristicsFromINQUIRY(self, inquiry: bytes) -> None:
        decoded = SCSICmd_INQUIRY_StandardData.from_bytes(inquiry)
        self.fTargetPeripheralDeviceType = decoded.peripheral_device_type
        self.fTargetANSIVersion = decoded.ansi_version
        self.setProperty(
            kIOPropertySCSIPeripheralDeviceType,
            self.fTargetPeripheralDeviceType,
            kIOPropertySCSIPeripheralDeviceTypeSize,
        )
        self.setProperty(kIOPropertySCSIVendorIdentification, decoded.VENDOR_IDENTIFICATION)
        self.setProperty(kIOPropertySCSIProductIdentification, decoded.PRODUCT_IDENTIFICATION)
        self.setProperty(kIOPropertySCSIProductRevisionLevel, decoded.PRODUCT_REVISION_LEVEL)

    def PublishINQUIRYVitalProductDataInformation(
        self, target: IOService, logicalUnit: int
    ) -> None:
        """Read VPD page 0x00 and publish the serial number (0x80) and the device
        identification (0x83) on ``target`` if the unit lists them."""
        header = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page00_PageCode, 4)
        if header is None or len(header) < 4:
            return
        length = header[3] + 4
        page = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page00_PageCode, length)
        if page is None or len(page) < 4 or page[1] != kINQUIRY_Page00_PageCode:
            return
        if page[3] != header[3]:
            return
        listed = set(page[4:length])
        if kINQUIRY_Page80_PageCode in listed:
            self.PublishUnitSerialNumber(target, logicalUnit)
        if kINQUIRY_Page83_PageCode in listed:
            self.PublishDeviceIdentification(target, logicalUnit)

    def PublishUnitSerialNumber(self, target: IOService, logicalUnit: int) -> None:
        header = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page80_PageCode, 4)
        if header is None or len(header) < 4 or not header[3]:
            return
        length = min(header[3] + 4, kINQUIRY_MaximumDataSize)
        page = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page80_PageCode, length)
        if page is None or len(page) < 4 or page[1] != kINQUIRY_Page80_PageCode:
            return
        if page[3] != header[3]:
            return
        serial = page[4:length].split(b"\0", 1)[0].decode("ascii", "replace").strip()
        if serial:
            target.setProperty(kIOPropertySCSIINQUIRYUnitSerialNumber, serial)

    def PublishDeviceIdentification(self, target: IOService, logicalUnit: int) -> None:
        header = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page83_PageCode, 4)
        if header is None or len(header) < 4 or not header[3]:
            return
        length = min(header[3] + 4, kINQUIRY_MaximumDataSize)
        page = self.RetrieveINQUIRYDataPage(logicalUnit, kINQUIRY_Page83_PageCode, length)
        if page is None or len(page) < length or page[1] != kINQUIRY_Page83_PageCode:
            return
        identifiers = OSArray()
        offset = 4
        while offset + 4 <= length:
            code_set = page[offset] & kINQUIRY_Page83_CodeSetMask
            kind = page[offset + 1]
            size = page[offset + 3]
            identifier = page[offset + 4 : offset + 4 + size]
            offset += 4 + size
            if offset > length:
                break
            entry = OSDictionary()
            for key, number in (
                (kIOPropertySCSIINQUIRYDeviceIdCodeSet, code_set),
                (kIOPropertySCSIINQUIRYDeviceIdType, kind & kINQUIRY_Page83_IdentifierTypeMask),
                (
                    kIOPropertySCSIINQUIRYDeviceIdAssociation,
                    (kind & kINQUIRY_Page83_AssociationMask) >> 4,
                ),
            ):
                value = OSNumber(number, 8)
                entry.setObject(key, value)
                value.release()
            shown: OSString | OSData
            if code_set == kINQUIRY_Page83_CodeSetASCIIData:
                shown = OSString(identifier.split(b"\0", 1)[0].decode("ascii", "replace"))
            else:
                shown = OSData(identifier)
            entry.setObject(kIOPropertySCSIINQUIRYDeviceIdentifier, shown)
            shown.release()
            identifiers.setObject(entry)
            entry.release()
        target.setProperty(kIOPropertySCSIINQUIRYDeviceIdentification, identifiers)
        identifiers.release()

    # -- logical units ---------------------------------------------------------------------------

    def DetermineMaximumLogicalUnitNumber(self) -> int:
        count = UInt32Ref(0)
        if not self.IsProtocolServiceSupported(
            kSCSIProtocolFeature_GetMaximumLogicalUnitNumber, count
        ):
            return 0
        return count.value

    def ScanForLogicalUnits(self) -> None:
        highest = self.DetermineMaximumLogicalUnitNumber()
        if not self.PerformREPORTLUNS():
            self.CreateLogicalUnit(kSCSILogicalUnitZero)
            for lun in range(1, highest + 1):
                if self.VerifyLogicalUnitPresence(lun):
                    self.CreateLogicalUnit(lun)
        if self._inquiry:
            if self.IsProtocolServiceSupported(kSCSIProtocolFeature_SubmitDefaultInquiryData):
                self.HandleProtocolServiceFeature(
                    kSCSIProtocolFeature_SubmitDefaultInquiryData, self._inquiry
                )
            self.registerService()

    def PerformREPORTLUNS(self) -> bool:
        """REPORT LUNS (targets of SPC or later): the header, then the whole list;
        False when the target cannot say."""
        if self.fTargetANSIVersion < kINQUIRY_ANSI_VERSION_SCSI_SPC_Compliant:
            return False
        minimum = kREPORT_LUNS_HeaderSize + 8
        header = self.RetrieveReportLUNsData(kSCSILogicalUnitZero, minimum)
        if header is None or len(header) < kREPORT_LUNS_HeaderSize:
            return False
        length = int.from_bytes(header[0:4], "big") + kREPORT_LUNS_HeaderSize
        if length < minimum:
            return False
        data = self.RetrieveReportLUNsData(kSCSILogicalUnitZero, length)
        if data is None or data[0:4] != header[0:4]:
            return False
        self.ParseReportLUNsInformation(data)
        return True

    def RetrieveReportLUNsData(self, logicalUnit: int, dataSize: int) -> bytes | None:
        size = dataSize.to_bytes(4, "big")
        cdb = (kSCSICmd_REPORT_LUNS, 0, 0, 0, 0, 0, *size, 0, 0)
        return self._read(logicalUnit, cdb, dataSize)

    def ParseReportLUNsInformation(self, data: bytes) -> None:
        for entry in report_luns_entries(data):
            first_level = int.from_bytes(entry[0:2], "big")
            method = first_level >> kREPORT_LUNS_ADDRESS_METHOD_OFFSET
            bus_identifier = (first_level >> 8) & 0x3F
            if method != kREPORT_LUNS_ADDRESS_METHOD_PERIPHERAL_DEVICE or bus_identifier != 0:
                continue
            lun = first_level & 0xFF
            if not self.DoesLUNObjectExist(lun) and self.VerifyLogicalUnitPresence(lun):
                self.CreateLogicalUnit(lun)
        if not self.DoesLUNObjectExist(kSCSILogicalUnitZero):
            self.CreateLogicalUnit(kSCSILogicalUnitZero)

    def DoesLUNObjectExist(self, logicalUnit: int) -> bool:
        return any(nub.GetLogicalUnitNumber() == logicalUnit for nub in self.logical_units())

    def logical_units(self) -> list[IOSCSILogicalUnitNub]:
        """The nubs of this target's logical units (ours)."""
        from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub

        found: list[IOSCSILogicalUnitNub] = []
        for client in self.getClients():
            nub = OSDynamicCast(IOSCSILogicalUnitNub, client)
            if nub is not None:
                found.append(nub)
        return found

    def CreateLogicalUnit(self, logicalUnit: int) -> bool:
        from kextlab.families.scsi.peripheral_nub import IOSCSILogicalUnitNub

        nub = IOSCSILogicalUnitNub()
        nub.init()
        nub.SetLogicalUnitNumber(logicalUnit)
        result = nub.attach(self)
        if result:
            self.PublishINQUIRYVitalProductDataInformation(nub, logicalUnit)
            result = nub.start(self)
            if not result:
                nub.detach(self)
        nub.release()
        return result


__all__ = ["IOSCSITargetDevice", "kTenSecondTimeoutInMS"]
