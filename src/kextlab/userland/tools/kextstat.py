"""``kextstat``: the loaded kexts, in Apple's columns.

Mirrors ``kextstat`` of Apple's kext_tools (``kextstat_main.c``), in the format it
printed before UUIDs joined the table::

    Index Refs Address            Size       Wired      Name (Version) <Linked Against>
        1   12 0                  0          0          com.apple.kpi.bsd (19.0.0)
       12    0 0xffffff7f80000000 0x1000     0x1000     com.example.driver (1.0) <9 4 3>

Index is the load tag, Refs how many loaded kexts link against it; Address, Size
and Wired are ``%#x``-style hex (``0`` for a kernel component, as C prints a zero);
the linked-against tags are listed highest first.  Options: ``-l`` leaves the
header out; ``-b ID`` (repeatable) shows only those identifiers; ``-k`` hides the
kernel components.
"""

from __future__ import annotations

from collections.abc import Sequence

from kextlab.userland import iokitlib as io
from kextlab.userland.tools import ToolOutput

HEADER = "Index Refs Address            Size       Wired      Name (Version) <Linked Against>"


def _hex(value: int) -> str:
    return f"{value:#x}" if value else "0"


def kextstat(
    port: io.mach_port_t,
    *,
    bundle_ids: Sequence[str] = (),
    no_header: bool = False,
    no_kernel_components: bool = False,
) -> ToolOutput:
    info = io.KextManagerCopyLoadedKextInfo(port, tuple(bundle_ids) if bundle_ids else None)
    lines = [] if no_header else [HEADER]
    for kext in sorted(info.values(), key=lambda entry: int(str(entry["OSBundleLoadTag"]))):
        if no_kernel_components and kext["OSKernelResource"]:
            continue
        dependencies = kext["OSBundleDependencies"]
        assert isinstance(dependencies, list)
        linked = " ".join(str(tag) for tag in sorted(dependencies, reverse=True))
        line = (
            f"{kext['OSBundleLoadTag']:>5} {kext['OSBundleRetainCount']:>4} "
            f"{_hex(int(str(kext['OSBundleLoadAddress']))):<18} "
            f"{_hex(int(str(kext['OSBundleLoadSize']))):<10} "
            f"{_hex(int(str(kext['OSBundleWiredSize']))):<10} "
            f"{kext['CFBundleIdentifier']} ({kext['CFBundleVersion']})"
        )
        if linked:
            line += f" <{linked}>"
        lines.append(line)
    return ToolOutput(lines, [], 0)
