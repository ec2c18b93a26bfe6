"""Raw disk images: the medium behind a disk target, with the drive's write-back cache.

A ``DiskImage`` owns one host file holding a raw disk image (block 0 at offset 0, no
header, the format QEMU calls ``raw``) and a model of the volatile write cache every
real drive has.  The disk target (``kextlab.machine.scsi.disk``) reads and writes it
in logical blocks; SBC-3 decides *when* data must be on the medium, this module makes
it so.  It knows no SCSI: errors are ``OSError`` with the host's errno, which the disk
translates into sense data (QEMU's ``scsi_sense_from_errno``).

The file
--------
An image that does not exist is created sparse, at the requested size (``ftruncate``),
so a 2 TiB disk costs nothing until written.  An existing image keeps its size, grows
when asked for more (``size=`` larger than the file, or ``grow``), and never shrinks.
Its size must be a non-zero multiple of the block size: a disk has whole blocks only,
and a file that is not is almost certainly the wrong file (``DiskImageError``, naming
it).  A read-only image is opened ``O_RDONLY``: the disk reports it write-protected.

The write-back cache, and why it looks like this
------------------------------------------------
What it must model (SBC-3 on caches, FUA and SYNCHRONIZE CACHE): a write completes
as soon as its data is in the cache; reads see the newest data, cached or not;
SYNCHRONIZE CACHE writes the cached blocks of a range to the medium; a write with
FUA, or any write while the caching mode page's WCE bit is zero, reaches the medium
before it completes; a READ with FUA first writes back the cached blocks it covers;
and a power loss loses what was only in the cache.  Drivers get exactly these
promises wrong (a missing SYNCHRONIZE CACHE before a power-off, a journal written
without FUA), so kextlab must let a test cut the power and see the damage:
``power_loss()`` drops the cache and leaves the file with exactly what was flushed.

The data structure is a map of *dirty extents*: runs of consecutive blocks, each a
read-only memoryview over a buffer the cache owns (or, for WRITE SAME, an immutable
chunk several extents share), keyed by first block, kept sorted
(``_starts``, a list searched with ``bisect``) and never overlapping.  A cached write
copies the initiator's data once into a fresh buffer and inserts it as one extent,
after cutting the range out of the extents it overlaps; cutting slices memoryviews
and copies nothing, so an overwrite costs the same whatever lies under it.  Adjacent
extents are not merged (merging would re-copy a growing extent on every sequential
write); a flush coalesces them instead, handing each run of contiguous extents to
one ``pwritev``.  A read that meets no extent -- every read of a clean cache -- is one
``preadv`` from the file straight into the initiator's memoryviews: one copy, as
ARCHITECTURE.md §8 requires.  A read that meets extents fills the gaps from the file
and copies the cached runs over, each into the right slices of the initiator's
(possibly scattered) views.  Write-through (FUA, or WCE=0) is one ``pwritev`` from the
initiator's views, after which the range is cut out of the cache, so a later flush
cannot resurrect older data.

Per-block buffers would be simpler but cost a dictionary entry and a copy per 512
bytes: 2,048 of each for a 1 MiB write.  An interval tree would make overlap queries
logarithmic, but with the cache bounded (``cache_limit``, 64 MiB by default, after
which everything is written back, as a drive destages when its cache fills) the
sorted list stays short and its inserts are memmoves in C.

Unmapping (thin provisioning) cuts the range out of the cache and deallocates it in
the file at once: ``fallocate(FALLOC_FL_PUNCH_HOLE)`` where the host has it (through
libc, as Python's ``os`` does not export ``fallocate``), else by writing zeros.
Either way unmapped blocks read as zeros (the disk reports LBPRZ=1).  Unmapping is
therefore durable at once, which SBC allows.

Flushing writes to the host file, not to the host's disk: the power loss kextlab
models is the emulated drive's, not the host's, and an ``fsync`` per SYNCHRONIZE
CACHE would cost real milliseconds for nothing a test can observe.

Open questions: no image locking (two disks on one file corrupt each other, as two
QEMU instances without ``locking=on`` would); no copy-on-write overlays.

Threading rules: none.  Every call runs on the scheduler's thread and does blocking
host I/O, which costs real time but no virtual time; the bus accounts for the
virtual time a transfer takes.
"""

from __future__ import annotations

import bisect
import ctypes
import errno
import operator
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from kextlab.errors import KextlabError

#: The cache writes everything back once it holds this much dirty data.
DEFAULT_CACHE_LIMIT = 64 << 20
#: Block sizes a disk may have: powers of two from 512 bytes to 64 KiB.
BLOCK_SIZES = tuple(1 << shift for shift in range(9, 17))
#: The most buffers one ``preadv``/``pwritev`` takes (POSIX IOV_MAX on Linux and macOS).
_IOV_MAX = 1024
#: Bytes written per call when zeros or a repeated block must be written out.
_FILL_CHUNK = 1 << 20

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
#: ``view.nbytes`` as a C-level callable, for ``sum(map(_nbytes, views))``.
_nbytes = operator.attrgetter("nbytes")


class DiskImageError(KextlabError, ValueError):
    """A disk image file cannot be used: missing without a size, the wrong size, or a
    bad block size.  The message names the file."""


class DiskImage:
    """A raw image file with a write-back cache of dirty extents.

    ``block_size`` is the logical block size; every position and count below is in
    blocks.  ``size`` (bytes) creates the file if missing and grows it if smaller.
    ``write_cache`` is the initial state of the cache (the caching mode page's WCE).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        block_size: int = 512,
        size: int | None = None,
        read_only: bool = False,
        write_cache: bool = True,
        cache_limit: int = DEFAULT_CACHE_LIMIT,
    ) -> None:
        self.path = Path(path)
        if block_size not in BLOCK_SIZES:
            raise DiskImageError(
                f"{self.path}: block size {block_size} is not a power of two "
                f"from {BLOCK_SIZES[0]} to {BLOCK_SIZES[-1]}"
            )
        if size is not None and (size <= 0 or size % block_size):
            raise DiskImageError(
                f"{self.path}: requested size {size} is not a positive multiple of the "
                f"{block_size}-byte block size"
            )
        self.block_size = block_size
        self.read_only = read_only
        self.cache_limit = cache_limit
        self._write_cache = write_cache
        self._starts: list[int] = []  # first blocks of the dirty extents, sorted
        self._extents: dict[int, memoryview] = {}  # first block -> cached data
        self._dirty_bytes = 0
        #: Called with the new size in blocks after ``grow``.
        self.on_resize: list[Callable[[int], None]] = []
        self._fd = self._open_file(size)
        #: The image's size in bytes and in blocks; both change together, in ``grow``
        #: (the block count is a plain attribute: every command's range check reads it).
        self.size = os.fstat(self._fd).st_size
        self.blocks = self.size // block_size

    def _open_file(self, size: int | None) -> int:
        exists = self.path.exists()
        if not exists and size is None:
            raise DiskImageError(f"{self.path}: no such disk image, and no size to create it")
        if not exists and self.read_only:
            raise DiskImageError(f"{self.path}: no such disk image to open read-only")
        flags = (os.O_RDONLY if self.read_only else os.O_RDWR | os.O_CREAT) | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o644)
        try:
            current = os.fstat(fd).st_size
            if size is not None and size < current:
                raise DiskImageError(
                    f"{self.path}: the image is {current} bytes, larger than the requested "
                    f"{size}; disk images never shrink"
                )
            if size is not None and size > current:
                if self.read_only:
                    raise DiskImageError(
                        f"{self.path}: cannot grow a read-only image from {current} to {size} bytes"
                    )
                os.ftruncate(fd, size)
                current = size
            if current == 0 or current % self.block_size:
                raise DiskImageError(
                    f"{self.path}: size {current} bytes is not a positive multiple of the "
                    f"{self.block_size}-byte block size"
                )
        except BaseException:
            os.close(fd)
            raise
        return fd

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.blocks} blocks"
        return f"<DiskImage {str(self.path)!r} {state}>"

    # -- state ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def dirty_bytes(self) -> int:
        """Data written but not yet on the medium (lost by a power loss)."""
        return self._dirty_bytes

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """The cached extents as ``(first block, block count)``, in block order."""
        size = self.block_size
        return [(start, len(self._extents[start]) // size) for start in self._starts]

    @property
    def write_cache_enabled(self) -> bool:
        return self._write_cache

    def set_write_cache(self, enabled: bool) -> None:
        """Turn the write-back cache on or off (WCE); turning it off writes it back first."""
        if not enabled:
            self.flush()
        self._write_cache = enabled

    # -- data ---------------------------------------------------------------------------

    def read(
        self,
        block: int,
        count: int,
        views: Sequence[memoryview],
        *,
        force_unit_access: bool = False,
    ) -> None:
        """Read ``count`` blocks into ``views`` (byte views, together exactly that long).

        With ``force_unit_access`` the cached blocks of the range are written back
        first, so that the data comes from the medium (SBC-3, FUA).
        """
        size = self.block_size
        length = count * size
        if (
            block < 0
            or count < 0
            or block + count > self.blocks
            or sum(map(_nbytes, views)) != length
        ):
            self._check_range(block, count, views)  # raises, saying which
        if force_unit_access:
            self.flush(block, count)
        if not self._starts:  # a clean cache: one read from the file (the usual case)
            if len(views) <= _IOV_MAX:
                offset = block * size
                done = _preadv(self._fd, views, offset)
                if done != length:
                    _read_rest(self._fd, views, offset, done)
            else:
                _read_fully(self._fd, views, block * size)
            return
        end = block + count
        first = self._first_overlap(block, end)
        if first == len(self._starts) or self._starts[first] >= end:
            _read_fully(self._fd, views, block * size)
            return
        cursor = block
        for index in range(first, len(self._starts)):
            start = self._starts[index]
            if start >= end:
                break
            data = self._extents[start]
            stop = min(start + len(data) // size, end)
            if start > cursor:
                gap = slice_views(views, (cursor - block) * size, (start - cursor) * size)
                _read_fully(self._fd, gap, cursor * size)
                cursor = start
            offset = (cursor - start) * size
            _copy_into(
                slice_views(views, (cursor - block) * size, (stop - cursor) * size),
                data[offset : offset + (stop - cursor) * size],
            )
            cursor = stop
        if cursor < end:
            gap = slice_views(views, (cursor - block) * size, (end - cursor) * size)
            _read_fully(self._fd, gap, cursor * size)

    def write(
        self,
        block: int,
        count: int,
        views: Sequence[memoryview],
        *,
        force_unit_access: bool = False,
    ) -> None:
        """Write ``count`` blocks from ``views``: into the cache, or through to the file
        when the cache is off or ``force_unit_access`` is set."""
        self._check_writable()
        self._check_range(block, count, views)
        if not count:
            return
        if force_unit_access or not self._write_cache:
            size = self.block_size
            _write_fully(self._fd, views, block * size, count * size)
            self._discard(block, block + count)
            return
        buffer = bytearray(count * self.block_size)
        _gather(views, buffer)
        self._store(block, memoryview(buffer).toreadonly())

    def write_same(
        self, block: int, count: int, pattern: bytes, *, force_unit_access: bool = False
    ) -> None:
        """Write the one-block ``pattern`` to each of ``count`` blocks."""
        self._check_writable()
        self._check_range(block, count)
        if len(pattern) != self.block_size:
            raise ValueError(f"a WRITE SAME pattern is one {self.block_size}-byte block")
        per_chunk = max(1, _FILL_CHUNK // self.block_size)
        chunk = memoryview(pattern * min(count, per_chunk)).toreadonly()
        done = 0
        while done < count:
            blocks = min(per_chunk, count - done)
            piece = chunk[: blocks * self.block_size]
            if force_unit_access or not self._write_cache:
                _write_fully(self._fd, [piece], (block + done) * self.block_size)
                self._discard(block + done, block + done + blocks)
            else:
                self._store(block + done, piece)  # extents may share the immutable chunk
            done += blocks

    def unmap(self, block: int, count: int) -> None:
        """Deallocate ``count`` blocks: they read as zeros from now on, durably."""
        self._check_writable()
        self._check_range(block, count)
        if not count:
            return
        self._discard(block, block + count)
        offset, length = block * self.block_size, count * self.block_size
        if not _punch_hole(self._fd, offset, length):
            zeros = memoryview(bytes(min(length, _FILL_CHUNK)))
            done = 0
            while done < length:
                piece = min(len(zeros), length - done)
                _write_fully(self._fd, [zeros[:piece]], offset + done)
                done += piece

    def flush(self, block: int = 0, count: int | None = None) -> None:
        """Write the cached blocks of ``[block, block + count)`` (default: all) to the file."""
        end = self.blocks if count is None else block + count
        size = self.block_size
        runs: list[tuple[int, list[memoryview]]] = []  # contiguous runs: (first block, data)
        run_end = -1
        for index in range(self._first_overlap(block, end), len(self._starts)):
            start = self._starts[index]
            if start >= end:
                break
            data = self._extents[start]
            first, stop = max(start, block), min(start + len(data) // size, end)
            piece = data[(first - start) * size : (stop - start) * size]
            if first == run_end and len(runs[-1][1]) < _IOV_MAX:
                runs[-1][1].append(piece)
            else:
                runs.append((first, [piece]))
            run_end = stop
        for first, pieces in runs:
            _write_fully(self._fd, pieces, first * size)
            self._discard(first, first + sum(len(piece) for piece in pieces) // size)

    def power_loss(self) -> None:
        """The drive lost power: everything only in the cache is gone."""
        self._starts.clear()
        self._extents.clear()
        self._dirty_bytes = 0

    def grow(self, size: int) -> None:
        """Make the image ``size`` bytes (a multiple of the block size, not smaller)."""
        self._check_writable()
        if size % self.block_size or size < self.size:
            raise DiskImageError(
                f"{self.path}: cannot resize from {self.size} to {size} bytes: images only grow, "
                f"by whole {self.block_size}-byte blocks"
            )
        if size == self.size:
            return
        os.ftruncate(self._fd, size)
        self.size = size
        self.blocks = size // self.block_size
        for listener in list(self.on_resize):
            listener(self.blocks)

    def close(self) -> None:
        """Write the cache back and close the file (idempotent)."""
        if self.closed:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the extent map ---------------------------------------------------------------------

    def _first_overlap(self, block: int, end: int) -> int:
        """Index of the first extent ending after ``block`` (it may start at or after ``end``)."""
        index = bisect.bisect_right(self._starts, block) - 1
        if index >= 0:
            start = self._starts[index]
            if start + len(self._extents[start]) // self.block_size > block:
                return index
        return index + 1

    def _store(self, block: int, data: memoryview) -> None:
        """Cache ``data`` as the newest content of its blocks."""
        end = block + len(data) // self.block_size
        self._discard(block, end)
        bisect.insort(self._starts, block)
        self._extents[block] = data
        self._dirty_bytes += len(data)
        if self._dirty_bytes > self.cache_limit:
            self.flush()

    def _discard(self, block: int, end: int) -> None:
        """Cut ``[block, end)`` out of the cache, keeping what lies on either side."""
        size = self.block_size
        index = self._first_overlap(block, end)
        while index < len(self._starts) and self._starts[index] < end:
            start = self._starts.pop(index)
            data = self._extents.pop(start)
            self._dirty_bytes -= len(data)
            stop = start + len(data) // size
            if start < block:
                left = data[: (block - start) * size]
                self._starts.insert(index, start)
                self._extents[start] = left
                self._dirty_bytes += len(left)
                index += 1
            if stop > end:
                right = data[(end - start) * size :]
                self._starts.insert(index, end)
                self._extents[end] = right
                self._dirty_bytes += len(right)
                break

    # -- checks -------------------------------------------------------------------------

    def _check_range(
        self, block: int, count: int, views: Sequence[memoryview] | None = None
    ) -> None:
        """Callers (the disk) check ranges and lengths first: a miss here is a bug."""
        if block < 0 or count < 0 or block + count > self.blocks:
            raise ValueError(
                f"{self.path}: blocks [{block}, +{count}) lie outside the image's {self.blocks}"
            )
        if views is not None and sum(map(_nbytes, views)) != count * self.block_size:
            raise ValueError(
                f"{self.path}: buffers of {sum(map(_nbytes, views))} bytes "
                f"for {count} blocks of {self.block_size}"
            )

    def _check_writable(self) -> None:
        if self.read_only:
            raise OSError(errno.EROFS, "read-only disk image", str(self.path))


# -- host I/O ------------------------------------------------------------------------------


def _read_fully(fd: int, views: Sequence[memoryview], offset: int) -> None:
    """Fill ``views`` from ``offset``; bytes past the end of the file read as zeros.

    The usual case, a clean cache and views that fit one ``preadv``, is inlined in
    ``DiskImage.read``, which hands a short read on to ``_read_rest``.
    """
    pending = list(views)
    while pending:
        batch = pending if len(pending) <= _IOV_MAX else pending[:_IOV_MAX]
        wanted = sum(map(_nbytes, batch))
        done = _preadv(fd, batch, offset)
        if done == 0:  # end of file: a raw image reads zeros there, like QEMU's
            for view in pending:
                view[:] = bytes(view.nbytes)
            return
        offset += done
        pending = _skip(pending, done) if done < wanted else pending[len(batch) :]


def _read_rest(fd: int, views: Sequence[memoryview], offset: int, done: int) -> None:
    """Finish a read of which one ``preadv`` at ``offset`` moved only ``done`` bytes."""
    if done == 0:  # end of file: zeros, without another call
        for view in views:
            view[:] = bytes(view.nbytes)
        return
    _read_fully(fd, _skip(list(views), done), offset + done)


def _write_fully(
    fd: int, views: Sequence[memoryview], offset: int, length: int | None = None
) -> None:
    """Write all of ``views`` at ``offset``; ``length``, when the caller knows it, is
    the views' total size: then the usual case costs one ``pwritev``."""
    if length is not None and len(views) <= _IOV_MAX:
        done = _pwritev(fd, views, offset)
        if done == length:
            return
        views, offset = _skip(list(views), done), offset + done
    pending = list(views)
    while pending:
        batch = pending if len(pending) <= _IOV_MAX else pending[:_IOV_MAX]
        wanted = sum(map(_nbytes, batch))
        done = _pwritev(fd, batch, offset)
        offset += done
        pending = _skip(pending, done) if done < wanted else pending[len(batch) :]


def _skip(views: list[memoryview], count: int) -> list[memoryview]:
    """``views`` without their first ``count`` bytes."""
    for index, view in enumerate(views):
        if count < view.nbytes:
            return [view[count:], *views[index + 1 :]]
        count -= view.nbytes
    return []


_preadv: Callable[[int, Sequence[memoryview], int], int]
_pwritev: Callable[[int, Sequence[memoryview], int], int]
if hasattr(os, "preadv") and hasattr(os, "pwritev"):
    _preadv = os.preadv  # called straight, without a Python frame in between
    _pwritev = os.pwritev

else:  # pragma: no cover - a host whose Python has no preadv/pwritev

    def _preadv(fd: int, views: Sequence[memoryview], offset: int) -> int:
        done = 0
        for view in views:
            data = os.pread(fd, view.nbytes, offset + done)
            view[: len(data)] = data
            done += len(data)
            if len(data) < view.nbytes:
                break
        return done

    def _pwritev(fd: int, views: Sequence[memoryview], offset: int) -> int:
        done = 0
        for view in views:
            written = os.pwrite(fd, view, offset + done)
            done += written
            if written < view.nbytes:
                break
        return done


def _load_fallocate() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError):  # pragma: no cover - a libc without fallocate
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


_fallocate = _load_fallocate()


def _punch_hole(fd: int, offset: int, length: int) -> bool:
    """Deallocate a byte range, keeping the file size; False where the host cannot."""
    if _fallocate is None:
        return False
    if _fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EOPNOTSUPP, errno.ENOSYS):
        return False
    raise OSError(error, os.strerror(error))


# -- scatter-gather helpers ------------------------------------------------------------------


def slice_views(views: Sequence[memoryview], offset: int, length: int) -> list[memoryview]:
    """The byte range ``[offset, offset + length)`` of the concatenation of ``views`` (a
    scatter-gather list), as views into the same memory."""
    result: list[memoryview] = []
    for view in views:
        size = view.nbytes
        if offset >= size:
            offset -= size
            continue
        take = min(size - offset, length)
        result.append(view[offset : offset + take])
        length -= take
        offset = 0
        if not length:
            break
    return result


def _copy_into(views: Sequence[memoryview], data: memoryview) -> None:
    position = 0
    for view in views:
        view[:] = data[position : position + view.nbytes]
        position += view.nbytes


def _gather(views: Sequence[memoryview], buffer: bytearray) -> None:
    position = 0
    for view in views:
        buffer[position : position + view.nbytes] = view
        position += view.nbytes
