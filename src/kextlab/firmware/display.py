"""How the firmware's user interface prints the tree: ``ls`` and ``.properties``.

``ls`` is Apple's (Technical Q&A QA1036, ``0 > dev / ls``): the whole subtree below
the node, one line per node, its phandle, then two spaces per level below the first,
then ``/name@unit``::

    ff83d620: /cpus
    ff83d8d0:   /PowerPC,G4@0

``.properties`` follows OpenBIOS's layout (Apple's own is undocumented; see
``shared/spec/open-firmware.md`` §3.1): the name padded to column 26, then the value
decoded by shape: ``"text"``, ``{"a", "b"}`` for string lists, a bare hex number for
one cell (``-1`` and friends signed, as ``.`` prints them), address-structured
properties (``reg``, ``assigned-addresses``, ``ranges``, ``interrupt-map``...) one
entry per line with two spaces between its parts (an address, a size, a specifier,
a phandle), other cell arrays four cells to a line,
anything else as ``-- length : bytes``; a property without a value as ``<empty>``.
"""

from __future__ import annotations

from kextlab.firmware.devicetree import DeviceTreeNode, decode_cells, decode_strings

NAME_COLUMN = 26
CELLS_PER_LINE = 4


def list_tree(node: DeviceTreeNode) -> list[str]:
    """Apple's ``ls`` of ``node``: every node below it, depth first."""
    base = node.depth()
    lines = []
    for descendant in node.walk():
        if descendant is node:
            continue
        indent = "  " * (descendant.depth() - base - 1)
        lines.append(f"{descendant.phandle:08x}: {indent}/{descendant.node_name}")
    return lines


def format_properties(node: DeviceTreeNode) -> list[str]:
    """``.properties`` of ``node``: one property per line (continuations indented)."""
    lines = []
    for name, value in node.properties.items():
        rendered = format_value(node, name, value)
        pad = max(NAME_COLUMN - len(name), 1)
        lines.append(f"{name}{' ' * pad}{rendered[0]}")
        lines.extend(" " * NAME_COLUMN + line for line in rendered[1:])
    return lines


def format_value(node: DeviceTreeNode, name: str, value: bytes) -> list[str]:
    if not value:
        return ["<empty>"]
    strings = decode_strings(value)
    if strings is not None:
        if len(strings) == 1:
            return [f'"{strings[0]}"']
        return ["{" + ", ".join(f'"{text}"' for text in strings) + "}"]
    if len(value) == 4:
        return [_number(int.from_bytes(value, "big"))]
    if len(value) % 4 == 0:
        cells = decode_cells(value)
        if name == "interrupt-map":
            entries = _interrupt_map_entries(node, cells)
            if entries is not None:
                return [_format_groups(entry) for entry in entries]
        groups = _cell_groups(node, name)
        if groups is not None and len(cells) % sum(groups) == 0:
            return _grouped(cells, groups)
        return [
            " ".join(f"{cell:08x}" for cell in cells[start : start + CELLS_PER_LINE])
            for start in range(0, len(cells), CELLS_PER_LINE)
        ]
    return [f"-- {len(value):x} : " + " ".join(f"{byte:02x}" for byte in value)]


def _number(cell: int) -> str:
    signed = cell - (1 << 32) if cell & 0x8000_0000 else cell
    if signed >= 0 or signed < -0xFF:
        return f"{cell:x}"
    return f"-{-signed:x}"


def _cell_groups(node: DeviceTreeNode, name: str) -> tuple[int, ...] | None:
    """Cells per address and per size for the address-structured properties."""
    parent = node.parent
    parent_address = parent.address_cells() if parent is not None else 2
    parent_size = parent.size_cells() if parent is not None else 1
    if name in ("reg", "assigned-addresses", "available"):
        return (parent_address, parent_size)
    if name == "ranges":
        return (node.address_cells(), parent_address, node.size_cells())
    if name == "interrupt-map-mask":
        return (node.address_cells(), _interrupt_cells(node))
    return None


def _interrupt_cells(node: DeviceTreeNode) -> int:
    value = node.get_int("#interrupt-cells")
    return 1 if value is None else value


def _interrupt_map_entries(node: DeviceTreeNode, cells: list[int]) -> list[list[list[int]]] | None:
    """Split an ``interrupt-map`` into entries of (child unit, child specifier, parent
    phandle, parent unit, parent specifier), following each entry's parent for its
    cell counts; None when a phandle does not resolve."""
    root = node
    while root.parent is not None:
        root = root.parent
    by_phandle = {candidate.phandle: candidate for candidate in root.walk()}
    child_address, child_interrupt = node.address_cells(), _interrupt_cells(node)
    entries = []
    position = 0
    while position < len(cells):
        head = position + child_address + child_interrupt
        if head >= len(cells):
            return None
        parent = by_phandle.get(cells[head])
        if parent is None:
            return None
        parent_address = parent.get_int("#address-cells") or 0
        end = head + 1 + parent_address + _interrupt_cells(parent)
        if end > len(cells):
            return None
        entries.append(
            [
                cells[position : position + child_address],
                cells[position + child_address : head],
                [cells[head]],
                cells[head + 1 : head + 1 + parent_address],
                cells[head + 1 + parent_address : end],
            ]
        )
        position = end
    return entries


def _format_groups(groups: list[list[int]]) -> str:
    return "  ".join(" ".join(f"{cell:08x}" for cell in group) for group in groups if group)


def _grouped(cells: list[int], widths: tuple[int, ...]) -> list[str]:
    lines = []
    for start in range(0, len(cells), sum(widths)):
        groups = []
        position = start
        for width in widths:
            groups.append(cells[position : position + width])
            position += width
        lines.append(_format_groups(groups))
    return lines
