"""Reading ``ioreg -l`` text dumps back into a registry.

``read_ioreg_dump`` parses what ``ioreg -l -w0`` printed (the real Macs' dumps in
``shared/data/ioreg/``, gzip or plain) into ``SnapshotNode`` trees: per entry its
name, location, class, ID, service state, busy count and time, retain count and its
properties with their types, in the order printed.  ``IOMainPortFromSnapshot`` then
serves it to every tool, and printing it again with ``-l -w0`` gives back the file.

The format (``shared/spec/iokit-matching.md`` §4, §5.3) is read line by line:

* node lines ``<columns>+-o name[@location]  <class C, id 0x…[, state…], retain N>``:
  the depth is the number of two-character columns before ``+-o``;
* property blocks ``{``, ``"key" = value`` lines, ``}``, then a blank line;
* a line that fits none of these continues the previous property's value: ``ioreg``
  prints a string's newlines as they are (Broadcom's ``IO80211HardwareVersion``).

Values follow ``cfshow``.  Strings are not escaped by ``ioreg``, so a string ends at
a quote followed by what may follow a value (``,`` ``}`` ``)`` ``]``, or ``=`` after a
dictionary key, or the end).  Data printed as strings comes back as those strings
each ending in NUL, which ``ioreg`` prints identically; a property's data that is
its whole value ends at its last ``">``, as strings of XML (``efi-boot-device``,
a battery's ``Battery``) hold quotes followed by ``>``.  Numbers come back as
integers; an empty value (a non-ASCII string ``ioreg`` could not print) as U+FFFD;
what cannot be read back, such as data someone redacted (``<a**********c>``) or
``<unknown object>``, as a ``PrintedValue`` that prints as it was.

Files are UTF-8; bytes that are not (a user name in Mac Roman) are kept as lone
surrogates (``surrogateescape``), so they are written back unchanged.

A dump that is cut short or damaged stops the reader with ``IORegDumpError`` naming
the file and line.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

from kextlab.errors import KextlabError
from kextlab.userland.iokitlib import PrintedValue, ServiceState, SnapshotNode, UserSet

UNPRINTABLE_STRING = "\ufffd"

_NODE = re.compile(
    r"^(?P<indent>(?:[| ] )*)\+-o (?P<body>.*)  <class (?P<class>[^,>]+), id 0x(?P<id>[0-9a-f]+)"
    r"(?:, (?P<registered>!?)registered, (?P<matched>!?)matched, (?P<active>(?:in)?)active, "
    r"busy (?P<busy>\d+)(?: \((?P<ms>\d+) ms\))?)?, retain (?P<retain>\d+)>$"
)
_PROPERTY = re.compile(r'^[| ]*  "(?P<key>.*?)" = (?P<value>.*)$', re.DOTALL)
_OPEN = re.compile(r"^[| ]*\{$")
_CLOSE = re.compile(r"^[| ]*\}$")
_BLANK = re.compile(r"^[| ]*$")
_VALUE_END = {",", "}", ")", "]"}
#: A busy time printed as N ms lies in [N, N + 1) ms; we keep the middle.
_HALF_MILLISECOND = 500_000


class IORegDumpError(KextlabError, ValueError):
    """An ``ioreg`` dump that cannot be read; names the file and the line (0: the
    file as a whole)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


class _Values:
    """A recursive-descent reader for one printed value."""

    def __init__(self, text: str, source: str, line: int) -> None:
        self.text = text
        self.position = 0
        self.source = source
        self.line = line

    def error(self, message: str) -> IORegDumpError:
        return IORegDumpError(
            self.source, self.line, f"{message} at column {self.position + 1} of the value"
        )

    def top(self) -> object:
        text = self.text
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            return text[1:-1]
        value = self.value(top=True)
        if self.position != len(text):
            raise self.error("unexpected text after the value")
        return value

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def value(self, *, top: bool = False) -> object:
        char = self.peek()
        if char == '"':
            return self.string(_VALUE_END)
        if char == "<":
            return self.data(top=top)
        if char == "{":
            return self.dictionary()
        if char == "(":
            return self.sequence(")", [])
        if char == "[":
            return self.sequence("]", UserSet())
        if self.text.startswith("Yes", self.position):
            self.position += 3
            return True
        if self.text.startswith("No", self.position):
            self.position += 2
            return False
        if char.isdigit():
            return self.number()
        if char == "" or char in _VALUE_END:
            return UNPRINTABLE_STRING
        raise self.error(f"unexpected {char!r}")

    def string(self, ends: set[str]) -> str:
        start = self.position + 1
        search = start
        text = self.text
        while True:
            quote = text.find('"', search)
            if quote < 0:
                raise self.error("unterminated string")
            following = text[quote + 1 : quote + 2]
            if following == "" or following in ends:
                self.position = quote + 1
                return text[start:quote]
            search = quote + 1

    def number(self) -> int:
        match = re.compile(r"0x[0-9a-f]+|\d+").match(self.text, self.position)
        assert match is not None
        self.position = match.end()
        return int(match.group(0), 0)

    def data(self, *, top: bool = False) -> object:
        text = self.text
        if text.startswith("<unknown object>", self.position):
            self.position += len("<unknown object>")
            return PrintedValue("<unknown object>")
        start = self.position
        self.position += 1
        if self.peek() == '"':
            if top and text.endswith('">'):
                strings = text[self.position + 1 : -2].split('","')
                self.position = len(text)
            else:
                strings = self.data_strings()
            return b"".join(part.encode("utf-8", "surrogateescape") + b"\0" for part in strings)
        end = text.find(">", self.position)
        if end < 0:
            raise self.error("unterminated data")
        digits = text[self.position : end]
        self.position = end + 1
        try:
            return bytes.fromhex(digits)
        except ValueError:
            return PrintedValue(text[start : self.position])

    def data_strings(self) -> list[str]:
        """The quoted strings of data inside a collection, up to the closing ``>``."""
        text = self.text
        strings: list[str] = []
        while True:
            start = self.position + 1
            search = start
            while True:
                quote = text.find('"', search)
                if quote < 0:
                    raise self.error("unterminated data string")
                following = text[quote + 1 : quote + 3]
                if following.startswith(">") or following == ',"':
                    break
                search = quote + 1
            strings.append(text[start:quote])
            self.position = quote + 1
            if self.peek() == ">":
                self.position += 1
                return strings
            self.position += 1  # the comma; the next string's quote follows

    def dictionary(self) -> dict[str, object]:
        self.position += 1
        result: dict[str, object] = {}
        if self.peek() == "}":
            self.position += 1
            return result
        while True:
            if self.peek() != '"':
                raise self.error("expected a quoted key")
            key = self.string({"="})
            if self.peek() != "=":
                raise self.error("expected '=' after a key")
            self.position += 1
            result[key] = self.value()
            char = self.peek()
            self.position += 1
            if char == "}":
                return result
            if char != ",":
                raise self.error("expected ',' or '}' in a dictionary")

    def sequence(self, close: str, into: list[object]) -> list[object]:
        self.position += 1
        if self.peek() == close:
            self.position += 1
            return into
        while True:
            into.append(self.value())
            char = self.peek()
            self.position += 1
            if char == close:
                return into
            if char != ",":
                raise self.error(f"expected ',' or {close!r}")


def read_ioreg_dump(text: str, source: str = "<dump>") -> SnapshotNode:
    """The tree an ``ioreg -l`` dump recorded (text decoded as UTF-8 with
    ``surrogateescape``, so every byte survives)."""
    root: SnapshotNode | None = None
    stack: list[SnapshotNode] = []
    current: SnapshotNode | None = None
    in_block = False
    last_property: list[object] | None = None  # [key, raw value text, line]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    def finish_property() -> None:
        nonlocal last_property
        if last_property is not None and current is not None:
            key, raw, line = last_property
            assert current.properties is not None
            current.properties.append((str(key), _Values(str(raw), source, int(str(line))).top()))
        last_property = None

    for number, line in enumerate(lines, start=1):
        node = _NODE.match(line)
        if node is not None and not in_block:
            depth = len(node.group("indent")) // 2
            name, at, location = node.group("body").rpartition("@")
            if not at:
                name, location = location, ""
            service = None
            if node.group("registered") is not None:
                service = ServiceState(
                    registered=not node.group("registered"),
                    matched=not node.group("matched"),
                    active=not node.group("active"),
                    busy=int(node.group("busy")),
                    busy_time=(
                        int(node.group("ms")) * 1_000_000 + _HALF_MILLISECOND
                        if node.group("ms") is not None
                        else 0
                    ),
                )
            entry = SnapshotNode(
                name,
                location if at else None,
                node.group("class"),
                int(node.group("id"), 16),
                int(node.group("retain")),
                service,
                line=number,
            )
            if depth == 0:
                if root is not None:
                    raise IORegDumpError(source, number, "a second root entry")
                root = entry
                stack = [entry]
            else:
                if depth > len(stack):
                    raise IORegDumpError(source, number, f"entry at depth {depth} has no parent")
                del stack[depth:]
                stack[-1].children.append(entry)
                stack.append(entry)
            current = entry
            continue
        if current is None:
            raise IORegDumpError(source, number, "expected a '+-o' entry line first")
        if not in_block:
            if _OPEN.match(line):
                if current.properties is not None:
                    raise IORegDumpError(source, number, "a second property block")
                current.properties = []
                in_block = True
                continue
            if _BLANK.match(line):
                continue
            raise IORegDumpError(source, number, f"unexpected line {line[:40]!r}")
        prop = _PROPERTY.match(line)
        if prop is not None:
            finish_property()
            last_property = [prop.group("key"), prop.group("value"), number]
            continue
        if _CLOSE.match(line):
            finish_property()
            in_block = False
            continue
        if last_property is None:
            raise IORegDumpError(
                source, number, f"unexpected line in a property block {line[:40]!r}"
            )
        last_property[1] = f"{last_property[1]}\n{line}"
    if in_block:
        raise IORegDumpError(
            source, len(lines), "the dump ends inside a property block: it is truncated"
        )
    if root is None:
        raise IORegDumpError(source, 1, "no registry entries: not an ioreg dump")
    return root


def read_ioreg_dump_file(path: str | Path) -> SnapshotNode:
    """Read a dump file, gzip-compressed or plain."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise IORegDumpError(str(file), 0, "dump file not found") from None
    except OSError as error:
        raise IORegDumpError(str(file), 0, f"cannot read: {error.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise IORegDumpError(str(file), 0, f"damaged gzip data ({error})") from None
    return read_ioreg_dump(raw.decode("utf-8", "surrogateescape"), str(file))
