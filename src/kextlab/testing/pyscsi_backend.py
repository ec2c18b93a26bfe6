"""python-scsi over kextlab's SCSI targets: an independent initiator for tests.

python-scsi (PyPI ``PYSCSI``, import name ``pyscsi``) builds CDBs and decodes INQUIRY,
VPD, READ CAPACITY, MODE SENSE and sense data with its own code, so a test that drives
a target through it catches encoding mistakes kextlab's own CDB code would share.
``EmulatedTargetDevice`` is the device object its front end ``pyscsi.pyscsi.scsi.SCSI``
expects (``shared/spec/scsi.md`` §5.2): it mirrors ``ISCSIDevice.execute``
(``pyscsi/pyiscsi/iscsi_device.py``), with a ``SCSITarget`` where that has an iSCSI
session::

    from pyscsi.pyscsi.scsi import SCSI
    from kextlab.testing.pyscsi_backend import EmulatedTargetDevice

    scsi = SCSI(EmulatedTargetDevice(target, lun=0), blocksize=512)
    data = scsi.read16(0, 8).datain

Each command runs synchronously: the device builds a ``SCSIRequest`` with a
``MemoryBuffer`` (a read of ``len(cmd.datain)`` bytes, or a write of ``cmd.dataout``)
and calls ``target.execute`` directly, with no bus, HBA or scheduler, so no virtual
time passes.  Outcomes:

* GOOD: ``cmd.datain`` holds what the target sent (the rest of it stays zero:
  python-scsi has no residual; ``last_request.transferred`` has it);
* CHECK CONDITION: ``cmd.sense`` (and ``cmd.raw_sense_data`` with ``en_raw_sense``)
  is set and ``self.CheckCondition(sense)`` raised, as python-scsi's own devices do.
  python-scsi parses fixed-format sense only; for descriptor sense (D_SENSE), read
  ``last_request.sense`` with ``kextlab.machine.scsi.sense.decode``;
* any other status (BUSY, TASK SET FULL, ...), which python-scsi 2.1 has no
  exception for, or a failure below the SCSI layer (``HostStatus``): raises
  ``CommandStatusError``.

python-scsi keeps CDB state on its command *class* (``scsi_command.py``), so it is not
thread-safe; kextlab's tests run each machine on one thread, so this never matters.

Through the whole stack
-----------------------
``UserClientDevice`` is the same front end's device for a logical unit of a running
machine: each command goes from a user task through ``SCSITaskUserClient`` (the
user-space ``SCSITaskLib``), the logical-unit nub, the SCSI parallel family and the
HBA driver to the emulated HBA and the target, and the data lands in the task's
memory by DMA::

    with UserTask(kernel, "pyscsi") as task:
        device = UserClientDevice(service, task)      # a LUN with SCSITaskUserClient
        scsi = SCSI(device, blocksize=512)
        data = scsi.read16(0, 8).datain
        device.close()

Outcomes as above: CHECK CONDITION raises ``self.CheckCondition`` with the sense the
protocol layer delivered (``cmd.sense``, ``cmd.raw_sense_data``), other statuses and
a task that did not complete (``SERVICE_DELIVERY_OR_TARGET_FAILURE``: no target, a
timeout, a failed delivery) or a refused call raise ``TaskError``, which names the
CDB, the service response and the status.

Threading rules: call from the test's thread (not inside a scheduler event);
``EmulatedTargetDevice`` runs the target at once, ``UserClientDevice`` runs the machine
until each command completes (or call it from the task's user threads).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyscsi.pyscsi import scsi_enum_command  # type: ignore[import-untyped]
from pyscsi.pyscsi.scsi_exception import (  # type: ignore[import-untyped]
    SCSIDeviceCommandExceptionMeta,
)

from kextlab.errors import KextlabError
from kextlab.families.scsi.definitions import (
    kSCSIDataTransfer_FromInitiatorToTarget,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_GOOD,
)
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.request import Direction, HostStatus, MemoryBuffer, SCSIRequest
from kextlab.machine.scsi.target import SCSITarget
from kextlab.userland.iokitlib import io_service_t
from kextlab.userland.scsi_task_lib import SCSITaskDeviceInterface, SCSITaskInterface
from kextlab.userland.user_task import UserBuffer, UserTask


class CommandStatusError(KextlabError, RuntimeError):
    """A command ended with a status python-scsi has no exception for, or failed below
    the SCSI layer.  ``request`` is the finished request."""

    def __init__(self, request: SCSIRequest) -> None:
        self.request = request
        if request.host_status is not HostStatus.OK:
            outcome = f"host status {request.host_status.value}"
        else:
            outcome = f"status {request.status.name}"
        super().__init__(f"CDB {request.cdb.hex()} on LUN {request.lun} ended with {outcome}")


# python-scsi has no type information: its metaclass, which gives each device class
# its own CheckCondition exception, is an ``Any`` to mypy.
class EmulatedTargetDevice(metaclass=SCSIDeviceCommandExceptionMeta):  # type: ignore[metaclass]
    """A python-scsi device whose commands go to logical unit ``lun`` of ``target``."""

    CheckCondition: ClassVar[type[Exception]]

    def __init__(self, target: SCSITarget, lun: int = 0) -> None:
        self.target = target
        self.lun = lun
        self.opcodes: Any = scsi_enum_command.spc  # SCSI() picks the set after INQUIRY
        self.devicetype: int | None = None
        #: The request of the last command executed, with its status, sense and count.
        self.last_request: SCSIRequest | None = None

    def __repr__(self) -> str:
        return f"<EmulatedTargetDevice {self.target.name!r} LUN {self.lun}>"

    def execute(self, cmd: Any, en_raw_sense: bool = False) -> None:
        """Run python-scsi command ``cmd``; see the module docstring for outcomes."""
        buffer: MemoryBuffer | None = None
        direction = Direction.NONE
        if len(cmd.datain):
            buffer, direction = MemoryBuffer(len(cmd.datain)), Direction.IN
        elif len(cmd.dataout):
            buffer, direction = MemoryBuffer(bytes(cmd.dataout)), Direction.OUT
        request = SCSIRequest(self.lun, bytes(cmd.cdb), direction, buffer)
        self.last_request = request
        self.target.execute(request)
        if request.host_status is not HostStatus.OK:
            raise CommandStatusError(request)
        if direction is Direction.IN and buffer is not None:
            cmd.datain[: request.transferred] = buffer.data[: request.transferred]
        if request.status is Status.CHECK_CONDITION:
            cmd.sense = request.sense
            if en_raw_sense:
                cmd.raw_sense_data = request.sense
            raise self.CheckCondition(request.sense)
        if request.status is not Status.GOOD:
            raise CommandStatusError(request)

    def close(self) -> None:
        """Nothing to release: the target belongs to the test."""


class TaskError(KextlabError, RuntimeError):
    """A command through ``SCSITaskUserClient`` that did not end in GOOD or CHECK
    CONDITION, or a call the user client refused (``kern_return`` set)."""

    def __init__(
        self, cdb: bytes, kern_return: int, service_response: int = 0, task_status: int = 0
    ) -> None:
        self.cdb = cdb
        self.kern_return = kern_return
        self.service_response = service_response
        self.task_status = task_status
        if kern_return != kIOReturnSuccess:
            outcome = f"was refused with IOReturn {kern_return:#010x}"
        else:
            outcome = f"ended with service response {service_response}, status {task_status:#04x}"
        super().__init__(f"CDB {cdb.hex()} {outcome}")


class UserClientDevice(metaclass=SCSIDeviceCommandExceptionMeta):  # type: ignore[metaclass]
    """A python-scsi device whose commands go through ``SCSITaskUserClient`` on the
    logical-unit nub ``service``, for user task ``task`` (see the module)."""

    CheckCondition: ClassVar[type[Exception]]

    def __init__(
        self,
        service: io_service_t,
        task: UserTask,
        *,
        timeout_ms: int = 30_000,
        buffer_size: int = 64 << 10,
    ) -> None:
        result, interface = SCSITaskDeviceInterface.open(service, task)
        if result != kIOReturnSuccess or interface is None:
            raise TaskError(b"", result)
        self.interface: SCSITaskDeviceInterface = interface
        self.task = task
        self.timeout_ms = timeout_ms
        self.opcodes: Any = scsi_enum_command.spc  # SCSI() picks the set after INQUIRY
        self.devicetype: int | None = None
        self.buffer: UserBuffer | None = task.vm_allocate(buffer_size)
        scsi_task = interface.CreateSCSITask()
        if scsi_task is None:
            self.close()
            raise TaskError(b"", -1)
        self.scsi_task: SCSITaskInterface | None = scsi_task
        #: The last command's outcome: (service response, status, realized count).
        self.last_result: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"<UserClientDevice of {self.task!r}>"

    def execute(self, cmd: Any, en_raw_sense: bool = False) -> None:
        """Run python-scsi command ``cmd`` through the stack; see the module."""
        scsi_task = self.scsi_task
        if scsi_task is None:
            raise ValueError("the UserClientDevice is closed")
        cdb = bytes(cmd.cdb)
        length, direction = 0, kSCSIDataTransfer_NoDataTransfer
        if len(cmd.datain):
            length, direction = len(cmd.datain), kSCSIDataTransfer_FromTargetToInitiator
        elif len(cmd.dataout):
            length, direction = len(cmd.dataout), kSCSIDataTransfer_FromInitiatorToTarget
        buffer = self._buffer(length)
        if direction == kSCSIDataTransfer_FromInitiatorToTarget:
            buffer.write(bytes(cmd.dataout))
        scsi_task.SetCommandDescriptorBlock(cdb)
        ranges = [(buffer.address, length)] if length else []
        scsi_task.SetScatterGatherEntries(ranges, length, direction)
        scsi_task.SetTimeoutDuration(self.timeout_ms)
        result, sense, status, realized = scsi_task.ExecuteTaskSync()
        if result != kIOReturnSuccess:
            raise TaskError(cdb, result)
        response = scsi_task.GetSCSIServiceResponse()
        self.last_result = (response, status, realized)
        if response != kSCSIServiceResponse_TASK_COMPLETE:
            raise TaskError(cdb, kIOReturnSuccess, response, status)
        if direction == kSCSIDataTransfer_FromTargetToInitiator and realized:
            cmd.datain[:realized] = buffer.read(0, realized)
        if status == kSCSITaskStatus_CHECK_CONDITION:
            cmd.sense = sense
            if en_raw_sense:
                cmd.raw_sense_data = sense
            raise self.CheckCondition(sense)
        if status != kSCSITaskStatus_GOOD:
            raise TaskError(cdb, kIOReturnSuccess, response, status)

    def _buffer(self, length: int) -> UserBuffer:
        buffer = self.buffer
        assert buffer is not None
        if length > buffer.length:
            buffer.deallocate()
            buffer = self.buffer = self.task.vm_allocate(length)
        return buffer

    def close(self) -> None:
        """Release the task, the buffer and the connection."""
        if self.scsi_task is not None:
            self.scsi_task.Release()
            self.scsi_task = None
        buffer, self.buffer = self.buffer, None
        if buffer is not None and self.task.alive:
            buffer.deallocate()
        self.interface.close()
