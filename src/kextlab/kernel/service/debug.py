"""``IOKitDebug``: which parts of the service layer log, and in what words.

Mirrors ``IOKitDebug.h`` (the ``kIOLog*`` bits) and the ``LOG`` lines of
``IOService.cpp``.  A personality may carry its own ``IOKitDebug`` number, which
then decides for the matching of that personality (``getDebugFlags(props)``);
otherwise the kernel-wide flags (``gIOKitDebug``, ``ServiceGlobals.debug_flags``,
the ``io=`` boot argument on a Mac) decide.  The log formats are xnu's, so that
a kextlab log reads like a Mac's ``kernel.log`` with ``io=0xff``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.kernel.libkern.values import OSNumber

if TYPE_CHECKING:
    from kextlab.kernel.libkern.collections import OSDictionary

kIOLogAttach: Final = 0x0000_0001
kIOLogProbe: Final = 0x0000_0002
kIOLogStart: Final = 0x0000_0004
kIOLogRegister: Final = 0x0000_0008
kIOLogMatch: Final = 0x0000_0010
kIOLogConfig: Final = 0x0000_0020
kIOLogYield: Final = 0x0000_0040
kIOLogPower: Final = 0x0000_0080
kIOLogMapping: Final = 0x0000_0100
kIOLogCatalogue: Final = 0x0000_0200
kIOLogTracePower: Final = 0x0000_0400
kIOLogDebugPower: Final = 0x0000_0800
kIOLogServiceTree: Final = 0x0000_1000
kIOLogDTree: Final = 0x0000_2000
kIOLogMemory: Final = 0x0000_4000


def global_flags() -> int:
    """``gIOKitDebug``; 0 for services used outside a kernel (unit tests of one class)."""
    from kextlab.kernel.service.globals import SERVICE_EXTENSION
    from kextlab.sim.scheduler import current_scheduler

    scheduler = current_scheduler()
    globals_ = scheduler.extensions.get(SERVICE_EXTENSION) if scheduler is not None else None
    return int(getattr(globals_, "debug_flags", 0))


def getDebugFlags(table: OSDictionary | None = None) -> int:
    """The personality's own ``IOKitDebug`` if it has one, else the kernel's."""
    if table is not None:
        own = table.getObject("IOKitDebug")
        if isinstance(own, OSNumber):
            return own.unsigned64BitValue()
    return global_flags()


def enabled(bit: int, table: OSDictionary | None = None) -> bool:
    return bool(getDebugFlags(table) & bit)


def log(message: str) -> None:
    from kextlab.kernel.service.globals import current_globals

    current_globals().log(message)
