"""``ioclasscount``: instance counts of I/O Kit classes.

A rendering of IOKitTools' ``ioclasscount.tproj/ioclasscount.c``
(``shared/spec/apple-tools-and-python-deps.md`` §A.2).  The counts come from the
registry root's ``IOKitDiagnostics``, key ``Classes``, where the kernel reports each
class's instance count plus one per direct subclass that has instances (the rule
that keeps a kext's superclass from unloading while a subclass lives).

* With no class names: every class, one ``Name = N`` line each, sorted by name
  without regard to case (``CFStringCompare`` with ``kCFCompareCaseInsensitive``).
* With names: one line, ``A = 1, B = 2``, in the order given; a class the kernel
  does not know is ``Name = <no such class>``.

Missing or malformed diagnostics are reported on standard error in the C tool's
words, with its exit status, ``EX_OSERR`` (71).  The allocation-tracking options
(``--track``, ``--leaks`` …) need the kernel's allocation sites, which kextlab's
kernel does not record; they are not offered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kextlab.userland import iokitlib as io
from kextlab.userland.iokitlib import mach_port_t
from kextlab.userland.tools import ToolOutput

EX_OSERR = 71
kIOKitDiagnosticsKey = "IOKitDiagnostics"


def _count(classes: Mapping[str, object], name: str) -> str:
    if name not in classes:
        return f"{name} = <no such class>"
    value = classes[name]
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} = ?? (error reading/converting value)"
    return f"{name} = {value & 0xFFFF_FFFF}"


def ioclasscount(port: mach_port_t, class_names: Sequence[str] = ()) -> ToolOutput:
    """What ``ioclasscount [classname ...]`` prints."""
    output = ToolOutput(status=EX_OSERR)
    root = io.IORegistryGetRootEntry(port)
    status, properties = io.IORegistryEntryCreateCFProperties(root)
    if status != io.KERN_SUCCESS:
        output.stderr.append("Error: Can't read registry root properties.")
        return output
    diagnostics = properties.get(kIOKitDiagnosticsKey)
    if diagnostics is None:
        output.stderr.append("Error: Allocation information missing.")
        return output
    if not isinstance(diagnostics, dict):
        output.stderr.append("Error: Allocation information not a dictionary.")
        return output
    classes = diagnostics.get("Classes")
    if classes is None:
        output.stderr.append("Error: Class information missing.")
        return output
    if not isinstance(classes, dict):
        output.stderr.append("Error: Class information not a dictionary.")
        return output
    if class_names:
        output.stdout.append(", ".join(_count(classes, name) for name in class_names))
    else:
        for name in sorted(classes, key=lambda name: (name.lower(), name)):
            output.stdout.append(_count(classes, name))
    output.status = 0
    return output
