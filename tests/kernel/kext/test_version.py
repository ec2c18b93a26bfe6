"""Kext versions as ``OSKextParseVersionString`` reads them, compares and prints them."""

from __future__ import annotations

import itertools

import pytest

from kextlab.kernel.kext.errors import KextVersionError
from kextlab.kernel.kext.version import (
    KextVersion,
    KextVersionStage,
    is_compatible,
    parse_version,
)


@pytest.mark.parametrize(
    ("text", "parts", "value"),
    [
        ("1", (1, 0, 0, KextVersionStage.RELEASE, 0), 1_000_000_009_000),
        ("1.2.3", (1, 2, 3, KextVersionStage.RELEASE, 0), 1_000_200_039_000),
        ("1.2.3d4", (1, 2, 3, KextVersionStage.DEVELOPMENT, 4), 1_000_200_031_004),
        ("1.0a1", (1, 0, 0, KextVersionStage.ALPHA, 1), 1_000_000_003_001),
        ("2.0b3", (2, 0, 0, KextVersionStage.BETA, 3), 2_000_000_005_003),
        ("3.0fc1", (3, 0, 0, KextVersionStage.CANDIDATE, 1), 3_000_000_007_001),
        ("3.0f2", (3, 0, 0, KextVersionStage.CANDIDATE, 2), 3_000_000_007_002),
        ("8.0.0d0", (8, 0, 0, KextVersionStage.DEVELOPMENT, 0), 8_000_000_001_000),
        ("9999.9999.9999fc255", (9999, 9999, 9999, KextVersionStage.CANDIDATE, 255), None),
        ("1d1", (1, 0, 0, KextVersionStage.DEVELOPMENT, 1), None),
        ("1.2b3", (1, 2, 0, KextVersionStage.BETA, 3), None),
    ],
)
def test_valid_versions_parse_into_their_parts_and_packed_value(
    text: str, parts: tuple[int, int, int, KextVersionStage, int], value: int | None
) -> None:
    """Each number, the stage and its level land where OSKextVersion.c puts them."""
    version = parse_version(text)
    assert (
        version.major,
        version.minor,
        version.revision,
        version.stage,
        version.stage_level,
    ) == parts
    assert version.text == text
    if value is not None:
        assert version.value == value


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("1.0 beta", "1.0"),
        ("1.0\tx", "1.0"),
        ("2.1\n", "2.1"),
        ("1.0\0junk", "1.0"),
        ("1.", "1.0"),
        ("1.2.", "1.2"),
        ("1..2", "1.0.2"),
        ("1.2.3333.", "1.2.3333"),
        ("1234.5678.9012", "1234.5678.9012"),
    ],
)
def test_whitespace_ends_a_version_and_the_scanner_quirks_are_kept(text: str, meaning: str) -> None:
    """Whitespace or NUL ends the string, a trailing '.' is taken where the C scanner takes it."""
    assert parse_version(text) == parse_version(meaning)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (" 1.0", "begin with a digit"),
        ("v1.0", "begin with a digit"),
        ("12345", "major version has more than 4 digits"),
        ("1.23456", "minor version has more than 4 digits"),
        ("1.2.34567", "revision has more than 4 digits"),
        ("1.2.3.4", "revision may be followed only by"),
        ("1.2.3.", "revision may be followed only by"),
        ("1...", "revision may be followed only by"),
        ("1.0x", "minor version may be followed only by"),
        ("1.0b", "needs a level"),
        ("1.0fc", "needs a level"),
        ("1.0c1", "minor version may be followed only by"),
        ("1.0fc0", "final candidate's level must be at least 1"),
        ("1.0f0", "final candidate's level must be at least 1"),
        ("1.0b256", "above 255"),
        ("1.0b1000", "more than 3 digits"),
        ("1.0b12x", "followed only by the end"),
        ("1.0b123x", "followed only by the end"),
        ("APPLEUSBEHCI_VERSION", "begin with a digit"),
        ("$(CURRENT_PROJECT_VERSION)", "begin with a digit"),
        ("\u0661.0", "begin with a digit"),
    ],
)
def test_invalid_versions_are_rejected_with_the_reason(text: str, reason: str) -> None:
    """Every string OSKextParseVersionString returns -1 for raises, saying why."""
    with pytest.raises(KextVersionError, match=reason) as caught:
        parse_version(text)
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_a_version_that_is_not_a_string_is_rejected() -> None:
    """A plist integer where a version string belongs is refused by type."""
    with pytest.raises(KextVersionError, match="a version is a string"):
        parse_version(1)  # type: ignore[arg-type]


def test_versions_order_by_stage_before_the_release() -> None:
    """d < a < b < fc < release, and any pre-release of a number sorts before it."""
    ordered = ["1.0d1", "1.0d2", "1.0a1", "1.0b1", "1.0b10", "1.0fc1", "1.0", "1.0.1d1", "1.0.1"]
    versions = [parse_version(text) for text in ordered]
    shuffled = [versions[index] for index in (4, 8, 0, 6, 2, 7, 1, 5, 3)]
    assert sorted(shuffled) == versions
    assert all(earlier < later for earlier, later in itertools.pairwise(versions))


def test_equal_versions_written_differently_compare_and_hash_equal() -> None:
    """1.2 and 1.2.0 are the same OSKextVersion."""
    assert parse_version("1.2") == parse_version("1.2.0")
    assert hash(parse_version("1.2")) == hash(parse_version("1.2.0"))
    assert parse_version("3.0fc1") == parse_version("3.0f1")
    assert parse_version("1.2") != "1.2"


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("1.2.3", "1.2.3"),
        ("1.2.0", "1.2"),
        ("1", "1.0"),
        ("3.0fc1", "3.0f1"),
        ("1.2.3d4", "1.2.3d4"),
        ("8.0.0b1", "8.0b1"),
        ("0", "0.0"),
    ],
)
def test_the_string_form_is_oskextversiongetstring(text: str, printed: str) -> None:
    """Minor always, revision only when non-zero, a candidate printed as 'f'."""
    assert str(parse_version(text)) == printed


def test_a_version_round_trips_through_its_packed_value() -> None:
    """from_value inverts value."""
    for text in ("1.2.3d4", "19.0.0", "8.0.0b1", "3.0fc1", "9999.9999.9999b255"):
        version = parse_version(text)
        assert KextVersion.from_value(version.value) == version


def test_a_packed_value_with_no_stage_code_is_rejected() -> None:
    """Stage codes are 1, 3, 5, 7 and 9 only."""
    with pytest.raises(KextVersionError, match="no build stage has code 2"):
        KextVersion.from_value(1_000_000_002_000)
    with pytest.raises(KextVersionError, match="positive"):
        KextVersion.from_value(0)


def test_a_version_built_directly_checks_its_ranges() -> None:
    """The constructor refuses what the parser could never produce."""
    assert KextVersion(1, 2).text == "1.2"
    with pytest.raises(KextVersionError, match="major must be 0 to 9999"):
        KextVersion(10000)
    with pytest.raises(KextVersionError, match="stage level must be 0 to 255"):
        KextVersion(1, stage=KextVersionStage.BETA, stage_level=256)
    with pytest.raises(KextVersionError, match="a release has no stage level"):
        KextVersion(1, stage_level=1)
    with pytest.raises(KextVersionError, match="at least 1"):
        KextVersion(1, stage=KextVersionStage.CANDIDATE)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("1.0.0b1", True), ("2.0", True), ("2.9", True), ("1.0.0a9", False), ("3.0", False)],
)
def test_a_library_satisfies_versions_from_its_compatible_version_to_its_version(
    requested: str, expected: bool
) -> None:
    """compatible_version <= requested <= version (OSKextIsCompatibleWithVersion)."""
    version, compatible = parse_version("2.9"), parse_version("1.0.0b1")
    assert is_compatible(version, compatible, parse_version(requested)) is expected


def test_a_library_without_a_compatible_version_satisfies_nothing() -> None:
    """No OSBundleCompatibleVersion, no dependents, even for its own version."""
    version = parse_version("2.9")
    assert not is_compatible(version, None, version)
