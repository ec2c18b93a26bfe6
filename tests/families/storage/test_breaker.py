"""``IOBreaker.getBreakSize``: how far the next piece of a request may reach under a
device's limits, computed over the physical segments of its buffer (descriptors of
physical ranges here, so each range is a segment of its own)."""

from __future__ import annotations

from kextlab.families.storage.breaker import IOBreaker, TransferLimits
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.options import kIODirectionIn

PAGE = 4096


def physical(*runs: tuple[int, int]) -> IOMemoryDescriptor:
    memory = IOMemoryDescriptor.withAddressRanges(list(runs), len(runs), kIODirectionIn, None)
    assert memory is not None
    return memory


def limits(**values: int) -> TransferLimits:
    result = TransferLimits()
    for name, value in values.items():
        setattr(result, name, value)
    return result


def test_without_limits_the_whole_buffer_goes_at_once() -> None:
    """No limit: the break size is the buffer, rounded down to whole blocks."""
    memory = physical((0x10000, 3 * PAGE), (0x40000, PAGE + 100))
    assert IOBreaker.getBreakSize(limits(), 512, memory, 0) == 4 * PAGE
    assert IOBreaker.getBreakSize(limits(), 512, memory, PAGE) == 3 * PAGE


def test_block_and_byte_counts_cap_the_piece_and_the_smaller_wins() -> None:
    """maximumBlockCount (in blocks) and maximumByteCount both apply."""
    memory = physical((0x10000, 64 * PAGE))
    assert IOBreaker.getBreakSize(limits(maximumBlockCount=16), 512, memory, 0) == 16 * 512
    assert IOBreaker.getBreakSize(limits(maximumByteCount=3 * PAGE), 512, memory, 0) == 3 * PAGE
    both = limits(maximumBlockCount=16, maximumByteCount=3 * PAGE)
    assert IOBreaker.getBreakSize(both, 512, memory, 0) == 16 * 512


def test_segment_count_and_segment_size_limits_count_physical_segments() -> None:
    """Contiguous ranges fold into one segment; separate ones count one each; a
    segment longer than maximumSegmentByteCount counts as several."""
    memory = physical((0x10000, PAGE), (0x11000, PAGE), (0x20000, PAGE), (0x30000, PAGE))
    assert IOBreaker.getBreakSize(limits(maximumSegmentCount=2), 512, memory, 0) == 3 * PAGE
    assert IOBreaker.getBreakSize(limits(maximumSegmentCount=1), 512, memory, 0) == 2 * PAGE
    sized = limits(maximumSegmentCount=2, maximumSegmentByteCount=PAGE)
    assert IOBreaker.getBreakSize(sized, 512, memory, 0) == 2 * PAGE


def test_an_addressable_width_stops_a_piece_where_the_device_cannot_reach() -> None:
    """With a 4 GiB width, a segment that crosses 4 GiB is cut there."""
    below = (1 << 32) - 2 * PAGE
    memory = physical((below, 4 * PAGE))
    width = limits(maximumSegmentWidthByteCount=1 << 32, maximumSegmentCount=1)
    assert IOBreaker.getBreakSize(width, 512, memory, 0) == 2 * PAGE


def test_a_buffer_too_scattered_for_one_block_cannot_be_sent() -> None:
    """Segments of 256 bytes with a segment count of 1: not a whole 512-byte block
    fits, so the break size is 0 (the driver fails such a request)."""
    memory = physical((0x10000, 256), (0x20000, 256))
    assert IOBreaker.getBreakSize(limits(maximumSegmentCount=1), 512, memory, 0) == 0
