"""IOMedia on a RAM disk: the whole-disk media a block storage driver publishes, its
properties and BSD name, the open rules of IOStorageAccess, and the checks every
read and write goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from kextlab.families.storage.media import IOMedia, combine_access
from kextlab.families.storage.storage import (
    IOStorage,
    IOStorageCompletion,
    kIOStorageAccessExclusiveLock,
    kIOStorageAccessInvalid,
    kIOStorageAccessNone,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
    kIOStorageAccessSharedLock,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnLockedWrite,
    kIOReturnNoMedia,
    kIOReturnNotOpen,
    kIOReturnNotPrivileged,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService
from kextlab.testing.partitions import APPLE_HFS_PLUS, GPTPartition, gpt
from tests.families.storage.ramdisk import (
    MACHINE,
    Bench,
    Buffers,
    KextLabTestRAMDisk,
    StorageClient,
    bench,
    pattern,
)


def test_a_block_storage_device_gets_a_whole_disk_media_shaped_like_a_real_dump(
    storage: Bench,
) -> None:
    """The driver names the media "<vendor> <product> Media" (spaces cleaned, as
    strclean does) and publishes Apple's keys with Apple's types."""
    disk = storage.publish(blocks=8192)
    media = storage.whole(disk)
    assert media.getName() == "KextLab RAM Disk Media"
    properties = to_user(media.getPropertyTable())
    assert isinstance(properties, dict)
    assert {key: properties[key] for key in properties if not key.startswith("BSD")} == {
        "Content": "",
        "Content Hint": "",
        "Ejectable": False,
        "IOMediaIcon": {
            "CFBundleIdentifier": "com.apple.iokit.IOStorageFamily",
            "IOBundleResourceFile": "Internal.icns",
        },
        "Leaf": True,
        "Open": False,
        "Preferred Block Size": 512,
        "Removable": False,
        "Size": 8192 * 512,
        "Whole": True,
        "Writable": True,
    }
    assert (media.getSize(), media.getPreferredBlockSize(), media.getBase()) == (8192 * 512, 512, 0)
    assert media.isWhole()
    assert media.isWritable()
    assert not media.isEjectable()
    driver = media.getProvider()
    assert driver is not None
    assert driver.getClassName() == "IOBlockStorageDriver"
    assert to_user(disk.getProperty("device-type")) == "Generic"


def test_whole_disks_get_bsd_names_units_and_minors_in_order(storage: Bench) -> None:
    """Two disks are disk0 and disk1, major 1, units 0 and 1, minors 0 and 1; the BSD
    client sits beside the media as on a Mac."""
    first = storage.whole(storage.publish())
    second = storage.whole(storage.publish())
    for media, unit in ((first, 0), (second, 1)):
        assert to_user(media.getProperty("BSD Name")) == f"disk{unit}"
        assert to_user(media.getProperty("BSD Unit")) == unit
        assert to_user(media.getProperty("BSD Major")) == 1
        assert to_user(media.getProperty("BSD Minor")) == unit
        (client,) = [c for c in media.getClients() if c.getClassName() == "IOMediaBSDClient"]
        assert to_user(client.getProperty("IOMatchCategory")) == "IOMediaBSDClient"


def test_a_removable_ejectable_disk_says_so_and_gets_the_removable_icon(storage: Bench) -> None:
    """Removable/Ejectable follow the device; an ejectable medium is removable too."""

    def removable(disk: KextLabTestRAMDisk) -> None:
        disk.removable = disk.ejectable = True

    media = storage.whole(storage.publish(setup=removable))
    assert to_user(media.getProperty("Removable")) is True
    assert to_user(media.getProperty("Ejectable")) is True
    icon = to_user(media.getProperty("IOMediaIcon"))
    assert isinstance(icon, dict)
    assert icon["IOBundleResourceFile"] == "Removable.icns"


def test_the_access_table_lets_readers_share_and_keeps_writers_apart() -> None:
    """Apple's gIOMediaAccessTable: readers share; two plain writers conflict;
    shared-lock writers coexist; an exclusive lock excludes everyone."""
    reader, writer = kIOStorageAccessReader, kIOStorageAccessReaderWriter
    shared_writer = writer | kIOStorageAccessSharedLock
    exclusive_reader = reader | kIOStorageAccessExclusiveLock
    none = kIOStorageAccessNone
    assert combine_access(combine_access(none, reader), reader) == reader
    assert combine_access(combine_access(none, reader), writer) == writer
    assert combine_access(combine_access(none, writer), writer) == kIOStorageAccessInvalid
    assert combine_access(combine_access(none, shared_writer), shared_writer) == shared_writer
    assert combine_access(combine_access(none, exclusive_reader), reader) == kIOStorageAccessInvalid
    assert combine_access(none, exclusive_reader) == exclusive_reader


def test_opens_follow_the_access_rules_and_show_in_open(storage: Bench) -> None:
    """Readers share with a writer; a second writer is refused; an exclusive reader
    is refused while others hold it; ``Open`` follows the level held below."""
    media = storage.whole(storage.publish())
    one, two, three = storage.client(), storage.client(), storage.client()
    with storage.kernel.entered():
        assert media.open(one, 0, kIOStorageAccessReader)
        assert to_user(media.getProperty("Open")) is True
        assert media.open(two, 0, kIOStorageAccessReaderWriter)
        assert not media.open(three, 0, kIOStorageAccessReaderWriter)
        assert not media.open(three, 0, kIOStorageAccessReader | kIOStorageAccessExclusiveLock)
        assert media.isOpen(one)
        assert media.isOpen(two)
        assert not media.isOpen(three)
        media.close(two)
        assert media.open(three, 0, kIOStorageAccessReaderWriter)  # the writer left
        media.close(three)
        media.close(one)
        assert to_user(media.getProperty("Open")) is False
        assert not media.isOpen()
        for client in (one, two, three):
            client.release()


def test_reads_and_writes_move_data_and_refuse_what_apple_refuses(
    storage: Bench, buffers: Buffers
) -> None:
    """A write then a read round-trip; unopened media, a reader's write, a buffer of
    the wrong direction and a transfer past the end get Apple's errors."""
    media = storage.whole(storage.publish(blocks=64))
    client = storage.client()
    data = pattern(4096, seed=3)
    with storage.kernel.entered():
        unopened = buffers.reading(512)
        assert media.read(client, 0, unopened) == (kIOReturnNotOpen, 0)
        assert media.open(client, 0, kIOStorageAccessReader)
        assert media.write(client, 0, buffers.writing(data))[0] == kIOReturnNotPrivileged
        assert media.open(client, 0, kIOStorageAccessReaderWriter)  # an upgrade
        assert media.write(client, 1024, buffers.writing(data)) == (kIOReturnSuccess, 4096)
        back = buffers.reading(4096)
        assert media.read(client, 1024, back) == (kIOReturnSuccess, 4096)
        assert bytes(back.getBytesNoCopy()) == data
        assert media.read(client, 0, buffers.writing(data))[0] == kIOReturnBadArgument
        assert media.read(client, 64 * 512 - 512, buffers.reading(1024))[0] == kIOReturnBadArgument
        assert media.read(client, 64 * 512 + 512, buffers.reading(512))[0] == kIOReturnBadArgument
        media.close(client)
        client.release()


def test_a_write_protected_disk_is_not_writable_and_refuses_writers(
    storage: Bench, buffers: Buffers
) -> None:
    """``Writable`` = No; an open for writing fails; a reader's write is locked out."""

    def protect(disk: KextLabTestRAMDisk) -> None:
        disk.write_protected = True

    media = storage.whole(storage.publish(setup=protect))
    client = storage.client()
    with storage.kernel.entered():
        assert to_user(media.getProperty("Writable")) is False
        assert not media.open(client, 0, kIOStorageAccessReaderWriter)
        assert media.open(client, 0, kIOStorageAccessReader)
        status, _ = media.write(client, 0, buffers.writing(bytes(512)))
        assert status in (kIOReturnNotPrivileged, kIOReturnLockedWrite)
        media.close(client)
        client.release()


def test_asynchronous_reads_complete_later_with_their_own_completion(
    storage: Bench, buffers: Buffers
) -> None:
    """With a completion, ``read`` returns at once and the action runs when the
    device finishes, with the parameter it was given."""
    disk = storage.publish(blocks=64, image=pattern(64 * 512, seed=9))
    media = storage.whole(disk)
    client = storage.client()
    results: list[tuple[object, int, int]] = []

    def done(target: object, parameter: object, status: int, count: int) -> None:
        results.append((parameter, status, count))

    with storage.kernel.entered():
        assert media.open(client, 0, kIOStorageAccessReader)
        targets = [buffers.reading(1024) for _ in range(4)]
        for index, buffer in enumerate(targets):
            assert (
                media.read(
                    client, index * 1024, buffer, None, IOStorageCompletion(None, done, index)
                )
                is None
            )
        assert results == []
    storage.run(10_000_000)
    assert sorted(results) == [(index, kIOReturnSuccess, 1024) for index in range(4)]
    expected = pattern(64 * 512, seed=9)
    with storage.kernel.entered():
        for index, buffer in enumerate(targets):
            assert bytes(buffer.getBytesNoCopy()) == expected[index * 1024 : (index + 1) * 1024]
        media.close(client)
        client.release()


def test_a_terminated_media_fails_requests_with_no_media(storage: Bench, buffers: Buffers) -> None:
    """Once the device is gone, the media (still held open by its client) answers
    kIOReturnNoMedia, and stops only when the client closes."""
    disk = storage.publish(blocks=64)
    media = storage.whole(disk)
    client = storage.client()
    with storage.kernel.entered():
        media.retain()
        assert media.open(client, 0, kIOStorageAccessReader)
    storage.terminate(disk, wait=False)
    with storage.kernel.entered():
        assert media.isInactive()
        assert media.read(client, 0, buffers.reading(512)) == (kIOReturnNoMedia, 0)
        media.close(client)
        client.release()
    storage.kernel.wait_quiet()
    assert media.getProvider() is None  # stopped and detached once closed
    with storage.kernel.entered():
        media.release()


def test_iostorage_refuses_subclasses_that_override_read_and_completes_nothing_quietly() -> None:
    """A C++-style override of ``read`` is refused at class definition, naming the
    hook to override; ``complete`` with no completion or no action does nothing."""
    with pytest.raises(TypeError, match="read_async"):

        class Filter(IOStorage):
            def read(self, *args: object) -> None:  # type: ignore[override]
                return None

    IOStorage.complete(None, kIOReturnSuccess)
    IOStorage.complete(IOStorageCompletion(), kIOReturnSuccess, 5)
    assert IOMedia.className() == "IOMedia"
    assert kIODirectionIn == 1


def test_a_media_below_a_unit_joins_the_device_tree_plane_at_that_unit(
    tmp_path: Path,
) -> None:
    """As on a Mac, the whole media is wired into IODeviceTree below the first
    device-tree node above it, at ``<IOUnit>:0``, and its partitions beside it at
    ``<IOUnit>:<partition>``; both leave the plane when the disk goes."""
    machine = tmp_path / "card.toml"
    machine.write_text(MACHINE + '[[device]]\nname = "card"\nmodel = "testcard"\nslot = 2\n')
    image = gpt([GPTPartition(APPLE_HFS_PLUS, 40, 2047, "one")], 2 << 20)
    for storage in bench(tmp_path, machine):
        kernel = storage.kernel
        plane = kernel.registry.plane(kIODeviceTreePlane)
        (card,) = [
            entry
            for entry in kernel.registry.getRoot().iterate(plane, recursive=True)
            if isinstance(entry, IOService) and entry.getClassName() == "IOPCIDevice"
        ]
        with kernel.entered():
            controller = StorageClient()
            controller.init()
            controller.setProperty("IOUnit", 3, 32)
            assert controller.attach(card)
            controller.registerService()
            controller.release()
        kernel.wait_quiet()
        disk = storage.publish(blocks=4096, image=image, provider=controller)
        media = sorted(storage.media(disk), key=lambda m: m.isWhole())
        partition, whole = media
        assert whole.getParentEntry(plane) is card
        assert whole.getLocation(plane) == "3:0"
        assert partition.getParentEntry(plane) is card
        assert partition.getLocation(plane) == "3:1"
        storage.terminate(controller)
        assert [child for child in card.getChildren(plane) if isinstance(child, IOMedia)] == []
