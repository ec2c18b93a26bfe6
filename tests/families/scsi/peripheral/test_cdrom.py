"""The SCSI CD-ROM driver end to end: a CDROMUnit reading an ISO 9660 image behind
the software HBA, up to IOCDMedia -- the disc found by polling, its size, TOC and
data, eject and a new disc, an empty drive that polls for a bounded time and again
when asked, and a disc pulled out from under a read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kextlab.families.scsi.compact_disc_services import IOCompactDiscServices
from kextlab.families.scsi.definitions import (
    kSCSICmd_GET_CONFIGURATION,
    kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL,
    kSCSICmd_READ_TOC_PMA_ATIP,
    kSCSICmd_START_STOP_UNIT,
    kSCSICmd_TEST_UNIT_READY,
)
from kextlab.families.scsi.media_polling import MEDIA_POLL_LIMIT
from kextlab.families.scsi.multimedia_commands import IOSCSIPeripheralDeviceType05
from kextlab.families.storage.cd.block_storage_driver import IOCDBlockStorageDriver
from kextlab.families.storage.cd.media import IOCDMedia
from kextlab.kernel.ioreturn import kIOReturnNoMedia, kIOReturnSuccess
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.refs import BoolRef
from kextlab.machine.scsi.cdrom import CDROMUnit
from kextlab.machine.scsi.iso9660 import build_iso, read_iso_root
from kextlab.sim.time import SECOND
from tests.families.scsi.peripheral.conftest import Bus, pattern, transfer
from tests.families.scsi.soft_hba import on_thread

SECTOR = 2048
RECORDED = (2024, 5, 17, 12, 0, 0)


def iso(path: Path, volume: str, files: dict[str, bytes]) -> Path:
    path.write_bytes(build_iso(volume, files, recorded=RECORDED))
    return path


def settle(stack: Bus, seconds: float = 3) -> None:
    """Let the drive's poller run (it polls once a second)."""
    stack.kernel.scheduler.run(stack.kernel.scheduler.now + int(seconds * SECOND))


def discs(stack: Bus) -> list[IOCDMedia]:
    return stack.services(IOCDMedia)


def test_a_data_cd_appears_as_cd_media_of_its_size_with_its_toc(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The poll finds the disc a second after start, locks it in, sizes it with READ
    CAPACITY (2048-byte blocks) and the CD driver publishes an IOCDMedia of that size,
    read-only, with the full TOC; the drive's features are published."""
    image = iso(tmp_path / "disc.iso", "KEXTLAB", {"README.TXT": pattern(5000)})
    stack = bus({3: CDROMUnit("cd0", image)})
    settle(stack)
    media = stack.one(IOCDMedia)
    properties = to_user(media.getPropertyTable())
    assert isinstance(properties, dict)
    assert properties["Size"] == image.stat().st_size
    assert properties["Preferred Block Size"] == SECTOR
    assert properties["Writable"] is False
    assert properties["Removable"] is True
    assert properties["Ejectable"] is True
    assert properties["Type"] == "CD-ROM"
    toc = properties["TOC"]
    assert isinstance(toc, bytes)
    assert len(toc) == 2 + int.from_bytes(toc[:2], "big")
    assert stack.cdbs(kSCSICmd_READ_TOC_PMA_ATIP)[-1][2] == 0x02  # full TOC, format 2
    assert stack.cdbs(kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL)[-1][4] == 0x01
    assert stack.units[3].prevent  # type: ignore[attr-defined]

    driver = stack.one(IOSCSIPeripheralDeviceType05)
    assert to_user(driver.getProperty("CD Features")) == 0x02  # CD-ROM reads
    assert to_user(driver.getProperty("DVD Features")) == 0
    assert stack.cdbs(kSCSICmd_GET_CONFIGURATION)
    nub = stack.one(IOCompactDiscServices)
    assert to_user(nub.getProperty("device-type")) == "CDROM"
    characteristics = to_user(nub.getProperty("Device Characteristics"))
    assert isinstance(characteristics, dict)
    assert characteristics["Product Name"] == "KEXTLAB CD-ROM"
    assert characteristics["Loading Mechanism"] == "Tray"
    assert characteristics["CD Features"] == 0x02


def test_the_whole_disc_reads_back_through_the_media(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """READ(10) of 2048-byte blocks through IOCDMedia returns the image byte for
    byte: the ISO's files read back from it."""
    files = {"A.TXT": pattern(3000, seed=1), "B.BIN": pattern(9000, seed=2)}
    image = iso(tmp_path / "disc.iso", "FILES", files)
    stack = bus({0: CDROMUnit("cd0", image)})
    settle(stack)
    size = image.stat().st_size
    status, count, data = transfer(stack.kernel, stack.one(IOCDMedia), 0, size)
    assert (status, count) == (kIOReturnSuccess, size)
    assert data == image.read_bytes()
    assert read_iso_root(data) == files


def test_an_ejected_disc_goes_and_the_next_one_inserted_is_found(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """Eject through the CD driver: the media goes, the drive is unlocked and its tray
    opened with START STOP UNIT (LoEj); a new disc inserted is found by the poll that
    the eject restarted, at its own size."""
    unit = CDROMUnit("cd0", iso(tmp_path / "one.iso", "ONE", {"A.TXT": b"a"}))
    stack = bus({0: unit})
    settle(stack)
    assert len(discs(stack)) == 1
    driver = stack.one(IOCDBlockStorageDriver)
    assert on_thread(stack.kernel, driver.ejectMedia) == kIOReturnSuccess
    settle(stack, 0.5)
    assert discs(stack) == []
    assert unit.tray_open
    assert not unit.prevent
    eject = stack.cdbs(kSCSICmd_START_STOP_UNIT)[-1]
    assert eject[4] & 0x03 == 0x02  # LoEj, not Start
    bigger = iso(tmp_path / "two.iso", "TWO", {"B.BIN": pattern(40000)})
    unit.insert(bigger)
    settle(stack)
    media = stack.one(IOCDMedia)
    assert to_user(media.getProperty("Size")) == bigger.stat().st_size


def test_an_empty_drive_polls_for_a_bounded_time_and_again_when_asked(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """Without a disc the drive is polled once a second for MEDIA_POLL_LIMIT polls,
    then goes quiet (the machine runs dry instead of polling for ever); a client
    asking for the media state restarts the polling, which finds a disc inserted
    meanwhile."""
    unit = CDROMUnit("cd0")
    stack = bus({0: unit})
    driver = stack.one(IOSCSIPeripheralDeviceType05)
    stack.kernel.scheduler.run()  # returns: nothing polls for ever
    poller = driver.fPoller
    assert poller is not None
    assert poller.polls_run == MEDIA_POLL_LIMIT
    assert not poller.pending
    turs = len(stack.cdbs(kSCSICmd_TEST_UNIT_READY))
    unit.insert(iso(tmp_path / "late.iso", "LATE", {"X.TXT": b"x"}))
    settle(stack, 5)
    assert discs(stack) == []
    assert len(stack.cdbs(kSCSICmd_TEST_UNIT_READY)) == turs
    nub = stack.one(IOCompactDiscServices)
    present = BoolRef()
    assert on_thread(stack.kernel, lambda: nub.reportMediaState(present)) == kIOReturnSuccess
    assert present.value is False
    settle(stack)
    assert len(discs(stack)) == 1


def test_a_disc_pulled_out_under_a_read_fails_it_with_no_media_and_the_media_goes(
    bus: Callable[..., Bus], tmp_path: Path
) -> None:
    """The disc is forced out (the operator's paperclip): the next read fails NOT
    READY, MEDIUM NOT PRESENT, which is kIOReturnNoMedia at once (no retries); the
    driver tells the CD driver the medium is offline and its media is torn down."""
    unit = CDROMUnit("cd0", iso(tmp_path / "disc.iso", "GONE", {"A.TXT": pattern(4096)}))
    stack = bus({0: unit})
    settle(stack)
    media = stack.one(IOCDMedia)
    assert unit.eject(force=True)
    status, count, _ = transfer(stack.kernel, media, 0, SECTOR)
    assert (status, count) == (kIOReturnNoMedia, 0)
    settle(stack, 0.5)
    assert discs(stack) == []
    assert any("NOT READY 02/3A/00 (kIOReturnNoMedia)" in line for line in stack.log())
