"""Reading device trees in Mac-on-Linux's text format (``shared/data/oftrees/``).

Mac-on-Linux shipped real Power Macintosh Open Firmware trees (a Blue & White G3,
an 8500, a 7200...) in a small text format, read by ``mol-src/src/main/promif.c``::

    # comment
    {                                       a node
        (property name        <str>  "pci" )
        (property compatible  <str>  "DEC,21154", "pci-bridge" )
        (property reg         <word> 0x00006800 0x0 0x0 0x0 0x0 )
        (property slot-names  <byte> 0x00 0x00 0x03 0x9e 0x4A 0x31 0x00 )
        (property built-in )                a property without a value
        (unit_string 0 )                    the node's unit address
        (mol_phandle 0xff861220 )           its phandle
        { ... }                             a child
    }

This reader follows promif.c's semantics, stated here so they are not rediscovered:

* ``<str>``: the characters between double quotes, verbatim (no escapes: Apple's
  ``hd:,\\:tbxi`` keeps both backslashes); each comma outside quotes ends a string;
  the value always ends with a NUL.
* ``<word>``: 32-bit cells, ``0x`` hex or decimal, stored big-endian as on the
  PowerPC; ``<byte>``: one byte per number.
* ``#`` starts a comment.  A ``(`` inside a comment comments out its whole
  expression, up to the matching ``)``, even across lines (the ``no-boot`` property
  of ``oftree.nw`` is commented out that way).  promif.c applies this to any ``(``
  with text before it on its line; in the real files that text is always ``#``, and
  other stray text is an error here.
* A file may hold more than one top-level node (``oftree.starmax.4160`` puts a
  ``starmax_hack`` node before ``device-tree``; MOL serves it as the root's peer).
  The node named ``device-tree`` is the root; the others are kept in
  ``DeviceTree.top_level_peers``.
* Older files name nodes with ``(name ...)`` and carry ``(full_name ...)``,
  ``(type ...)``, ``(addrs ...)`` and ``(intrs ...)`` copies of Linux's device-node
  fields; ``name`` is used when a node has no ``name`` property, the rest is ignored.

Where promif.c shrugs, this reader stops with ``DeviceTreeSyntaxError`` naming the
file and line: an unknown entry, an unknown data type, a number that is not one, an
unbalanced brace or parenthesis.  Parentheses inside quoted strings do not count.

Nodes without ``unit_string`` get the unit address Open Firmware would print, from
the first ``reg`` entry: ``DD[,F]`` under a PCI bus, hex cells otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kextlab.errors import DeviceTreeSyntaxError
from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode, unit_address
from kextlab.firmware.pci_binding import unit_address as pci_unit_address

LEGACY_ENTRIES = frozenset({"full_name", "type", "addrs", "intrs"})


@dataclass
class _PendingNode:
    line: int
    node: DeviceTreeNode = field(default_factory=lambda: DeviceTreeNode(""))
    legacy_name: str | None = None


class _Scanner:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.position = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> DeviceTreeSyntaxError:
        return DeviceTreeSyntaxError(self.source, line or self.line, message)

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def advance(self) -> str:
        char = self.text[self.position]
        self.position += 1
        if char == "\n":
            self.line += 1
        return char

    def expression(self) -> tuple[str, int]:
        """The text of a balanced ``( ... )`` starting here, without the outer parentheses."""
        start_line = self.line
        self.advance()  # "("
        depth = 1
        quoted = False
        start = self.position
        while self.position < len(self.text):
            char = self.advance()
            if char == '"':
                quoted = not quoted
            elif quoted:
                continue
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return self.text[start : self.position - 1], start_line
        raise self.error("unbalanced '(': no matching ')'", start_line)

    def comment(self) -> None:
        """Skip a comment; a ``(`` in it comments out its whole expression."""
        while self.position < len(self.text) and self.peek() != "\n":
            if self.peek() == "(":
                self.expression()
            else:
                self.advance()


def read_mol_tree(text: str, source: str = "<string>") -> DeviceTree:
    """Parse Mac-on-Linux tree text into a ``DeviceTree``."""
    scanner = _Scanner(text, source)
    stack: list[_PendingNode] = []
    roots: list[_PendingNode] = []
    while scanner.position < len(text):
        char = scanner.peek()
        if char.isspace():
            scanner.advance()
        elif char == "#":
            scanner.comment()
        elif char == "{":
            pending = _PendingNode(scanner.line)
            scanner.advance()
            if stack:
                stack[-1].node.attach(pending.node)
            else:
                roots.append(pending)
            stack.append(pending)
        elif char == "}":
            if not stack:
                raise scanner.error("'}' without a node to close")
            scanner.advance()
            _finish_node(stack.pop())
        elif char == "(":
            line = scanner.line
            body, _ = scanner.expression()
            if not stack:
                raise scanner.error("an entry outside any node", line)
            _apply_entry(stack[-1], body, scanner, line)
        else:
            raise scanner.error(f"unexpected {char!r}: expected '{{', '}}', '(' or a comment")
    if stack:
        raise scanner.error("end of file inside a node: missing '}'", stack[-1].line)
    if not roots:
        raise scanner.error("no node in the file: expected '{'")
    root = roots[0]
    if len(roots) > 1:
        named = [pending for pending in roots if pending.node.name == "device-tree"]
        if len(named) != 1:
            raise scanner.error(
                f"{len(roots)} top-level nodes and {len(named)} named device-tree: expected one "
                f"root",
                roots[1].line,
            )
        root = named[0]
    tree = DeviceTree(root.node)
    tree.top_level_peers = [pending.node for pending in roots if pending is not root]
    _derive_unit_addresses(tree)
    tree.assign_phandles()
    return tree


def read_mol_tree_file(path: str | Path) -> DeviceTree:
    file = Path(path)
    return read_mol_tree(file.read_text(encoding="latin-1"), str(file))


def _finish_node(pending: _PendingNode) -> None:
    """Name the node as promif.c's ``node_name`` does: the ``name`` property up to its
    first NUL (if the value is NUL-terminated), else the legacy ``(name ...)``."""
    node = pending.node
    value = node.get_property("name")
    if value and value[-1] == 0:
        node.name = value.split(b"\0", 1)[0].decode("latin-1")
    else:
        node.name = pending.legacy_name or ""


def _apply_entry(pending: _PendingNode, body: str, scanner: _Scanner, line: int) -> None:
    words = body.split(None, 1)
    if not words:
        raise scanner.error("empty entry '()'", line)
    keyword = words[0]
    rest = words[1] if len(words) > 1 else ""
    node = pending.node
    if keyword == "property":
        name, value = _property(rest, scanner, line)
        node.set_property(name, value)
    elif keyword == "unit_string":
        unit = rest.split()
        if len(unit) != 1:
            raise scanner.error(f"unit_string takes one word, not {rest.strip()!r}", line)
        node.unit_address = unit[0]
    elif keyword == "mol_phandle":
        node.phandle = _number(rest.strip(), scanner, line) & 0xFFFF_FFFF
    elif keyword == "name":
        pending.legacy_name = rest.strip()
    elif keyword not in LEGACY_ENTRIES:
        raise scanner.error(
            f"unknown entry {keyword!r}: expected property, unit_string, "
            f"mol_phandle or one of the legacy name, full_name, type, addrs, "
            f"intrs",
            line,
        )


def _property(text: str, scanner: _Scanner, line: int) -> tuple[str, bytes]:
    parts = text.split(None, 1)
    if not parts:
        raise scanner.error("property without a name", line)
    name = parts[0]
    rest = parts[1].lstrip() if len(parts) > 1 else ""
    if not rest:
        return name, b""
    if not rest.startswith("<") or ">" not in rest:
        raise scanner.error(f"property {name}: expected a type <str>, <word> or <byte>", line)
    kind, _, data = rest.partition(">")
    kind += ">"
    if kind == "<str>":
        return name, _strings(data)
    if kind == "<word>":
        return name, b"".join(
            (_number(token, scanner, line) & 0xFFFF_FFFF).to_bytes(4, "big")
            for token in data.split()
        )
    if kind == "<byte>":
        return name, bytes(_number(token, scanner, line) & 0xFF for token in data.split())
    raise scanner.error(
        f"property {name}: unknown type {kind}; expected <str>, <word> or <byte>", line
    )


def _strings(data: str) -> bytes:
    out = bytearray()
    quoted = False
    for char in data:
        if char == '"':
            quoted = not quoted
        elif quoted:
            out += char.encode("latin-1")
        elif char == ",":
            out.append(0)
    out.append(0)
    return bytes(out)


def _number(token: str, scanner: _Scanner, line: int) -> int:
    try:
        return int(token, 16) if token.lower().startswith("0x") else int(token, 10)
    except ValueError:
        raise scanner.error(
            f"{token!r} is not a number (expected 0x-hex or decimal)", line
        ) from None


def _derive_unit_addresses(tree: DeviceTree) -> None:
    for node in tree.nodes():
        parent = node.parent
        if node.unit_address is not None or parent is None:
            continue
        reg = node.get_cells("reg")
        cells = parent.get_int("#address-cells")
        if not reg or cells is None or cells == 0 or len(reg) < cells:
            continue
        if parent.get_string("device_type") == "pci" and cells == 3:
            node.unit_address = pci_unit_address(reg[0] >> 11 & 0x1F, reg[0] >> 8 & 0x7)
        else:
            node.unit_address = unit_address(reg[:cells])
