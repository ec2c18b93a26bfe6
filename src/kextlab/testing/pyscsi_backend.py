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

Threading rules: call from the test's thread, between scheduler events (never from
inside one: ``execute`` runs the target there and then).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyscsi.pyscsi import scsi_enum_command  # type: ignore[import-untyped]
from pyscsi.pyscsi.scsi_exception import (  # type: ignore[import-untyped]
    SCSIDeviceCommandExceptionMeta,
)

from kextlab.errors import KextlabError
from kextlab.machine.scsi.constants import Status
from kextlab.machine.scsi.request import Direction, HostStatus, MemoryBuffer, SCSIRequest
from kextlab.machine.scsi.target import SCSITarget


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
