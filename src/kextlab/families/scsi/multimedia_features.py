"""What an optical drive can do: its feature profiles and mechanical capabilities.

Mirrors ``IOSCSIMultimediaCommandsDevice::DetermineDeviceFeatures``,
``GetDeviceConfiguration[Size]``, ``ParseFeatureList``, ``GetMechanicalCapabilities``
and ``ParseMechanicalCapabilities`` (IOSCSIArchitectureModelFamily
``IOSCSIMultimediaCommandsDevice.cpp``), which the driver's methods of those names
call.  Two sources, as Apple's:

* GET CONFIGURATION of the Profile List feature (RT 2: that one feature), first its
  4-byte length, then the whole: each profile the drive supports (CD-ROM 0x0008, CD-R,
  CD-RW, DVD-ROM 0x0010...) turns on a ``kCDFeatures*``/``kDVDFeatures*`` flag;
* MODE SENSE of the MM Capabilities page (0x2A), 10-byte then 6-byte, first its header
  for the length, then the page: bytes 2 to 5 say what it reads and writes (Apple's
  reading, bit by bit), byte 6 its loading mechanism (``"Loading Mechanism"`` in the
  device characteristics, ``"Tray"`` on real dumps: ours, from the same page).

A drive that answers neither is a CD-ROM still (it said peripheral device type 5).
The flags are published as ``"CD Features"`` and ``"DVD Features"``, on the driver
and in its device characteristics.  Apple's further per-feature GET CONFIGURATIONs
(analog audio, TAO, mastering, DVD write, CSS) describe writers; a reader needs none.

Threading rules: kernel threads only; the calls send synchronous commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.scsi.peripheral_definitions import (
    LOADING_MECHANISM_KEY,
    LOADING_MECHANISMS,
    MM_CAPABILITIES_LOADING_MECHANISM_SHIFT,
    kCDFeaturesAnalogAudioMask,
    kCDFeaturesBUFWriteMask,
    kCDFeaturesCDDAStreamAccurateMask,
    kCDFeaturesReadStructuresMask,
    kCDFeaturesReWriteableMask,
    kCDFeaturesTestWriteMask,
    kCDFeaturesWriteOnceMask,
    kDVDFeaturesBUFWriteMask,
    kDVDFeaturesCSSMask,
    kDVDFeaturesPlusRMask,
    kDVDFeaturesPlusRWMask,
    kDVDFeaturesRandomWriteableMask,
    kDVDFeaturesReadStructuresMask,
    kDVDFeaturesReWriteableMask,
    kDVDFeaturesTestWriteMask,
    kDVDFeaturesWriteOnceMask,
    kGetConfigurationFeature_CDR,
    kGetConfigurationFeature_CDROM,
    kGetConfigurationFeature_CDRW,
    kGetConfigurationFeature_DVDPlusR,
    kGetConfigurationFeature_DVDPlusRW,
    kGetConfigurationFeature_DVDR,
    kGetConfigurationFeature_DVDRAM,
    kGetConfigurationFeature_DVDROM,
    kGetConfigurationFeature_DVDRW,
    kGetConfigurationProfile_ProfileList,
    kIOPropertySupportedCDFeatures,
    kIOPropertySupportedDVDFeatures,
    kMechanicalCapabilitiesAnalogAudioMask,
    kMechanicalCapabilitiesBUFMask,
    kMechanicalCapabilitiesCDDAStreamAccurateMask,
    kMechanicalCapabilitiesCDRMask,
    kMechanicalCapabilitiesCDRWMask,
    kMechanicalCapabilitiesDVDRAMMask,
    kMechanicalCapabilitiesDVDRMask,
    kMechanicalCapabilitiesDVDROMMask,
    kMechanicalCapabilitiesMinBufferSize,
    kMechanicalCapabilitiesModePageCode,
    kMechanicalCapabilitiesTestWriteMask,
    kModePageFormat_PAGE_CODE_Mask,
    kModeSense6ParameterHeaderSize,
    kModeSense10ParameterHeaderSize,
    kProfileDataLengthFieldSize,
    kProfileDescriptorSize,
    kProfileFeatureHeaderSize,
    kThirtySecondTimeoutInMS,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnInternalError,
    kIOReturnIOError,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.values import OSString
from kextlab.kernel.memory.refs import BoolRef, UInt32Ref

if TYPE_CHECKING:
    from kextlab.families.scsi.multimedia_commands import IOSCSIMultimediaCommandsDevice

_PROFILES_CD: Final = {
    kGetConfigurationFeature_CDROM: kCDFeaturesReadStructuresMask,
    kGetConfigurationFeature_CDR: kCDFeaturesWriteOnceMask,
    kGetConfigurationFeature_CDRW: kCDFeaturesReWriteableMask,
}
_PROFILES_DVD: Final = {
    kGetConfigurationFeature_DVDROM: kDVDFeaturesReadStructuresMask,
    kGetConfigurationFeature_DVDR: kDVDFeaturesWriteOnceMask,
    kGetConfigurationFeature_DVDRAM: kDVDFeaturesRandomWriteableMask,
    kGetConfigurationFeature_DVDRW: kDVDFeaturesReWriteableMask,
    kGetConfigurationFeature_DVDPlusRW: kDVDFeaturesPlusRWMask,
    kGetConfigurationFeature_DVDPlusR: kDVDFeaturesPlusRMask,
}


def determine_device_features(device: IOSCSIMultimediaCommandsDevice) -> int:
    configured = device_configuration(device) == kIOReturnSuccess
    mechanical = mechanical_capabilities(device) == kIOReturnSuccess
    if not configured and not mechanical:
        # It answered as peripheral device type 5: it reads CDs at least.
        device.fSupportedCDFeatures |= kCDFeaturesReadStructuresMask
    device.setProperty(kIOPropertySupportedCDFeatures, device.fSupportedCDFeatures, 32)
    device.setProperty(kIOPropertySupportedDVDFeatures, device.fSupportedDVDFeatures, 32)
    characteristics = device.GetDeviceCharacteristicsDictionary()
    if characteristics is not None:
        for key in (kIOPropertySupportedCDFeatures, kIOPropertySupportedDVDFeatures):
            value = device.getProperty(key)
            if value is not None:
                characteristics.setObject(key, value)
    return kIOReturnSuccess


def device_configuration_size(device: IOSCSIMultimediaCommandsDevice, size: UInt32Ref) -> int:
    """The length of the Profile List feature's answer (GET CONFIGURATION, RT 2)."""
    buffer = device.data_buffer(kProfileDataLengthFieldSize)
    request = device.GetSCSITask()
    try:
        size.value = 0
        if not (
            device.GET_CONFIGURATION(
                request,
                buffer,
                0x02,
                kGetConfigurationProfile_ProfileList,
                kProfileDataLengthFieldSize,
                0,
            )
            and device.command_succeeds(request, kThirtySecondTimeoutInMS)
        ):
            return kIOReturnIOError
        length = int.from_bytes(bytes(buffer.getBytesNoCopy()), "big")
        size.value = length + kProfileDataLengthFieldSize
        if size.value <= kProfileDataLengthFieldSize:
            size.value = 0
            return kIOReturnIOError
        return kIOReturnSuccess
    finally:
        device.ReleaseSCSITask(request)
        buffer.release()


def device_configuration(device: IOSCSIMultimediaCommandsDevice) -> int:
    size = UInt32Ref()
    status = device_configuration_size(device, size)
    if status != kIOReturnSuccess:
        return status
    profiles = (size.value - kProfileFeatureHeaderSize - kProfileDescriptorSize) // (
        kProfileDescriptorSize
    )
    if profiles <= 0:
        return kIOReturnIOError
    buffer = device.data_buffer(size.value)
    request = device.GetSCSITask()
    try:
        if device.GET_CONFIGURATION(
            request, buffer, 0x02, kGetConfigurationProfile_ProfileList, size.value, 0
        ) and device.command_succeeds(request, kThirtySecondTimeoutInMS):
            start = kProfileFeatureHeaderSize + kProfileDescriptorSize
            return parse_feature_list(device, profiles, bytes(buffer.getBytesNoCopy()[start:]))
        return kIOReturnIOError
    finally:
        device.ReleaseSCSITask(request)
        buffer.release()


def parse_feature_list(
    device: IOSCSIMultimediaCommandsDevice, numProfiles: int, buffer: bytes
) -> int:
    """Turn the profile descriptors of the Profile List into feature flags."""
    if not numProfiles or not buffer:
        return kIOReturnBadArgument
    for index in range(numProfiles):
        offset = index * kProfileDescriptorSize
        if offset + 2 > len(buffer):
            break
        profile = int.from_bytes(buffer[offset : offset + 2], "big")
        device.fSupportedCDFeatures |= _PROFILES_CD.get(profile, 0)
        device.fSupportedDVDFeatures |= _PROFILES_DVD.get(profile, 0)
    return kIOReturnSuccess


def mechanical_capabilities(device: IOSCSIMultimediaCommandsDevice) -> int:
    """The MM Capabilities mode page (0x2A): what the drive reads and writes."""
    header = device.data_buffer(kModeSense10ParameterHeaderSize)
    use10Byte = BoolRef(True)
    status = device.GetModeSense(
        header, kMechanicalCapabilitiesModePageCode, kModeSense10ParameterHeaderSize, use10Byte
    )
    data = bytes(header.getBytesNoCopy())
    header.release()
    if status not in (kIOReturnSuccess,):
        return status
    if use10Byte.value:
        size = int.from_bytes(data[0:2], "big") + 2
        header_size = kModeSense10ParameterHeaderSize
    else:
        size = data[0] + 1
        header_size = kModeSense6ParameterHeaderSize
    if size <= header_size:
        return kIOReturnInternalError
    buffer = device.data_buffer(size)
    try:
        status = device.GetModeSense(buffer, kMechanicalCapabilitiesModePageCode, size, use10Byte)
        if status != kIOReturnSuccess:
            return status
        page = bytes(buffer.getBytesNoCopy())
    finally:
        buffer.release()
    if use10Byte.value:
        header_size = kModeSense10ParameterHeaderSize
        descriptors = int.from_bytes(page[6:8], "big")
    else:
        header_size = kModeSense6ParameterHeaderSize
        descriptors = page[3]
    offset = header_size + descriptors
    if len(page) < offset + 2 + kMechanicalCapabilitiesMinBufferSize:
        return kIOReturnInternalError
    if page[offset] & kModePageFormat_PAGE_CODE_Mask != kMechanicalCapabilitiesModePageCode:
        return kIOReturnInternalError
    parse_mechanical_capabilities(device, page[offset + 2 :])
    if len(page) > offset + 6:
        mechanism = page[offset + 6] >> MM_CAPABILITIES_LOADING_MECHANISM_SHIFT
        characteristics = device.GetDeviceCharacteristicsDictionary()
        name = LOADING_MECHANISMS.get(mechanism)
        if characteristics is not None and name is not None:
            value = OSString.withCString(name)
            characteristics.setObject(LOADING_MECHANISM_KEY, value)
            value.release()
    return kIOReturnSuccess


def parse_mechanical_capabilities(
    device: IOSCSIMultimediaCommandsDevice, mechanicalCapabilities: bytes
) -> int:
    """Bytes 2 to 5 of the MM Capabilities page, as Apple reads them."""
    reads, writes, audio, cdda = mechanicalCapabilities[:4]
    if reads & kMechanicalCapabilitiesDVDROMMask:
        device.fSupportedDVDFeatures |= kDVDFeaturesReadStructuresMask | kDVDFeaturesCSSMask
    if writes & kMechanicalCapabilitiesDVDRAMMask:
        device.fSupportedDVDFeatures |= kDVDFeaturesRandomWriteableMask
    if writes & kMechanicalCapabilitiesDVDRMask:
        device.fSupportedDVDFeatures |= kDVDFeaturesWriteOnceMask
    if writes & kMechanicalCapabilitiesTestWriteMask:
        device.fSupportedCDFeatures |= kCDFeaturesTestWriteMask
        if device.fSupportedDVDFeatures & (kDVDFeaturesWriteOnceMask | kDVDFeaturesReWriteableMask):
            device.fSupportedDVDFeatures |= kDVDFeaturesTestWriteMask
    if writes & kMechanicalCapabilitiesCDRWMask:
        device.fSupportedCDFeatures |= kCDFeaturesReWriteableMask
    if writes & kMechanicalCapabilitiesCDRMask:
        device.fSupportedCDFeatures |= kCDFeaturesWriteOnceMask
    if audio & kMechanicalCapabilitiesBUFMask:
        device.fSupportedCDFeatures |= kCDFeaturesBUFWriteMask
        if device.fSupportedDVDFeatures:
            device.fSupportedDVDFeatures |= kDVDFeaturesBUFWriteMask
    if audio & kMechanicalCapabilitiesAnalogAudioMask:
        device.fSupportedCDFeatures |= kCDFeaturesAnalogAudioMask
    if cdda & kMechanicalCapabilitiesCDDAStreamAccurateMask:
        device.fSupportedCDFeatures |= kCDFeaturesCDDAStreamAccurateMask
    # It answered the CD mechanical capabilities page: a CD-ROM at least.
    device.fSupportedCDFeatures |= kCDFeaturesReadStructuresMask
    return kIOReturnSuccess


__all__ = [
    "determine_device_features",
    "device_configuration",
    "device_configuration_size",
    "mechanical_capabilities",
    "parse_feature_list",
    "parse_mechanical_capabilities",
]
