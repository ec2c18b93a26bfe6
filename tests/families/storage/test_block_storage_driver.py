"""IOBlockStorageDriver on a RAM disk: statistics, requests rounded to blocks and cut
to the device's limits, errors, media arrival and departure, eject, polling, and
termination with requests outstanding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kextlab.families.storage.block_storage_device import (
    kIOMaximumBlockCountReadKey,
    kIOMaximumByteCountWriteKey,
    kIOMaximumSegmentCountReadKey,
    kIOMessageMediaParametersHaveChanged,
)
from kextlab.families.storage.block_storage_driver import IOBlockStorageDriver
from kextlab.families.storage.media import IOMedia
from kextlab.families.storage.storage import (
    IOStorageAttributes,
    IOStorageCompletion,
    kIOStorageAccessReader,
    kIOStorageAccessReaderWriter,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnBusy,
    kIOReturnIOError,
    kIOReturnNoMedia,
    kIOReturnNotAttached,
    kIOReturnSuccess,
    kIOReturnUnderrun,
)
from kextlab.kernel.libkern.convert import from_python, to_user
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor, kernel_task
from kextlab.kernel.memory.options import kIODirectionIn
from kextlab.kernel.memory.refs import BoolRef
from kextlab.sim.time import MILLISECOND, SECOND
from tests.families.storage.ramdisk import (
    Bench,
    Buffers,
    KextLabTestRAMDisk,
    StorageClient,
    pattern,
)

STATISTICS_KEYS = {
    "Operations (Read)",
    "Operations (Write)",
    "Bytes (Read)",
    "Bytes (Write)",
    "Total Time (Read)",
    "Total Time (Write)",
    "Latency Time (Read)",
    "Latency Time (Write)",
    "Errors (Read)",
    "Errors (Write)",
    "Retries (Read)",
    "Retries (Write)",
}


@contextmanager
def opened(storage: Bench, media: IOMedia, access: int) -> Iterator[StorageClient]:
    client = storage.client()
    with storage.kernel.entered():
        assert media.open(client, 0, access)
    try:
        yield client
    finally:
        with storage.kernel.entered():
            media.close(client)
            client.release()


def driver_of(media: IOMedia) -> IOBlockStorageDriver:
    driver = media.getProvider()
    assert isinstance(driver, IOBlockStorageDriver)
    return driver


def statistics(driver: IOBlockStorageDriver) -> dict[str, int]:
    values = to_user(driver.getProperty("Statistics"))
    assert isinstance(values, dict)
    return values


def test_statistics_count_operations_bytes_times_and_errors_with_apples_keys(
    storage: Bench, buffers: Buffers
) -> None:
    """Each client request counts once, with its bytes and its virtual time from
    arrival to completion; a failed one counts as an error too."""
    disk = storage.publish(blocks=256)
    media = storage.whole(disk)
    driver = driver_of(media)
    assert set(statistics(driver)) == STATISTICS_KEYS
    before = statistics(driver)  # the partition schemes' probes read the disk
    with opened(storage, media, kIOStorageAccessReaderWriter) as client, storage.kernel.entered():
        assert media.write(client, 0, buffers.writing(pattern(8192)))[0] == kIOReturnSuccess
        assert media.read(client, 0, buffers.reading(4096))[0] == kIOReturnSuccess
        assert media.read(client, 4096, buffers.reading(512))[0] == kIOReturnSuccess
        disk.fail_blocks = {100}
        assert media.read(client, 99 * 512, buffers.reading(1024)) == (kIOReturnIOError, 512)
    after = statistics(driver)
    counts = {key: after[key] - before[key] for key in after}
    assert counts["Operations (Write)"] == 1
    assert counts["Bytes (Write)"] == 8192
    assert counts["Operations (Read)"] == 3
    assert counts["Bytes (Read)"] == 4096 + 512 + 512
    assert counts["Errors (Read)"] == 1
    assert counts["Errors (Write)"] == 0
    assert counts["Total Time (Read)"] == 3 * disk.latency_ns
    assert counts["Total Time (Write)"] == disk.latency_ns
    assert counts["Latency Time (Read)"] == 0  # as Apple's driver reports it
    with storage.kernel.entered():
        driver.incrementRetries(True)
    assert statistics(driver)["Retries (Write)"] == 1
    assert driver.getStatistic(0) == after["Operations (Read)"]  # kStatisticsReads


def test_unaligned_reads_are_rounded_out_to_blocks_and_return_just_the_bytes_asked(
    storage: Bench, buffers: Buffers
) -> None:
    """A read starting and ending inside blocks is one aligned transfer of whole
    blocks; the client's buffer gets exactly its bytes."""
    image = pattern(64 * 512, seed=5)
    disk = storage.publish(blocks=64, image=image)
    media = storage.whole(disk)
    with opened(storage, media, kIOStorageAccessReader) as client, storage.kernel.entered():
        for start, length in ((100, 1000), (512 + 3, 509), (7, 1), (1024, 700), (511, 2)):
            disk.transfers.clear()
            target = buffers.reading(length)
            assert media.read(client, start, target) == (kIOReturnSuccess, length)
            assert bytes(target.getBytesNoCopy()) == image[start : start + length]
            (transfer,) = disk.transfers
            assert transfer.block == start // 512
            assert transfer.nblks == -(-(start + length) // 512) - start // 512


def test_unaligned_writes_read_modify_write_and_keep_the_bytes_around_them(
    storage: Bench, buffers: Buffers
) -> None:
    """A write inside blocks reads the first and last block, then writes them back
    with the client's bytes in between; one inside a single block reads it once."""
    image = pattern(64 * 512, seed=11)
    disk = storage.publish(blocks=64, image=image)
    media = storage.whole(disk)
    expected = bytearray(image)
    with opened(storage, media, kIOStorageAccessReaderWriter) as client, storage.kernel.entered():
        for start, length, reads in (
            (700, 1500, 2),
            (1024 + 5, 100, 1),
            (2048, 600, 1),
            (3000, 72, 1),
        ):
            disk.transfers.clear()
            data = pattern(length, seed=start)
            assert media.write(client, start, buffers.writing(data)) == (kIOReturnSuccess, length)
            expected[start : start + length] = data
            assert disk.data == expected
            kinds = [transfer.write for transfer in disk.transfers]
            assert kinds == [False] * reads + [True], (start, length, kinds)


def test_concurrent_unaligned_writes_to_one_block_do_not_lose_each_other(
    storage: Bench, buffers: Buffers
) -> None:
    """Two read-modify-writes of the same block, issued together, are serialised:
    both sets of bytes land."""
    disk = storage.publish(blocks=16, image=bytes(16 * 512))
    media = storage.whole(disk)
    results: list[int] = []

    def done(target: object, parameter: object, status: int, count: int) -> None:
        results.append(status)

    with opened(storage, media, kIOStorageAccessReaderWriter) as client:
        with storage.kernel.entered():
            first, second = buffers.writing(b"\x11" * 10), buffers.writing(b"\x22" * 10)
            threads = [
                storage.kernel.scheduler.spawn(
                    media.write,
                    client,
                    offset,
                    buffer,
                    None,
                    IOStorageCompletion(None, done),
                    name=f"writer {offset}",
                )
                for offset, buffer in ((100, first), (300, second))
            ]
        for thread in threads:
            assert thread.join()
        storage.run(10 * MILLISECOND)
    assert results == [kIOReturnSuccess, kIOReturnSuccess]
    assert disk.data[100:110] == b"\x11" * 10
    assert disk.data[300:310] == b"\x22" * 10
    assert disk.data[:100] == bytes(100)
    assert disk.data[310:512] == bytes(202)


def test_requests_beyond_the_block_and_byte_limits_are_sent_in_pieces(
    storage: Bench, buffers: Buffers
) -> None:
    """IOMaximumBlockCountRead and IOMaximumByteCountWrite published on the device
    cut a request into pieces no larger, each at the right place, data intact."""
    image = pattern(512 * 512, seed=2)
    disk = storage.publish(
        blocks=512,
        image=image,
        properties={kIOMaximumBlockCountReadKey: 16, kIOMaximumByteCountWriteKey: 12 * 512},
    )
    media = storage.whole(disk)
    disk.transfers.clear()
    with opened(storage, media, kIOStorageAccessReaderWriter) as client, storage.kernel.entered():
        target = buffers.reading(100 * 512)
        assert media.read(client, 8 * 512, target) == (kIOReturnSuccess, 100 * 512)
        assert bytes(target.getBytesNoCopy()) == image[8 * 512 : 108 * 512]
        assert [(t.block, t.nblks) for t in disk.transfers] == [
            (8 + 16 * index, 16) for index in range(6)
        ] + [(104, 4)]
        assert [t.adjusted_offset for t in disk.transfers] == [16 * 512 * i for i in range(6)] + [
            96 * 512
        ]
        disk.transfers.clear()
        data = pattern(30 * 512, seed=77)
        assert media.write(client, 0, buffers.writing(data)) == (kIOReturnSuccess, 30 * 512)
        assert [t.nblks for t in disk.transfers] == [12, 12, 6]
        assert disk.data[: 30 * 512] == data


def test_a_scattered_buffer_is_cut_to_the_segment_count_limit(
    storage: Bench, buffers: Buffers
) -> None:
    """With IOMaximumSegmentCountRead = 2, a buffer of four physically separate
    pages goes out as pieces of at most two segments each."""
    image = pattern(64 * 512, seed=8)
    disk = storage.publish(blocks=64, image=image, properties={kIOMaximumSegmentCountReadKey: 2})
    media = storage.whole(disk)
    pages = [buffers.reading(4096 * 2) for _ in range(4)]
    with storage.kernel.entered():
        ranges = [(page.buffer_address() + 4096, 4096) for page in pages]  # 4 separate pages
        scattered = IOMemoryDescriptor.withAddressRanges(ranges, 4, kIODirectionIn, kernel_task)
        assert scattered is not None
    disk.transfers.clear()
    with opened(storage, media, kIOStorageAccessReader) as client, storage.kernel.entered():
        assert media.read(client, 0, scattered) == (kIOReturnSuccess, 4 * 4096)
        assert all(t.segments <= 2 for t in disk.transfers)
        assert len(disk.transfers) == 2
        for index, page in enumerate(pages):
            assert bytes(page.getBytesNoCopy()[4096:]) == image[index * 4096 : (index + 1) * 4096]
        scattered.release()


def test_device_errors_reach_the_client_and_a_short_transfer_is_an_underrun(
    storage: Bench, buffers: Buffers
) -> None:
    """A medium error is passed up with the bytes done before it; a transfer the
    device cut short without an error is kIOReturnUnderrun; a request whose
    attributes set reserved fields is kIOReturnBadArgument."""
    disk = storage.publish(blocks=64, properties={kIOMaximumBlockCountReadKey: 4})
    media = storage.whole(disk)
    with opened(storage, media, kIOStorageAccessReader) as client, storage.kernel.entered():
        disk.fail_blocks = {10}
        assert media.read(client, 0, buffers.reading(16 * 512)) == (kIOReturnIOError, 10 * 512)
        disk.fail_blocks = set()
        disk.short_by = 100
        assert media.read(client, 0, buffers.reading(1024)) == (kIOReturnUnderrun, 924)
        disk.short_by = 0
        bad = IOStorageAttributes(reserved0032=1)
        assert media.read(client, 0, buffers.reading(512), bad) == (kIOReturnBadArgument, 0)


def test_eject_is_refused_while_open_and_tears_the_media_down_when_closed(
    storage: Bench,
) -> None:
    """ejectMedia answers kIOReturnBusy while a client has the media open; closed,
    it flushes the cache, ejects and the media goes away (its BSD name with it)."""

    def ejectable(disk: KextLabTestRAMDisk) -> None:
        disk.removable = disk.ejectable = True

    disk = storage.publish(setup=ejectable)
    media = storage.whole(disk)
    driver = driver_of(media)
    with opened(storage, media, kIOStorageAccessReader), storage.kernel.entered():
        assert driver.ejectMedia() == kIOReturnBusy
    with storage.kernel.entered():
        assert driver.ejectMedia() == kIOReturnSuccess
    storage.kernel.wait_quiet()
    assert disk.ejects == 1
    assert disk.flushes == 1
    assert storage.media(disk) == []
    with storage.kernel.entered():
        assert driver.ejectMedia() == kIOReturnNoMedia


def test_media_that_leave_and_come_back_keep_their_unit(storage: Bench, buffers: Buffers) -> None:
    """An offline message terminates the media; an online one brings a new media
    with the new contents, named diskN again, while another disk keeps disk1."""

    def removable(disk: KextLabTestRAMDisk) -> None:
        disk.removable = disk.ejectable = True

    disk = storage.publish(blocks=32, setup=removable)
    other = storage.publish(blocks=32)
    with storage.kernel.entered():
        disk.remove()
    storage.kernel.wait_quiet()
    assert storage.media(disk) == []
    with storage.kernel.entered():
        disk.insert(pattern(512, seed=99))
    storage.kernel.wait_quiet()
    media = storage.whole(disk)
    assert to_user(media.getProperty("BSD Name")) == "disk0"
    assert to_user(storage.whole(other).getProperty("BSD Name")) == "disk1"
    with opened(storage, media, kIOStorageAccessReader) as client, storage.kernel.entered():
        target = buffers.reading(512)
        assert media.read(client, 0, target)[0] == kIOReturnSuccess
        assert bytes(target.getBytesNoCopy()) == pattern(512, seed=99)


def test_a_device_that_needs_polling_is_polled_until_its_driver_stops(storage: Bench) -> None:
    """reportPollRequirements(pollRequired) makes the driver check the media state
    every kPollerInterval ms; a medium inserted silently shows up; the poll ends with
    the driver."""

    def polled(disk: KextLabTestRAMDisk) -> None:
        disk.removable = disk.ejectable = True
        disk.poll_required = True
        disk.media_present = False

    with storage.kernel.entered():
        pass
    kernel = storage.kernel
    with kernel.entered():
        disk = KextLabTestRAMDisk()
        disk.init()
        disk.configure(32)
        polled(disk)
        assert disk.attach(kernel.platform_device)
        disk.registerService()
        disk.release()
    storage.run(10 * MILLISECOND)  # matched, started; the poll is pending for ever
    assert storage.media(disk) == []
    polls = disk.polls
    storage.run(3 * SECOND + MILLISECOND)
    assert disk.polls == polls + 3
    disk.media_present = True
    storage.run(SECOND)
    assert len(storage.media(disk)) == 1
    with kernel.entered():
        disk.terminate()
    storage.run(SECOND)
    polls = disk.polls
    storage.run(5 * SECOND)
    assert disk.polls == polls  # stopped polling


def test_terminating_a_device_with_requests_outstanding_fails_them_without_hanging(
    storage: Bench, buffers: Buffers
) -> None:
    """Requests held by the device when it is terminated complete with its error
    (kIOReturnNotAttached), the clients' completions run, later requests are
    refused with kIOReturnNoMedia, and the stack comes down once closed."""
    disk = storage.publish(blocks=64)
    media = storage.whole(disk)
    client = storage.client()
    results: list[tuple[int, int]] = []

    def done(target: object, parameter: object, status: int, count: int) -> None:
        results.append((status, count))

    with storage.kernel.entered():
        media.retain()
        assert media.open(client, 0, kIOStorageAccessReader)
        disk.hold = True
        for index in range(3):
            media.read(
                client, index * 512, buffers.reading(512), None, IOStorageCompletion(None, done)
            )
    assert len(disk.held) == 3
    assert results == []
    storage.terminate(disk, wait=False)
    assert results == [(kIOReturnNotAttached, 0)] * 3
    with storage.kernel.entered():
        assert media.read(client, 0, buffers.reading(512)) == (kIOReturnNoMedia, 0)
        media.close(client)
        client.release()
    storage.kernel.wait_quiet()
    assert media.getProvider() is None
    with storage.kernel.entered():
        media.release()
    counts = storage.kernel.classes.instance_counts()
    assert counts.get("IOMedia", 0) == 0
    assert counts.get("IOBlockStorageDriver", 0) == 0


def test_synchronize_reaches_the_device(storage: Bench) -> None:
    """IOMedia.synchronize (and synchronizeCache) ask the device to flush."""
    disk = storage.publish(blocks=32)
    media = storage.whole(disk)
    with opened(storage, media, kIOStorageAccessReaderWriter) as client, storage.kernel.entered():
        assert media.synchronize(client, 0, 0) == kIOReturnSuccess
        assert media.synchronizeCache(client) == kIOReturnSuccess
    assert disk.flushes == 2


def test_a_device_whose_capacity_changed_updates_its_live_media(storage: Bench) -> None:
    """kIOMessageMediaParametersHaveChanged re-reads the geometry into the media
    (``Size``) without tearing it down."""
    disk = storage.publish(blocks=64)
    media = storage.whole(disk)
    disk.data.extend(bytes(64 * 512))
    with storage.kernel.entered():
        assert disk.messageClients(kIOMessageMediaParametersHaveChanged) == kIOReturnSuccess
    storage.kernel.wait_quiet()
    assert storage.whole(disk) is media
    assert to_user(media.getProperty("Size")) == 128 * 512
    assert media.getSize() == 128 * 512


def test_the_write_cache_state_is_a_property_that_asks_the_device(storage: Bench) -> None:
    """``WriteCacheState`` is read from and set through the device's
    getWriteCacheState/setWriteCacheState; a device without them has none."""
    disk = storage.publish(blocks=64)
    assert disk.getProperty("WriteCacheState") is None
    state = {"enabled": True}

    def get(enabled: BoolRef) -> int:
        enabled.value = state["enabled"]
        return kIOReturnSuccess

    def set_(enabled: bool) -> int:
        state["enabled"] = enabled
        return kIOReturnSuccess

    disk.getWriteCacheState, disk.setWriteCacheState = get, set_
    assert to_user(disk.getProperty("WriteCacheState")) is True
    with storage.kernel.entered():
        request = from_python({"WriteCacheState": False})
        assert disk.setProperties(request) == kIOReturnSuccess
        request.release()
    assert state["enabled"] is False
    assert to_user(disk.getProperty("WriteCacheState")) is False
