"""``iostat``: per-disk I/O statistics, from the block storage drivers' ``Statistics``.

A rendering of Apple's ``system_cmds/iostat.tproj``: the tool finds every
``IOBlockStorageDriver``, reads its ``Statistics`` dictionary (operations, bytes,
total and latency time, errors and retries, per direction) and the ``BSD Name`` of
the whole-disk ``IOMedia`` below it, and prints per disk ``KB/t`` (kilobytes per
transfer), ``tps`` (transfers per second) and ``MB/s``, averaged since boot as
iostat's first report is.  Time is the machine's (virtual) uptime.

Flags, as Apple's: ``-I`` prints totals (``KB/t xfrs MB``) instead of rates; disk
names given select and order the disks; ``-n N`` caps the number of disks.  Apple's
CPU and load-average columns (``-C``, ``-U``) have no kextlab counterpart and are
left out, as ``-d`` does.  ``-x`` (Linux iostat's *extended* flag) prints a line per
disk with everything the driver counts: reads and writes, bytes, average latency,
errors and retries: the figures a driver's fault handling shows in.

Threading rules: user code (the host); reads properties only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kextlab.userland.iokitlib import (
    IORegistryEntryCreateCFProperties,
    IORegistryEntryGetChildIterator,
    IOServiceGetMatchingServices,
    io_object_t,
    kIOServicePlane,
    mach_port_t,
)
from kextlab.userland.tools import ToolOutput


@dataclass(frozen=True)
class DiskStatistics:
    """One disk's counters (times in ns)."""

    name: str
    reads: int
    writes: int
    bytes_read: int
    bytes_written: int
    read_time: int
    write_time: int
    read_latency: int
    write_latency: int
    read_errors: int
    write_errors: int
    read_retries: int
    write_retries: int

    @property
    def transfers(self) -> int:
        return self.reads + self.writes

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written


def _number(statistics: Mapping[str, object], key: str) -> int:
    value = statistics.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _whole_media_name(driver: io_object_t) -> str | None:
    _, children = IORegistryEntryGetChildIterator(driver, kIOServicePlane)
    if children is None:
        return None
    while (child := children.next()) is not None:
        _, properties = IORegistryEntryCreateCFProperties(child)
        name = properties.get("BSD Name")
        if isinstance(name, str):
            return name
    return None


def disk_statistics(port: mach_port_t) -> list[DiskStatistics]:
    """The statistics of every disk with media, in BSD name order."""
    _, drivers = IOServiceGetMatchingServices(port, {"IOProviderClass": "IOBlockStorageDriver"})
    found: list[DiskStatistics] = []
    while (driver := drivers.next()) is not None:
        name = _whole_media_name(driver)
        if name is None:
            continue
        _, properties = IORegistryEntryCreateCFProperties(driver)
        statistics = properties.get("Statistics")
        if not isinstance(statistics, dict):
            continue
        found.append(
            DiskStatistics(
                name=name,
                reads=_number(statistics, "Operations (Read)"),
                writes=_number(statistics, "Operations (Write)"),
                bytes_read=_number(statistics, "Bytes (Read)"),
                bytes_written=_number(statistics, "Bytes (Write)"),
                read_time=_number(statistics, "Total Time (Read)"),
                write_time=_number(statistics, "Total Time (Write)"),
                read_latency=_number(statistics, "Latency Time (Read)"),
                write_latency=_number(statistics, "Latency Time (Write)"),
                read_errors=_number(statistics, "Errors (Read)"),
                write_errors=_number(statistics, "Errors (Write)"),
                read_retries=_number(statistics, "Retries (Read)"),
                write_retries=_number(statistics, "Retries (Write)"),
            )
        )
    return sorted(found, key=lambda disk: (len(disk.name), disk.name))


def iostat(
    port: mach_port_t,
    uptime_ns: int,
    disks: tuple[str, ...] = (),
    *,
    totals: bool = False,
    extended: bool = False,
    limit: int | None = None,
) -> ToolOutput:
    """What ``iostat`` prints for the port's kernel, ``uptime_ns`` after boot."""
    everything = disk_statistics(port)
    if disks:
        by_name = {disk.name: disk for disk in everything}
        missing = [name for name in disks if name not in by_name]
        if missing:
            return ToolOutput(stderr=[f"iostat: no such disk: {', '.join(missing)}"], status=1)
        chosen = [by_name[name] for name in disks]
    else:
        chosen = everything
    if limit is not None:
        chosen = chosen[:limit]
    if not chosen:
        return ToolOutput(stderr=["iostat: no disks"], status=1)
    seconds = max(uptime_ns, 1) / 1e9
    if extended:
        return ToolOutput(stdout=_extended(chosen, seconds))
    header = "".join(f"{disk.name:>20}" for disk in chosen)
    columns = "    KB/t xfrs   MB   " if totals else "    KB/t  tps  MB/s  "
    values = ""
    for disk in chosen:
        per_transfer = disk.bytes / disk.transfers / 1024 if disk.transfers else 0.0
        if totals:
            values += f"{per_transfer:8.2f} {disk.transfers:4d} {disk.bytes / 1e6:5.2f}  "
        else:
            tps = round(disk.transfers / seconds)
            values += f"{per_transfer:8.2f} {tps:4d} {disk.bytes / 1e6 / seconds:5.2f}  "
    return ToolOutput(stdout=[header, columns * len(chosen), values.rstrip()])


def _milliseconds(total_ns: int, count: int) -> str:
    return f"{total_ns / count / 1e6:.3f}" if count else "-"


def _extended(disks: list[DiskStatistics], seconds: float) -> list[str]:
    lines = [
        f"{'disk':<8} {'r/s':>8} {'w/s':>8} {'kB read':>12} {'kB written':>12} "
        f"{'ms/read':>8} {'ms/write':>8} {'lat r ms':>8} {'lat w ms':>8} "
        f"{'err r':>6} {'err w':>6} {'retry r':>7} {'retry w':>7}"
    ]
    for disk in disks:
        lines.append(
            f"{disk.name:<8} {disk.reads / seconds:8.1f} {disk.writes / seconds:8.1f} "
            f"{disk.bytes_read // 1024:12d} {disk.bytes_written // 1024:12d} "
            f"{_milliseconds(disk.read_time, disk.reads):>8} "
            f"{_milliseconds(disk.write_time, disk.writes):>8} "
            f"{_milliseconds(disk.read_latency, disk.reads):>8} "
            f"{_milliseconds(disk.write_latency, disk.writes):>8} "
            f"{disk.read_errors:6d} {disk.write_errors:6d} "
            f"{disk.read_retries:7d} {disk.write_retries:7d}"
        )
    return lines
