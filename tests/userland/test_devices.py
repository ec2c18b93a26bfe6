"""/dev/diskN and /dev/rdiskN: opening media by BSD name, reading and writing at byte
offsets through IOMedia into task memory, BSD's end-of-media and alignment rules,
asynchronous queue depth, errors as errno, opens that combine and exclude, and
``diskutil list`` data, on a RAM disk driven by IOStorageFamily's own driver."""

from __future__ import annotations

import errno
import os
import re

import pytest

from kextlab.kernel import ioreturn as r
from kextlab.kernel.kernel import Kernel
from kextlab.userland import iokitlib as io
from kextlab.userland.devices import (
    O_EXLOCK,
    O_SHLOCK,
    DiskIO,
    errnoFromReturn,
    list_disks,
    open_device,
)
from kextlab.userland.user_task import UserTask

from .ramdisk import add_ramdisk

BLOCK = 512
BLOCKS = 2048


def raises_errno(code: int) -> pytest.RaisesContext[OSError]:
    """``pytest.raises`` for an ``OSError`` whose message carries ``code``'s text."""
    return pytest.raises(OSError, match=re.escape(os.strerror(code)))


def pattern(seed: int, length: int) -> bytes:
    return bytes((seed * 31 + index * 7 + (index >> 9)) & 0xFF for index in range(length))


def media_property(kernel: Kernel, name: str, key: str) -> object:
    port = io.IOMainPort(kernel.registry, kernel)
    media = io.IOServiceGetMatchingService(
        port, {"IOProviderClass": "IOMedia", "IOPropertyMatch": {"BSD Name": name}}
    )
    assert media is not None
    return io.IORegistryEntryCreateCFProperty(media, key)


def test_list_disks_shows_the_named_media(kernel: Kernel) -> None:
    """diskutil list's data: BSD name, size, block size, whole, writable, device paths."""
    add_ramdisk(kernel, BLOCKS)
    (disk,) = list_disks(io.IOMainPort(kernel.registry, kernel))
    assert (disk.name, disk.size, disk.block_size) == ("disk0", BLOCKS * BLOCK, BLOCK)
    assert disk.whole
    assert disk.writable
    assert disk.parent is None
    assert (disk.path, disk.raw_path) == ("/dev/disk0", "/dev/rdisk0")


def test_the_raw_device_reads_and_writes_whole_blocks_through_iomedia(kernel: Kernel) -> None:
    """pwrite/pread on /dev/rdisk0 move the bytes to the disk and back."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    payload = pattern(1, 8 * BLOCK)
    with UserTask(kernel, "dd") as task, open_device(task, "/dev/rdisk0", os.O_RDWR) as device:
        assert (device.block_size, device.block_count) == (BLOCK, BLOCKS)
        assert device.pwrite(payload, 16 * BLOCK) == len(payload)
        assert ramdisk.data[16 * BLOCK : 24 * BLOCK] == payload
        assert device.pread(8 * BLOCK, 16 * BLOCK) == payload


def test_the_raw_device_refuses_what_is_not_block_aligned(kernel: Kernel) -> None:
    """Offsets and lengths that are not multiples of the block size, and zero-byte
    transfers, are EINVAL on the raw device."""
    add_ramdisk(kernel, BLOCKS)
    with UserTask(kernel, "dd") as task, open_device(task, "/dev/rdisk0", os.O_RDWR) as device:
        for length, offset in ((BLOCK, 100), (100, 0), (0, 0)):
            with raises_errno(errno.EINVAL) as caught:
                device.pread(length, offset)
            assert caught.value.errno == errno.EINVAL
            assert "/dev/rdisk0" in str(caught.value)


def test_the_block_device_takes_unaligned_transfers_and_keeps_the_neighbours(
    kernel: Kernel,
) -> None:
    """/dev/disk0 reads and writes at any offset: whole blocks around the range go
    through a kernel bounce buffer, and the bytes beside the range stay as they were."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    before = pattern(2, 4 * BLOCK)
    ramdisk.data[0 : 4 * BLOCK] = before
    with UserTask(kernel, "cat") as task, open_device(task, "/dev/disk0", os.O_RDWR) as device:
        assert device.pread(700, 300) == before[300:1000]
        assert device.pwrite(b"x" * 700, 300) == 700
    assert ramdisk.data[0:300] == before[:300]
    assert ramdisk.data[300:1000] == b"x" * 700
    assert ramdisk.data[1000 : 4 * BLOCK] == before[1000:]


def test_bsd_end_of_media_rules(kernel: Kernel) -> None:
    """A read at the end reads nothing, one across it is clipped; a write at the end
    is EIO, one across it is clipped."""
    add_ramdisk(kernel, BLOCKS)
    end = BLOCKS * BLOCK
    with UserTask(kernel, "tail") as task, open_device(task, "/dev/rdisk0", os.O_RDWR) as device:
        assert device.pread(BLOCK, end) == b""
        assert len(device.pread(4 * BLOCK, end - BLOCK)) == BLOCK
        assert device.pwrite(bytes(4 * BLOCK), end - 2 * BLOCK) == 2 * BLOCK
        with raises_errno(errno.EIO) as caught:
            device.pwrite(bytes(BLOCK), end)
        assert caught.value.errno == errno.EIO


def test_transfers_land_in_task_memory_without_copies(kernel: Kernel) -> None:
    """preadinto and pwritefrom move data between the disk and the program's own
    buffers, fragmented ones included (every page a DMA segment)."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    payload = pattern(3, 16 * BLOCK)
    ramdisk.data[0 : 16 * BLOCK] = payload
    with UserTask(kernel, "zerocopy") as task, open_device(task, "rdisk0", os.O_RDWR) as device:
        buffer = task.vm_allocate(16 * BLOCK, fragmented=True)
        assert device.preadinto(buffer, 0) == 16 * BLOCK
        assert buffer.read() == payload
        buffer.write(pattern(4, 16 * BLOCK))
        assert device.pwritefrom(buffer, 64 * BLOCK) == 16 * BLOCK
        assert ramdisk.data[64 * BLOCK : 80 * BLOCK] == pattern(4, 16 * BLOCK)
        buffer.deallocate()


def test_thirty_two_asynchronous_reads_are_in_flight_at_once(kernel: Kernel) -> None:
    """submit_read returns at once; 32 submitted together reach the device together
    (queue depth 32), finish together, and each lands in its own buffer."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    for block in range(64):
        ramdisk.data[block * BLOCK : (block + 1) * BLOCK] = pattern(block, BLOCK)
    with UserTask(kernel, "qd32") as task, open_device(task, "/dev/rdisk0") as device:
        buffers = [task.vm_allocate(BLOCK) for _ in range(32)]

        def main() -> list[int]:
            ios = [
                device.submit_read(buffer, 2 * index * BLOCK, BLOCK)
                for index, buffer in enumerate(buffers)
            ]
            assert not any(item.done for item in ios)
            assert task.wait_all(ios)
            return [item.result() for item in ios]

        start = kernel.scheduler.now
        assert task.run(main) == [BLOCK] * 32
        assert ramdisk.most_in_flight == 32
        assert kernel.scheduler.now - start < 2 * ramdisk.latency_us * 1000  # one round
        for index, buffer in enumerate(buffers):
            assert buffer.read(0, BLOCK) == pattern(2 * index, BLOCK)


def test_wait_any_keeps_a_queue_full(kernel: Kernel) -> None:
    """A queue-depth-4 loop from the host: wait_any for one, submit the next, until a
    hundred writes are done; the disk holds them all."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    with (
        UserTask(kernel, "writer") as task,
        open_device(task, "/dev/rdisk0", os.O_WRONLY) as device,
    ):
        in_flight: dict[DiskIO, int] = {}
        buffers = [task.vm_allocate(BLOCK) for _ in range(4)]
        free = list(range(4))
        for block in range(100):
            if not free:
                finished = task.wait_any(list(in_flight))
                assert isinstance(finished, DiskIO)
                assert finished.result() == BLOCK
                free.append(in_flight.pop(finished))
            slot = free.pop()
            buffers[slot].write(pattern(block, BLOCK))
            in_flight[device.submit_write(buffers[slot], block * BLOCK, BLOCK)] = slot
        assert task.wait_all(list(in_flight))
        assert ramdisk.most_in_flight == 4
    for block in range(100):
        assert ramdisk.data[block * BLOCK : (block + 1) * BLOCK] == pattern(block, BLOCK)


def test_device_errors_are_oserrors_with_errno(kernel: Kernel) -> None:
    """A bad block is EIO (synchronously and from an asynchronous read); an unknown
    name is ENXIO; writing through a read-only open is EBADF; an unaligned
    asynchronous request is EINVAL."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    ramdisk.bad_blocks.add(10)
    with UserTask(kernel, "errors") as task:
        with raises_errno(errno.ENXIO) as caught:
            open_device(task, "/dev/rdisk9")
        assert caught.value.errno == errno.ENXIO
        with open_device(task, "/dev/rdisk0") as device:
            with raises_errno(errno.EIO) as caught:
                device.pread(4 * BLOCK, 8 * BLOCK)
            assert caught.value.errno == errno.EIO
            buffer = task.vm_allocate(BLOCK)
            failed = device.submit_read(buffer, 10 * BLOCK)
            task.wait_all([failed])
            with raises_errno(errno.EIO) as caught:
                failed.result()
            assert caught.value.errno == errno.EIO
            unaligned = device.submit_read(buffer, 100)
            assert unaligned.done
            with raises_errno(errno.EINVAL) as caught:
                unaligned.result()
            assert caught.value.errno == errno.EINVAL
            with raises_errno(errno.EBADF) as caught:
                device.pwrite(bytes(BLOCK), 0)
            assert caught.value.errno == errno.EBADF


def test_a_write_protected_disk_cannot_be_opened_for_writing(kernel: Kernel) -> None:
    """Opening a read-only media for writing is EACCES; reading works."""
    add_ramdisk(kernel, BLOCKS, write_protected=True)
    with UserTask(kernel, "ro") as task:
        with raises_errno(errno.EACCES) as caught:
            open_device(task, "/dev/rdisk0", os.O_RDWR)
        assert caught.value.errno == errno.EACCES
        with open_device(task, "/dev/rdisk0") as device:
            assert device.pread(BLOCK, 0) == bytes(BLOCK)


def test_opens_combine_and_an_exclusive_lock_excludes_everyone(kernel: Kernel) -> None:
    """Readers and writers share the media (the BSD client holds it open, 'Open' is
    true); O_EXLOCK is refused while anyone has it open and refuses everyone while
    held; the last close closes the media."""
    add_ramdisk(kernel, BLOCKS)
    with UserTask(kernel, "one") as one, UserTask(kernel, "two") as two:
        reader = open_device(one, "/dev/disk0")
        writer = open_device(two, "/dev/rdisk0", os.O_RDWR | O_SHLOCK)
        assert media_property(kernel, "disk0", "Open") is True
        with raises_errno(errno.EBUSY) as caught:
            open_device(two, "/dev/rdisk0", os.O_RDONLY | O_EXLOCK)
        assert caught.value.errno == errno.EBUSY
        reader.close()
        writer.close()
        kernel.machine.run()
        assert media_property(kernel, "disk0", "Open") is False
        exclusive = open_device(one, "/dev/rdisk0", os.O_RDWR | O_EXLOCK)
        with raises_errno(errno.EBUSY) as caught:
            open_device(two, "/dev/disk0")
        assert caught.value.errno == errno.EBUSY
        exclusive.close()


def test_fsync_flushes_the_disk_cache(kernel: Kernel) -> None:
    """fsync is DKIOCSYNCHRONIZE: IOMedia.synchronize reaches the device."""
    ramdisk = add_ramdisk(kernel, BLOCKS)
    with UserTask(kernel, "sync") as task, open_device(task, "/dev/rdisk0", os.O_RDWR) as device:
        device.pwrite(bytes(BLOCK), 0)
        device.fsync()
    assert ramdisk.flushes == 1


def test_a_task_that_ends_with_a_device_open_closes_it(kernel: Kernel) -> None:
    """Nodes left open when the task ends are closed for it: the media is closed and
    the task's staging memory is gone."""
    add_ramdisk(kernel, BLOCKS)
    with UserTask(kernel, "leaver") as task:
        device = open_device(task, "/dev/rdisk0", os.O_RDWR)
        device.pwrite(bytes(BLOCK), 0)
        assert media_property(kernel, "disk0", "Open") is True
    kernel.machine.run()
    assert media_property(kernel, "disk0", "Open") is False
    with raises_errno(errno.EBADF) as caught:
        device.pread(BLOCK, 0)
    assert caught.value.errno == errno.EBADF


def test_statistics_count_what_user_space_moved(kernel: Kernel) -> None:
    """IOBlockStorageDriver's Statistics see the reads and writes made through the
    device node (what iostat will print)."""
    add_ramdisk(kernel, BLOCKS)
    port = io.IOMainPort(kernel.registry, kernel)
    driver = io.IOServiceGetMatchingService(port, {"IOProviderClass": "IOBlockStorageDriver"})
    assert driver is not None

    def statistics() -> dict[str, int]:
        table = io.IORegistryEntryCreateCFProperty(driver, "Statistics")
        assert isinstance(table, dict)
        return table

    before = statistics()  # the partition schemes have read the disk already
    with UserTask(kernel, "stats") as task, open_device(task, "/dev/rdisk0", os.O_RDWR) as device:
        device.pwrite(bytes(4 * BLOCK), 0)
        device.pread(2 * BLOCK, 0)
        device.pread(2 * BLOCK, 0)
    after = statistics()
    moved = {key: after[key] - before[key] for key in after if isinstance(after[key], int)}
    assert moved["Operations (Write)"] == 1
    assert moved["Bytes (Write)"] == 4 * BLOCK
    assert moved["Operations (Read)"] == 2
    assert moved["Bytes (Read)"] == 4 * BLOCK


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (r.kIOReturnSuccess, 0),
        (r.kIOReturnIOError, errno.EIO),
        (r.kIOReturnNotWritable, errno.EROFS),
        (r.kIOReturnNoDevice, errno.ENXIO),
        (r.kIOReturnNoMedia, errno.ENXIO),
        (r.kIOReturnNotAligned, errno.EINVAL),
        (r.kIOReturnTimeout, errno.ETIMEDOUT),
        (r.kIOReturnExclusiveAccess, errno.EACCES),
        (r.kIOReturnBusy, errno.EBUSY),
        (r.kIOReturnVMError, errno.EFAULT),
        (r.kIOReturnError, errno.EIO),
        ((3 << 14) | errno.ENOSPC, errno.ENOSPC),
    ],
)
def test_errno_from_ioreturn_follows_ioservice(status: int, code: int) -> None:
    """errnoFromReturn maps as IOService::errnoFromReturn does (unix_err codes pass)."""
    assert errnoFromReturn(status) == code
