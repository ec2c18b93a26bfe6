"""Fixtures for the peripheral driver tests: a booted bare machine with the family's
software HBA (``tests.families.scsi.soft_hba``) carrying disk and CD-ROM models on
image files in ``tmp_path``, and a kernel client that opens media as a file system
would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kextlab.families.scsi.block_commands import IOSCSIPeripheralDeviceType00
from kextlab.families.scsi.block_storage_services import IOBlockStorageServices
from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    IOStorageAttributes,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.service.service import IOService
from kextlab.machine.scsi.target import LogicalUnit, SCSITarget
from kextlab.testing.kernel import booted_kernel
from tests.families.scsi.conftest import bare_machine
from tests.families.scsi.soft_hba import HBAConfig, SoftHBA, on_thread, publish_hba, services_of


class MediaClient(IOService):
    """A kernel client of a media object (what a file system is to its disk)."""


@dataclass
class Bus:
    """A software HBA and the logical units on it, by target ID (LUN 0 each)."""

    kernel: Kernel
    hba: SoftHBA
    config: HBAConfig
    units: dict[int, LogicalUnit] = field(default_factory=dict)

    def services(self, cls: type[Any]) -> list[Any]:
        return services_of(self.kernel, cls)

    def one(self, cls: type[Any]) -> Any:
        found = self.services(cls)
        assert len(found) == 1, f"{len(found)} {cls.__name__} services"
        return found[0]

    def media(self) -> IOMedia:
        return self.one(IOMedia)

    def disk(self) -> IOSCSIPeripheralDeviceType00:
        return self.one(IOSCSIPeripheralDeviceType00)

    def services_nub(self) -> IOBlockStorageServices:
        return self.one(IOBlockStorageServices)

    def statistics(self) -> dict[str, int]:
        driver = self.one(IOBlockStorageDriver)
        values = to_user(driver.getProperty("Statistics"))
        assert isinstance(values, dict)
        return values

    def opcodes(self) -> list[int]:
        """The operation code of every command the HBA was given, in order."""
        return [cdb[0] for _, _, cdb in self.config.commands]

    def cdbs(self, opcode: int) -> list[bytes]:
        return [cdb for _, _, cdb in self.config.commands if cdb[0] == opcode]

    def log(self) -> list[str]:
        return [record.message for record in self.kernel.message_buffer.records()]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """The bare machine, booted, with the host inside its kernel."""
    with booted_kernel(bare_machine(tmp_path)) as booted, booted.entered():
        yield booted


@pytest.fixture
def bus(kernel: Kernel) -> Iterator[Callable[..., Bus]]:
    """``bus({target_id: unit, ...}, **HBAConfig fields)``: publish a software HBA with
    those units and let it scan; the units are closed when the test ends."""
    made: list[LogicalUnit] = []

    def build(units: dict[int, LogicalUnit], **settings: Any) -> Bus:
        made.extend(units.values())
        targets = {
            target_id: SCSITarget(f"target{target_id}", {0: unit})
            for target_id, unit in units.items()
        }
        settings.setdefault("highest_id", max(units, default=0) + 1)
        config = HBAConfig(targets=targets, **settings)
        hba = publish_hba(kernel, config)
        return Bus(kernel, hba, config, dict(units))

    yield build
    for unit in made:
        close = getattr(unit, "close", None)
        if close is not None:
            close()


def transfer(
    kernel: Kernel,
    media: IOMedia,
    offset: int,
    data: bytes | int,
    *,
    attributes: IOStorageAttributes | None = None,
) -> tuple[int, int, bytes]:
    """Write ``data`` (bytes) or read ``data`` (a length) at ``offset`` through
    ``media``, on a kernel thread, as an opened client: (status, count, bytes read).
    It first waits for the media to be quiet: closing a writer re-registers the media
    (its partition map may have changed), and a partition scheme probing it holds it
    open meanwhile."""

    def work() -> tuple[int, int, bytes]:
        client = MediaClient()
        client.init()
        writing = isinstance(data, bytes)
        access = kIOStorageAccessReaderWriter if writing else kIOStorageAccessReader
        media.waitQuiet()  # a writer's close re-registers the media: let matching end
        media.retain()  # as a client does, for as long as it has the media open
        assert media.open(client, 0, access), "the media would not open"
        length = len(data) if isinstance(data, bytes) else data
        buffer = IOBufferMemoryDescriptor.withCapacity(
            length, kIODirectionOut if writing else kIODirectionIn
        )
        assert buffer is not None
        try:
            if isinstance(data, bytes):
                buffer.getBytesNoCopy()[:] = data
                status, count = media.write(client, offset, buffer, attributes)
                return status, count, b""
            status, count = media.read(client, offset, buffer, attributes)
            return status, count, bytes(buffer.getBytesNoCopy())
        finally:
            buffer.release()
            media.close(client)
            media.release()
            client.release()

    result = on_thread(kernel, work)
    assert isinstance(result, tuple)
    return result


def pattern(length: int, seed: int = 1) -> bytes:
    """Bytes that differ from block to block and from run to run."""
    return bytes((seed * 31 + index * 7 + index // 512) & 0xFF for index in range(length))
