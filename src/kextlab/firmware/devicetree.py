"""The Open Firmware device tree: nodes, properties, phandles and paths (IEEE 1275 §3.2).

A node has a *name* (its ``name`` property), an optional *unit address* (the text
after ``@`` in a path, which the parent bus derives from the node's ``reg``), an
ordered table of properties and its children.  Property values are raw bytes,
exactly as Open Firmware stores them (integers are big-endian 32-bit cells, strings
NUL-terminated); the helpers here encode and decode the standard forms.

Paths follow IEEE 1275 §4.3: ``/pci@f2000000/pci-bridge@d/mac-io@7``.  ``find``
accepts what a user types at an ``ok`` prompt: an absolute path, an alias from
``/aliases`` as the first component, a component without its unit address when the
name is unique among the siblings, a component of only ``@unit``, and ``:args``
(ignored here, kept for the boot-path parser).

Phandles identify nodes in properties (``interrupt-parent``, ``interrupt-map``).
Nodes read from a file keep the phandles the file gives; the others get fresh ones
from a counter, so a tree built twice gets the same phandles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PHANDLE_BASE = 0xFF80_0000
PHANDLE_STEP = 0x100


# -- encoding and decoding property values ---------------------------------------------------


def encode_int(value: int) -> bytes:
    """One 32-bit cell (``encode-int``)."""
    return (value & 0xFFFF_FFFF).to_bytes(4, "big")


def encode_cells(values: Iterable[int]) -> bytes:
    return b"".join(encode_int(value) for value in values)


def encode_string(text: str) -> bytes:
    """``encode-string``: the text and a terminating NUL."""
    return text.encode("latin-1") + b"\0"


def encode_strings(texts: Iterable[str]) -> bytes:
    """A string list, as in ``compatible``: NUL-terminated strings back to back."""
    return b"".join(encode_string(text) for text in texts)


def decode_cells(value: bytes) -> list[int]:
    if len(value) % 4:
        raise ValueError(f"{len(value)} bytes are not a whole number of cells")
    return [int.from_bytes(value[index : index + 4], "big") for index in range(0, len(value), 4)]


def decode_strings(value: bytes) -> list[str] | None:
    """The strings of a NUL-terminated string list, or None if ``value`` is not one."""
    if not value or value[-1] != 0:
        return None
    parts = value[:-1].split(b"\0")
    if any(not part or any(byte < 0x20 or byte >= 0x7F for byte in part) for part in parts):
        if parts == [b""]:
            return [""]
        return None
    return [part.decode("latin-1") for part in parts]


def decode_string(value: bytes) -> str | None:
    strings = decode_strings(value)
    return strings[0] if strings is not None and len(strings) == 1 else None


def unit_address(cells: Iterable[int]) -> str:
    """The generic ``encode-unit``: each address cell in hex, comma-separated."""
    return ",".join(f"{cell:x}" for cell in cells)


# -- nodes ---------------------------------------------------------------------------------------


@dataclass
class _PhandleCounter:
    next_value: int = PHANDLE_BASE


class DeviceTreeNode:
    """One node of the device tree."""

    def __init__(
        self, name: str, unit_address: str | None = None, *, phandle: int | None = None
    ) -> None:
        self.name = name
        self.unit_address = unit_address
        self.properties: dict[str, bytes] = {}
        self.children: list[DeviceTreeNode] = []
        self.parent: DeviceTreeNode | None = None
        self.phandle = phandle or 0

    def __repr__(self) -> str:
        return f"<DeviceTreeNode {self.path}>"

    # -- structure ------------------------------------------------------------------------

    def add_child(
        self, name: str, unit_address: str | None = None, *, set_name_property: bool = True
    ) -> DeviceTreeNode:
        child = DeviceTreeNode(name, unit_address)
        if set_name_property:
            child.set_string("name", name)
        self.attach(child)
        return child

    def attach(self, child: DeviceTreeNode) -> None:
        child.parent = self
        self.children.append(child)

    def walk(self) -> Iterator[DeviceTreeNode]:
        """This node and all below it, depth first, in child order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def depth(self) -> int:
        depth = 0
        node = self.parent
        while node is not None:
            depth += 1
            node = node.parent
        return depth

    @property
    def node_name(self) -> str:
        """``name@unit`` (just ``name`` without a unit address)."""
        return f"{self.name}@{self.unit_address}" if self.unit_address else self.name

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/"
        parts = []
        node: DeviceTreeNode | None = self
        while node is not None and node.parent is not None:
            parts.append(node.node_name)
            node = node.parent
        return "/" + "/".join(reversed(parts))

    # -- properties -------------------------------------------------------------------------

    def set_property(self, name: str, value: bytes) -> None:
        self.properties[name] = bytes(value)

    def set_int(self, name: str, value: int) -> None:
        self.set_property(name, encode_int(value))

    def set_cells(self, name: str, values: Iterable[int]) -> None:
        self.set_property(name, encode_cells(values))

    def set_string(self, name: str, text: str) -> None:
        self.set_property(name, encode_string(text))

    def set_strings(self, name: str, texts: Iterable[str]) -> None:
        self.set_property(name, encode_strings(texts))

    def set_boolean(self, name: str) -> None:
        """A property with no value: its presence is the information."""
        self.set_property(name, b"")

    def has_property(self, name: str) -> bool:
        return name in self.properties

    def get_property(self, name: str) -> bytes | None:
        return self.properties.get(name)

    def get_int(self, name: str) -> int | None:
        value = self.properties.get(name)
        if value is None or len(value) != 4:
            return None
        return int.from_bytes(value, "big")

    def get_cells(self, name: str) -> list[int] | None:
        value = self.properties.get(name)
        if value is None or len(value) % 4:
            return None
        return decode_cells(value)

    def get_string(self, name: str) -> str | None:
        value = self.properties.get(name)
        return None if value is None else decode_string(value)

    def get_strings(self, name: str) -> list[str] | None:
        value = self.properties.get(name)
        return None if value is None else decode_strings(value)

    def address_cells(self) -> int:
        """``#address-cells`` this node gives its children (IEEE 1275 default: 2)."""
        value = self.get_int("#address-cells")
        return 2 if value is None else value

    def size_cells(self) -> int:
        value = self.get_int("#size-cells")
        return 1 if value is None else value

    def child(self, component: str) -> DeviceTreeNode | None:
        """The child a path component names (``name``, ``name@unit`` or ``@unit``)."""
        name, _, unit = component.partition("@")
        candidates = [
            child
            for child in self.children
            if (not name or child.name == name)
            and (not unit or _same_unit(child.unit_address, unit))
        ]
        if not unit:  # a bare name prefers the child without a unit address
            candidates.sort(key=lambda child: child.unit_address is not None)
        return candidates[0] if candidates else None


def _same_unit(unit: str | None, wanted: str) -> bool:
    if unit is None:
        return False
    if unit == "*" or unit.lower() == wanted.lower():
        return True
    try:
        return [int(part, 16) for part in unit.split(",")] == [
            int(part, 16) for part in wanted.split(",")
        ]
    except ValueError:
        return False


class DeviceTree:
    """A whole tree, with phandle lookup and path resolution."""

    def __init__(self, root: DeviceTreeNode | None = None) -> None:
        if root is None:
            root = DeviceTreeNode("device-tree")
            root.set_string("name", "device-tree")
        self.root = root
        #: Other top-level nodes a file carried beside the root (rare; see moltree).
        self.top_level_peers: list[DeviceTreeNode] = []
        self._counter = _PhandleCounter()

    def nodes(self) -> Iterator[DeviceTreeNode]:
        return self.root.walk()

    def assign_phandles(self) -> None:
        """Give every node without one a phandle, skipping those already in use."""
        used = {node.phandle for node in self.nodes() if node.phandle}
        for node in self.nodes():
            if not node.phandle:
                while self._counter.next_value in used:
                    self._counter.next_value += PHANDLE_STEP
                node.phandle = self._counter.next_value
                used.add(node.phandle)
                self._counter.next_value += PHANDLE_STEP

    def by_phandle(self, phandle: int) -> DeviceTreeNode | None:
        return next((node for node in self.nodes() if node.phandle == phandle), None)

    def aliases(self) -> dict[str, str]:
        node = self.root.child("aliases")
        if node is None:
            return {}
        found = {}
        for name, value in node.properties.items():
            text = decode_string(value)
            if name != "name" and text is not None:
                found[name] = text
        return found

    def find(self, specifier: str) -> DeviceTreeNode | None:
        """Resolve a device specifier (path or alias) to a node."""
        path = specifier.strip()
        if not path:
            return None
        if not path.startswith("/"):
            first, _, rest = path.partition("/")
            alias = self.aliases().get(first.partition(":")[0])
            if alias is None:
                return None
            path = alias.rstrip("/") + ("/" + rest if rest else "")
            if not path.startswith("/"):
                return None
        node: DeviceTreeNode | None = self.root
        for component in path.split("/"):
            if not component:
                continue
            component = component.partition(":")[0]
            if component == "..":
                node = node.parent if node is not None and node.parent is not None else node
                continue
            if node is None:
                return None
            node = node.child(component)
        return node
