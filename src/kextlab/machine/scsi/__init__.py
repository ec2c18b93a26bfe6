"""SCSI targets and buses: the devices behind a host bus adapter.

Public surface::

    SCSIRequest, Direction, HostStatus, DataBuffer, MemoryBuffer   a command in flight
    SCSITarget, LogicalUnit, command                                 targets and their units
    SCSIBus, Timing, FaultDecision, FaultPolicy                      timing, queues, hot-plug
    constants, sense                                                 the T10 numbers

Targets know nothing of any HBA, and HBAs reach targets only through ``SCSIBus``.
"""

from kextlab.machine.scsi.bus import FaultDecision, FaultPolicy, SCSIBus, Timing
from kextlab.machine.scsi.request import (
    DataBuffer,
    Direction,
    HostStatus,
    MemoryBuffer,
    SCSIRequest,
)
from kextlab.machine.scsi.target import LogicalUnit, SCSITarget, command

__all__ = [
    "DataBuffer",
    "Direction",
    "FaultDecision",
    "FaultPolicy",
    "HostStatus",
    "LogicalUnit",
    "MemoryBuffer",
    "SCSIBus",
    "SCSIRequest",
    "SCSITarget",
    "Timing",
    "command",
]
