"""Configuration space masks: read-only, writable and write-1-to-clear bits, per byte."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kextlab.machine.pci.config import ConfigSpace


def aligned_access(size: int) -> st.SearchStrategy[tuple[int, int, int]]:
    """(offset, size, value) for a naturally aligned access in the first 64 bytes."""
    offsets = st.integers(0, 64 // size - 1).map(lambda index: index * size)
    return st.tuples(offsets, st.just(size), st.integers(0, (1 << (8 * size)) - 1))


writes = st.lists(st.sampled_from([1, 2, 4]).flatmap(aligned_access), max_size=40)


def fresh_space() -> ConfigSpace:
    space = ConfigSpace()
    space.data[:64] = bytes(range(0xC0, 0x100))  # initial values
    space.set_writable(0x10, 4, 0xFFFF_F000)  # a BAR: address bits writable
    space.set_write_1_to_clear(0x06, 2, 0xF900)  # status error bits
    space.set_writable(0x04, 2, 0x0407)  # command bits
    return space


@given(writes)
def test_read_only_bits_never_change_and_w1c_bits_only_clear(
    sequence: list[tuple[int, int, int]],
) -> None:
    """Whatever software writes, read-only bits keep their value; W1C bits never get set."""
    space = fresh_space()
    initial = bytes(space.data)
    for offset, size, value in sequence:
        before = bytes(space.data)
        space.write(offset, size, value)
        for position in range(64):
            old, new = before[position], space.data[position]
            fixed = ~(space.writable[position] | space.write_1_to_clear[position]) & 0xFF
            assert old & fixed == new & fixed == initial[position] & fixed
            clear = space.write_1_to_clear[position]
            assert new & clear & ~old == 0


def test_bar_sizing_reads_back_the_size_mask() -> None:
    """All ones written to a BAR read back as its writable address bits plus type bits."""
    space = ConfigSpace()
    space.set(0x10, 4, 0x8)  # prefetchable 32-bit memory BAR type bits
    space.set_writable(0x10, 4, 0xFFFF_F000)
    space.write(0x10, 4, 0xFFFF_FFFF)
    assert space.read(0x10, 4) == 0xFFFF_F008
    space.write(0x10, 4, 0x1234_5678)
    assert space.read(0x10, 4) == 0x1234_5008


def test_write_1_to_clear_bits_clear_only_where_one_is_written() -> None:
    """Writing 1 to a status error bit clears it; writing 0 leaves it."""
    space = ConfigSpace()
    space.set(0x06, 2, 0x2210)
    space.set_write_1_to_clear(0x06, 2, 0xF900)
    space.write(0x06, 2, 0x0000)
    assert space.read(0x06, 2) == 0x2210
    space.write(0x06, 2, 0x2000)
    assert space.read(0x06, 2) == 0x0210


def test_every_change_moves_the_version_on_and_reads_leave_it() -> None:
    """Writes and device-side stores of values, masks and bits each move ``version`` on."""
    space = ConfigSpace()
    changes = [
        lambda: space.write(0x10, 4, 0x1234_5678),
        lambda: space.set(0x00, 2, 0x1B4B),
        lambda: space.set_bits(0x06, 2, 0x0010),
        lambda: space.clear_bits(0x06, 2, 0x0010),
        lambda: space.set_writable(0x10, 4, 0xFFFF_F000),
        lambda: space.set_write_1_to_clear(0x06, 2, 0xF900),
        lambda: space.write(0x10, 4, 0),  # a write that changes nothing counts too
    ]
    for change in changes:
        before = space.version
        change()
        assert space.version > before
    settled = space.version
    space.read(0x10, 4)
    space.get(0x00, 2)
    assert space.version == settled
