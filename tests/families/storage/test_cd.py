"""IOCDStorageFamily on a RAM CD drive: the CD driver matches the CD device nub,
reads the disc's TOC and publishes an IOCDMedia of 2048-byte blocks with its TOC
and type, named and BSD-named through IOCDMediaBSDClient."""

from __future__ import annotations

from kextlab.families.storage.cd.block_storage_driver import IOCDBlockStorageDriver
from kextlab.families.storage.cd.media import IOCDMedia
from kextlab.families.storage.cd.types import cd_toc_descriptors, cd_toc_last_lba
from kextlab.families.storage.storage import kIOStorageAccessReader, kIOStorageAccessReaderWriter
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.refs import UInt32Ref
from tests.families.storage.ramdisk import Bench, Buffers, KextLabTestRAMCD, full_toc, pattern


def test_a_cd_drive_gets_a_cd_media_with_its_toc_and_type(storage: Bench) -> None:
    """device-type CDROM brings IOCDBlockStorageDriver; the disc becomes a read-only,
    ejectable IOCDMedia of 2048-byte blocks carrying the TOC and "CD-ROM"."""
    disk = storage.publish(blocks=300, block_size=2048, cls=KextLabTestRAMCD)
    assert to_user(disk.getProperty("device-type")) == "CDROM"
    (media,) = storage.media(disk)
    assert isinstance(media, IOCDMedia)
    driver = media.getProvider()
    assert isinstance(driver, IOCDBlockStorageDriver)
    assert to_user(media.getProperty("TOC")) == full_toc(300)
    assert media.getTOC() == full_toc(300)
    assert to_user(media.getProperty("Type")) == "CD-ROM"
    assert (media.getSize(), media.getPreferredBlockSize()) == (300 * 2048, 2048)
    assert to_user(media.getProperty("Writable")) is False
    assert to_user(media.getProperty("Ejectable")) is True
    icon = to_user(media.getProperty("IOMediaIcon"))
    assert icon == {
        "CFBundleIdentifier": "com.apple.iokit.IOCDStorageFamily",
        "IOBundleResourceFile": "CD.icns",
    }
    assert to_user(media.getProperty("BSD Name")) == "disk0"
    (client,) = [c for c in media.getClients() if "BSDClient" in c.getClassName()]
    assert client.getClassName() == "IOCDMediaBSDClient"
    assert driver.getDeviceTypeName() == "CDROM"


def test_a_cd_reads_its_data_blocks_and_its_toc_but_refuses_writers(
    storage: Bench, buffers: Buffers
) -> None:
    """Reads of 2048-byte blocks return the disc's data; readTOC asks the drive;
    an open for writing is refused."""
    image = pattern(300 * 2048, seed=1)
    disk = storage.publish(blocks=300, block_size=2048, image=image, cls=KextLabTestRAMCD)
    (media,) = storage.media(disk)
    assert isinstance(media, IOCDMedia)
    client = storage.client()
    with storage.kernel.entered():
        assert not media.open(client, 0, kIOStorageAccessReaderWriter)
        assert media.open(client, 0, kIOStorageAccessReader)
        target = buffers.reading(3 * 2048)
        assert media.read(client, 16 * 2048, target) == (kIOReturnSuccess, 3 * 2048)
        assert bytes(target.getBytesNoCopy()) == image[16 * 2048 : 19 * 2048]
        toc = buffers.reading(64)
        count = UInt32Ref()
        assert media.readTOC(client, toc, actualByteCount=count) == kIOReturnSuccess
        assert bytes(toc.getBytesNoCopy()[: count.value]) == full_toc(300)
        media.close(client)
        client.release()


def test_the_toc_helpers_read_a_full_toc() -> None:
    """CDTOC parsing: four descriptors, the lead-out at the disc's block count."""
    toc = full_toc(1234)
    points = [descriptor.point for descriptor in cd_toc_descriptors(toc)]
    assert points == [0xA0, 0xA1, 0xA2, 1]
    assert cd_toc_last_lba(toc) == 1234
