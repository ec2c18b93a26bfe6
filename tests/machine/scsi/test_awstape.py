"""AWSTAPE files: the Hercules block headers, segments, tape marks, truncation and
malformed files (kextlab.machine.scsi.awstape)."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kextlab.errors import KextlabError
from kextlab.machine.scsi.awstape import AWSTape, AWSTapeFormatError, encoded_size


def header(length: int, previous: int, flags: int, flags2: int = 0) -> bytes:
    """An AWSTAPE block header, packed by hand (not with the module's Struct)."""
    return length.to_bytes(2, "little") + previous.to_bytes(2, "little") + bytes([flags, flags2])


def walk_headers(raw: bytes) -> list[tuple[int, int, int]]:
    """(curblkl, prvblkl, flags1) of every header in ``raw``, walking the file by hand."""
    found = []
    offset = 0
    while offset < len(raw):
        length, previous, flags, _ = struct.unpack_from("<HHBB", raw, offset)
        found.append((length, previous, flags))
        offset += 6 + length
    assert offset == len(raw)
    return found


def test_opening_a_missing_file_creates_a_blank_tape(tmp_path: Path) -> None:
    """A new AWSTAPE file is empty: no blocks, and EOD at byte 0."""
    path = tmp_path / "blank.aws"
    with AWSTape.open(path) as tape:
        assert len(tape) == 0
        assert tape.size == 0
        assert tape.offset_of(0) == 0
    assert path.read_bytes() == b""


def test_records_and_tape_marks_are_written_with_hercules_headers(tmp_path: Path) -> None:
    """Each record gets a NEWREC|ENDREC header with the previous length; a tape mark is
    a bare 0x40 header, and the block after it has prvblkl 0."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record(b"abc")
        tape.append_tape_mark()
        tape.append_record(b"defgh")
    assert path.read_bytes() == (
        header(3, 0, 0xA0) + b"abc" + header(0, 3, 0x40) + header(5, 0, 0xA0) + b"defgh"
    )


def test_reopening_a_file_gives_back_its_blocks(tmp_path: Path) -> None:
    """The index built from the file matches what was written: kinds, lengths, data."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record(b"one")
        tape.append_record(b"")
        tape.append_tape_mark()
        tape.append_record(b"three")
    with AWSTape.open(path, read_only=True) as tape:
        assert [(block.tape_mark, block.length) for block in tape] == [
            (False, 3),
            (False, 0),
            (True, 0),
            (False, 5),
        ]
        assert [tape.read(index) for index in range(4)] == [b"one", b"", None, b"three"]
        assert tape.offset_of(2) == 6 + 3 + 6
        assert tape.size == len(path.read_bytes())


def test_a_record_longer_than_a_segment_is_written_as_chained_segments(tmp_path: Path) -> None:
    """10,000 bytes in 4,096-byte chunks: NEWREC on the first, ENDREC on the last, none
    between, each prvblkl the length of the segment before."""
    path = tmp_path / "t.aws"
    data = bytes(range(256)) * 39 + bytes(16)
    with AWSTape.open(path, segment_length=4096) as tape:
        tape.append_tape_mark()
        block = tape.append_record(data)
        assert block.length == 10_000
        assert len(block.segments) == 3
    raw = path.read_bytes()
    assert walk_headers(raw) == [
        (0, 0, 0x40),
        (4096, 0, 0x80),
        (4096, 4096, 0x00),
        (1808, 4096, 0x20),
    ]
    assert encoded_size(10_000, 4096) == 10_000 + 18
    with AWSTape.open(path) as tape:
        assert len(tape) == 2
        assert tape.read(1) == data


def test_segmented_records_from_another_writer_read_as_one_block(tmp_path: Path) -> None:
    """A hand-made file with a three-segment record (and Bus-Tech's 0x10 bit on the
    first segment) reads as one record between two single-segment ones."""
    path = tmp_path / "t.aws"
    path.write_bytes(
        header(2, 0, 0xA0)
        + b"hi"
        + header(3, 2, 0x90)
        + b"abc"
        + header(1, 3, 0x00)
        + b"d"
        + header(2, 1, 0x20)
        + b"ef"
        + header(1, 2, 0xA0)
        + b"!"
    )
    with AWSTape.open(path) as tape:
        assert [tape.read(index) for index in range(len(tape))] == [b"hi", b"abcdef", b"!"]


def test_writing_in_the_middle_discards_what_followed(tmp_path: Path) -> None:
    """Writing block 2 of five truncates the file there: three blocks remain, the new
    one chained to block 1."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        for index in range(5):
            tape.append_record(bytes([index]) * (index + 1))
        tape.write_record(2, b"new!")
        assert len(tape) == 3
    assert path.read_bytes() == (
        header(1, 0, 0xA0)
        + b"\x00"
        + header(2, 1, 0xA0)
        + b"\x01\x01"
        + header(4, 2, 0xA0)
        + b"new!"
    )


def test_writing_a_tape_mark_in_the_middle_truncates_too(tmp_path: Path) -> None:
    """A tape mark written at block 1 replaces everything from block 1 on."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record(b"aa")
        tape.append_record(b"bbb")
        tape.append_record(b"c")
        tape.write_tape_mark(1)
    assert path.read_bytes() == header(2, 0, 0xA0) + b"aa" + header(0, 2, 0x40)


def test_truncate_ends_the_tape_at_a_block(tmp_path: Path) -> None:
    """After truncate(1) the file holds block 0 only; truncating at the end changes nothing."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record(b"keep")
        tape.append_tape_mark()
        tape.truncate(2)
        assert len(tape) == 2
        tape.truncate(1)
        assert len(tape) == 1
        assert tape.size == 10
    assert path.read_bytes() == header(4, 0, 0xA0) + b"keep"


def test_block_numbers_outside_the_tape_are_refused(tmp_path: Path) -> None:
    """Writing past EOD would leave a gap: IndexError, and the file is untouched."""
    with AWSTape.open(tmp_path / "t.aws") as tape:
        tape.append_record(b"x")
        with pytest.raises(IndexError):
            tape.write_record(2, b"y")
        with pytest.raises(IndexError):
            tape.offset_of(-1)
        assert len(tape) == 1


def test_readinto_fills_scattered_views_across_segments(tmp_path: Path) -> None:
    """A segmented record read into three uneven views arrives whole and in order."""
    data = bytes(range(256)) * 40  # 10,240 bytes: three segments of at most 4,096
    with AWSTape.open(tmp_path / "t.aws", segment_length=4096) as tape:
        tape.append_record(data)
        buffers = [bytearray(1000), bytearray(5000), bytearray(4240)]
        copied = tape.readinto(0, [memoryview(buffer) for buffer in buffers])
    assert copied == len(data)
    assert b"".join(buffers) == data


def test_readinto_a_short_buffer_gets_the_head_of_the_record(tmp_path: Path) -> None:
    """A 5-byte buffer receives the first five bytes; a longer one only the record."""
    with AWSTape.open(tmp_path / "t.aws") as tape:
        tape.append_record(b"0123456789")
        short = bytearray(5)
        assert tape.readinto(0, [memoryview(short)]) == 5
        long = bytearray(16)
        assert tape.readinto(0, [memoryview(long)]) == 10
    assert bytes(short) == b"01234"
    assert bytes(long) == b"0123456789" + bytes(6)


def test_writes_take_scattered_views_as_one_record(tmp_path: Path) -> None:
    """A record given as a scatter-gather list is written as one record."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record([memoryview(b"scat"), memoryview(b"ter")])
    assert path.read_bytes() == header(7, 0, 0xA0) + b"scatter"


def test_a_read_only_tape_refuses_writes(tmp_path: Path) -> None:
    """A tape opened read-only raises PermissionError on write, tape mark and truncate."""
    path = tmp_path / "t.aws"
    with AWSTape.open(path) as tape:
        tape.append_record(b"data")
    with AWSTape.open(path, read_only=True) as tape:
        with pytest.raises(PermissionError):
            tape.append_record(b"more")
        with pytest.raises(PermissionError):
            tape.append_tape_mark()
        with pytest.raises(PermissionError):
            tape.truncate(0)
    assert path.read_bytes() == header(4, 0, 0xA0) + b"data"


def test_a_missing_file_opened_read_only_is_not_created(tmp_path: Path) -> None:
    """Read-only never creates: FileNotFoundError, and no file appears."""
    with pytest.raises(FileNotFoundError):
        AWSTape.open(tmp_path / "none.aws", read_only=True)
    assert not (tmp_path / "none.aws").exists()


def test_segment_lengths_outside_hercules_chunk_sizes_are_refused(tmp_path: Path) -> None:
    """CHUNKSIZE runs from 4,096 to 65,535."""
    with pytest.raises(ValueError, match="segment length 100"):
        AWSTape.open(tmp_path / "t.aws", segment_length=100)


MALFORMED = {
    "header cut short": (header(2, 0, 0xA0) + b"ok" + b"\x05\x00", 8, "inside a block header"),
    "data past the end": (header(9, 0, 0xA0) + b"short", 0, "runs past the end"),
    "prvblkl mismatch": (
        header(1, 0, 0xA0) + b"a" + header(1, 7, 0xA0) + b"b",
        7,
        "does not match",
    ),
    "compressed HET block": (header(1, 0, 0xA0, 0x01) + b"z", 0, "flags2"),
    "segment outside a record": (header(1, 0, 0x20) + b"a", 0, "outside any record"),
    "record never ended": (header(1, 0, 0x80) + b"a", 0, "inside a record"),
    "record inside a record": (header(1, 0, 0x80) + b"a" + header(1, 1, 0xA0) + b"b", 7, "before"),
    "tape mark with data": (header(1, 0, 0x40) + b"a", 0, "tape mark"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_files_are_refused_naming_the_file_and_offset(tmp_path: Path, case: str) -> None:
    """Each kind of damage raises AWSTapeFormatError at the offending header."""
    raw, offset, words = MALFORMED[case]
    path = tmp_path / "bad.aws"
    path.write_bytes(raw)
    with pytest.raises(AWSTapeFormatError, match=words) as caught:
        AWSTape.open(path)
    assert caught.value.offset == offset
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, KextlabError)
    assert isinstance(caught.value, ValueError)


blocks = st.lists(
    st.one_of(st.none(), st.binary(max_size=64), st.integers(4000, 9000)), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(blocks)
def test_any_sequence_of_blocks_round_trips_with_a_consistent_header_chain(
    sequence: list[bytes | int | None],
) -> None:
    """Records (short, or long enough to segment) and tape marks reopen as written,
    and every prvblkl in the file names the length of the header before it."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.aws"
        expected: list[bytes | None] = []
        with AWSTape.open(path, segment_length=4096) as tape:
            for item in sequence:
                if item is None:
                    tape.append_tape_mark()
                    expected.append(None)
                else:
                    data = item if isinstance(item, bytes) else bytes([item % 251]) * item
                    tape.append_record(data)
                    expected.append(data)
        raw = path.read_bytes()
        chain = walk_headers(raw)
        previous = 0
        for length, prior, _ in chain:
            assert prior == previous
            previous = length
        with AWSTape.open(path) as tape:
            assert [tape.read(index) for index in range(len(tape))] == expected
            assert tape.size == len(raw)
