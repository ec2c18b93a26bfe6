"""``ioreg``: Apple's format byte for byte, its flags, and real Macs' dumps read back.

The strongest check is the round trip: each of the 22 real ``ioreg -l`` dumps in
``shared/data/ioreg`` is read into a registry and printed again, and must come back
byte for byte (``shared/spec/iokit-matching.md`` §5.4 item 6).  Smaller registries
built from ``SnapshotNode`` trees pin down the rules one at a time: columns, the
blank line that keeps its trailing spaces, service state, values, clipping, the
search flags, the archive and ``-f`` decoding.
"""

from __future__ import annotations

import gzip
import plistlib
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kextlab.firmware.openfirmware import OpenFirmware
from kextlab.kernel.kernel import Kernel
from kextlab.machine.machine import Machine
from kextlab.userland import iokitlib as io
from kextlab.userland.iokitlib import PrintedValue, ServiceState, SnapshotNode, UserSet
from kextlab.userland.tools.ioreg import (
    IORegOptions,
    IORegUsageError,
    _Output,
    ioreg,
    parse_arguments,
    show_value,
)
from kextlab.userland.tools.ioreg_dump import (
    IORegDumpError,
    read_ioreg_dump,
    read_ioreg_dump_file,
)

REAL_DUMPS = sorted(
    (Path(__file__).resolve().parents[3] / "shared" / "data" / "ioreg").glob("*.txt.gz")
)
NODE_ID = re.compile(r"\+-o .*  <class [^,>]+, id (0x[0-9a-f]+)")
PREFIX = re.compile(r"^[| ]*")

ON = ServiceState(registered=True, matched=True, active=True, busy=0)


def sample() -> SnapshotNode:
    """Root -> A (-> A1, A2), B: services and a plain entry, with properties."""
    root = SnapshotNode(
        "Root", None, "IORegistryEntry", 0x100000100, 4, None, [("IOKitBuildVersion", "test")]
    )
    a = SnapshotNode("A", None, "IOService", 0x100000101, 7, ON, [("count", 1)])
    a1 = SnapshotNode(
        "A1",
        "1",
        "AppleThing",
        0x100000102,
        2,
        ServiceState(registered=True, matched=True, active=True, busy=1, busy_time=3_400_000),
        [("name", b"thing\0")],
    )
    a2 = SnapshotNode(
        "A2",
        None,
        "AppleOther",
        0x100000103,
        1,
        ServiceState(registered=False, matched=False, active=False, busy=0),
        [],
    )
    b = SnapshotNode("B", None, "IORegistryEntry", 0x100000104, 1, None, [])
    a.children = [a1, a2]
    root.children = [a, b]
    return root


def run(snapshot: SnapshotNode, **options: Any) -> list[str]:
    return ioreg(
        io.IOMainPortFromSnapshot(snapshot), IORegOptions(**{"width": 0, **options})
    ).stdout


# -- the tree ----------------------------------------------------------------------------------


def test_node_lines_draw_columns_for_ancestors_with_more_siblings() -> None:
    assert run(sample()) == [
        "+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>",
        "  +-o A  <class IOService, id 0x100000101, registered, matched, active, busy 0, retain 7>",
        "  | +-o A1@1  <class AppleThing, id 0x100000102, registered, matched, active, "
        "busy 1 (3 ms), retain 2>",
        "  | +-o A2  <class AppleOther, id 0x100000103, !registered, !matched, inactive, "
        "busy 0, retain 1>",
        "  +-o B  <class IORegistryEntry, id 0x100000104, retain 1>",
    ]


def test_property_blocks_and_their_blank_lines_keep_the_columns_and_trailing_spaces() -> None:
    lines = run(sample(), list=True)
    assert lines[:5] == [
        "+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>",
        "  | {",
        '  |   "IOKitBuildVersion" = "test"',
        "  | }",
        "  | ",
    ]
    a1 = lines.index(
        "  | +-o A1@1  <class AppleThing, id 0x100000102, registered, matched, active, "
        "busy 1 (3 ms), retain 2>"
    )
    # Depth 2 blocks have four columns: Root's (no siblings), A's (B follows), A1's
    # own (A2 follows) and its children's (none).
    assert lines[a1 + 1 : a1 + 5] == [
        "  | |   {",
        '  | |     "name" = <"thing">',
        "  | |   }",
        "  | |   ",
    ]
    assert lines[-3:] == ["      {", "      }", "      "]


def test_busy_time_prints_only_when_not_zero_and_in_whole_milliseconds() -> None:
    root = sample()
    state = root.children[0].service
    assert state is not None
    state.busy_time = 999_999
    assert "busy 0 (0 ms), retain 7>" in run(root)[1]
    state.busy_time = 0
    assert run(root)[1].endswith("busy 0, retain 7>")


def test_depth_limit_counts_the_root_as_depth_one() -> None:
    assert [line.split("  <")[0] for line in run(sample(), depth=2)] == [
        "+-o Root",
        "  +-o A",
        "  +-o B",
    ]
    assert run(sample(), depth=1) == ["+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>"]


def test_inheritance_shows_the_class_chain_up_to_osobject() -> None:
    lines = run(sample(), inheritance=True)
    assert "<class IORegistryEntry:IOService:AppleThing, id 0x100000102" in lines[2]


# -- searching ---------------------------------------------------------------------------------


def test_class_key_and_name_matches_show_properties_only_where_they_match() -> None:
    by_class = run(sample(), class_name="AppleThing")
    assert by_class.count("  | |   {") == 1
    assert '  | |     "name" = <"thing">' in by_class
    by_key = run(sample(), key="count")
    assert by_key[1:3] == [
        "  +-o A  <class IOService, id 0x100000101, registered, matched, active, busy 0, retain 7>",
        "  | | {",
    ]
    assert len(run(sample(), name="A1")) == 5 + 4
    assert len(run(sample(), name="A1@1")) == 5 + 4
    assert len(run(sample(), name="A1@2")) == 5


def test_conformance_includes_superclasses() -> None:
    """-c IOService matches every service, not the plain registry entries."""
    lines = run(sample(), class_name="IOService")
    assert sum(1 for line in lines if line.endswith("{")) == 3


def test_root_option_prints_each_matching_subtree_followed_by_a_blank_line() -> None:
    lines = run(sample(), class_name="IOService", root=True, depth=1)
    nodes = [line for line in lines if "+-o" in line]
    assert [node.split("  <")[0] for node in nodes] == ["+-o A", "+-o A1@1", "+-o A2"]
    assert lines[:5] == [
        "+-o A  <class IOService, id 0x100000101, registered, matched, active, busy 0, retain 7>",
        "    {",
        '      "count" = 1',
        "    }",
        "    ",
    ]
    assert lines[5] == ""


def test_tree_option_prints_the_ancestors_of_each_root() -> None:
    lines = run(sample(), name="A2", root=True, tree=True)
    assert [line.split("  <")[0] for line in lines if "+-o" in line] == [
        "+-o Root",
        "  +-o A",
        "    +-o A2",
    ]
    assert lines[-1] == ""


def test_a_driverkit_user_class_list_decides_class_matches_unless_y() -> None:
    root = sample()
    root.children[1].properties = [("IOUserClasses", ["IOUserService", "MyDext"])]
    assert any(line.endswith("{") for line in run(root, class_name="MyDext")[4:])
    assert not any(
        line.endswith("{") for line in run(root, class_name="MyDext", nouserclasses=True)
    )


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text", "hex_text"),
    [
        (True, "Yes", "Yes"),
        (False, "No", "No"),
        (100, "100", "0x64"),
        (-100, "18446744073709551516", "0xffffffffffffff9c"),
        ("plain", '"plain"', '"plain"'),
        ("na\u00efve", "", ""),
        ("\udce5\udccaSvetlana", '"\udce5\udccaSvetlana"', '"\udce5\udccaSvetlana"'),
        (b"display\0", '<"display">', "<646973706c617900>"),
        (b"pci1234,1\0pciclass,ff00\0", '<"pci1234,1","pciclass,ff00">', None),
        (b"A", "<41>", "<41>"),
        (b"\x86\x80\x00\x00", "<86800000>", "<86800000>"),
        (b"ab\x80\x81\x82", "<6162808182>", None),
        (b"", "<>", "<>"),
        ({"a": 1, "b": "x"}, '{"a"=1,"b"="x"}', '{"a"=0x1,"b"="x"}'),
        ([1, [2], {}], "(1,(2),{})", None),
        (UserSet(["x", 2]), '["x",2]', None),
        (PrintedValue("<a**********c>"), "<a**********c>", "<a**********c>"),
    ],
)
def test_values_print_as_cfshow_prints_them(value: object, text: str, hex_text: str | None) -> None:
    assert show_value(value, hex_numbers=False) == text
    if hex_text is not None:
        assert show_value(value, hex_numbers=True) == hex_text


def test_data_strings_need_four_in_five_printable_bytes() -> None:
    assert show_value(b"abcd\x80", False) == '<"abcd\udc80">'
    assert show_value(b"abc\x80", False) == "<61626380>"


# -- clipping ----------------------------------------------------------------------------------


def clipped(line: str, width: int) -> str:
    """ioreg.c's clip of one finished line: bytes, width - 1 of them and ``$``."""
    raw = line.replace("\n", " ").encode("utf-8", "surrogateescape")
    if len(raw) < width:
        return raw.decode("utf-8", "surrogateescape")
    return raw[: width - 1].decode("utf-8", "surrogateescape") + "$"


@given(
    pieces=st.lists(st.text(alphabet="ab \n\u00e9|", max_size=12), max_size=6),
    width=st.integers(min_value=1, max_value=30),
)
def test_a_line_printed_in_pieces_clips_like_the_whole_line(pieces: list[str], width: int) -> None:
    out = _Output(width)
    for piece in pieces:
        out.print(piece)
    out.println()
    assert out.lines == [clipped("".join(pieces), width)]


def test_width_clips_every_line_of_a_listing_and_bold_escapes_do_not_count() -> None:
    full = run(sample(), list=True)
    narrow = run(sample(), list=True, width=40)
    assert narrow == [clipped(line, 40) for line in full]
    assert any(line.endswith("$") for line in narrow)
    bold = run(sample(), width=12, bold=True)
    assert bold[0] == "+-o \x1b[1mRoot\x1b[0m  <$"


# -- the archive -------------------------------------------------------------------------------


def test_archive_is_a_property_list_of_the_tree() -> None:
    root = sample()
    root.children[1].properties = [("user", "\udce5\udcca"), ("set", UserSet([1, 2]))]
    text = "\n".join(run(root, archive=True, list=True, inheritance=True))
    tree = plistlib.loads(text.encode("utf-8"))
    assert tree["IORegistryEntryName"] == "Root"
    assert tree["IORegistryEntryID"] == 0x100000100
    assert tree["IOObjectRetainCount"] == 4
    assert tree["IOKitBuildVersion"] == "test"
    assert "IOServiceState" not in tree
    a, b = tree["IORegistryEntryChildren"]
    assert (a["IOServiceState"], a["IOServiceBusyState"], a["IOServiceBusyTime"]) == (6, 0, 0)
    a1 = a["IORegistryEntryChildren"][0]
    assert a1["IORegistryEntryLocation"] == "1"
    assert a1["IOObjectInheritance"] == ["IORegistryEntry", "IOService", "AppleThing"]
    assert a1["IOServiceBusyTime"] == 3_400_000
    assert a1["name"] == b"thing\0"
    assert b["user"] == "\u00c2\u00a0"  # bytes E5 CA read as Mac Roman
    assert b["set"] == [1, 2]


def test_archive_of_searched_roots_is_an_array_and_nothing_when_none_match() -> None:
    text = "\n".join(run(sample(), archive=True, class_name="AppleThing", root=True))
    found = plistlib.loads(text.encode("utf-8"))
    assert [entry["IORegistryEntryName"] for entry in found] == ["A1"]
    assert run(sample(), archive=True, class_name="Nothing", root=True) == []


# -- -f on a booted machine's device tree -----------------------------------------------------


@pytest.fixture
def kernel_port() -> io.mach_port_t:
    with Machine.from_name("default") as machine:
        tree = OpenFirmware(machine).power_on()
        machine.run()
        kernel = Kernel(machine, tree)
        kernel.start()
        return io.IOMainPort(kernel.registry)


def property_lines(lines: list[str], key: str) -> list[str]:
    """The lines of the first ``"key" = …`` value, with the columns removed."""
    start = next(index for index, line in enumerate(lines) if f'"{key}" = ' in line)
    end = start + 1
    while end < len(lines) and '" = ' not in lines[end] and not lines[end].endswith("}"):
        end += 1
    return [PREFIX.sub("", line) for line in lines[start:end]]


def test_format_decodes_assigned_addresses_from_the_cells(kernel_port: io.mach_port_t) -> None:
    card = io.IORegistryEntryFromPath(kernel_port, "IODeviceTree:/pci@0,f2000000/pci1234,2@2")
    assert card is not None
    data = io.IORegistryEntryCreateCFProperty(card, "assigned-addresses")
    assert isinstance(data, bytes)
    assert len(data) % 20 == 0
    options = IORegOptions(format=True, width=0, name="pci1234,2", plane=io.kIODeviceTreePlane)
    lines = property_lines(ioreg(kernel_port, options).stdout, "assigned-addresses")
    assert lines[0] == '"assigned-addresses" = '
    for index in range(len(data) // 20):
        hi, mid, lo, size_hi, size_lo = (
            int.from_bytes(data[index * 20 + cell * 4 : index * 20 + cell * 4 + 4], "big")
            for cell in range(5)
        )
        assert lines[1 + index * 4 : 5 + index * 4] == [
            f"{index:02d}: phys.hi: {hi:08x} phys.mid: {mid:08x} phys.lo: {lo:08x}",
            f"size.hi: {size_hi:08x} size.lo: {size_lo:08x}",
            f"bus: {hi >> 16 & 0xFF} dev: {hi >> 11 & 0x1F} func: {hi >> 8 & 7} reg: {hi & 0xFF}",
            f"type: {('Config', 'I/O', 'Mem', '64-bit')[hi >> 24 & 3]} flags: abs"
            + (", prefetch" if hi & 0x4000_0000 else ""),
        ]


def test_format_decodes_ranges_and_interrupt_maps_of_a_bridge(kernel_port: io.mach_port_t) -> None:
    bridge = io.IORegistryEntryFromPath(kernel_port, "IODeviceTree:/pci@0,f2000000/pci-bridge@d")
    assert bridge is not None
    options = IORegOptions(format=True, width=0, name="pci-bridge", plane=io.kIODeviceTreePlane)
    output = ioreg(kernel_port, options)
    assert output.stderr == []
    ranges = property_lines(output.stdout, "ranges")
    # 3 child cells, 3 parent cells (the host bridge's), 2 size cells.
    assert ranges[1] == ("-child-------------------- -parent------------------- -size------------ ")
    data = io.IORegistryEntryCreateCFProperty(bridge, "ranges")
    assert isinstance(data, bytes)
    cells = [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)]
    rows = [
        " ".join(f"{cell:08x}" for cell in cells[i : i + 8]) + " " for i in range(0, len(cells), 8)
    ]
    assert ranges[2:] == rows
    interrupt_map = property_lines(output.stdout, "interrupt-map")
    status, host = io.IORegistryEntryGetParentEntry(bridge, io.kIODeviceTreePlane)
    assert status == io.KERN_SUCCESS
    assert host is not None
    _, host_path = io.IORegistryEntryGetPath(host, io.kIODeviceTreePlane)
    assert host_path is not None
    phandle = io.IORegistryEntryCreateCFProperty(host, "AAPL,phandle")
    assert isinstance(phandle, bytes)
    assert interrupt_map[1].startswith("00:   child: ")
    assert interrupt_map[2] == f"phandle: {phandle.hex()} ({host_path.split(':', 1)[1]})"
    assert interrupt_map[3].startswith("parent: ")


def test_format_prints_long_data_as_a_hex_dump(kernel_port: io.mach_port_t) -> None:
    options = IORegOptions(format=True, width=0, name="memory@0", plane=io.kIODeviceTreePlane)
    reg = property_lines(ioreg(kernel_port, options).stdout, "reg")
    memory = io.IORegistryEntryFromPath(kernel_port, "IODeviceTree:/memory@0")
    assert memory is not None
    data = io.IORegistryEntryCreateCFProperty(memory, "reg")
    assert isinstance(data, bytes)
    assert len(data) > 8
    first = data[:32]
    text = "".join(chr(byte) if 0x20 <= byte <= 0x7E else "." for byte in first)
    assert reg[1] == "00000000:" + "".join(f" {byte:02X}" for byte in first) + " " + text


# -- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["-lw0"], {"list": True, "width": 0}),
        (["-l", "-w", "132"], {"list": True, "width": 132}),
        (["-p", "IODeviceTree", "-rc", "IOPCIDevice"], {"plane": "IODeviceTree", "root": True}),
        (["-rcIOPCIDevice", "-d2"], {"class_name": "IOPCIDevice", "depth": 2}),
        (["-n", "pci@0", "-k", "reg"], {"name": "pci@0", "key": "reg"}),
        (["-abfitxy"], {"archive": True, "bold": True, "format": True, "hex": True}),
        (["-sS", "--"], {"list": False}),
        ([], {"plane": "IOService", "width": None}),
    ],
)
def test_flags_parse_as_getopt_reads_them(
    arguments: list[str], expected: dict[str, object]
) -> None:
    options = parse_arguments(arguments)
    for key, value in expected.items():
        assert getattr(options, key) == value


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-z"], "unknown flag -z"),
        (["-l:"], "unknown flag -:"),
        (["-w"], "-w needs a value"),
        (["-wide"], "-w expects a width (a whole number, 0 or more), got 'ide'"),
        (["-d", "-1"], "-d expects a depth (a whole number, 0 or more), got '-1'"),
        (["IOService"], "unexpected argument 'IOService'"),
        (["-l", "--", "extra"], "unexpected argument 'extra'"),
    ],
)
def test_bad_flags_are_refused_with_a_message_naming_them(
    arguments: list[str], message: str
) -> None:
    with pytest.raises(IORegUsageError, match=re.escape(message)):
        parse_arguments(arguments)


# -- real Macs' dumps --------------------------------------------------------------------------


def blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(entry ID, lines) per node line and its property block."""
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        match = NODE_ID.search(line)
        if match is not None:
            found.append((match.group(1), [line]))
        else:
            found[-1][1].append(line)
    return found


@pytest.mark.parametrize("dump", REAL_DUMPS, ids=lambda path: path.name.split("_")[0])
def test_a_real_dump_prints_back_byte_for_byte(dump: Path, shared_data: Path) -> None:
    """Every entry prints exactly as in the dump.  An entry printed at several places
    (one registry entry, several parents) was read live by ioreg each time, so its
    later printings may differ there; ours repeat the first printing."""
    raw = gzip.decompress(dump.read_bytes())
    text = raw.decode("utf-8", "surrogateescape")
    port = io.IOMainPortFromSnapshot(read_ioreg_dump(text, dump.name))
    output = ioreg(port, IORegOptions(list=True, width=0))
    assert output.stderr == []
    printed = "\n".join(output.stdout).split("\n")
    recorded = text.split("\n")[:-1]
    assert len(printed) == len(recorded)
    first_printing: dict[str, list[str]] = {}
    ours = blocks(printed)
    theirs = blocks(recorded)
    assert [entry for entry, _ in ours] == [entry for entry, _ in theirs]
    for (entry, mine), (_, original) in zip(ours, theirs, strict=True):
        stripped = [PREFIX.sub("", line) for line in mine]
        if entry in first_printing:
            assert stripped == first_printing[entry]
        else:
            assert mine == original
            first_printing[entry] = stripped


def test_a_dump_without_repeated_entries_round_trips_as_bytes(shared_data: Path) -> None:
    dump = shared_data / "ioreg" / "MacBookPro12_1__IOReg.txt.gz"
    raw = gzip.decompress(dump.read_bytes())
    port = io.IOMainPortFromSnapshot(read_ioreg_dump_file(dump))
    lines = ioreg(port, IORegOptions(list=True, width=0)).stdout
    assert b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in lines) == raw


def test_bytes_that_are_not_utf8_survive_the_round_trip(shared_data: Path) -> None:
    root = read_ioreg_dump_file(shared_data / "ioreg" / "MacMini3.1__IOReg.txt.gz")
    users = dict(root.properties or [])["IOConsoleUsers"]
    assert isinstance(users, list)
    name = users[0]["kCGSessionLongUserNameKey"]
    assert name.encode("utf-8", "surrogateescape") == b"\xe5\xcaSvetlana"


def test_redacted_and_xml_data_values_are_read(shared_data: Path) -> None:
    root = read_ioreg_dump_file(shared_data / "ioreg" / "MacBook8_1__IOReg.txt.gz")
    addresses = [
        value
        for node in root.walk()
        for key, value in node.properties or []
        if key == "IOMACAddress"
    ]
    assert PrintedValue("<a**********c>") in addresses
    assert all(isinstance(address, PrintedValue) for address in addresses)
    root = read_ioreg_dump_file(shared_data / "ioreg" / "MacBookPro10.1__IOReg.txt.gz")
    boot = next(
        value
        for node in root.walk()
        for key, value in node.properties or []
        if key == "efi-boot-device"
    )
    assert isinstance(boot, bytes)
    assert boot.startswith(b"<array><dict><key>MemoryType</key>")
    assert boot.endswith(b"</array>\0")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "no registry entries"),
        ("hello\n", 1, "expected a '+-o' entry line first"),
        ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n  | {\n", 2, "truncated"),
        (
            "+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n"
            "+-o Again  <class IORegistryEntry, id 0x100000101, retain 4>\n",
            2,
            "a second root entry",
        ),
        (
            "+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n"
            "    +-o Deep  <class IORegistryEntry, id 0x100000101, retain 4>\n",
            2,
            "has no parent",
        ),
        (
            "+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n"
            '  | {\n  |   "k" = {"a"=1\n  | }\n',
            3,
            "expected ',' or '}'",
        ),
    ],
)
def test_a_damaged_dump_is_refused_naming_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(IORegDumpError, match=re.escape(message)) as error:
        read_ioreg_dump(text, "mac.txt")
    assert error.value.line == line
    assert str(error.value).startswith(f"mac.txt:{line}: ")


def test_dump_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    with pytest.raises(IORegDumpError, match="dump file not found"):
        read_ioreg_dump_file(tmp_path / "missing.txt")
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(b"+-o Root")[:12])
    with pytest.raises(IORegDumpError, match=r"broken\.txt\.gz: damaged gzip data"):
        read_ioreg_dump_file(broken)
