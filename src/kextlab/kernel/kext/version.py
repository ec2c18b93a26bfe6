"""Kext versions: parsing, comparison, printing and the compatibility rule.

Mirrors libkern's ``OSKextVersion.c`` (``OSKextParseVersionString``,
``OSKextVersionGetString``; xnu ``libkern/OSKextVersion.c``, the same file as
IOKitUser's ``kext.subproj/OSKextVersion.c``) and the compatibility checks of
``OSKext::isCompatibleWithVersion`` (xnu ``libkern/c++/OSKext.cpp``) and
``OSKextIsCompatibleWithVersion`` (IOKitUser ``kext.subproj/OSKext.c``).

Design
------
A kext version is Mac OS's extended ``'vers'`` format (``OSKextLib.h``:
``####.##.##s{1-255}``): ``MAJOR[.MINOR[.REVISION]][STAGE LEVEL]`` with

* up to 4 decimal digits in each of major, minor and revision (0-9999);
* an optional build stage, ``d`` (development), ``a`` (alpha), ``b`` (beta) or
  ``f``/``fc`` (final candidate), which must be followed by a level of 1-3 digits,
  at most 255; a candidate's level must be at least 1 (``1.0fc0`` is refused,
  ``1.0d0`` is fine);
* no stage means a release, which sorts after every pre-release of the same number.

libkern packs a version into one integer, ``major·10¹² + minor·10⁸ +
revision·10⁴ + stage·10³ + level`` with stage codes d=1, a=3, b=5, fc=7,
release=9, and compares versions as integers: ``1.0d1 < 1.0a1 < 1.0b1 < 1.0fc1 <
1.0 < 1.0.1``.  ``KextVersion.value`` is that integer, and ordering, equality and
hashing use it, so ``1.2`` equals ``1.2.0``.

The parser is a character-by-character scanner and has quirks, kept here because a
plist that loads on a Mac must load here and one that fails there must fail here:

* a space, tab, CR or LF ends the version, and anything after it is ignored
  (``"1.0 beta"`` is 1.0), as does a NUL (the C string ends there);
* leading whitespace is refused: the first character must be a digit;
* an empty number counts as 0 (``"1..2"`` is 1.0.2), and a trailing ``.`` is
  accepted after the major or minor number (``"1."``, ``"1.2."``) but not after a
  revision of fewer than 4 digits (``"1.2.3."`` is refused while ``"1.2.3333."``
  is accepted: after 4 digits the scanner skips one ``.`` before looking for a
  stage);
* the stage may follow any number directly (``"1d1"``, ``"1.2b3"``);
* only the ASCII digits 0-9 count, not other Unicode digits.

The string form is ``OSKextVersionGetString``'s: major and minor always, the revision
only when it is not 0, a candidate printed as ``f`` (so ``3.0fc1`` prints as
``3.0f1``).  ``KextVersion.text`` keeps the string the version was parsed from.

Compatibility
-------------
A library kext L satisfies a dependency on version V when L declares a valid
``OSBundleCompatibleVersion`` and ``L.compatible_version <= V <= L.version``
(``is_compatible``).  That is user space's rule (``OSKextIsCompatibleWithVersion``,
used by ``kextd``/``kextutil`` to resolve dependencies before a load).  The kernel's
``OSKext::isCompatibleWithVersion`` checks only ``V <= L.version`` (and
``compatible_version <= version``, which the bundle reader enforces), never the lower
bound; kextlab resolves as user space does.  There is no exception for
``com.apple.kpi.*`` or ``com.apple.kernel.*``: those are ordinary kexts with
versions and compatible versions (see ``builtin.py``).

Threading rules: pure values, usable anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Final

from kextlab.kernel.kext.errors import KextVersionError

#: Digits allowed per number (``VERS_MAJOR_DIGITS``... in ``OSKextVersion.c``).
NUMBER_DIGITS: Final = 4
#: Digits allowed in a stage level (``VERS_STAGE_LEVEL_DIGITS``).
STAGE_LEVEL_DIGITS: Final = 3
#: The highest stage level (``VERS_STAGE_LEVEL_MAX``).
STAGE_LEVEL_MAX: Final = 255
#: The highest major, minor or revision number.
NUMBER_MAX: Final = 10**NUMBER_DIGITS - 1

# Multipliers of the packed integer (``VERS_MAJOR_MULT``...).
_MAJOR_MULTIPLIER: Final = 1_000_000_000_000
_MINOR_MULTIPLIER: Final = 100_000_000
_REVISION_MULTIPLIER: Final = 10_000
_STAGE_MULTIPLIER: Final = 1_000

_DIGITS: Final = "0123456789"
#: Characters that end a version string, as ``__vers_isspace`` and the C terminator.
_TERMINATORS: Final = " \t\r\n\0"


class KextVersionStage(enum.IntEnum):
    """The build stage of a version (``OSKextVersionStage``), in sort order."""

    DEVELOPMENT = 1
    ALPHA = 3
    BETA = 5
    CANDIDATE = 7
    RELEASE = 9

    @property
    def letter(self) -> str:
        """The letter ``OSKextVersionGetString`` prints for this stage."""
        return _STAGE_LETTERS[self]


_STAGE_LETTERS: Final = {
    KextVersionStage.DEVELOPMENT: "d",
    KextVersionStage.ALPHA: "a",
    KextVersionStage.BETA: "b",
    KextVersionStage.CANDIDATE: "f",
    KextVersionStage.RELEASE: "",
}
_STAGES_BY_LETTER: Final = {
    "d": KextVersionStage.DEVELOPMENT,
    "a": KextVersionStage.ALPHA,
    "b": KextVersionStage.BETA,
    "f": KextVersionStage.CANDIDATE,
}


@total_ordering
@dataclass(frozen=True, eq=False)
class KextVersion:
    """One kext version (``OSKextVersion``); compare, hash and print it.

    Build one with ``parse_version``; the constructor checks the ranges only.
    """

    major: int
    minor: int = 0
    revision: int = 0
    stage: KextVersionStage = KextVersionStage.RELEASE
    stage_level: int = 0
    #: The string this version was parsed from (its own string form if built directly).
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("major", "minor", "revision"):
            number = getattr(self, name)
            if not 0 <= number <= NUMBER_MAX:
                raise KextVersionError(str(number), f"{name} must be 0 to {NUMBER_MAX}")
        if not 0 <= self.stage_level <= STAGE_LEVEL_MAX:
            raise KextVersionError(
                str(self.stage_level), f"stage level must be 0 to {STAGE_LEVEL_MAX}"
            )
        if self.stage is KextVersionStage.RELEASE and self.stage_level:
            raise KextVersionError(str(self.stage_level), "a release has no stage level")
        if self.stage is KextVersionStage.CANDIDATE and not self.stage_level:
            raise KextVersionError("fc0", "a final candidate's level must be at least 1")
        if not self.text:
            object.__setattr__(self, "text", str(self))

    @property
    def value(self) -> int:
        """The packed integer libkern compares (an ``OSKextVersion``)."""
        return (
            self.major * _MAJOR_MULTIPLIER
            + self.minor * _MINOR_MULTIPLIER
            + self.revision * _REVISION_MULTIPLIER
            + self.stage * _STAGE_MULTIPLIER
            + self.stage_level
        )

    @classmethod
    def from_value(cls, value: int) -> KextVersion:
        """The version packed as ``value`` (the inverse of ``value``)."""
        if value <= 0:
            raise KextVersionError(str(value), "a packed version is a positive integer")
        major, rest = divmod(value, _MAJOR_MULTIPLIER)
        minor, rest = divmod(rest, _MINOR_MULTIPLIER)
        revision, rest = divmod(rest, _REVISION_MULTIPLIER)
        stage, level = divmod(rest, _STAGE_MULTIPLIER)
        try:
            stage_code = KextVersionStage(stage)
        except ValueError:
            raise KextVersionError(str(value), f"no build stage has code {stage}") from None
        return cls(major, minor, revision, stage_code, level)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.revision:
            text += f".{self.revision}"
        if self.stage is not KextVersionStage.RELEASE:
            text += f"{self.stage.letter}{self.stage_level}"
        return text

    def __repr__(self) -> str:
        return f"KextVersion({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KextVersion):
            return NotImplemented
        return self.value == other.value

    def __lt__(self, other: KextVersion) -> bool:
        if not isinstance(other, KextVersion):
            return NotImplemented
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)


def is_compatible(
    version: KextVersion, compatible_version: KextVersion | None, requested: KextVersion
) -> bool:
    """Whether a library of ``version`` back to ``compatible_version`` satisfies a
    dependency on ``requested`` (``OSKextIsCompatibleWithVersion``).

    A library without a compatible version satisfies nothing.
    """
    return compatible_version is not None and compatible_version <= requested <= version


class _Scanner:
    """``OSKextParseVersionString``'s cursor over one string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    @property
    def current(self) -> str:
        """The character under the cursor; past the end, the C terminator."""
        return self.text[self.position] if self.position < len(self.text) else "\0"

    def at_end(self) -> bool:
        return self.current in _TERMINATORS

    def fail(self, reason: str) -> KextVersionError:
        return KextVersionError(self.text, reason)

    def unexpected(self, part: str, allowed: str) -> KextVersionError:
        return self.fail(
            f"{part} may be followed only by {allowed}, "
            f"not {self.current!r} (index {self.position})"
        )


def parse_version(text: str) -> KextVersion:
    """The version ``text`` names, exactly as ``OSKextParseVersionString`` reads it.

    Raises ``KextVersionError`` saying what is wrong; see the module docstring for
    the format and its quirks.
    """
    if not isinstance(text, str):
        raise KextVersionError(repr(text), f"a version is a string, not {type(text).__name__}")
    scan = _Scanner(text)
    if not text or text[0] == "\0":
        raise scan.fail("it is empty")
    if text[0] not in _DIGITS:
        raise scan.fail(f"it must begin with a digit, not {text[0]!r}")
    numbers = [0, 0, 0]
    stage_letters = "d, a, b, f or fc"
    parts = ("major version", "minor version", "revision")
    # Major, minor and revision: each up to 4 digits.  A stage letter jumps to the
    # stage; "." moves to the next number (not after the revision); whitespace ends.
    index = 0
    while index < 3:
        part = parts[index]
        digits = 0
        moved_on = False
        while digits < NUMBER_DIGITS:
            character = scan.current
            if scan.at_end():
                return _finish(scan, numbers, KextVersionStage.RELEASE, 0)
            if character in _DIGITS:
                numbers[index] = numbers[index] * 10 + _DIGITS.index(character)
                scan.position += 1
                digits += 1
            elif character in _STAGES_BY_LETTER:
                return _parse_stage(scan, numbers)
            elif character == "." and index < 2:
                scan.position += 1
                moved_on = True
                break
            else:
                allowed = (
                    f"digits, '.' or a build stage ({stage_letters})"
                    if index < 2
                    else f"digits or a build stage ({stage_letters})"
                )
                raise scan.unexpected(part, allowed)
        if not moved_on:
            # Four digits read: one "." may follow (even after the revision); a fifth
            # digit may not; anything else is looked at by the next part.
            if scan.current == ".":
                scan.position += 1
            elif scan.current in _DIGITS:
                raise scan.fail(f"the {part} has more than {NUMBER_DIGITS} digits")
        index += 1
    return _parse_stage(scan, numbers)


def _parse_stage(scan: _Scanner, numbers: list[int]) -> KextVersion:
    """The build stage and its level, from the cursor to the end of the version."""
    if scan.at_end():
        return _finish(scan, numbers, KextVersionStage.RELEASE, 0)
    letter = scan.current
    stage = _STAGES_BY_LETTER.get(letter)
    if stage is None:
        raise scan.fail(
            f"expected a build stage (d, a, b, f or fc) at index {scan.position}, not {letter!r}"
        )
    scan.position += 1
    if stage is KextVersionStage.CANDIDATE and scan.current == "c":
        scan.position += 1
    if scan.current not in _DIGITS:
        raise scan.fail(f"the build stage at index {scan.position - 1} needs a level (1-3 digits)")
    level = 0
    digits = 0
    while digits < STAGE_LEVEL_DIGITS and not scan.at_end():
        character = scan.current
        if character not in _DIGITS:
            raise scan.fail(
                f"a stage level may be followed only by the end of the version, "
                f"not {character!r} (index {scan.position})"
            )
        level = level * 10 + _DIGITS.index(character)
        scan.position += 1
        digits += 1
    if scan.current in _DIGITS:
        raise scan.fail(f"the stage level has more than {STAGE_LEVEL_DIGITS} digits")
    if not scan.at_end():
        raise scan.fail(
            f"a stage level may be followed only by the end of the version, "
            f"not {scan.current!r} (index {scan.position})"
        )
    if level > STAGE_LEVEL_MAX:
        raise scan.fail(f"stage level {level} is above {STAGE_LEVEL_MAX}")
    return _finish(scan, numbers, stage, level)


def _finish(scan: _Scanner, numbers: list[int], stage: KextVersionStage, level: int) -> KextVersion:
    if stage is KextVersionStage.CANDIDATE and level == 0:
        raise scan.fail("a final candidate's level must be at least 1")
    major, minor, revision = numbers
    return KextVersion(major, minor, revision, stage, level, scan.text)
