"""Durations on the command line: ``parse_duration``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kextlab.sim.time import DURATION_UNITS, MILLISECOND, SECOND, parse_duration


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("2s", 2 * SECOND),
        ("1.5ms", 1_500_000),
        ("250us", 250_000),
        ("100ns", 100),
        ("100", 100),
        (" 0.25 s ", SECOND // 4),
        ("0", 0),
    ],
)
def test_durations_take_a_unit_or_are_nanoseconds(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "expected a duration"),
        ("-1s", "expected a duration"),
        ("2 seconds", "expected a duration"),
        ("1e3ms", "expected a duration"),
        ("0.5ns", "not a whole number of nanoseconds"),
        ("1.0000000001s", "not a whole number of nanoseconds"),
    ],
)
def test_bad_durations_are_refused_with_the_text_named(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as raised:
        parse_duration(text)
    assert repr(text) in str(raised.value)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(DURATION_UNITS)))
def test_a_whole_count_of_any_unit_is_exact(count: int, unit: str) -> None:
    assert parse_duration(f"{count}{unit}") == count * DURATION_UNITS[unit]
    assert parse_duration(f"{count}.5ms") == count * MILLISECOND + MILLISECOND // 2
