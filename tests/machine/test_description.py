"""Machine descriptions (the TOML files) and the sizes written in them.

Good descriptions load into the values the file states; every bad one raises
``MachineDescriptionError`` whose text names the file, the dotted key and what was
expected.  Inline descriptions go through ``parse_machine_description`` with the
source ``lab.toml``; descriptions that must exist on disk live under ``tmp_path``.
"""

from __future__ import annotations

import io
import mmap
from pathlib import Path
from typing import Literal

import pytest

from kextlab.errors import KextlabError, MachineDescriptionError
from kextlab.machine.description import (
    MachineDescription,
    embedded_machine_names,
    load_machine_description,
    parse_machine_description,
)
from kextlab.machine.machine import Machine
from kextlab.machine.machines import SAMPLE_CD
from kextlab.machine.memory import RamRange
from kextlab.machine.pci.host import AddressWindow
from kextlab.machine.sizes import format_size, parse_size
from kextlab.sim.preemption import PreemptionPolicy
from kextlab.sim.trace import TraceRecorder

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
SOURCE = "lab.toml"
#: The smallest description that loads: only [memory] is required.
MEMORY = '[memory]\nsize = "1G"\n'


def parse(text: str) -> MachineDescription:
    return parse_machine_description(text, SOURCE, "lab")


def rejection(text: str) -> MachineDescriptionError:
    with pytest.raises(MachineDescriptionError) as caught:
        parse(text)
    return caught.value


def device(model: str, slot: int, **fields: object) -> str:
    """One ``[[device]]`` entry; ``params`` (a dict) becomes its ``[device.params]``."""
    params = fields.pop("params", None)
    lines = ["[[device]]", f'model = "{model}"', f"slot = {slot}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in fields.items()]
    if params:
        assert isinstance(params, dict)
        lines.append("[device.params]")
        lines += [f"{key} = {toml_value(value)}" for key, value in params.items()]
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "size"),
    [
        (4096, 4096),
        (0, 0),
        ("4096", 4096),
        ("64K", 64 * KIB),
        ("64KiB", 64 * KIB),
        ("512 MiB", 512 * MIB),
        ("1536M", 1536 * MIB),
        ("2G", 2 * GIB),
        ("3 GiB", 3 * GIB),
        ("2g", 2 * GIB),
        ("1T", 1 << 40),
        ("0x1000", 0x1000),
        ("0X1000", 0x1000),
        ("16B", 16),
        ("  8 K ", 8 * KIB),
    ],
)
def test_parse_size_reads_integers_binary_units_and_hex(written: object, size: int) -> None:
    """Integers, decimal or hex numbers and binary units (K, KiB, M, G...) give exact sizes."""
    assert parse_size(written) == size


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("2 GB", "unknown unit 'GB' (decimal units are not accepted)"),
        ("500MB", "unknown unit 'MB' (decimal units are not accepted)"),
        ("12 parsecs", "unknown unit 'parsecs'"),
        ("", "not ''"),
        ("1.5G", "not '1.5G'"),
        ("G", "not 'G'"),
        (-1, "not the negative number -1"),
        (True, "not True"),
        (1.5, "not 1.5"),
        (None, "not None"),
        ([4096], "not [4096]"),
    ],
)
def test_parse_size_refuses_decimal_units_junk_and_non_integers(
    written: object, complaint: str
) -> None:
    """Anything but a non-negative integer or a binary-unit size raises ValueError saying so."""
    with pytest.raises(ValueError, match=r"^expected a size such as") as caught:
        parse_size(written)
    message = str(caught.value)
    assert '4096, "64K", "512 MiB" or "2G" (binary units)' in message
    assert complaint in message


def test_parse_size_does_not_hint_at_decimal_units_for_other_bad_units() -> None:
    """The decimal-units hint appears only for units ending in B, not for any unknown unit."""
    with pytest.raises(ValueError, match="unknown unit") as caught:
        parse_size("12 parsecs")
    assert "decimal" not in str(caught.value)


@pytest.mark.parametrize(
    ("size", "written"),
    [
        (3 * GIB, "3 GiB"),
        (1536 * MIB, "1536 MiB"),
        (64 * KIB, "64 KiB"),
        (4096, "4 KiB"),
        (1 << 40, "1 TiB"),
        (GIB + KIB, "1048577 KiB"),
    ],
)
def test_format_size_uses_the_largest_exact_binary_unit_and_round_trips(
    size: int, written: str
) -> None:
    """format_size picks the largest unit dividing the size, and parse_size reads it back."""
    assert format_size(size) == written
    assert parse_size(written) == size


@pytest.mark.parametrize("size", [0, 4097])
def test_format_size_round_trips_sizes_that_are_not_whole_kibibytes(size: int) -> None:
    """What format_size writes for a byte count ("100 bytes") is a size parse_size accepts."""
    assert parse_size(format_size(size)) == size


# -- the embedded default machine -------------------------------------------------------------


def test_embedded_machines_include_the_default() -> None:
    """embedded_machine_names() lists the machines shipped as package data, default among them."""
    names = embedded_machine_names()
    assert "default" in names
    assert names == sorted(names)


def test_default_machine_has_3_gib_split_around_the_pci_hole() -> None:
    """The default machine's 3 GiB of RAM are [0, 2 GiB) and [4 GiB, 5 GiB)."""
    description = load_machine_description("default")
    assert description.ram == (RamRange(0, 2 * GIB), RamRange(4 * GIB, GIB))
    assert description.ram_size == 3 * GIB


def test_default_machine_is_a_64_bit_x86_kextlab_machine() -> None:
    """The default machine is named default, model KextLab1,1, x86 with a 64-bit kernel."""
    description = load_machine_description("default")
    assert description.name == "default"
    assert description.source == "<embedded machine default>"
    assert description.model == "KextLab1,1"
    assert description.arch == "x86"
    assert description.kernel_bits == 64
    assert description.boot_args == ""


def test_default_machine_host_bridge_matches_its_file() -> None:
    """The default machine's PCI windows, config registers and INTx routing are as written."""
    host = load_machine_description("default").host_bridge
    assert host.memory_window == AddressWindow(0x8000_0000, 1536 * MIB)
    assert host.prefetchable_window == AddressWindow(0x10_0000_0000, 16 * GIB)
    assert (host.io_cpu_base, host.io_size) == (0xF200_0000, 64 * KIB)
    assert (host.config_address_mmio, host.config_data_mmio) == (0xF280_0000, 0xF2C0_0000)
    assert host.interrupt_inputs == (16, 17, 18, 19)


def test_default_machine_has_a_bridge_with_a_card_behind_it_and_a_32_bit_card() -> None:
    """bridge0 (slot 13), testcard0 behind it, testcard1 on the root bus with 32-bit DMA."""
    devices = {entry.name: entry for entry in load_machine_description("default").devices}
    assert list(devices) == ["bridge0", "testcard0", "testcard1", "hba0"]
    bridge, card0, card1 = devices["bridge0"], devices["testcard0"], devices["testcard1"]
    assert (bridge.model, bridge.bus, bridge.slot, bridge.function) == ("dec21154", "pci", 13, 0)
    assert bridge.is_bridge
    assert (card0.model, card0.bus, card0.slot) == ("testcard", "bridge0", 1)
    assert not card0.is_bridge
    assert (card1.model, card1.bus, card1.slot) == ("testcard", "pci", 2)
    assert card0.parameters["dma_address_bits"] == 64
    assert card1.parameters["dma_address_bits"] == 32
    assert card1.parameters["subsystem_id"] == 2


def test_default_machine_has_a_marvell_hba_with_two_disks_a_cd_rom_and_a_tape() -> None:
    """hba0, an 88SE9143 in root slot 4: two scratch disks, the CD-ROM with the sample
    disc shipped beside the machine file, and a tape drive without a cartridge."""
    (hba,) = [entry for entry in load_machine_description("default").devices if entry.targets]
    assert (hba.name, hba.model, hba.bus, hba.slot, hba.function) == (
        "hba0",
        "mvumi9143",
        "pci",
        4,
        0,
    )
    assert [(target.target_id, target.kind) for target in hba.targets] == [
        (0, "disk"),
        (1, "disk"),
        (2, "cdrom"),
        (3, "tape"),
    ]
    disk0, disk1, cdrom, tape = hba.targets
    assert [(disk.image, disk.parameters["size"]) for disk in (disk0, disk1)] == [
        (None, 256 * MIB),
        (None, GIB),
    ]
    assert cdrom.image == SAMPLE_CD
    assert tape.image is None


def test_device_parameters_are_complete_typed_and_defaulted() -> None:
    """A device's parameters hold every schema key, sizes converted to bytes, defaults filled."""
    description = parse(MEMORY + device("testcard", 1, params={"sram_size": "1M", "rom": False}))
    parameters = description.devices[0].parameters
    assert parameters["sram_size"] == MIB
    assert parameters["rom"] is False
    assert parameters["max_transfer"] == 16 * MIB
    assert parameters["interrupt_pin"] == 1
    assert set(parameters) >= {"dma_address_bits", "descriptor_latency_ns", "subsystem_id"}


# -- what a minimal description fills in -----------------------------------------------------


def test_minimal_description_takes_its_name_from_the_file_and_defaults_the_rest() -> None:
    """Only [memory] is required; the name comes from the file name, the rest from defaults."""
    description = parse_machine_description(MEMORY, "machines/mini.toml", "mini")
    assert description.name == "mini"
    assert (description.model, description.arch, description.kernel_bits) == (
        "KextLab1,1",
        "x86",
        64,
    )
    assert description.ram == (RamRange(0, GIB),)
    assert description.devices == ()
    assert description.host_bridge.prefetchable_window is None


def test_without_a_scheduler_table_preemption_is_off_with_default_parameters() -> None:
    """No [scheduler]: the default schedule, and the default policy kept for "seeded"."""
    description = parse(MEMORY)
    assert description.preemption == "off"
    assert description.preemption_policy == PreemptionPolicy()
    assert load_machine_description("default").preemption == "off"


# -- [scheduler]: seeded preemption ---------------------------------------------------------------

SEEDED = (
    MEMORY + '[scheduler]\npreemption = "seeded"\npreemption_probability = 0.25\n'
    "max_slice_ns = 50000\nmax_wakeup_latency_ns = 0\n"
)


def test_scheduler_table_reads_the_mode_and_the_policy_parameters() -> None:
    """[scheduler] gives the mode and each parameter; integers are accepted as probabilities."""
    description = parse(SEEDED)
    assert description.preemption == "seeded"
    assert description.preemption_policy == PreemptionPolicy(0.25, 50_000, 0)
    always = parse(MEMORY + "[scheduler]\npreemption_probability = 1\n")
    assert always.preemption == "off"  # parameters are kept for Machine(preemption="seeded")
    assert always.preemption_policy == PreemptionPolicy(probability=1.0)


def test_the_preemption_keyword_overrides_the_scheduler_table() -> None:
    """Machine(preemption=...) beats [scheduler]; None leaves the table in charge."""
    seeded, off = parse(SEEDED), parse(MEMORY)
    explicit = PreemptionPolicy(0.5, 10, 10)
    cases: list[
        tuple[MachineDescription, PreemptionPolicy | Literal["off", "seeded"] | None, object]
    ] = [
        (seeded, None, PreemptionPolicy(0.25, 50_000, 0)),
        (seeded, "off", None),
        (off, None, None),
        (off, "seeded", PreemptionPolicy()),
        (seeded, explicit, explicit),
    ]
    for description, keyword, policy in cases:
        with Machine(description, preemption=keyword) as machine:
            running = machine.scheduler.preemption
            assert (running.policy if running is not None else None) == policy, keyword


def test_a_bad_preemption_keyword_names_the_choices() -> None:
    """An unknown preemption mode passed to Machine raises ValueError listing the choices."""
    with pytest.raises(ValueError, match='expected "off", "seeded" or a PreemptionPolicy'):
        Machine(parse(MEMORY), preemption="sometimes")  # type: ignore[arg-type]


def test_a_seeded_machine_traces_its_policy_and_an_unseeded_one_does_not() -> None:
    """The trace of a machine under seeded preemption opens with the policy; off adds nothing."""
    traces: dict[str, str] = {}
    for mode in ("off", "seeded"):
        stream = io.StringIO()
        with Machine(parse(SEEDED), trace=TraceRecorder(stream), preemption=mode):
            traces[mode] = stream.getvalue()
    assert "machine.preemption" not in traces["off"]
    assert traces["seeded"] == traces["off"] + (
        "0.000000000 machine.preemption seeded probability 0.25 max_slice 50000 ns "
        "max_wakeup_latency 0 ns\n"
    )


def test_unnamed_devices_are_named_after_their_model_and_count() -> None:
    """Devices without a name become testcard0, testcard1, dec211540... in file order."""
    text = MEMORY + device("testcard", 1) + device("dec21154", 2) + device("testcard", 3)
    names = [entry.name for entry in parse(text).devices]
    assert names == ["testcard0", "dec211540", "testcard1"]


def test_the_same_slot_on_different_buses_and_functions_is_allowed() -> None:
    """Slot 1 may be used once per bus, and functions 0 and 1 of one slot may coexist."""
    text = (
        MEMORY
        + device("dec21154", 1, name="bridge")
        + device("testcard", 1, bus="bridge")
        + device("testcard", 1, bus="bridge", function=1)
    )
    places = [(entry.bus, entry.slot, entry.function) for entry in parse(text).devices]
    assert places == [("pci", 1, 0), ("bridge", 1, 0), ("bridge", 1, 1)]


def test_ram_beyond_the_pci_hole_goes_above_4_gib() -> None:
    """RAM that does not fit below the hole (the memory window's base) starts at 4 GiB."""
    text = '[memory]\nsize = "6G"\n[pci]\nmemory_window = { base = 0xC0000000, size = "512M" }\n'
    assert parse(text).ram == (RamRange(0, 3 * GIB), RamRange(4 * GIB, 3 * GIB))


def test_below_4g_moves_ram_above_4_gib_on_request() -> None:
    """memory.below_4g places only that much RAM low and the rest from 4 GiB."""
    text = '[memory]\nsize = "2G"\nbelow_4g = "512M"\n'
    assert parse(text).ram == (RamRange(0, 512 * MIB), RamRange(4 * GIB, 1536 * MIB))


# -- bad descriptions: one table, one contract ----------------------------------------------

ROOT_CARD = device("testcard", 1, name="card0")
BRIDGE = device("dec21154", 13, name="bridge0")

BAD_DESCRIPTIONS = [
    pytest.param(
        '[memory\nsize = "1G"\n',
        None,
        ["not valid TOML"],
        id="not-toml",
    ),
    pytest.param(
        MEMORY + ROOT_CARD + device("floppy", 2),
        "device[1].model",
        [
            "unknown device model 'floppy'",
            "expected one of: dec21154, mvumi9143, mvumi9580, testcard",
        ],
        id="unknown-model",
    ),
    pytest.param(
        MEMORY + ROOT_CARD + device("testcard", 1, name="card1"),
        "device[1].slot",
        ["slot 1 function 0 on bus 'pci'", "already taken by device[0] (card0)"],
        id="overlapping-slot",
    ),
    pytest.param(
        MEMORY
        + BRIDGE
        + device("testcard", 4, bus="bridge0")
        + device("testcard", 4, bus="bridge0"),
        "device[2].slot",
        ["slot 4 function 0 on bus 'bridge0'", "already taken by device[1] (testcard0)"],
        id="overlapping-slot-behind-a-bridge",
    ),
    pytest.param(
        "[memory]\nsize = '2 GB'\n",
        "memory.size",
        ["expected a size such as", "not '2 GB'", "decimal units are not accepted"],
        id="decimal-size",
    ),
    pytest.param(
        '[memory]\nsize = "12 parsecs"\n',
        "memory.size",
        ["expected a size such as", "unknown unit 'parsecs'"],
        id="nonsense-size",
    ),
    pytest.param(
        '[memory]\nsize = "1000"\n',
        "memory.size",
        [f"expected a non-zero multiple of {mmap.PAGESIZE} bytes, not 1000 bytes"],
        id="size-not-whole-pages",
    ),
    pytest.param(
        "[memory]\nsize = 0\n",
        "memory.size",
        ["expected a non-zero multiple of"],
        id="no-ram",
    ),
    pytest.param(
        '[memory]\nsise = "1G"\n',
        "memory.size",
        ['missing; expected a size such as "512M"'],
        id="memory-without-size",
    ),
    pytest.param(
        '[machine]\nname = "lab"\n',
        "memory",
        ["missing table"],
        id="missing-memory",
    ),
    pytest.param(
        '[memory]\nsize = "1G"\n[memroy]\nsize = "1G"\n',
        "memroy",
        ["unknown key", "check its spelling"],
        id="unknown-section",
    ),
    pytest.param(
        MEMORY + '[machine]\nnmae = "lab"\n',
        "machine.nmae",
        ["unknown key", "check its spelling"],
        id="unknown-machine-key",
    ),
    pytest.param(
        '[memory]\nsize = "1G"\nbelow4g = "1G"\n',
        "memory.below4g",
        ["unknown key"],
        id="unknown-memory-key",
    ),
    pytest.param(
        MEMORY + '[pci]\nmemory_window = { base = 0x80000000, sise = "1G", size = "1G" }\n',
        "pci.memory_window.sise",
        ["unknown key"],
        id="unknown-window-key",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, fuction=0),
        "device[0].fuction",
        ["unknown key"],
        id="unknown-device-key",
    ),
    pytest.param(
        "machine = 3\n" + MEMORY,
        "machine",
        ["expected a table, not 3"],
        id="section-not-a-table",
    ),
    pytest.param(
        MEMORY + '[machine]\narch = "sparc"\n',
        "machine.arch",
        ["expected one of ppc, x86, arm64, not 'sparc'"],
        id="unknown-arch",
    ),
    pytest.param(
        MEMORY + "[machine]\nname = 7\n",
        "machine.name",
        ["expected a string, not 7"],
        id="name-not-a-string",
    ),
    pytest.param(
        MEMORY + '[machine]\narch = "ppc"\n[boot]\nkernel_bits = 64\n',
        "boot.kernel_bits",
        ["ppc kernel is 32-bit, not 64"],
        id="64-bit-ppc",
    ),
    pytest.param(
        MEMORY + '[machine]\narch = "arm64"\n[boot]\nkernel_bits = 32\n',
        "boot.kernel_bits",
        ["arm64 kernel is 64-bit, not 32"],
        id="32-bit-arm64",
    ),
    pytest.param(
        MEMORY + '[boot]\nkernel_bits = "64"\n',
        "boot.kernel_bits",
        ["expected an integer, not '64'"],
        id="kernel-bits-not-an-integer",
    ),
    pytest.param(
        MEMORY + ROOT_CARD + device("testcard", 2, bus="card0"),
        "device[1].bus",
        ["no bus called 'card0'", "expected one of: pci"],
        id="bus-is-not-a-bridge",
    ),
    pytest.param(
        MEMORY + BRIDGE + device("testcard", 2, bus="bridge9"),
        "device[1].bus",
        ["no bus called 'bridge9'", "expected one of: pci, bridge0"],
        id="bus-does-not-exist",
    ),
    pytest.param(
        MEMORY + device("testcard", 3, function=1),
        "device[0].function",
        ["function 1 in slot 3 on bus 'pci'", "needs a function 0 in the same slot"],
        id="function-1-without-function-0",
    ),
    pytest.param(
        MEMORY + device("dec21154", 13, name="loop", bus="loop"),
        "device[0].bus",
        ["bridge 'loop' sits behind itself"],
        id="bridge-behind-itself",
    ),
    pytest.param(
        MEMORY
        + device("dec21154", 1, name="a", bus="b")
        + device("dec21154", 2, name="b", bus="a"),
        "device[0].bus",
        ["bridge 'a' sits behind itself"],
        id="two-bridges-behind-each-other",
    ),
    pytest.param(
        MEMORY + ROOT_CARD + device("testcard", 2, name="card0"),
        "device[1].name",
        ["'card0' is already the name of device[0]"],
        id="duplicate-name",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, name="9lives"),
        "device[0].name",
        ["'9lives' is not a device name", "expected a letter"],
        id="bad-name",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, name="pci"),
        "device[0].name",
        ["'pci' is not a device name"],
        id="device-named-like-the-root-bus",
    ),
    pytest.param(
        MEMORY + device("testcard", 32),
        "device[0].slot",
        ["expected an integer from 0 to 31, not 32"],
        id="slot-out-of-range",
    ),
    pytest.param(
        MEMORY + '[[device]]\nmodel = "testcard"\n',
        "device[0].slot",
        ["missing; expected an integer"],
        id="missing-slot",
    ),
    pytest.param(
        "device = 5\n" + MEMORY,
        "device",
        ["expected an array of tables ([[device]] entries)"],
        id="device-not-an-array",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"dma_address_bits": 48}),
        "device[0].params.dma_address_bits",
        ["expected one of 32, 64, not 48"],
        id="parameter-not-a-choice",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"interrupt_pin": 7}),
        "device[0].params.interrupt_pin",
        ["expected at most 4, not 7"],
        id="parameter-out-of-range",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"sram_size": "48K"}),
        "device[0].params.sram_size",
        ["expected a power of two, not 48 KiB"],
        id="size-parameter-not-a-power-of-two",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"sram_size": "3K"}),
        "device[0].params.sram_size",
        ["expected at least 4 KiB, not 3 KiB"],
        id="size-parameter-below-its-minimum",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"max_transfer": "2G"}),
        "device[0].params.max_transfer",
        ["expected at most 1 GiB, not 2 GiB"],
        id="size-parameter-too-large",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"max_transfer": "1 MB"}),
        "device[0].params.max_transfer",
        ["expected a size such as", "decimal units are not accepted"],
        id="size-parameter-decimal",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"subsystem_id": "2"}),
        "device[0].params.subsystem_id",
        ["expected an integer, not '2'"],
        id="parameter-wrong-type",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"rom": 1}),
        "device[0].params.rom",
        ["expected true or false, not 1"],
        id="flag-parameter-not-a-boolean",
    ),
    pytest.param(
        MEMORY + device("testcard", 1, params={"dma_bits": 32}),
        "device[0].params.dma_bits",
        ["model 'testcard' has no such parameter", "dma_address_bits, dma_rate_mib_per_s"],
        id="unknown-parameter",
    ),
    pytest.param(
        MEMORY + device("dec21154", 1, params={"dma_bits": 32}),
        "device[0].params.dma_bits",
        ["model 'dec21154' has no such parameter; its parameters are: none"],
        id="parameter-for-a-model-without-any",
    ),
    pytest.param(
        MEMORY + '[pci]\nio_window = { cpu_base = 0x80000000, size = "64K" }\n',
        "pci.io_window",
        ["[0x80000000, 0x80010000) overlaps pci.memory_window [0x80000000, 0xe0000000)"],
        id="io-window-inside-memory-window",
    ),
    pytest.param(
        MEMORY + '[pci]\nprefetchable_window = { base = 0xC0000000, size = "256M" }\n',
        "pci.prefetchable_window",
        ["overlaps pci.memory_window"],
        id="prefetchable-window-inside-memory-window",
    ),
    pytest.param(
        MEMORY + '[pci]\nio_window = { cpu_base = 0xF8000000, size = "1M" }\n',
        "pci.io_window",
        ["overlaps", "interrupt controller [0xf8040000, 0xf8041000)"],
        id="io-window-over-the-interrupt-controller",
    ),
    pytest.param(
        MEMORY + "[pci]\nconfig_registers = { address = 0xF2800000, data = 0xF2800000 }\n",
        "pci.config_registers.data",
        ["overlaps pci.config_registers.address"],
        id="config-registers-on-top-of-each-other",
    ),
    pytest.param(
        MEMORY + "[pci]\nconfig_registers = { address = 0xF2800002, data = 0xF2C00000 }\n",
        "pci.config_registers",
        ["register addresses must be multiples of 4"],
        id="config-register-unaligned",
    ),
    pytest.param(
        MEMORY + '[pci]\nmemory_window = { base = 0xF0000000, size = "512M" }\n',
        "pci.memory_window",
        ["must lie below 4 GiB; it ends at 0x110000000"],
        id="memory-window-above-4-gib",
    ),
    pytest.param(
        MEMORY + '[pci]\nmemory_window = { base = 0x80080000, size = "1G" }\n',
        "pci.memory_window",
        ["base 0x80080000 and size 1 GiB must be non-zero multiples of 1 MiB"],
        id="memory-window-unaligned",
    ),
    pytest.param(
        MEMORY + '[pci]\nio_window = { cpu_base = 0xE0000000, size = "32M" }\n',
        "pci.io_window.size",
        ["the PCI I/O space is at most 16 MiB"],
        id="io-window-too-large",
    ),
    pytest.param(
        MEMORY + '[pci]\nmemory_window = { size = "1G" }\n',
        "pci.memory_window.base",
        ["missing; expected an integer"],
        id="window-without-base",
    ),
    pytest.param(
        MEMORY + "[pci]\ninterrupt_inputs = [16, 17, 18]\n",
        "pci.interrupt_inputs",
        ["expected four interrupt controller inputs (0-31) for INTA#..INTD#, not [16, 17, 18]"],
        id="three-interrupt-inputs",
    ),
    pytest.param(
        MEMORY + "[pci]\ninterrupt_inputs = [16, 17, 18, 32]\n",
        "pci.interrupt_inputs",
        ["expected four interrupt controller inputs (0-31)"],
        id="interrupt-input-out-of-range",
    ),
    pytest.param(
        '[memory]\nsize = "3G"\n'
        '[pci]\nprefetchable_window = { base = 0x100000000, size = "16G" }\n',
        "memory.size",
        [
            "RAM above 4 GiB, [0x100000000, 0x140000000), overlaps "
            "pci.prefetchable_window [0x100000000, 0x500000000)"
        ],
        id="high-ram-over-prefetchable-window",
    ),
    pytest.param(
        '[memory]\nsize = "4G"\nbelow_4g = "3G"\n',
        "memory.below_4g",
        ["3 GiB would reach into the PCI hole at 0x80000000; at most 2 GiB fits"],
        id="below-4g-larger-than-the-hole",
    ),
    pytest.param(
        '[memory]\nsize = "1G"\nbelow_4g = "2G"\n',
        "memory.below_4g",
        ["2 GiB is more than the RAM (1 GiB)"],
        id="below-4g-larger-than-the-ram",
    ),
    pytest.param(
        MEMORY + '[scheduler]\npreemption = "random"\n',
        "scheduler.preemption",
        ['expected "off" or "seeded", not \'random\''],
        id="unknown-preemption-mode",
    ),
    pytest.param(
        MEMORY + "[scheduler]\npreemption = true\n",
        "scheduler.preemption",
        ["expected a string, not True"],
        id="preemption-not-a-string",
    ),
    pytest.param(
        MEMORY + "[scheduler]\npreemption_probability = 1.5\n",
        "scheduler.preemption_probability",
        ["expected a number from 0 to 1, not 1.5"],
        id="probability-above-one",
    ),
    pytest.param(
        MEMORY + '[scheduler]\npreemption_probability = "5%"\n',
        "scheduler.preemption_probability",
        ["expected a number from 0 to 1, not '5%'"],
        id="probability-not-a-number",
    ),
    pytest.param(
        MEMORY + "[scheduler]\npreemption_probability = nan\n",
        "scheduler.preemption_probability",
        ["expected a number from 0 to 1, not nan"],
        id="probability-nan",
    ),
    pytest.param(
        MEMORY + "[scheduler]\nmax_slice_ns = 0\n",
        "scheduler.max_slice_ns",
        ["expected an integer from 1 to"],
        id="zero-slice",
    ),
    pytest.param(
        MEMORY + '[scheduler]\nmax_slice_ns = "1ms"\n',
        "scheduler.max_slice_ns",
        ["expected an integer, not '1ms'"],
        id="slice-with-a-unit",
    ),
    pytest.param(
        MEMORY + "[scheduler]\nmax_wakeup_latency_ns = -1\n",
        "scheduler.max_wakeup_latency_ns",
        ["expected an integer from 0 to"],
        id="negative-wakeup-latency",
    ),
    pytest.param(
        MEMORY + '[scheduler]\npreempt = "seeded"\n',
        "scheduler.preempt",
        ["unknown key", "check its spelling"],
        id="misspelt-scheduler-key",
    ),
    pytest.param(
        'scheduler = "seeded"\n' + MEMORY,
        "scheduler",
        ["expected a table, not 'seeded'"],
        id="scheduler-not-a-table",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragments"), BAD_DESCRIPTIONS)
def test_bad_description_error_names_file_key_and_expectation(
    text: str, key: str | None, fragments: list[str]
) -> None:
    """Each kind of bad description raises MachineDescriptionError naming file, key and fix."""
    error = rejection(text)
    assert error.source == SOURCE
    assert error.key == key
    where = f"{SOURCE}: {key}: " if key else f"{SOURCE}: "
    assert str(error).startswith(where)
    assert str(error) == where + error.message
    for fragment in fragments:
        assert fragment in error.message


def test_machine_description_error_is_a_value_error_and_a_kextlab_error() -> None:
    """Callers may catch a bad description as ValueError or as KextlabError."""
    error = rejection("[memory\n")
    assert isinstance(error, ValueError)
    assert isinstance(error, KextlabError)


def test_with_two_bad_parameters_the_key_named_is_the_one_the_message_describes() -> None:
    """When several parameters are bad, the error's key and its message are about the same one."""
    error = rejection(
        MEMORY + device("testcard", 1, params={"sram_size": "48K", "dma_address_bits": 48})
    )
    if error.key == "device[0].params.dma_address_bits":
        assert "expected one of 32, 64, not 48" in error.message
    else:
        assert error.key == "device[0].params.sram_size"
        assert "expected a power of two, not 48 KiB" in error.message


def test_prefetchable_window_below_4_gib_may_not_overlap_the_ram_below_it() -> None:
    """RAM placed below 4 GiB never overlaps a prefetchable window that lies below 4 GiB."""
    text = (
        '[memory]\nsize = "3G"\nbelow_4g = "2G"\n'
        '[pci]\nprefetchable_window = { base = 0x40000000, size = "256M" }\n'
    )
    with pytest.raises(MachineDescriptionError) as caught:
        parse(text)
    assert caught.value.source == SOURCE
    assert caught.value.key in {"memory.below_4g", "memory.size", "pci.prefetchable_window"}
    assert "pci.prefetchable_window" in str(caught.value)


def test_prefetchable_window_must_end_within_the_64_bit_address_space() -> None:
    """A prefetchable window that runs past 2**64 is refused, naming pci.prefetchable_window."""
    text = MEMORY + '[pci]\nprefetchable_window = { base = 0xFFFFFFFFFFF00000, size = "16G" }\n'
    error = rejection(text)
    assert error.key == "pci.prefetchable_window"


def test_whether_a_description_loads_does_not_depend_on_the_host_page_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A description valid on a 4 KiB-page host is valid on a 16 KiB-page host (same machine)."""
    text = '[memory]\nsize = "1028K"\n'  # 257 pages of 4 KiB: not a whole number of 16 KiB pages
    monkeypatch.setattr(mmap, "PAGESIZE", 4096)
    on_4k_host = parse(text)
    monkeypatch.setattr(mmap, "PAGESIZE", 16384)
    assert parse(text) == on_4k_host


# -- finding description files ----------------------------------------------------------------


def test_machine_file_loads_and_takes_its_name_from_the_file(tmp_path: Path) -> None:
    """load_machine_description(PATH) reads a TOML file; the stem names the machine."""
    path = tmp_path / "bench.toml"
    path.write_text(MEMORY + BRIDGE + device("testcard", 1, bus="bridge0"), encoding="utf-8")
    description = load_machine_description(str(path))
    assert description.name == "bench"
    assert description.source == str(path)
    assert [entry.name for entry in description.devices] == ["bridge0", "testcard0"]


def test_bad_machine_file_error_names_the_file_path(tmp_path: Path) -> None:
    """An error in a file on disk names that file's path and the key."""
    path = tmp_path / "lab.toml"
    path.write_text("[memory]\nsize = '2 GB'\n", encoding="utf-8")
    with pytest.raises(MachineDescriptionError) as caught:
        load_machine_description(str(path))
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: memory.size: expected a size such as")


def test_missing_machine_file_says_it_was_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path that names no file raises 'machine file not found' naming the path."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MachineDescriptionError) as caught:
        load_machine_description("no/such/file.toml")
    assert str(caught.value) == "no/such/file.toml: machine file not found"
    assert caught.value.key is None


def test_directory_is_not_a_machine_file(tmp_path: Path) -> None:
    """A path naming a directory raises saying it is a directory, not a machine file."""
    directory = tmp_path / "machines.toml"
    directory.mkdir()
    with pytest.raises(MachineDescriptionError) as caught:
        load_machine_description(str(directory))
    assert str(caught.value) == f"{directory}: is a directory, not a machine file"


def test_machine_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A file that is not UTF-8 text raises naming the file, before any TOML parsing."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[machine]\nname = "caf\xe9"\n')
    with pytest.raises(MachineDescriptionError) as caught:
        load_machine_description(str(path))
    assert str(caught.value).startswith(f"{path}: not UTF-8 text")


def test_unknown_embedded_machine_lists_the_embedded_machines() -> None:
    """A bare name that is no embedded machine lists those there are and mentions files."""
    with pytest.raises(MachineDescriptionError) as caught:
        load_machine_description("nosuchmachine")
    message = str(caught.value)
    assert message.startswith("nosuchmachine: no embedded machine has this name")
    assert f"expected one of: {', '.join(embedded_machine_names())}" in message
    assert "default" in message
    assert "or the path of a .toml machine file" in message


def test_a_directory_named_like_an_embedded_machine_does_not_shadow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`default` still means the embedded machine when the working directory has a `default/`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    assert load_machine_description("default").source == "<embedded machine default>"
