"""AWSTAPE: the virtual tape file of the P/390 and Hercules, read and written by block.

Owns the tape model's medium (``kextlab.machine.scsi.tape``): one file holds one
tape volume, and ``AWSTape`` gives random access to it by block number, appends
records and tape marks, and truncates at the write position, as writing a real tape
in the middle loses whatever followed.

The format
----------

Sources: the Hercules Version 4 documentation, ``html/hercconf.html`` ("AWSTAPE
virtual tape files", the ``CHUNKSIZE``, ``MAXSIZE`` and ``EOTMARGIN`` options), and
the header Hercules declares as ``AWSTAPE_BLKHDR`` in ``tapedev.h``; Bus-Tech's
"AWSTAPE File Format" technical note describes the same layout.  This module is
written from that description, not from Hercules' code.

A file is a sequence of *blocks*, each a 6-byte header followed by its data.  There is
no file header and no end marker: the end of the file is the end of the data (EOD)::

    offset  size  field     meaning
    0       2     curblkl   length of the data after this header, little-endian, 0-65535
    2       2     prvblkl   curblkl of the header before this one, little-endian;
                            0 for the first header and after a tape mark
    4       1     flags1    0x80 NEWREC    this header starts a record
                            0x40 TAPEMARK  this header is a tape mark
                            0x20 ENDREC    this header ends a record
    5       1     flags2    0 in AWSTAPE (Hercules' HET variant puts its zlib/bzip2
                            compression bits here)

* A record (a SCSI logical block) of at most 65,535 bytes is one header with
  ``NEWREC | ENDREC`` (0xA0) and its data.
* A longer record is split into *segments* (Hercules calls them chunks, of
  ``CHUNKSIZE`` bytes, 65,535 by default, 4,096 in files from a P/390): the first
  header has ``NEWREC``, the last ``ENDREC``, those in between neither.  Each
  segment's ``prvblkl`` is the length of the segment before it, so the file can also
  be walked backwards.
* A tape mark (a SCSI filemark) is a header alone: ``curblkl`` 0, ``flags1``
  ``TAPEMARK`` (0x40).
* Hercules creates a new volume as two tape marks ("AUTOINIT"); ``AWSTape.open``
  creates an empty file instead, a blank tape whose first block is EOD.

Block numbers count records and tape marks alike, from 0 at the beginning of the tape:
they are SSC-3's logical object identifiers.

Reading is strict: a header cut short by the end of the file, data that runs past
it, a segment outside a record, a record the file ends inside, a ``prvblkl`` that
does not match, or a non-zero ``flags2`` (compressed HET data) raise
``AWSTapeFormatError`` naming the file, the offset and what was expected.  Bits of
``flags1`` other than the three above are ignored (Bus-Tech sets 0x10 on the first
segment of a segmented record).

Data moves without copies: ``readinto`` fills the initiator's memoryviews with
``os.preadv`` and ``write_record`` writes headers and views with one ``os.pwritev``.

Threading rules: none of its own; the tape unit calls it from scheduler events.  The
calls do host file I/O and may block the host briefly, never the virtual machine.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from kextlab.errors import KextlabError

#: The block header: curblkl, prvblkl (u16 little-endian), flags1, flags2.
HEADER = struct.Struct("<HHBB")
HEADER_LENGTH = HEADER.size

NEWREC = 0x80
TAPEMARK = 0x40
ENDREC = 0x20
WHOLE_RECORD = NEWREC | ENDREC

#: The longest segment a header can describe, Hercules' default ``CHUNKSIZE``.
MAXIMUM_SEGMENT_LENGTH = 0xFFFF
#: The shortest ``CHUNKSIZE`` Hercules accepts (a P/390 writes 4,096-byte chunks).
MINIMUM_SEGMENT_LENGTH = 4096

Buffer = bytes | bytearray | memoryview
#: Buffers per ``preadv``/``pwritev`` call, under every host's IOV_MAX (1024 on Linux).
_VECTOR_LIMIT = 512


class AWSTapeFormatError(KextlabError, ValueError):
    """An AWSTAPE file is malformed."""

    def __init__(self, path: str, offset: int, message: str) -> None:
        self.path = path
        self.offset = offset
        self.message = message
        super().__init__(f"{path}: at byte {offset}: {message}")


@dataclass(frozen=True, slots=True)
class TapeBlock:
    """One block of the tape: a record or a tape mark, where it lies in the file."""

    offset: int  # file offset of its (first) header
    length: int  # bytes of data; 0 for a tape mark
    tape_mark: bool
    segments: tuple[tuple[int, int], ...]  # (file offset, length) of each segment's data

    @property
    def end(self) -> int:
        """The file offset just past this block: where the next header starts."""
        if not self.segments:
            return self.offset + HEADER_LENGTH
        data_offset, length = self.segments[-1]
        return data_offset + length

    @property
    def last_header_length(self) -> int:
        """``curblkl`` of this block's last header: what the next header's prvblkl holds."""
        return self.segments[-1][1] if self.segments else 0


def encoded_size(length: int, segment_length: int = MAXIMUM_SEGMENT_LENGTH) -> int:
    """Bytes a record of ``length`` bytes takes in the file, headers included."""
    segments = max(1, -(-length // segment_length))
    return length + segments * HEADER_LENGTH


class AWSTape:
    """An AWSTAPE file opened for block access.  Create with ``AWSTape.open``."""

    def __init__(
        self,
        path: str,
        descriptor: int,
        *,
        read_only: bool,
        segment_length: int,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.segment_length = segment_length
        self._descriptor = descriptor
        self._blocks: list[TapeBlock] = []
        self._scan()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        create: bool = True,
        segment_length: int = MAXIMUM_SEGMENT_LENGTH,
    ) -> AWSTape:
        """Open ``path``, reading its block index.

        ``create``: a missing file becomes an empty (blank) tape, unless ``read_only``.
        ``segment_length``: the largest segment written (Hercules' ``CHUNKSIZE``).
        """
        name = os.fspath(path)
        if not MINIMUM_SEGMENT_LENGTH <= segment_length <= MAXIMUM_SEGMENT_LENGTH:
            raise ValueError(
                f"{name}: segment length {segment_length} is outside "
                f"{MINIMUM_SEGMENT_LENGTH}-{MAXIMUM_SEGMENT_LENGTH}"
            )
        flags = os.O_RDONLY if read_only else os.O_RDWR | (os.O_CREAT if create else 0)
        descriptor = os.open(name, flags | getattr(os, "O_BINARY", 0), 0o644)
        try:
            return cls(name, descriptor, read_only=read_only, segment_length=segment_length)
        except BaseException:
            os.close(descriptor)
            raise

    def __repr__(self) -> str:
        return f"<AWSTape {self.path!r} {len(self._blocks)} blocks, {self.size} bytes>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (again is harmless)."""
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1

    @property
    def closed(self) -> bool:
        return self._descriptor < 0

    # -- the index -------------------------------------------------------------------------

    def _scan(self) -> None:
        """Build the block index from the file, checking every header."""
        size = os.fstat(self._descriptor).st_size
        offset = 0
        previous_length = 0
        record_start: int | None = None
        segments: list[tuple[int, int]] = []
        while offset < size:
            raw = os.pread(self._descriptor, HEADER_LENGTH, offset)
            if len(raw) < HEADER_LENGTH:
                raise self._error(
                    offset, f"the file ends inside a block header ({len(raw)} of 6 bytes)"
                )
            length, prior, flags1, flags2 = HEADER.unpack(raw)
            if flags2:
                raise self._error(
                    offset, f"flags2 is {flags2:#04x}, expected 0 (compressed HET data?)"
                )
            if prior != previous_length:
                raise self._error(
                    offset,
                    f"previous block length {prior} does not match the block before "
                    f"({previous_length})",
                )
            data = offset + HEADER_LENGTH
            if data + length > size:
                raise self._error(
                    offset, f"block of {length} bytes runs past the end of the file ({size})"
                )
            if flags1 & TAPEMARK:
                if record_start is not None or flags1 & WHOLE_RECORD or length:
                    raise self._error(
                        offset,
                        f"tape mark with flags {flags1:#04x} and length {length} "
                        f"{'inside a record' if record_start is not None else ''}".rstrip(),
                    )
                self._blocks.append(TapeBlock(offset, 0, True, ()))
            else:
                if flags1 & NEWREC:
                    if record_start is not None:
                        raise self._error(offset, "a record starts before the last one ended")
                    record_start = offset
                elif record_start is None:
                    raise self._error(offset, f"flags {flags1:#04x}: a segment outside any record")
                segments.append((data, length))
                if flags1 & ENDREC:
                    total = sum(part for _, part in segments)
                    self._blocks.append(TapeBlock(record_start, total, False, tuple(segments)))
                    record_start = None
                    segments = []
            previous_length = length
            offset = data + length
        if record_start is not None:
            raise self._error(record_start, "the file ends inside a record (no ENDREC segment)")

    def _error(self, offset: int, message: str) -> AWSTapeFormatError:
        return AWSTapeFormatError(self.path, offset, message)

    def __len__(self) -> int:
        """Blocks on the tape, records and tape marks: the block number of EOD."""
        return len(self._blocks)

    def __getitem__(self, index: int) -> TapeBlock:
        return self._blocks[index]

    def __iter__(self) -> Iterator[TapeBlock]:
        return iter(self._blocks)

    @property
    def size(self) -> int:
        """Bytes in the file: where EOD lies."""
        return self._blocks[-1].end if self._blocks else 0

    def offset_of(self, index: int) -> int:
        """File offset of block ``index``; of EOD when ``index`` is the block count."""
        self._check_index(index)
        return self._blocks[index].offset if index < len(self._blocks) else self.size

    def _check_index(self, index: int) -> None:
        if not 0 <= index <= len(self._blocks):
            raise IndexError(f"{self.path}: block {index} is outside 0-{len(self._blocks)}")

    # -- reading ---------------------------------------------------------------------------

    def read(self, index: int) -> bytes | None:
        """The data of record ``index``; None for a tape mark."""
        block = self._blocks[index]
        if block.tape_mark:
            return None
        data = bytearray(block.length)
        self.readinto(index, [memoryview(data)])
        return bytes(data)

    def readinto(self, index: int, views: Sequence[memoryview]) -> int:
        """Fill ``views`` from the start of record ``index``; the bytes copied.

        Copies ``min(total length of views, record length)`` bytes: a short buffer
        gets the head of the record.  A tape mark copies nothing.
        """
        block = self._blocks[index]
        wanted = min(sum(len(view) for view in views), block.length)
        copied = 0
        for data_offset, length in block.segments:
            count = min(length, wanted - copied)
            if count <= 0:
                break
            position = data_offset
            for batch in _batches(_slice_views(views, copied, count)):
                expected = sum(len(view) for view in batch)
                got = os.preadv(self._descriptor, batch, position)
                if got != expected:
                    raise self._error(
                        position, f"read {got} of {expected} bytes: the file shrank under the tape"
                    )
                position += got
            copied += count
        return copied

    # -- writing ---------------------------------------------------------------------------

    def truncate(self, index: int) -> None:
        """Discard block ``index`` and everything after it: the tape now ends there."""
        self._check_index(index)
        self._check_writable()
        offset = self.offset_of(index)
        del self._blocks[index:]
        os.ftruncate(self._descriptor, offset)

    def write_record(self, index: int, data: Buffer | Sequence[memoryview]) -> TapeBlock:
        """Write a record as block ``index`` (discarding what followed); the new block.

        ``data`` is one buffer or a list of views (the initiator's scatter-gather
        list); a record longer than ``segment_length`` is split into segments.
        """
        views = [memoryview(data)] if isinstance(data, Buffer) else list(data)
        self._prepare(index)
        total = sum(len(view) for view in views)
        offset = self.size
        previous = self._blocks[-1].last_header_length if self._blocks else 0
        pieces: list[Buffer] = []
        segments: list[tuple[int, int]] = []
        position = offset
        done = 0
        while True:
            length = min(self.segment_length, total - done)
            flags = (NEWREC if done == 0 else 0) | (ENDREC if done + length == total else 0)
            pieces.append(HEADER.pack(length, previous, flags, 0))
            pieces.extend(_slice_views(views, done, length))
            segments.append((position + HEADER_LENGTH, length))
            position += HEADER_LENGTH + length
            previous = length
            done += length
            if done == total:
                break
        self._write(offset, pieces)
        block = TapeBlock(offset, total, False, tuple(segments))
        self._blocks.append(block)
        return block

    def write_tape_mark(self, index: int) -> TapeBlock:
        """Write a tape mark as block ``index`` (discarding what followed)."""
        self._prepare(index)
        offset = self.size
        previous = self._blocks[-1].last_header_length if self._blocks else 0
        self._write(offset, [HEADER.pack(0, previous, TAPEMARK, 0)])
        block = TapeBlock(offset, 0, True, ())
        self._blocks.append(block)
        return block

    def append_record(self, data: Buffer | Sequence[memoryview]) -> TapeBlock:
        return self.write_record(len(self._blocks), data)

    def append_tape_mark(self) -> TapeBlock:
        return self.write_tape_mark(len(self._blocks))

    def _prepare(self, index: int) -> None:
        self._check_index(index)
        self._check_writable()
        if index < len(self._blocks):
            self.truncate(index)

    def _check_writable(self) -> None:
        if self.read_only:
            raise PermissionError(f"{self.path}: the tape is open read-only")

    def _write(self, offset: int, pieces: list[Buffer]) -> None:
        for batch in _batches(pieces):
            expected = sum(len(piece) for piece in batch)
            written = os.pwritev(self._descriptor, batch, offset)
            if written != expected:  # a short write: finish the batch byte-wise
                rest = memoryview(b"".join(bytes(piece) for piece in batch))[written:]
                position = offset + written
                while rest:
                    count = os.pwrite(self._descriptor, rest, position)
                    position += count
                    rest = rest[count:]
            offset += expected


def _batches(pieces: Sequence[Buffer]) -> Iterator[Sequence[Buffer]]:
    """``pieces`` in runs short enough for one vectored system call (IOV_MAX)."""
    for start in range(0, len(pieces), _VECTOR_LIMIT):
        yield pieces[start : start + _VECTOR_LIMIT]


def _slice_views(views: Sequence[memoryview], start: int, length: int) -> list[memoryview]:
    """The part ``[start, start + length)`` of the concatenation of ``views``."""
    result: list[memoryview] = []
    position = 0
    end = start + length
    for view in views:
        view_end = position + len(view)
        if view_end > start and position < end:
            result.append(view[max(start - position, 0) : min(end, view_end) - position])
        position = view_end
        if position >= end:
            break
    return result
