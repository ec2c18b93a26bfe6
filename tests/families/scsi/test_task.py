"""SCSITask and the SAM definitions: Apple's values, the accessors, reuse, autosense."""

from __future__ import annotations

import pytest

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.definitions import (
    SCSI_Sense_Data,
    SCSICmd_INQUIRY_StandardData,
    report_luns_entries,
    sense_key_and_codes,
)
from kextlab.families.scsi.task import SCSITask
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.object import OSObject


def test_status_and_response_values_are_apples() -> None:
    """The service responses and task statuses have SCSITask.h's values (spec §1.5)."""
    assert [
        scsi.kSCSIServiceResponse_Request_In_Process,
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE,
        scsi.kSCSIServiceResponse_TASK_COMPLETE,
        scsi.kSCSIServiceResponse_LINK_COMMAND_COMPLETE,
        scsi.kSCSIServiceResponse_FUNCTION_COMPLETE,
        scsi.kSCSIServiceResponse_FUNCTION_REJECTED,
    ] == [0, 1, 2, 3, 4, 5]
    assert scsi.kSCSITaskStatus_CHECK_CONDITION == 0x02
    assert scsi.kSCSITaskStatus_TASK_SET_FULL == 0x28
    assert scsi.kSCSITaskStatus_ACA_ACTIVE == 0x30
    assert scsi.kSCSITaskStatus_DeviceNotPresent == 0x04
    assert scsi.kSCSITaskStatus_No_Status == 0xFF
    assert scsi.kSCSICmd_REPORT_LUNS == 0xA0
    assert scsi.kSCSICmd_READ_CAPACITY == 0x25
    assert scsi.kSCSIProtocolFeature_GetMaximumLogicalUnitNumber == 5
    assert scsi.kSCSIProtocolFeature_HierarchicalLogicalUnits == 15


def test_a_new_task_has_apples_defaults() -> None:
    """ResetForNewTask leaves a simple, untagged task with no CDB, no data, GOOD status
    and a delivery-failure response, as SCSITask.cpp does."""
    task = SCSITask.create()
    assert task.GetTaskState() == scsi.kSCSITaskState_NEW_TASK
    assert task.GetTaskAttribute() == scsi.kSCSITask_SIMPLE
    assert task.GetTaggedTaskIdentifier() == scsi.kSCSIUntaggedTaskIdentifier
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_GOOD
    assert task.GetServiceResponse() == (
        scsi.kSCSIServiceResponse_SERVICE_DELIVERY_OR_TARGET_FAILURE
    )
    assert task.GetCommandDescriptorBlockSize() == 0
    assert task.GetCommandDescriptorBlock() == bytes(16)
    assert task.GetDataBuffer() is None
    assert task.GetAutoSenseData() is None
    assert task.GetAutoSenseDataSize() == scsi.kSenseDefaultSize
    assert not task.IsTaskActive()


@pytest.mark.parametrize("size", [6, 10, 12, 16])
def test_the_cdb_overloads_set_the_size_and_zero_the_rest(size: int) -> None:
    """Each of Apple's four CDB overloads stores its bytes and clears the rest of the
    16-byte block, also after a longer CDB was set."""
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(*([0xEE] * 16))
    cdb = list(range(1, size + 1))
    assert task.SetCommandDescriptorBlock(*cdb)
    assert task.GetCommandDescriptorBlockSize() == size
    assert task.GetCommandDescriptorBlock() == bytes(cdb) + bytes(16 - size)
    assert task.command_bytes() == bytes(cdb)


def test_a_cdb_of_another_length_is_a_programming_error() -> None:
    """Apple has no 8-byte overload: passing 8 bytes raises TypeError."""
    with pytest.raises(TypeError, match="6, 10, 12 or 16"):
        SCSITask.create().SetCommandDescriptorBlock(*range(8))


def test_every_accessor_round_trips() -> None:
    """What the application and protocol layers set is what they read back."""
    task = SCSITask.create()
    request = object()
    task.SetTaskAttribute(scsi.kSCSITask_ORDERED)
    task.SetTaggedTaskIdentifier(7)
    task.SetLogicalUnitNumber(3)
    task.SetDataTransferDirection(scsi.kSCSIDataTransfer_FromTargetToInitiator)
    task.SetRequestedDataTransferCount(4096)
    task.SetRealizedDataTransferCount(512)
    task.SetDataBufferOffset(1024)
    task.SetTimeoutDuration(30_000)
    task.SetServiceResponse(scsi.kSCSIServiceResponse_TASK_COMPLETE)
    task.SetTaskStatus(scsi.kSCSITaskStatus_BUSY)
    task.SetApplicationLayerReference(request)
    task.SetProtocolLayerReference("protocol")
    task.SetTargetLayerReference("target")
    task.SetPathLayerReference("path")
    assert task.GetTaskAttribute() == scsi.kSCSITask_ORDERED
    assert task.GetTaggedTaskIdentifier() == 7
    assert task.GetLogicalUnitNumber() == 3
    assert task.GetDataTransferDirection() == scsi.kSCSIDataTransfer_FromTargetToInitiator
    assert task.GetRequestedDataTransferCount() == 4096
    assert task.GetRealizedDataTransferCount() == 512
    assert task.GetDataBufferOffset() == 1024
    assert task.GetTimeoutDuration() == 30_000
    assert task.GetServiceResponse() == scsi.kSCSIServiceResponse_TASK_COMPLETE
    assert task.GetTaskStatus() == scsi.kSCSITaskStatus_BUSY
    assert task.GetApplicationLayerReference() is request
    assert task.GetProtocolLayerReference() == "protocol"
    assert task.GetTargetLayerReference() == "target"
    assert task.GetPathLayerReference() == "path"


def test_an_active_task_cannot_be_reset_and_an_ended_one_can() -> None:
    """ResetForNewTask refuses while the task is enabled and clears it once ended."""
    task = SCSITask.create()
    task.SetCommandDescriptorBlock(0x12, 0, 0, 0, 36, 0)
    task.SetTaskState(scsi.kSCSITaskState_ENABLED)
    assert task.IsTaskActive()
    assert not task.ResetForNewTask()
    assert task.GetCommandDescriptorBlockSize() == 6
    task.SetTaskState(scsi.kSCSITaskState_ENDED)
    assert task.ResetForNewTask()
    assert task.GetCommandDescriptorBlockSize() == 0
    assert task.GetTaskState() == scsi.kSCSITaskState_NEW_TASK


def test_the_completion_callback_gets_the_task() -> None:
    """TaskCompletedNotification calls the callback the client set, with the task."""
    task = SCSITask.create()
    seen: list[SCSITask] = []
    task.SetTaskCompletionCallback(seen.append)
    task.TaskCompletedNotification()
    assert seen == [task]


def test_logical_unit_bytes_follow_sam_addressing() -> None:
    """LUNs below 256 use peripheral addressing, larger ones flat space addressing;
    bytes set explicitly are kept and give the LUN number back."""
    task = SCSITask.create()
    task.SetLogicalUnitNumber(5)
    assert task.GetLogicalUnitBytes() == bytes((0, 5, 0, 0, 0, 0, 0, 0))
    task.SetLogicalUnitNumber(0x123)
    assert task.GetLogicalUnitBytes() == bytes((0x41, 0x23, 0, 0, 0, 0, 0, 0))
    assert task.SetLogicalUnitBytes(bytes((0x40, 0x10, 0, 0, 0, 0, 0, 0)))
    assert task.GetLogicalUnitNumber() == 0x10
    assert not task.SetLogicalUnitBytes(b"\0\0")


def test_sense_data_is_truncated_to_the_buffer_and_read_back() -> None:
    """SetAutoSenseData keeps at most 18 bytes (min of both sizes, as Apple) and
    GetAutoSenseData returns what was received."""
    task = SCSITask.create()
    sense = bytes(SCSI_Sense_Data(scsi.kSENSE_KEY_MEDIUM_ERROR, 0x11, 0x00)) + b"\xaa" * 14
    task.SetAutoSenseData(sense)
    received = task.GetAutoSenseData()
    assert received == sense[:18]
    assert sense_key_and_codes(received) == (scsi.kSENSE_KEY_MEDIUM_ERROR, 0x11, 0x00)
    task.SetAutoSenseData(sense, 8)
    assert task.GetAutoSenseData() == sense[:8]
    assert task.GetAutosenseRealizedDataCount() == 8


def test_the_task_owner_is_retained_until_the_task_is_freed(kernel: Kernel) -> None:
    """SetTaskOwner retains the owner; the task's last release gives it back."""
    owner = OSObject()
    task = SCSITask.create(owner)
    assert owner.getRetainCount() == 2
    assert task.GetTaskOwner() is owner
    task.release()
    assert owner.getRetainCount() == 1
    owner.release()


def test_autosense_through_the_descriptor_reaches_the_sense_buffer(kernel: Kernel) -> None:
    """A REQUEST SENSE run into the task's autosense descriptor becomes its sense data
    once the protocol layer marks it valid; the descriptor goes with the task."""
    task = SCSITask.create()
    assert task.SetAutosenseCommand(scsi.kSCSICmd_REQUEST_SENSE, 0, 0, 0, 18, 0)
    assert task.IsAutosenseRequested()
    assert task.GetAutosenseCommandDescriptorBlockSize() == 6
    assert task.GetAutosenseCommandDescriptorBlock()[:6] == bytes((3, 0, 0, 0, 18, 0))
    assert task.GetAutosenseDataTransferDirection() == (
        scsi.kSCSIDataTransfer_FromTargetToInitiator
    )
    assert task.GetAutosenseRequestedDataTransferCount() == 18
    descriptor = task.GetAutosenseDataBuffer()
    assert descriptor is not None
    assert task.GetAutosenseDataBuffer() is descriptor
    sense = bytes(SCSI_Sense_Data(scsi.kSENSE_KEY_NOT_READY, 0x3A, 0x00))
    descriptor.prepare()
    descriptor.writeBytes(0, sense, len(sense))
    descriptor.complete()
    task.SetAutosenseRealizedDataCount(18)
    assert task.GetAutoSenseData() is None
    task.SetAutosenseIsValid(True)
    assert task.GetAutoSenseData() == sense
    task.release()


def test_fixed_sense_is_built_and_parsed_field_by_field() -> None:
    """SCSI_Sense_Data builds 18-byte current-error sense with the INFORMATION field
    and reads its fields back; descriptor-format sense is understood too."""
    sense = SCSI_Sense_Data(scsi.kSENSE_KEY_ILLEGAL_REQUEST, 0x24, 0x00, information=0x1234)
    raw = bytes(sense)
    assert len(raw) == 18
    assert raw[0] == scsi.kSENSE_DATA_VALID | scsi.kSENSE_RESPONSE_CODE_Current_Errors
    assert raw[7] == 10
    again = SCSI_Sense_Data.from_bytes(raw)
    assert again.SENSE_KEY & scsi.kSENSE_KEY_Mask == scsi.kSENSE_KEY_ILLEGAL_REQUEST
    assert again.INFORMATION == 0x1234
    assert (again.ADDITIONAL_SENSE_CODE, again.ADDITIONAL_SENSE_CODE_QUALIFIER) == (0x24, 0)
    assert sense_key_and_codes(bytes((0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0))) == (6, 0x29, 0)
    assert sense_key_and_codes(None) == (0, 0, 0)
    assert sense_key_and_codes(b"\x00" * 18) == (0, 0, 0)


def test_standard_inquiry_data_is_decoded() -> None:
    """The 36-byte standard INQUIRY data gives type, qualifier, version, RMB and the
    identification strings without padding."""
    data = bytes((0x05, 0x80, 0x05, 0x02, 31, 0, 0, 0)) + b"KEXTLAB " + b"CD-ROM".ljust(16)
    data += b"1.0 "
    inquiry = SCSICmd_INQUIRY_StandardData.from_bytes(data)
    assert inquiry.peripheral_device_type == scsi.kINQUIRY_PERIPHERAL_TYPE_CDROM_MMCDevice
    assert inquiry.peripheral_qualifier == scsi.kINQUIRY_PERIPHERAL_QUALIFIER_Connected
    assert inquiry.ansi_version == scsi.kINQUIRY_ANSI_VERSION_SCSI_SPC_3_Compliant
    assert inquiry.removable
    assert (inquiry.VENDOR_IDENTIFICATION, inquiry.PRODUCT_IDENTIFICATION) == ("KEXTLAB", "CD-ROM")
    assert inquiry.PRODUCT_REVISION_LEVEL == "1.0"
    assert SCSICmd_INQUIRY_StandardData.from_bytes(b"\x7f").peripheral_qualifier == 0x60


def test_report_luns_entries_respect_the_list_length_and_the_data() -> None:
    """REPORT LUNS entries are cut from the list, no more than the header announces
    and the data holds."""
    data = (24).to_bytes(4, "big") + bytes(4) + bytes(8) + bytes((0, 2)) + bytes(6)
    assert report_luns_entries(data) == [bytes(8), bytes((0, 2)) + bytes(6)]
    assert report_luns_entries(b"\0\0") == []
