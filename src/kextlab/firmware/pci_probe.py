"""PCI probing: enumeration, bus numbering, BAR sizing and resource assignment.

What Open Firmware does to the PCI hierarchy before it builds the device tree, using
nothing but configuration cycles (each costs virtual time):

1. **Enumerate, depth first.**  For each device number on a bus, read the Vendor ID
   of function 0 (0xFFFF: empty); read the other functions only if the Header Type
   says multi-function.  A PCI-to-PCI bridge gets the next bus number as its
   secondary bus and subordinate 0xFF while the bus behind it is scanned, then the
   highest number found below it as its subordinate (the numbering of the PCI
   binding and of every PC BIOS).
2. **Size every BAR** with decoding turned off: write all ones, read back, restore.
   The read-back's writable bits give the size; the low bits the space, 64-bit type
   and prefetchability.  The expansion ROM BAR is sized the same way.
3. **Assign addresses, bottom up then top down.**  Each bridge needs windows large
   enough for everything behind it (I/O in 4 KiB steps, memory in 1 MiB steps).  On
   each bus, requests are placed largest alignment first (ties: larger size, then bus
   position), which packs naturally aligned power-of-two BARs without holes.  BARs
   that are both 64-bit and prefetchable go to the host's prefetchable window (and
   the bridges' prefetchable windows) when the host has one; everything else,
   ROMs included, to the 32-bit memory window.  I/O starts at 0x1000, above the
   legacy ports.  A request that does not fit is reported on the console and left
   unassigned, as firmware does; the device stays usable for what did fit.
4. **Program the hardware**: BARs, bridge windows (closed windows as base > limit),
   Interrupt Line (the controller input the pin reaches), and the Command register:
   endpoints get Memory/IO decoding for what they were given and *no* bus mastering
   (the driver enables it: ``setBusMasterEnable``, Linux's ``pci_set_master``);
   bridges get Memory, IO and Bus Master so that they forward both ways.

The result is a ``ProbedFunction`` tree that ``pci_binding`` turns into nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bus import swizzle
from kextlab.machine.sizes import format_size

if TYPE_CHECKING:
    from kextlab.machine.machine import Machine

IO_START = 0x1000  # keep clear of legacy ports

SPACE_IO = "io"
SPACE_MEMORY = "mem"  # 32-bit memory window
SPACE_PREFETCHABLE = "pref"  # 64-bit prefetchable window


@dataclass
class ProbedBar:
    """A BAR (or the ROM BAR) as the firmware found and assigned it."""

    register: int  # config offset: 0x10-0x24, or 0x30/0x38 for the ROM
    size: int
    io: bool = False
    is_64bit: bool = False
    prefetchable: bool = False
    rom: bool = False
    address: int | None = None

    @property
    def space(self) -> str:
        if self.io:
            return SPACE_IO
        if self.is_64bit and self.prefetchable:
            return SPACE_PREFETCHABLE
        return SPACE_MEMORY

    def describe(self) -> str:
        if self.rom:
            kind = "rom"
        elif self.io:
            kind = "io"
        else:
            kind = ("mem64" if self.is_64bit else "mem32") + (" pref" if self.prefetchable else "")
        where = f"{self.address:#x}" if self.address is not None else "unassigned"
        return f"{kind} {where} [size {format_size(self.size)}]"


@dataclass
class Window:
    """A bridge window the firmware opened: ``[base, base + size)``."""

    base: int
    size: int


@dataclass
class ProbedFunction:
    """One function, as the probe found and configured it."""

    bus: int
    device: int
    function: int
    vendor_id: int
    device_id: int
    revision_id: int
    class_code: int
    header_type: int
    status: int
    subsystem_vendor_id: int = 0
    subsystem_id: int = 0
    interrupt_pin: int = 0
    interrupt_input: int | None = None
    min_grant: int = 0
    max_latency: int = 0
    cache_line_size: int = 0
    bars: list[ProbedBar] = field(default_factory=list)
    # bridges only
    secondary_bus: int = 0
    subordinate_bus: int = 0
    children: list[ProbedFunction] = field(default_factory=list)
    windows: dict[str, Window] = field(default_factory=dict)

    @property
    def is_bridge(self) -> bool:
        return self.header_type & r.HEADER_TYPE_MASK == r.HEADER_TYPE_BRIDGE

    @property
    def location(self) -> str:
        return f"{self.bus:02x}:{self.device:02x}.{self.function}"

    @property
    def phys_hi(self) -> int:
        """The config-space phys.hi word of the PCI binding: ``bus<<16 | dev<<11 | fn<<8``."""
        return self.bus << 16 | self.device << 11 | self.function << 8

    def walk(self) -> Iterator[ProbedFunction]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class _Request:
    """Space a bus needs: a BAR, or a bridge window holding the ``inner`` requests."""

    owner: ProbedFunction
    size: int
    alignment: int
    space: str
    key: int  # orders requests of one function: the BAR register, or after them
    bar: ProbedBar | None = None
    inner: list[_Request] = field(default_factory=list)

    @property
    def order(self) -> tuple[int, int, int, int]:
        return (self.owner.bus, self.owner.device, self.owner.function, self.key)


class PCIProbe:
    """Runs steps 1-4 on a machine; ``run()`` returns the root bus's functions."""

    def __init__(self, machine: Machine, log: Callable[[str], None]) -> None:
        self.machine = machine
        self.layout = machine.description.host_bridge
        self.log = log
        self._next_bus = 1
        self.root: list[ProbedFunction] = []

    # -- configuration cycles -------------------------------------------------------------

    def _read(self, function: ProbedFunction | tuple[int, int, int], offset: int, size: int) -> int:
        bus, device, number = _address(function)
        return self.machine.config_read(bus, device, number, offset, size)

    def _write(self, function: ProbedFunction, offset: int, size: int, value: int) -> None:
        self.machine.config_write(
            function.bus, function.device, function.function, offset, size, value
        )

    # -- step 1: enumeration ------------------------------------------------------------------

    def run(self) -> list[ProbedFunction]:
        self.root = self._scan_bus(0)
        self._assign()
        return self.root

    def _scan_bus(self, bus: int) -> list[ProbedFunction]:
        found: list[ProbedFunction] = []
        for device in range(32):
            if self._read((bus, device, 0), r.VENDOR_ID, 2) == 0xFFFF:
                continue
            header = self._read((bus, device, 0), r.HEADER_TYPE, 1)
            numbers = range(8) if header & r.HEADER_TYPE_MULTI_FUNCTION else range(1)
            for number in numbers:
                if number and self._read((bus, device, number), r.VENDOR_ID, 2) == 0xFFFF:
                    continue
                function = self._identify(bus, device, number)
                found.append(function)
                self._size_bars(function)
                if function.is_bridge:
                    self._scan_bridge(function)
        return found

    def _identify(self, bus: int, device: int, number: int) -> ProbedFunction:
        address = (bus, device, number)
        class_revision = self._read(address, r.REVISION_ID, 4)
        header = self._read(address, r.HEADER_TYPE, 1)
        function = ProbedFunction(
            bus=bus,
            device=device,
            function=number,
            vendor_id=self._read(address, r.VENDOR_ID, 2),
            device_id=self._read(address, r.DEVICE_ID, 2),
            revision_id=class_revision & 0xFF,
            class_code=class_revision >> 8,
            header_type=header,
            status=self._read(address, r.STATUS, 2),
            interrupt_pin=self._read(address, r.INTERRUPT_PIN, 1),
            cache_line_size=self._read(address, r.CACHE_LINE_SIZE, 1),
        )
        if header & r.HEADER_TYPE_MASK == r.HEADER_TYPE_NORMAL:
            function.subsystem_vendor_id = self._read(address, r.SUBSYSTEM_VENDOR_ID, 2)
            function.subsystem_id = self._read(address, r.SUBSYSTEM_ID, 2)
            function.min_grant = self._read(address, r.MIN_GNT, 1)
            function.max_latency = self._read(address, r.MAX_LAT, 1)
        self.log(
            f"{function.location}: [{function.vendor_id:04x}:{function.device_id:04x}] "
            f"class {function.class_code:06x} header type {header & r.HEADER_TYPE_MASK:#04x}"
        )
        return function

    def _scan_bridge(self, bridge: ProbedFunction) -> None:
        bridge.secondary_bus = self._next_bus
        self._next_bus += 1
        self._write(bridge, r.PRIMARY_BUS, 1, bridge.bus)
        self._write(bridge, r.SECONDARY_BUS, 1, bridge.secondary_bus)
        self._write(bridge, r.SUBORDINATE_BUS, 1, 0xFF)
        bridge.children = self._scan_bus(bridge.secondary_bus)
        bridge.subordinate_bus = self._next_bus - 1
        self._write(bridge, r.SUBORDINATE_BUS, 1, bridge.subordinate_bus)
        self.log(
            f"{bridge.location}: PCI bridge to [bus {bridge.secondary_bus:02x}-"
            f"{bridge.subordinate_bus:02x}]"
        )

    # -- step 2: sizing --------------------------------------------------------------------------

    def _size_bars(self, function: ProbedFunction) -> None:
        command = self._read(function, r.COMMAND, 2)
        self._write(function, r.COMMAND, 2, command & ~(r.COMMAND_IO | r.COMMAND_MEMORY))
        count = 2 if function.is_bridge else 6
        index = 0
        while index < count:
            offset = r.BASE_ADDRESS_0 + 4 * index
            bar = self._size_bar(function, offset)
            if bar is not None:
                function.bars.append(bar)
                index += 2 if bar.is_64bit else 1
            else:
                index += 1
        rom_offset = r.ROM_ADDRESS1 if function.is_bridge else r.ROM_ADDRESS
        original = self._read(function, rom_offset, 4)
        self._write(function, rom_offset, 4, r.ROM_ADDRESS_MASK)
        answer = self._read(function, rom_offset, 4) & r.ROM_ADDRESS_MASK
        self._write(function, rom_offset, 4, original)
        if answer:
            function.bars.append(ProbedBar(rom_offset, (~answer & 0xFFFF_FFFF) + 1, rom=True))
        self._write(function, r.COMMAND, 2, command)

    def _size_bar(self, function: ProbedFunction, offset: int) -> ProbedBar | None:
        original = self._read(function, offset, 4)
        self._write(function, offset, 4, 0xFFFF_FFFF)
        answer = self._read(function, offset, 4)
        self._write(function, offset, 4, original)
        if answer == 0:
            return None
        if answer & r.BAR_SPACE_IO:
            mask = answer & r.BAR_IO_ADDRESS_MASK & 0xFFFF
            return ProbedBar(offset, (~mask & 0xFFFF) + 1, io=True) if mask else None
        prefetchable = bool(answer & r.BAR_MEM_PREFETCH)
        if answer & r.BAR_MEM_TYPE_MASK == r.BAR_MEM_TYPE_64:
            original_high = self._read(function, offset + 4, 4)
            self._write(function, offset + 4, 4, 0xFFFF_FFFF)
            high = self._read(function, offset + 4, 4)
            self._write(function, offset + 4, 4, original_high)
            mask = high << 32 | (answer & r.BAR_MEM_ADDRESS_MASK)
            size = (~mask & 0xFFFF_FFFF_FFFF_FFFF) + 1
            return ProbedBar(offset, size, is_64bit=True, prefetchable=prefetchable)
        mask = answer & r.BAR_MEM_ADDRESS_MASK
        return ProbedBar(offset, (~mask & 0xFFFF_FFFF) + 1, prefetchable=prefetchable)

    # -- step 3: assignment --------------------------------------------------------------------

    def _space_of(self, bar: ProbedBar) -> str:
        space = bar.space
        if space == SPACE_PREFETCHABLE and self.layout.prefetchable_window is None:
            return SPACE_MEMORY
        return space

    def _requests(self, functions: list[ProbedFunction]) -> list[_Request]:
        """What a bus needs; a bridge asks for one window per space its children use."""
        requests = []
        for function in functions:
            for bar in function.bars:
                requests.append(
                    _Request(
                        function, bar.size, bar.size, self._space_of(bar), bar.register, bar=bar
                    )
                )
            if function.is_bridge:
                inner = self._requests(function.children)
                for key, (space, granularity) in enumerate(
                    (
                        (SPACE_IO, r.IO_WINDOW_GRANULARITY),
                        (SPACE_MEMORY, r.MEMORY_WINDOW_GRANULARITY),
                        (SPACE_PREFETCHABLE, r.MEMORY_WINDOW_GRANULARITY),
                    ),
                    start=0x100,
                ):
                    needed = [request for request in inner if request.space == space]
                    if needed:
                        size, alignment = _pack_size(needed, granularity)
                        requests.append(
                            _Request(function, size, alignment, space, key, inner=needed)
                        )
        return requests

    def _assign(self) -> None:
        requests = self._requests(self.root)
        layout = self.layout
        spaces = {
            SPACE_IO: (IO_START, layout.io_size),
            SPACE_MEMORY: (layout.memory_window.base, layout.memory_window.end),
        }
        if layout.prefetchable_window is not None:
            window = layout.prefetchable_window
            spaces[SPACE_PREFETCHABLE] = (window.base, window.end)
        self._place(requests, spaces)
        for function in self._all():
            self._program(function)

    def _place(self, requests: list[_Request], spaces: dict[str, tuple[int, int]]) -> None:
        for space, (start, end) in spaces.items():
            cursor = start
            for request in sorted(
                (request for request in requests if request.space == space),
                key=lambda request: (-request.alignment, -request.size, request.order),
            ):
                base = -(-cursor // request.alignment) * request.alignment
                if base + request.size > end:
                    self._no_room(request, space)
                    continue
                cursor = base + request.size
                if request.bar is not None:
                    request.bar.address = base
                else:
                    request.owner.windows[space] = Window(base, request.size)
                    self._place(request.inner, {space: (base, base + request.size)})

    def _no_room(self, request: _Request, space: str) -> None:
        owner = request.owner
        if request.bar is not None:
            self.log(
                f"{owner.location}: no space for BAR {request.bar.register:#x} "
                f"({request.bar.describe()}) in the {space} window"
            )
        else:
            self.log(
                f"{owner.location}: no space for a {format_size(request.size)} "
                f"{space} window; the devices behind the bridge go without"
            )

    def _all(self) -> Iterator[ProbedFunction]:
        for function in self.root:
            yield from function.walk()

    # -- step 4: programming ---------------------------------------------------------------------

    def _program(self, function: ProbedFunction) -> None:
        command = 0
        for bar in function.bars:
            if bar.address is None:
                continue
            if bar.rom:
                self._write(function, bar.register, 4, bar.address)  # decoded, not enabled
            elif bar.is_64bit:
                self._write(function, bar.register, 4, bar.address & 0xFFFF_FFFF)
                self._write(function, bar.register + 4, 4, bar.address >> 32)
            else:
                self._write(function, bar.register, 4, bar.address)
            if not bar.rom:
                command |= r.COMMAND_IO if bar.io else r.COMMAND_MEMORY
            self.log(f"{function.location}: BAR {bar.register:#x}: {bar.describe()}")
        if function.is_bridge:
            self._program_windows(function)
            command |= r.COMMAND_IO | r.COMMAND_MEMORY | r.COMMAND_MASTER
        if function.interrupt_pin:
            function.interrupt_input = self._interrupt_input(function)
            self._write(function, r.INTERRUPT_LINE, 1, function.interrupt_input)
        current = self._read(function, r.COMMAND, 2)
        self._write(function, r.COMMAND, 2, (current & ~r.COMMAND_MASTER) | command)

    def _program_windows(self, bridge: ProbedFunction) -> None:
        io = bridge.windows.get(SPACE_IO)
        if io is not None:
            self._write(bridge, r.IO_BASE, 1, io.base >> 8 & r.IO_RANGE_MASK)
            self._write(bridge, r.IO_LIMIT, 1, (io.base + io.size - 1) >> 8 & r.IO_RANGE_MASK)
        else:
            self._write(bridge, r.IO_BASE, 1, r.IO_RANGE_MASK)
            self._write(bridge, r.IO_LIMIT, 1, 0)
        memory = bridge.windows.get(SPACE_MEMORY)
        if memory is not None:
            self._write(bridge, r.MEMORY_BASE, 2, memory.base >> 16 & r.MEMORY_RANGE_MASK)
            self._write(
                bridge,
                r.MEMORY_LIMIT,
                2,
                (memory.base + memory.size - 1) >> 16 & r.MEMORY_RANGE_MASK,
            )
        else:
            self._write(bridge, r.MEMORY_BASE, 2, r.MEMORY_RANGE_MASK)
            self._write(bridge, r.MEMORY_LIMIT, 2, 0)
        prefetchable = bridge.windows.get(SPACE_PREFETCHABLE)
        if prefetchable is not None:
            limit = prefetchable.base + prefetchable.size - 1
            self._write(bridge, r.PREF_MEMORY_BASE, 2, prefetchable.base >> 16 & 0xFFF0)
            self._write(bridge, r.PREF_MEMORY_LIMIT, 2, limit >> 16 & 0xFFF0)
            self._write(bridge, r.PREF_BASE_UPPER32, 4, prefetchable.base >> 32)
            self._write(bridge, r.PREF_LIMIT_UPPER32, 4, limit >> 32)
        else:
            self._write(bridge, r.PREF_MEMORY_BASE, 2, r.MEMORY_RANGE_MASK)
            self._write(bridge, r.PREF_MEMORY_LIMIT, 2, 0)
            self._write(bridge, r.PREF_BASE_UPPER32, 4, 0)
            self._write(bridge, r.PREF_LIMIT_UPPER32, 4, 0)
        for space, window in sorted(bridge.windows.items()):
            self.log(
                f"{bridge.location}:   bridge window [{space} {window.base:#x}-"
                f"{window.base + window.size - 1:#x}]"
            )

    def _interrupt_input(self, function: ProbedFunction) -> int:
        """The controller input the function's pin reaches (board wiring + swizzle)."""
        path = self._path_to(function)
        device, pin = function.device, function.interrupt_pin
        for bridge in reversed(path):
            pin = swizzle(device, pin)
            device = bridge.device
        return self.layout.interrupt_inputs[(device + pin - 1) % 4]

    def _path_to(self, target: ProbedFunction) -> list[ProbedFunction]:
        """The bridges from the root bus down to ``target``'s bus."""

        def search(
            functions: list[ProbedFunction], trail: list[ProbedFunction]
        ) -> list[ProbedFunction] | None:
            for function in functions:
                if function is target:
                    return trail
                if function.is_bridge:
                    found = search(function.children, [*trail, function])
                    if found is not None:
                        return found
            return None

        return search(self.root, []) or []


def _address(function: ProbedFunction | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(function, ProbedFunction):
        return function.bus, function.device, function.function
    return function


def _pack_size(requests: list[_Request], granularity: int) -> tuple[int, int]:
    """Size and alignment of a window holding ``requests`` packed largest-first."""
    cursor = 0
    alignment = granularity
    for request in sorted(requests, key=lambda item: (-item.alignment, -item.size, item.order)):
        cursor = -(-cursor // request.alignment) * request.alignment + request.size
        alignment = max(alignment, request.alignment)
    size = max(granularity, -(-cursor // granularity) * granularity)
    return size, alignment
