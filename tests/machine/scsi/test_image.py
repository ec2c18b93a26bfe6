"""The disk image: the file, its sizes, and the write-back cache of dirty extents.

Everything here drives ``DiskImage`` directly, in blocks, and looks at the host file
with ordinary reads to tell what is on the "medium" and what is only in the cache.
"""

from __future__ import annotations

import errno
import itertools
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kextlab.machine.scsi import image as image_module
from kextlab.machine.scsi.image import DiskImage, DiskImageError

BLOCK = 512
BLOCKS = 256


def pattern(seed: int, blocks: int, block_size: int = BLOCK) -> bytes:
    """``blocks`` blocks of seeded random bytes: data read from the wrong place, or
    written at the wrong time, shows."""
    return random.Random(seed).randbytes(blocks * block_size)


def file_blocks(path: Path, block: int, count: int, block_size: int = BLOCK) -> bytes:
    """What the host file holds: the "medium", without the cache."""
    with path.open("rb") as file:
        file.seek(block * block_size)
        return file.read(count * block_size)


def read(image: DiskImage, block: int, count: int, **options: bool) -> bytes:
    buffer = bytearray(count * image.block_size)
    image.read(block, count, [memoryview(buffer)], **options)
    return bytes(buffer)


def write(image: DiskImage, block: int, data: bytes, **options: bool) -> None:
    image.write(block, len(data) // image.block_size, [memoryview(data)], **options)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "disk.img"


@pytest.fixture
def image(path: Path) -> Iterator[DiskImage]:
    with DiskImage(path, size=BLOCKS * BLOCK) as opened:
        yield opened


# -- the file ---------------------------------------------------------------------------------


def test_a_missing_image_is_created_sparse_at_the_requested_size(path: Path) -> None:
    """The file appears with the size asked for and (on a sparse-capable host) no data blocks."""
    with DiskImage(path, size=64 << 20) as image:
        assert image.blocks == (64 << 20) // BLOCK
    assert path.stat().st_size == 64 << 20
    assert path.stat().st_blocks * 512 < 1 << 20


def test_an_existing_image_keeps_its_size_and_grows_only_when_asked(path: Path) -> None:
    """Reopening without a size keeps the file as it is; a larger size grows it, keeping data."""
    with DiskImage(path, size=8 * BLOCK) as image:
        write(image, 7, pattern(1, 1))
    with DiskImage(path) as image:
        assert image.blocks == 8
    with DiskImage(path, size=16 * BLOCK) as image:
        assert image.blocks == 16
        assert read(image, 7, 1) == pattern(1, 1)
    assert path.stat().st_size == 16 * BLOCK


def test_an_image_never_shrinks(path: Path) -> None:
    """Asking for less than the file holds is refused, naming the file; the file is untouched."""
    DiskImage(path, size=16 * BLOCK).close()
    with pytest.raises(DiskImageError, match=f"{path}.*never shrink"):
        DiskImage(path, size=8 * BLOCK)
    assert path.stat().st_size == 16 * BLOCK


def test_a_file_that_is_not_whole_blocks_is_refused_by_name(path: Path) -> None:
    """A 1000-byte file is not a disk of 512-byte blocks: a ValueError naming the file."""
    path.write_bytes(bytes(1000))
    with pytest.raises(ValueError, match=f"{path}: size 1000 bytes is not a positive multiple"):
        DiskImage(path)
    path.write_bytes(b"")
    with pytest.raises(DiskImageError, match="size 0 bytes"):
        DiskImage(path)


def test_a_missing_image_without_a_size_is_refused(path: Path) -> None:
    """Nothing to create it from: the error says so, and no file is left behind."""
    with pytest.raises(DiskImageError, match="no size to create it"):
        DiskImage(path)
    with pytest.raises(DiskImageError, match="read-only"):
        DiskImage(path, size=BLOCK, read_only=True)
    assert not path.exists()


@pytest.mark.parametrize("block_size", [0, 511, 520, 3000, 1 << 17])
def test_block_sizes_must_be_powers_of_two_from_512_to_64_kib(path: Path, block_size: int) -> None:
    """A disk's logical block is 512 bytes to 64 KiB, a power of two."""
    with pytest.raises(DiskImageError, match="block size"):
        DiskImage(path, size=1 << 20, block_size=block_size)


def test_a_requested_size_must_be_whole_blocks(path: Path) -> None:
    """``size`` that is not a multiple of the block size is refused before touching the file."""
    with pytest.raises(DiskImageError, match="requested size 1000"):
        DiskImage(path, size=1000)
    assert not path.exists()


def test_grow_extends_the_file_and_tells_the_listeners(image: DiskImage, path: Path) -> None:
    """Growing notifies with the new block count; shrinking or part blocks are refused."""
    seen: list[int] = []
    image.on_resize.append(seen.append)
    image.grow(512 * BLOCK)
    assert seen == [512]
    assert path.stat().st_size == 512 * BLOCK
    with pytest.raises(DiskImageError, match="only grow"):
        image.grow(8 * BLOCK)
    with pytest.raises(DiskImageError, match="only grow"):
        image.grow(600 * BLOCK + 1)
    image.grow(512 * BLOCK)
    assert seen == [512]


def test_close_writes_the_cache_back_and_is_idempotent(path: Path) -> None:
    """Data only in the cache reaches the file on close; closing twice is harmless."""
    image = DiskImage(path, size=BLOCKS * BLOCK)
    write(image, 3, pattern(2, 2))
    assert file_blocks(path, 3, 2) == bytes(2 * BLOCK)
    image.close()
    image.close()
    assert image.closed
    assert file_blocks(path, 3, 2) == pattern(2, 2)


# -- the cache ----------------------------------------------------------------------------------


def test_cached_writes_are_read_back_before_they_reach_the_file(
    image: DiskImage, path: Path
) -> None:
    """A write completes into the cache: reads see it, the file does not, until a flush."""
    write(image, 10, pattern(3, 4))
    assert read(image, 10, 4) == pattern(3, 4)
    assert file_blocks(path, 10, 4) == bytes(4 * BLOCK)
    assert image.dirty_bytes == 4 * BLOCK
    image.flush()
    assert file_blocks(path, 10, 4) == pattern(3, 4)
    assert image.dirty_bytes == 0


def test_a_flush_of_a_range_leaves_the_rest_of_the_cache_dirty(
    image: DiskImage, path: Path
) -> None:
    """Flushing blocks 12-15 writes exactly those: an extent straddling the range is split."""
    write(image, 10, pattern(4, 10))
    image.flush(12, 4)
    assert image.dirty_ranges() == [(10, 2), (16, 4)]
    assert file_blocks(path, 10, 10) == bytes(2 * BLOCK) + pattern(4, 10)[
        2 * BLOCK : 6 * BLOCK
    ] + bytes(4 * BLOCK)
    assert read(image, 10, 10) == pattern(4, 10)


def test_power_loss_drops_only_what_was_not_flushed(path: Path) -> None:
    """Flushed data survives a power loss and a reopen; unflushed data is gone."""
    image = DiskImage(path, size=BLOCKS * BLOCK)
    write(image, 0, pattern(5, 2))
    image.flush()
    write(image, 1, pattern(6, 2))  # overwrites block 1, adds block 2: cache only
    image.power_loss()
    assert image.dirty_bytes == 0
    image.close()
    with DiskImage(path) as reopened:
        assert read(reopened, 0, 3) == pattern(5, 2) + bytes(BLOCK)


def test_force_unit_access_writes_reach_the_file_at_once(image: DiskImage, path: Path) -> None:
    """FUA bypasses the cache and survives a power loss."""
    write(image, 20, pattern(7, 3), force_unit_access=True)
    assert file_blocks(path, 20, 3) == pattern(7, 3)
    assert image.dirty_bytes == 0
    image.power_loss()
    assert read(image, 20, 3) == pattern(7, 3)


def test_a_write_through_supersedes_older_cached_data(image: DiskImage, path: Path) -> None:
    """Cached data under a FUA write is dropped, so a later flush cannot write it back."""
    write(image, 30, pattern(8, 4))
    write(image, 31, pattern(9, 2), force_unit_access=True)
    assert image.dirty_ranges() == [(30, 1), (33, 1)]
    image.flush()
    expected = pattern(8, 4)[:BLOCK] + pattern(9, 2) + pattern(8, 4)[3 * BLOCK :]
    assert file_blocks(path, 30, 4) == expected
    assert read(image, 30, 4) == expected


def test_a_force_unit_access_read_writes_back_the_blocks_it_covers(
    image: DiskImage, path: Path
) -> None:
    """SBC-3: FUA on a read takes the data from the medium, so cached blocks go there first."""
    write(image, 40, pattern(10, 4))
    write(image, 60, pattern(11, 1))
    assert read(image, 41, 2, force_unit_access=True) == pattern(10, 4)[BLOCK : 3 * BLOCK]
    assert file_blocks(path, 41, 2) == pattern(10, 4)[BLOCK : 3 * BLOCK]
    assert image.dirty_ranges() == [(40, 1), (43, 1), (60, 1)]


def test_turning_the_cache_off_writes_it_back_and_writes_go_through(
    image: DiskImage, path: Path
) -> None:
    """WCE=0: the cache is flushed first, and later writes reach the file immediately."""
    write(image, 50, pattern(12, 1))
    image.set_write_cache(False)
    assert file_blocks(path, 50, 1) == pattern(12, 1)
    write(image, 51, pattern(13, 1))
    assert file_blocks(path, 51, 1) == pattern(13, 1)
    assert not image.write_cache_enabled
    assert image.dirty_bytes == 0


def test_the_cache_writes_everything_back_when_it_passes_its_limit(path: Path) -> None:
    """A full cache destages: past ``cache_limit`` dirty bytes everything reaches the file."""
    with DiskImage(path, size=BLOCKS * BLOCK, cache_limit=8 * BLOCK) as image:
        write(image, 0, pattern(14, 8))
        assert image.dirty_bytes == 8 * BLOCK
        write(image, 100, pattern(15, 1))
        assert image.dirty_bytes == 0
        assert file_blocks(path, 0, 8) == pattern(14, 8)
        assert file_blocks(path, 100, 1) == pattern(15, 1)


def test_reads_fill_scattered_views_across_cached_and_uncached_blocks(image: DiskImage) -> None:
    """A scatter list with odd segment sizes gets the right bytes in the right places."""
    write(image, 0, pattern(16, 16))
    image.flush()
    write(image, 3, pattern(17, 2))
    write(image, 9, pattern(18, 3))
    expected = bytearray(pattern(16, 16))
    expected[3 * BLOCK : 5 * BLOCK] = pattern(17, 2)
    expected[9 * BLOCK : 12 * BLOCK] = pattern(18, 3)
    buffer = bytearray(16 * BLOCK)
    cuts = [0, 100, 1500, 1501, 4000, 6000, 16 * BLOCK]
    views = [memoryview(buffer)[start:end] for start, end in itertools.pairwise(cuts)]
    image.read(0, 16, views)
    assert buffer == expected


def test_the_cache_agrees_with_a_simple_model_through_random_writes_and_flushes(
    path: Path,
) -> None:
    """Seeded random writes (plain, FUA, overlapping), flushes of ranges and reads keep
    the image equal to a byte array, the file equal to what was flushed, and a power
    loss brings the image back to the file."""
    rng = random.Random(6)
    image = DiskImage(path, size=64 * BLOCK)
    model = bytearray(64 * BLOCK)
    medium = bytearray(64 * BLOCK)
    for step in range(400):
        action = rng.random()
        block = rng.randrange(64)
        count = rng.randrange(1, 65 - block)
        if action < 0.6:
            data = pattern(step, count)
            fua = rng.random() < 0.15
            write(image, block, data, force_unit_access=fua)
            model[block * BLOCK : (block + count) * BLOCK] = data
            if fua:
                medium[block * BLOCK : (block + count) * BLOCK] = data
        elif action < 0.8:
            image.flush(block, count)
            medium[block * BLOCK : (block + count) * BLOCK] = model[
                block * BLOCK : (block + count) * BLOCK
            ]
        else:
            assert read(image, block, count) == model[block * BLOCK : (block + count) * BLOCK]
        assert file_blocks(path, 0, 64) == medium, f"step {step}"
        ranges = image.dirty_ranges()
        assert all(a + n <= b for (a, n), (b, _) in itertools.pairwise(ranges))
    assert read(image, 0, 64) == model
    image.power_loss()
    assert read(image, 0, 64) == medium
    image.close()


def test_write_same_fills_a_range_larger_than_one_chunk(image: DiskImage, path: Path) -> None:
    """One block repeated over more blocks than a 1 MiB chunk holds, cached then flushed."""
    image.grow(5000 * BLOCK)
    block = pattern(19, 1)
    image.write_same(100, 4500, block)
    assert read(image, 100, 4500) == block * 4500
    assert read(image, 99, 1) == bytes(BLOCK)
    image.flush()
    assert file_blocks(path, 100, 4500) == block * 4500
    assert file_blocks(path, 4600, 1) == bytes(BLOCK)


def test_unmapped_blocks_read_as_zeros_even_over_cached_data(image: DiskImage, path: Path) -> None:
    """Unmap drops cached data for the range and zeroes the file there, durably."""
    write(image, 0, pattern(20, 16), force_unit_access=True)
    write(image, 4, pattern(21, 4))
    image.unmap(2, 8)
    assert (
        read(image, 0, 16)
        == pattern(20, 16)[: 2 * BLOCK] + bytes(8 * BLOCK) + pattern(20, 16)[10 * BLOCK :]
    )
    assert image.dirty_bytes == 0
    assert file_blocks(path, 2, 8) == bytes(8 * BLOCK)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FALLOC_FL_PUNCH_HOLE is Linux's")
def test_unmap_punches_a_hole_in_the_file(path: Path) -> None:
    """Deallocated blocks give their host storage back (fallocate PUNCH_HOLE)."""
    with DiskImage(path, size=4 << 20) as image:
        write(image, 0, pattern(22, 8192), force_unit_access=True)
        allocated = path.stat().st_blocks
        image.unmap(0, 8192)
        assert path.stat().st_blocks < allocated // 4
        assert path.stat().st_size == 4 << 20


def test_a_read_only_image_refuses_writes_with_erofs(path: Path) -> None:
    """Writes, write-same, unmap and grow on a read-only image are OSError EROFS."""
    DiskImage(path, size=BLOCKS * BLOCK).close()
    with DiskImage(path, read_only=True) as image:
        assert read(image, 0, 1) == bytes(BLOCK)
        for attempt in (
            lambda: write(image, 0, pattern(23, 1)),
            lambda: image.write_same(0, 2, pattern(23, 1)),
            lambda: image.unmap(0, 1),
            lambda: image.grow(2 * BLOCKS * BLOCK),
        ):
            with pytest.raises(OSError, match="read-only") as caught:
                attempt()
            assert caught.value.errno == errno.EROFS


def test_buffers_that_do_not_match_the_block_count_are_a_caller_bug(image: DiskImage) -> None:
    """The disk sizes every transfer first; a mismatch here raises rather than corrupting."""
    with pytest.raises(ValueError, match="buffers of 100 bytes"):
        image.read(0, 1, [memoryview(bytearray(100))])
    with pytest.raises(ValueError, match="outside the image"):
        image.write(BLOCKS, 1, [memoryview(bytes(BLOCK))])


def test_4096_byte_blocks_are_addressed_by_block(path: Path) -> None:
    """With 4 KiB blocks, block 3 is at byte 12288 of the file."""
    with DiskImage(path, size=16 * 4096, block_size=4096) as image:
        assert image.blocks == 16
        write(image, 3, pattern(24, 1, 4096), force_unit_access=True)
    assert file_blocks(path, 3, 1, 4096) == pattern(24, 1, 4096)


# -- the copies -------------------------------------------------------------------------------


def test_a_clean_read_is_one_preadv_into_the_callers_own_views(
    image: DiskImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARCHITECTURE.md §8: with nothing cached, data goes from the file straight into
    the initiator's memoryviews, in one call, with no intermediate buffer."""
    calls: list[list[memoryview]] = []
    real = image_module._preadv

    def spy(fd: int, views: list[memoryview], offset: int) -> int:
        calls.append(list(views))
        return real(fd, views, offset)

    monkeypatch.setattr(image_module, "_preadv", spy)
    buffer = bytearray(2048 * BLOCK // 8)
    views = [memoryview(buffer)[:4096], memoryview(buffer)[4096:]]
    image.read(0, len(buffer) // BLOCK, views)
    assert len(calls) == 1
    assert all(seen is mine for seen, mine in zip(calls[0], views, strict=True))


def test_a_write_through_is_one_pwritev_from_the_callers_own_views(
    image: DiskImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cache off, a write is a single pwritev of the initiator's views."""
    calls: list[list[memoryview]] = []
    real = image_module._pwritev

    def spy(fd: int, views: list[memoryview], offset: int) -> int:
        calls.append(list(views))
        return real(fd, views, offset)

    monkeypatch.setattr(image_module, "_pwritev", spy)
    image.set_write_cache(False)
    data = bytearray(pattern(25, 8))
    views = [memoryview(data)[:BLOCK], memoryview(data)[BLOCK:]]
    image.write(0, 8, views)
    assert len(calls) == 1
    assert all(seen is mine for seen, mine in zip(calls[0], views, strict=True))
