"""A removable direct-access medium (RMB set in INQUIRY): the disk driver finds it by
polling, locks it in, publishes removable, ejectable media, and ejects it with
START STOP UNIT (LoEj) after allowing removal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from kextlab.families.scsi.definitions import (
    kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL,
    kSCSICmd_START_STOP_UNIT,
)
from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.media import IOMedia
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.convert import to_user
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.sim.time import SECOND
from tests.families.scsi.peripheral.conftest import Bus
from tests.families.scsi.soft_hba import on_thread


class RemovableDisk(DiskUnit):
    """A disk whose medium can be removed (a Zip, a USB stick's SCSI face)."""

    removable: ClassVar[bool] = True


def test_a_removable_disk_is_found_by_polling_locked_in_and_ejected(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The medium shows up a poll after start, removal prevented (PREVENT ALLOW
    MEDIUM REMOVAL, prevent); ejecting allows removal and sends START STOP UNIT with
    LoEj; the media goes."""
    unit = RemovableDisk.open("zip", tmp_path / "zip.img", size=1 << 20)
    stack = bus({0: unit})
    stack.kernel.scheduler.run(stack.kernel.scheduler.now + 2 * SECOND)
    media = stack.media()
    assert to_user(media.getProperty("Removable")) is True
    assert to_user(media.getProperty("Ejectable")) is True
    assert unit.prevent_removal
    assert stack.disk().fMediumRemovalPrevented
    driver = stack.one(IOBlockStorageDriver)
    assert on_thread(stack.kernel, driver.ejectMedia) == kIOReturnSuccess
    stack.kernel.scheduler.run(stack.kernel.scheduler.now + SECOND)
    assert stack.services(IOMedia) == []
    assert not unit.prevent_removal
    assert stack.cdbs(kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL)[-1][4] == 0
    assert stack.cdbs(kSCSICmd_START_STOP_UNIT)[-1][4] & 0x03 == 0x02
