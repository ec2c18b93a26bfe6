"""``ioreg``: show the I/O Kit registry, byte for byte as Apple's tool prints it.

A rendering of IOKitTools' ``ioreg.tproj/ioreg.c`` (``shared/spec/iokit-matching.md``
§4) over ``kextlab.userland.iokitlib``:

* ``scan``/``search``/``show`` walk the plane as the C tool does, with its bit stack
  for the ``| `` columns (bit *d*: the entry at depth *d* has more siblings; bit
  *d + 1*: it has children within the depth limit);
* node lines: ``+-o name@location  <class C, id 0x…, [!]registered, [!]matched,
  [in]active, busy N (T ms), retain R>``, the state part only for IOServices and the
  time only when the accumulated busy time is not zero;
* property blocks: ``{``, one ``"key" = value`` line each, ``}``, then a blank line
  that keeps its indentation (trailing spaces included);
* values (``cfshow``): strings quoted (a non-ASCII string prints nothing at all: CF
  cannot fit its UTF-8 form in the buffer ioreg gives it), numbers as unsigned 64-bit
  (``-x``: ``0x`` hex), ``Yes``/``No``, ``{"k"=v,…}``, ``(…)``, ``[…]`` for sets, data
  as ``<"…">`` when it is one or more printable strings, else hex;
* ``-w`` clips each line to width - 1 characters plus ``$``, turning newlines into
  spaces (bold escapes do not count, as termcap output bypasses the clip buffer);
* ``-f`` decodes ``reg`` (under a ``pci*`` parent), ``assigned-addresses``,
  ``slot-names``, ``ranges``, ``interrupt-map``, ``interrupts`` and
  ``interrupt-parent``, and prints other data in hex-dump lines;
* ``-a`` writes an XML property list instead (``IORegistryEntryName``,
  ``IORegistryEntryLocation``, ``IORegistryEntryID``, ``IOObjectClass``,
  ``IOObjectInheritance`` with ``-i``, ``IOObjectRetainCount``, ``IOServiceState``,
  ``IOServiceBusyState``, ``IOServiceBusyTime``, ``IORegistryEntryChildren``; sets
  become arrays).

The cells of ``-f`` decoding are read in ``cell_order`` ("big" for an Open Firmware
tree, the host's order for a dump of a Mac: Intel Macs are "little").
"""

from __future__ import annotations

import plistlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from kextlab.errors import KextlabError
from kextlab.userland import iokitlib as io
from kextlab.userland.iokitlib import PrintedValue, UserSet, io_object_t, mach_port_t
from kextlab.userland.tools import ToolOutput

BOLD_ON = "\x1b[1m"
BOLD_OFF = "\x1b[0m"
MASK64 = 0xFFFF_FFFF_FFFF_FFFF
USAGE = "usage: ioreg [-abfilrtxy] [-c class] [-d depth] [-k key] [-n name] [-p plane] [-w width]"


@dataclass
class IORegOptions:
    archive: bool = False
    bold: bool = False
    format: bool = False
    hex: bool = False
    inheritance: bool = False
    list: bool = False
    root: bool = False
    tree: bool = False
    nouserclasses: bool = False
    class_name: str | None = None
    depth: int = 0
    key: str | None = None
    name: str | None = None
    plane: str = "IOService"
    #: Clip lines to this many bytes (0: no clipping); None until the caller decides
    #: (ioreg takes the terminal's width, or 0 when its output is not a terminal).
    width: int | None = None
    cell_order: Literal["big", "little"] = "big"


class _Output:
    """ioreg.c's ``print``/``println``: per-line clipping to the width.

    The width counts bytes, as the C tool does: text is UTF-8, with the bytes of a
    dump that were not UTF-8 carried as lone surrogates (``surrogateescape``), so a
    clip may fall inside a character exactly where ioreg's would.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[str] = []
        self._line: list[str] = []
        self._left = width
        self._clipped = False

    def print(self, text: str) -> None:
        if not self.width:
            self._line.append(text)
            return
        text = text.replace("\n", " ")
        room = self._left - 1
        if text.isascii():
            size = len(text)
            self._line.append(text[:room])
        else:
            raw = text.encode("utf-8", "surrogateescape")
            size = len(raw)
            self._line.append(raw[:room].decode("utf-8", "surrogateescape"))
        if size >= self._left:
            self._clipped = True
            self._left -= room
        else:
            self._left -= size

    def raw(self, text: str) -> None:
        """Terminal control output (bold): not counted against the width."""
        self._line.append(text)

    def println(self, text: str = "") -> None:
        self.print(text)
        if self._clipped:
            self._line.append("$")
        self.lines.append("".join(self._line))
        self._line = []
        self._clipped = False
        self._left = self.width


# -- values ---------------------------------------------------------------------------------------


def string_printable(text: str) -> bool:
    """Whether ``cfstringshow`` prints ``text``.

    ASCII prints.  Bytes that were not valid UTF-8 (carried as lone surrogates) made
    CF keep the string as 8-bit text, which ``CFStringGetCStringPtr`` hands back as it
    is, so they print too (``"\xe5\xcaSvetlana"`` in a Mac mini's IOConsoleUsers).
    Other non-ASCII text is held as UTF-16; converting it into a buffer of one byte
    per character fails, and ioreg prints nothing at all.
    """
    return text.isascii() or any("\udc80" <= char <= "\udcff" for char in text)


def show_string(text: str) -> str:
    return f'"{text}"' if string_printable(text) else ""


def data_strings(data: bytes, hex_numbers: bool, *, padding_allowed: bool) -> bool:
    """ioreg's test: is ``data`` one or more printable strings?"""
    length = len(data)
    normal = symbol = 0
    index = 0
    while index < length:
        if data[index] == 0:
            if padding_allowed:
                while index < length and data[index] == 0:
                    index += 1
            break
        while index < length:
            byte = data[index]
            if 0x20 <= byte <= 0x7E:
                normal += 1
            elif 128 <= byte <= 254:
                symbol += 1
            else:
                break
            index += 1
        if index < length and data[index] == 0:
            index += 1
            continue
        break
    if (normal >> 2) < symbol or length == 1 or hex_numbers:
        index = 0
    return index >= length and normal > 0


def show_data_strings(data: bytes) -> str:
    """The strings of ``data``, each quoted, separated by commas (bytes as they are)."""
    parts = bytearray()
    quoted = False
    for index, byte in enumerate(data):
        if byte:
            if not quoted:
                quoted = True
                parts += b',"' if index else b'"'
            parts.append(byte)
        elif quoted:
            quoted = False
            parts += b'"'
        else:
            break
    if quoted:
        parts += b'"'
    return parts.decode("utf-8", "surrogateescape")


def show_value(value: object, hex_numbers: bool) -> str:
    """``cfshow``."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"0x{value & MASK64:x}" if hex_numbers else f"{value & MASK64}"
    if isinstance(value, PrintedValue):
        return str(value)
    if isinstance(value, str):
        return show_string(value)
    if isinstance(value, bytes):
        if data_strings(value, hex_numbers, padding_allowed=False):
            return f"<{show_data_strings(value)}>"
        return f"<{value.hex()}>"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{show_string(str(key))}={show_value(item, hex_numbers)}"
                for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, UserSet):
        return "[" + ",".join(show_value(item, hex_numbers) for item in value) + "]"
    if isinstance(value, list):
        return "(" + ",".join(show_value(item, hex_numbers) for item in value) + ")"
    return "<unknown object>"


# -- the tree ------------------------------------------------------------------------------------


@dataclass
class _Context:
    service: io_object_t
    depth: int
    bits: int


@dataclass
class IOReg:
    """One run of ``ioreg`` against a main port."""

    port: mach_port_t
    options: IORegOptions
    out: _Output = field(init=False)
    #: What the C tool writes to stderr, as ``ioreg: error: ….`` lines.
    errors: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.out = _Output(self.options.width or 0)

    # -- the walk -----------------------------------------------------------------------

    def run(self) -> list[str]:
        root = io.IORegistryGetRootEntry(self.port)
        if self.options.archive:
            return self.archive_text(root)
        if self.options.root:
            self.search(root, 0, 0, [])
        else:
            self.scan(root, False, 0, 0)
        return self.out.lines

    def _children(self, service: io_object_t) -> list[io_object_t] | None:
        status, iterator = io.IORegistryEntryGetChildIterator(service, self.options.plane)
        if status != io.KERN_SUCCESS or iterator is None:
            return None
        children = []
        while (child := io.IOIteratorNext(iterator)) is not None:
            children.append(child)
        return children

    def _within_depth(self, depth: int) -> bool:
        return self.options.depth == 0 or self.options.depth > depth + 1

    def scan(self, service: io_object_t, more_siblings: bool, depth: int, bits: int) -> None:
        children = self._children(service)
        if children is None:
            return
        bits = bits | (1 << depth) if more_siblings else bits & ~(1 << depth)
        if self._within_depth(depth):
            bits = bits | (2 << depth) if children else bits & ~(2 << depth)
        self.show(service, depth, bits)
        if self._within_depth(depth):
            for index, child in enumerate(children):
                self.scan(child, index + 1 < len(children), depth + 1, bits)

    def search(
        self, service: io_object_t, matched_depth: int, depth: int, stack: list[io_object_t]
    ) -> None:
        options = self.options
        if matched_depth < depth + 1 and self.compare(service):
            matched_depth = depth + options.depth if options.depth else 1 << 32
            if options.tree:
                for index in range(depth):
                    self.show(stack[index], index, 2 << index)
                saved = options.depth
                if options.depth:
                    options.depth += depth
                self.scan(service, False, depth, 0)
                options.depth = saved
            else:
                self.scan(service, False, 0, 0)
            self.out.println("")
        del stack[depth:]
        stack.append(service)
        for child in self._children(service) or []:
            self.search(child, matched_depth, depth + 1, stack)

    def compare(self, service: io_object_t) -> bool:
        options = self.options
        match = False
        if options.class_name is not None:
            check_kernel_class = True
            if not options.nouserclasses:
                user_classes = io.IORegistryEntryCreateCFProperty(service, io.kIOUserClassesKey)
                if isinstance(user_classes, list):
                    check_kernel_class = False
                    if options.class_name not in user_classes:
                        return False
            if check_kernel_class and not io.IOObjectConformsTo(service, options.class_name):
                return False
            match = True
        if options.key is not None:
            if io.IORegistryEntryCreateCFProperty(service, options.key) is None:
                return False
            match = True
        if options.name is not None:
            _, name = io.IORegistryEntryGetNameInPlane(service, options.plane)
            if "@" in options.name:
                name += "@"
                status, location = io.IORegistryEntryGetLocationInPlane(service, options.plane)
                if status == io.KERN_SUCCESS and location is not None:
                    name += location
            if options.name != name:
                return False
            match = True
        return match

    def indent(self, is_node: bool, depth: int, bits: int) -> None:
        if is_node:
            self.out.print("".join("| " if bits & (1 << index) else "  " for index in range(depth)))
            self.out.print("+-o ")
        else:
            self.out.print(
                "".join("| " if bits & (1 << index) else "  " for index in range(depth + 2))
            )

    def inheritance(self, class_name: str) -> str:
        names = [class_name]
        current: str | None = class_name
        while True:
            current = io.IOObjectCopySuperclassForClass(self.port, current) if current else None
            if current is None or current == "OSObject":
                break
            names.insert(0, current)
        return ":".join(names)

    def show(self, service: io_object_t, depth: int, bits: int) -> None:
        out = self.out
        options = self.options
        _, name = io.IORegistryEntryGetNameInPlane(service, options.plane)
        self.indent(True, depth, bits)
        if options.bold:
            out.raw(BOLD_ON)
        out.print(name)
        if options.bold:
            out.raw(BOLD_OFF)
        status, location = io.IORegistryEntryGetLocationInPlane(service, options.plane)
        if status == io.KERN_SUCCESS and location is not None:
            out.print(f"@{location}")
        out.print("  <class ")
        _, class_name = io.IOObjectGetClass(service)
        out.print(self.inheritance(class_name) if options.inheritance else class_name)
        _, entry_id = io.IORegistryEntryGetRegistryEntryID(service)
        out.print(f", id 0x{entry_id:x}")
        if io.IOObjectConformsTo(service, "IOService"):
            _, state, busy, time = io.IOServiceGetBusyStateAndTime(service)
            out.print(
                f", {'' if state & 0x2 else '!'}registered, {'' if state & 0x4 else '!'}matched, "
                f"{'in' if state & 0x1 else ''}active"
            )
            out.print(f", busy {busy}")
            if time:
                out.print(f" ({time // 1_000_000} ms)")
        out.print(f", retain {io.IOObjectGetKernelRetainCount(service)}")
        out.println(">")
        if options.list or self.compare(service):
            self.indent(False, depth, bits)
            out.println("{")
            _, properties = io.IORegistryEntryCreateCFProperties(service)
            context = _Context(service, depth, bits)
            for key, value in properties.items():
                self.indent(False, depth, bits)
                out.print("  ")
                out.print(show_string(key))
                out.print(" = ")
                if options.format:
                    self.print_formatted(key, value, context)
                else:
                    out.print(show_value(value, options.hex))
                    out.println("")
            self.indent(False, depth, bits)
            out.println("}")
            self.indent(False, depth, bits)
            out.println("")

    # -- -f formatting ---------------------------------------------------------------------

    def _cells(self, data: bytes) -> list[int]:
        order = "<" if self.options.cell_order == "little" else ">"
        count = len(data) // 4
        return list(struct.unpack(f"{order}{count}I", data[: count * 4]))

    def _search_int(self, service: io_object_t, key: str) -> int:
        value = io.IORegistryEntrySearchCFProperty(
            service,
            io.kIODeviceTreePlane,
            key,
            io.kIORegistryIterateParents | io.kIORegistryIterateRecursively,
        )
        if value is None:
            self.errors.append("ioreg: error: unable to get properties.")
            return 0
        if not isinstance(value, bytes) or len(value) < 4:
            return 0
        cell = self._cells(value[:4])[0]
        return cell - (1 << 32) if cell & 0x8000_0000 else cell

    def print_formatted(self, key: str, value: object, context: _Context) -> None:
        printers: dict[str, Callable[[bytes, _Context], None]] = {
            "assigned-addresses": self.print_phys_addr,
            "slot-names": self.print_slot_names,
            "ranges": self.print_pci_ranges,
            "interrupt-map": self.print_interrupt_map,
            "interrupts": self.print_interrupts,
            "interrupt-parent": self.print_interrupt_parent,
        }
        if key == "reg" and isinstance(value, bytes):
            status, parent = io.IORegistryEntryGetParentEntry(
                context.service, io.kIODeviceTreePlane
            )
            if status == io.KERN_SUCCESS and parent is not None:
                _, parent_name = io.IORegistryEntryGetNameInPlane(parent, io.kIODeviceTreePlane)
                if parent_name.startswith("pci"):
                    self.print_phys_addr(value, context)
                    return
        elif key in printers and isinstance(value, bytes):
            printers[key](value, context)
            return
        if isinstance(value, bytes):
            self.print_data(value, context)
        else:
            self.out.print(show_value(value, self.options.hex))
            self.out.println("")

    def _line(self, context: _Context, text: str) -> None:
        self.indent(False, context.depth, context.bits)
        self.out.println(text)

    def print_phys_addr(self, data: bytes, context: _Context) -> None:
        if not data:
            self.out.println("<>")
            return
        self.out.println("")
        cells = self._cells(data)
        for count in range(len(data) // 20):
            hi, mid, lo, size_hi, size_lo = cells[count * 5 : count * 5 + 5]
            space = ("Config", "I/O", "Mem", "64-bit")[hi >> 24 & 3]
            flags = (
                ("abs" if hi & 0x8000_0000 else "rel")
                + (", prefetch" if hi & 0x4000_0000 else "")
                + (", alias" if hi & 0x2000_0000 else "")
            )
            self._line(
                context, f"    {count:02d}: phys.hi: {hi:08x} phys.mid: {mid:08x} phys.lo: {lo:08x}"
            )
            self._line(context, f"        size.hi: {size_hi:08x} size.lo: {size_lo:08x}")
            self._line(
                context,
                f"        bus: {hi >> 16 & 0xFF} dev: {hi >> 11 & 0x1F} "
                f"func: {hi >> 8 & 0x7} reg: {hi & 0xFF}",
            )
            self._line(context, f"        type: {space} flags: {flags}")

    def print_slot_names(self, data: bytes, context: _Context) -> None:
        if len(data) < 4 or not self._cells(data[:4])[0]:
            self.out.println("<>")
            return
        mask = self._cells(data[:4])[0]
        names = data[4:].split(b"\0")
        self.out.println("")
        position = 0
        for count in range(32):
            if mask & (1 << count):
                name = names[position].decode("latin-1") if position < len(names) else ""
                self._line(context, f"    {count:02d}: {name}")
                position += 1

    def print_pci_ranges(self, data: bytes, context: _Context) -> None:
        if not data:
            self.out.println("<>")
            return
        status, parent = io.IORegistryEntryGetParentEntry(context.service, io.kIODeviceTreePlane)
        if status != io.KERN_SUCCESS:
            self.errors.append("ioreg: error: unable to get device tree parent.")
            parent = None
        parent_cells = self._search_int(parent, "#address-cells") if parent is not None else 0
        child_cells = self._search_int(context.service, "#address-cells")
        size_cells = self._search_int(context.service, "#size-cells")
        element = child_cells + parent_cells + size_cells
        self.out.println("")
        self.indent(False, context.depth, context.bits)
        self.out.print("    ")
        for title, count in zip(
            ("-child--", "-parent-", "-size---"),
            (child_cells, parent_cells, size_cells),
            strict=True,
        ):
            self.out.print(title)
            if count > 1:
                self.out.print("-")
                for index in range(2, count + 1):
                    self.out.print("-------- " if index == count else "---------")
            else:
                self.out.print(" ")
        self.out.println("")
        cells = self._cells(data)
        if element <= 0:
            return
        for start in range(0, (len(data) // (element * 4)) * element, element):
            self.indent(False, context.depth, context.bits)
            self.out.print("    ")
            for cell in cells[start : start + element]:
                self.out.print(f"{cell:08x} ")
            self.out.println("")

    def _phandle_path(self, phandle: int) -> io_object_t | None:
        return io.IOServiceGetMatchingService(
            self.port,
            {"IOPropertyMatch": {"AAPL,phandle": phandle.to_bytes(4, self.options.cell_order)}},
        )

    def _device_tree_path(self, entry: io_object_t | None) -> str:
        """``makepath``: the entry's device-tree path without the plane prefix."""
        status, path = (
            io.IORegistryEntryGetPath(entry, io.kIODeviceTreePlane)
            if entry is not None
            else (io.kIOReturnBadArgument, None)
        )
        if status != io.KERN_SUCCESS or path is None:
            self.errors.append("ioreg: error: unable to get path.")
            return "<path error"
        return path.split(":", 1)[1]

    def print_interrupt_map(self, data: bytes, context: _Context) -> None:
        child_cells = self._search_int(context.service, "#address-cells") + self._search_int(
            context.service, "#interrupt-cells"
        )
        cells = self._cells(data)
        position = 0
        count = 0
        self.out.println("")
        while position < len(cells):
            self.indent(False, context.depth, context.bits)
            self.out.print(f"    {count:02d}: ")
            self.out.print("  child: ")
            for _ in range(child_cells):
                self.out.print(f"{cells[position] if position < len(cells) else 0:08x} ")
                position += 1
            self.out.println("")
            phandle = cells[position] if position < len(cells) else 0
            parent = self._phandle_path(phandle)
            parent_cells = 0
            if parent is None:
                self.errors.append("ioreg: error: error looking up phandle.")
            else:
                parent_cells = self._search_int(parent, "#address-cells") + self._search_int(
                    parent, "#interrupt-cells"
                )
            self._line(
                context, f"        phandle: {phandle:08x} ({self._device_tree_path(parent)})"
            )
            position += 1
            self.indent(False, context.depth, context.bits)
            self.out.print("         parent: ")
            for _ in range(parent_cells):
                self.out.print(f"{cells[position] if position < len(cells) else 0:08x} ")
                position += 1
            self.out.println("")
            count += 1

    def print_interrupts(self, data: bytes, context: _Context) -> None:
        cells = self._cells(data)
        self.out.println("")
        count = 0
        index = 0
        position = 0
        while position < len(cells):
            self.indent(False, context.depth, context.bits)
            self.out.print(f"    {index:02d}: ")
            if count < len(cells) - 1:
                specifier = cells[position]
                sense = cells[position + 1]
                self.out.print(
                    f"specifier: {specifier:08x} (vector: {specifier & 0xFF:02x}) "
                    f"sense: {sense:08x} ("
                )
                position += 1
                count += 1
                if sense & 0x2:
                    self.out.print(f"HyperTransport vector: {sense >> 16 & 0xFFFF:04x}, ")
                self.out.println(f"{'level' if sense & 1 else 'edge'})")
            else:
                self.out.println(f"parent interrupt-map entry: {cells[position]:08x}")
            position += 1
            count += 1
            index += 1

    def print_interrupt_parent(self, data: bytes, context: _Context) -> None:
        phandle = self._cells(data[:4])[0] if len(data) >= 4 else 0
        parent = self._phandle_path(phandle)
        if parent is not None:
            self.out.print(f"<{phandle:08x}>")
            path = self._device_tree_path(parent)
            if path:
                self.out.print(f" ({path})")
            self.out.println("")

    def print_data(self, data: bytes, context: _Context) -> None:
        out = self.out
        if data_strings(data, self.options.hex, padding_allowed=True):
            out.print(f"<{show_data_strings(data)}>")
        elif len(data) > 8:
            per_line = ((self.out.width - 20 - 2 * context.depth) & 0xFFFF_FFFF) // 4
            per_line = min(per_line, 32) or 1  # ioreg.c loops forever on 0
            for offset in range(0, len(data), per_line):
                out.println("")
                chunk = data[offset : offset + per_line]
                hex_part = "".join(f" {byte:02X}" for byte in chunk)
                hex_part += "   " * (per_line - len(chunk))
                text = "".join(chr(byte) if 0x20 <= byte <= 0x7E else "." for byte in chunk)
                self.indent(False, context.depth, context.bits)
                out.print(f"    {offset:08X}:{hex_part} {text}")
        else:
            out.print(f"<{data.hex()}>")
        out.println("")

    # -- -a ----------------------------------------------------------------------------------

    def archive_entry(self, service: io_object_t) -> dict[str, object]:
        options = self.options
        dictionary: dict[str, object] = {}
        if options.list or self.compare(service):
            _, properties = io.IORegistryEntryCreateCFProperties(service)
            dictionary = dict(properties)
        _, name = io.IORegistryEntryGetNameInPlane(service, options.plane)
        dictionary["IORegistryEntryName"] = name
        status, location = io.IORegistryEntryGetLocationInPlane(service, options.plane)
        if status == io.KERN_SUCCESS and location is not None:
            dictionary["IORegistryEntryLocation"] = location
        _, entry_id = io.IORegistryEntryGetRegistryEntryID(service)
        dictionary["IORegistryEntryID"] = entry_id
        _, class_name = io.IOObjectGetClass(service)
        dictionary["IOObjectClass"] = class_name
        if options.inheritance:
            dictionary["IOObjectInheritance"] = self.inheritance(class_name).split(":")
        dictionary["IOObjectRetainCount"] = io.IOObjectGetKernelRetainCount(service)
        if io.IOObjectConformsTo(service, "IOService"):
            _, state, busy, time = io.IOServiceGetBusyStateAndTime(service)
            dictionary["IOServiceState"] = state
            dictionary["IOServiceBusyState"] = busy
            dictionary["IOServiceBusyTime"] = time
        return dictionary

    def archive_scan(self, service: io_object_t, depth: int) -> dict[str, object] | None:
        children = self._children(service)
        if children is None:
            return None
        dictionary = self.archive_entry(service)
        if self._within_depth(depth) and children:
            dictionary["IORegistryEntryChildren"] = [
                self.archive_scan(child, depth + 1) for child in children
            ]
        return dictionary

    def archive_search(
        self, service: io_object_t, matched_depth: int, depth: int, stack: list[io_object_t]
    ) -> list[dict[str, object]]:
        options = self.options
        found: list[dict[str, object]] = []
        if matched_depth < depth + 1 and self.compare(service):
            matched_depth = depth + options.depth if options.depth else 1 << 32
            if options.tree:
                saved = options.depth
                if options.depth:
                    options.depth += depth
                dictionary = self.archive_scan(service, depth)
                options.depth = saved
                for index in range(depth, 0, -1):
                    parent = self.archive_entry(stack[index - 1])
                    parent["IORegistryEntryChildren"] = dictionary
                    dictionary = parent
            else:
                dictionary = self.archive_scan(service, 0)
            if dictionary is not None:
                found.append(dictionary)
        del stack[depth:]
        stack.append(service)
        for child in self._children(service) or []:
            found.extend(self.archive_search(child, matched_depth, depth + 1, stack))
        return found

    def archive_text(self, root: io_object_t) -> list[str]:
        archived: dict[str, object] | list[dict[str, object]] | None
        if self.options.root:
            archived = self.archive_search(root, 0, 0, []) or None
        else:
            archived = self.archive_scan(root, 0)
        if archived is None:
            return []
        plist = cast("dict[str, Any] | list[Any]", _plist_value(archived))
        return plistlib.dumps(plist, fmt=plistlib.FMT_XML).decode("utf-8").splitlines()


def _plist_value(value: object) -> object:
    """A user value as a property list holds it: sets become arrays
    (``replaceNestedSetsWithArrays``), printed text a string, and a string kept as
    8-bit bytes is read as CF reads such bytes on a Mac, as Mac Roman."""
    if isinstance(value, dict):
        return {_plist_value(key): _plist_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plist_value(item) for item in value]
    if isinstance(value, str):
        if string_printable(value) and not value.isascii():
            return value.encode("utf-8", "surrogateescape").decode("mac_roman")
        return str(value)
    return value


def ioreg(port: mach_port_t, options: IORegOptions) -> ToolOutput:
    """What ``ioreg`` prints for ``options``."""
    run = IOReg(port, options)
    lines = run.run()
    return ToolOutput(lines, run.errors)


# -- the command line ---------------------------------------------------------------------------

#: ``getopt``'s option string in ioreg.c: a colon follows each option that takes a value.
OPTION_STRING = "abc:d:fik:ln:p:rsStw:xy"


class IORegUsageError(KextlabError, ValueError):
    """An ``ioreg`` command line that cannot be run; the message says what is wrong."""


def _whole_number(flag: str, text: str, what: str) -> int:
    if not text.isdigit():
        raise IORegUsageError(f"-{flag} expects {what} (a whole number, 0 or more), got {text!r}")
    return int(text)


def parse_arguments(arguments: Sequence[str]) -> IORegOptions:
    """``ioreg``'s flags, read as ``getopt`` reads them: flags may be combined
    (``-lw0``), an option's value may follow it in the same word or the next, and
    ``--`` ends the flags.  Where ioreg.c would print its usage, or quietly read a
    bad number as 0 (``atoi``), this raises ``IORegUsageError`` naming the flag.
    ``-s`` and ``-S`` are accepted and ignored, as by current ioreg."""
    options = IORegOptions()
    words = list(arguments)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            raise IORegUsageError(f"unexpected argument {word!r}; ioreg takes flags only")
        position = 1
        while position < len(word):
            flag = word[position]
            position += 1
            spec = OPTION_STRING.find(flag)
            if flag == ":" or spec < 0:
                raise IORegUsageError(f"unknown flag -{flag}")
            value = ""
            if OPTION_STRING[spec + 1 : spec + 2] == ":":
                if position < len(word):
                    value = word[position:]
                elif index < len(words):
                    value = words[index]
                    index += 1
                else:
                    raise IORegUsageError(f"-{flag} needs a value")
                position = len(word)
            _apply_flag(options, flag, value)
    if index < len(words):
        raise IORegUsageError(f"unexpected argument {words[index]!r}; ioreg takes flags only")
    return options


def _apply_flag(options: IORegOptions, flag: str, value: str) -> None:
    switches = {
        "a": "archive",
        "b": "bold",
        "f": "format",
        "i": "inheritance",
        "l": "list",
        "r": "root",
        "t": "tree",
        "x": "hex",
        "y": "nouserclasses",
    }
    if flag in switches:
        setattr(options, switches[flag], True)
    elif flag == "c":
        options.class_name = value
    elif flag == "d":
        options.depth = _whole_number(flag, value, "a depth")
    elif flag == "k":
        options.key = value
    elif flag == "n":
        options.name = value
    elif flag == "p":
        options.plane = value
    elif flag == "w":
        options.width = _whole_number(flag, value, "a width")
