"""Helpers for the MarvellUMI.kext tests: machines with the HBA and its targets,
the kext loaded after boot, and SCSI tasks sent straight to a target's
``IOSCSIParallelInterfaceDevice`` (the family's protocol services) from a kernel
thread.

The machines are written into the test's ``tmp_path`` (disk images too).  The kext
is loaded after boot, with ``KextManagerLoadKextWithURL``, so that the autouse leak
check terminates it at the end of every test and proves its stop gives everything
back; one test boots it the other way, as a ``Local-Root`` boot driver.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kextlab.families.scsi.definitions import (
    kSCSIDataTransfer_FromInitiatorToTarget,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
)
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.task import SCSITask
from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.locks import (
    THREAD_UNINT,
    IOLockAlloc,
    IOLockFree,
    IOLockLock,
    IOLockSleep,
    IOLockUnlock,
    IOLockWakeup,
)
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import ByteCountRef
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.service import IOService
from kextlab.kexts import shipped
from kextlab.machine.description import load_machine_description
from kextlab.machine.machine import Machine
from kextlab.userland import iokitlib as io
from kextlab.userland.system import start_kernel

BUNDLE_ID = "com.kextlab.driver.MarvellUMI"
CLASS = "MarvellUMI"
BLOCK = 512
FOUR_GIB = 1 << 32
DEFAULT_TIMEOUT_MS = 5_000


@dataclass
class Target:
    """One ``[[device.target]]`` table."""

    id: int
    type: str = "disk"
    size: str = "8M"
    image: str | None = None  # default: "<type><id>.img"
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        lines = ["[[device.target]]", f"id = {self.id}", f'type = "{self.type}"']
        image = self.image if self.image is not None else f"{self.type}{self.id}.img"
        if self.type == "cdrom" and self.image is None:
            image = ""
        lines.append(f'image = "{image}"')
        if self.type == "disk":
            lines.append(f'size = "{self.size}"')
        for key, value in self.extra.items():
            lines.append(f"{key} = {_toml(value)}")
        return "\n".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return str(value)


def machine_file(
    directory: Path,
    targets: Sequence[Target] = (Target(0),),
    *,
    model: str = "mvumi9143",
    kernel_bits: int = 64,
    params: dict[str, Any] | None = None,
    faults: dict[str, Any] | None = None,
    rules: Sequence[dict[str, Any]] = (),
) -> str:
    """A machine with 512 MiB below and 512 MiB above 4 GiB (all of it below on a
    32-bit kernel), the HBA in slot 1 and ``targets`` on its bus; its path."""
    lines = [
        "[machine]",
        'name = "umi"',
        'model = "KextLab1,1"',
        'arch = "x86"',
        "[boot]",
        f"kernel_bits = {kernel_bits}",
        "[memory]",
        'size = "1G"',
        'below_4g = "512M"' if kernel_bits == 64 else 'below_4g = "1G"',
        "[[device]]",
        'name = "hba0"',
        f'model = "{model}"',
        "slot = 1",
    ]
    if params:
        lines.append("[device.params]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in params.items())
    lines.extend(target.table() for target in targets)
    if faults or rules:
        lines.append("[scsi_faults]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in (faults or {}).items())
        for rule in rules:
            lines.append("[[scsi_faults.rule]]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in rule.items())
    path = directory / "umi.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def pattern(length: int, seed: int = 0) -> bytes:
    """Bytes that differ from block to block (the LBA and an offset in each word)."""
    words = length // 8
    return b"".join(
        struct.pack("<II", (index * 8) // BLOCK ^ seed, index) for index in range(words)
    )


def write_image(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@contextmanager
def umi_kernel(
    path: str, *, load: bool = True, seed: int = 0, preemption: str | None = None
) -> Iterator[Kernel]:
    """The machine of ``path`` booted without any extensions folder, then (``load``)
    MarvellUMI.kext loaded and given time to start and scan its bus.  ``preemption``
    ``"seeded"`` hunts races with ``seed``."""
    description = load_machine_description(path)
    policy: Literal["off", "seeded"] | None = None
    if preemption is not None:
        assert preemption in ("off", "seeded")
        policy = "seeded" if preemption == "seeded" else "off"
    with Machine(description, seed=seed, preemption=policy) as running:
        tree = OpenFirmware(running).power_on()
        running.run()
        kernel = start_kernel(running, tree, extensions=())
        if load:
            load_kext(kernel)
        yield kernel


def load_kext(kernel: Kernel) -> None:
    port = io.IOMainPort(kernel.registry, kernel)
    result = io.KextManagerLoadKextWithURL(port, str(shipped("MarvellUMI")))
    assert result.ok, result.messages
    kernel.machine.run()


def services(kernel: Kernel, class_name: str) -> list[Any]:
    plane = kernel.registry.plane(kIOServicePlane)
    return [
        entry
        for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
        if isinstance(entry, IOService) and entry.metaCast(class_name) is not None
    ]


def controller(kernel: Kernel) -> Any:
    (found,) = services(kernel, CLASS)
    return found


def target_ids(kernel: Kernel) -> list[int]:
    """Target IDs with a live parallel device under the controller."""
    return sorted(
        device.GetTargetIdentifier()
        for device in services(kernel, "IOSCSIParallelInterfaceDevice")
        if not device.isInactive()
    )


def device(kernel: Kernel, target: int) -> IOSCSIParallelInterfaceDevice:
    for found in services(kernel, "IOSCSIParallelInterfaceDevice"):
        if found.GetTargetIdentifier() == target and not found.isInactive():
            assert isinstance(found, IOSCSIParallelInterfaceDevice)
            return found
    raise LookupError(f"no parallel device for target {target}")


def log_lines(kernel: Kernel) -> list[str]:
    return [record.message for record in kernel.message_buffer.records()]


def on_thread(kernel: Kernel, work: Callable[[], Any], name: str = "client") -> Any:
    """Run ``work`` on a kernel thread of the machine and return its result."""
    thread = kernel.scheduler.spawn(work, name=name)
    assert thread.join()
    return thread.result


# -- SCSI tasks ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a task ended."""

    response: int
    status: int
    sense: bytes | None
    realized: int

    @property
    def sense_code(self) -> tuple[int, int, int] | None:
        if not self.sense:
            return None
        return self.sense[2] & 0x0F, self.sense[12], self.sense[13]


class TaskRunner:
    """Sends SCSI tasks to parallel devices and waits for them (kernel threads only)."""

    def __init__(self) -> None:
        self._lock = IOLockAlloc()
        self._done: set[int] = set()

    def close(self) -> None:
        IOLockFree(self._lock)

    def _completed(self, task: SCSITask) -> None:
        IOLockLock(self._lock)
        self._done.add(id(task))
        IOLockWakeup(self._lock, ("umi test task", id(task)), False)
        IOLockUnlock(self._lock)

    def start(
        self,
        target: IOSCSIParallelInterfaceDevice,
        cdb: bytes,
        *,
        buffer: IOMemoryDescriptor | None = None,
        direction: int = kSCSIDataTransfer_NoDataTransfer,
        count: int | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> SCSITask:
        task = SCSITask.create()
        task.SetCommandDescriptorBlock(*cdb)
        task.SetDataTransferDirection(direction)
        if buffer is not None:
            task.SetDataBuffer(buffer)
            task.SetRequestedDataTransferCount(buffer.getLength() if count is None else count)
        task.SetTimeoutDuration(timeout_ms)
        task.SetTaskCompletionCallback(self._completed)
        target.ExecuteCommand(task)
        return task

    def wait(self, task: SCSITask) -> Outcome:
        IOLockLock(self._lock)
        while id(task) not in self._done:
            IOLockSleep(self._lock, ("umi test task", id(task)), THREAD_UNINT)
        self._done.discard(id(task))
        IOLockUnlock(self._lock)
        outcome = Outcome(
            task.GetServiceResponse(),
            task.GetTaskStatus(),
            task.GetAutoSenseData() if task.GetAutoSenseDataSize() else None,
            task.GetRealizedDataTransferCount(),
        )
        task.release()
        return outcome

    def run(
        self,
        target: IOSCSIParallelInterfaceDevice,
        cdb: bytes,
        **options: Any,
    ) -> Outcome:
        return self.wait(self.start(target, cdb, **options))


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


TEST_UNIT_READY = bytes(6)


def read_buffer(length: int) -> IOBufferMemoryDescriptor:
    buffer = IOBufferMemoryDescriptor.withCapacity(length, kIODirectionIn)
    assert buffer is not None
    buffer.getBytesNoCopy()[:] = b"\xee" * length
    return buffer


def write_buffer(data: bytes) -> IOBufferMemoryDescriptor:
    buffer = IOBufferMemoryDescriptor.withCapacity(len(data), kIODirectionOut)
    assert buffer is not None
    buffer.getBytesNoCopy()[:] = data
    return buffer


def physical(memory: IOMemoryDescriptor) -> int:
    memory.prepare()
    address = memory.getPhysicalSegment(0, ByteCountRef())
    memory.complete()
    return address


READ = kSCSIDataTransfer_FromTargetToInitiator
WRITE = kSCSIDataTransfer_FromInitiatorToTarget
