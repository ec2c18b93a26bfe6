"""IOReturn codes, with Apple's values and names (``IOKit/IOReturn.h``).

``iokit_common_err(code)`` is ``sys_iokit | sub_iokit_common | code``: the system
field 0x38 in bits 31:26 and subsystem 0, so ``kIOReturnNotFound`` is 0xE00002F0.
"""

from __future__ import annotations

from typing import Final

SYS_IOKIT: Final = (0x38 & 0x3F) << 26
SUB_IOKIT_COMMON: Final = 0


def iokit_common_err(code: int) -> int:
    return SYS_IOKIT | SUB_IOKIT_COMMON | code


KERN_SUCCESS: Final = 0
kIOReturnSuccess: Final = 0
kIOReturnError: Final = iokit_common_err(0x2BC)
kIOReturnNoMemory: Final = iokit_common_err(0x2BD)
kIOReturnNoResources: Final = iokit_common_err(0x2BE)
kIOReturnIPCError: Final = iokit_common_err(0x2BF)
kIOReturnNoDevice: Final = iokit_common_err(0x2C0)
kIOReturnNotPrivileged: Final = iokit_common_err(0x2C1)
kIOReturnBadArgument: Final = iokit_common_err(0x2C2)
kIOReturnLockedRead: Final = iokit_common_err(0x2C3)
kIOReturnLockedWrite: Final = iokit_common_err(0x2C4)
kIOReturnExclusiveAccess: Final = iokit_common_err(0x2C5)
kIOReturnBadMessageID: Final = iokit_common_err(0x2C6)
kIOReturnUnsupported: Final = iokit_common_err(0x2C7)
kIOReturnVMError: Final = iokit_common_err(0x2C8)
kIOReturnInternalError: Final = iokit_common_err(0x2C9)
kIOReturnIOError: Final = iokit_common_err(0x2CA)
kIOReturnCannotLock: Final = iokit_common_err(0x2CC)
kIOReturnNotOpen: Final = iokit_common_err(0x2CD)
kIOReturnNotReadable: Final = iokit_common_err(0x2CE)
kIOReturnNotWritable: Final = iokit_common_err(0x2CF)
kIOReturnNotAligned: Final = iokit_common_err(0x2D0)
kIOReturnBadMedia: Final = iokit_common_err(0x2D1)
kIOReturnStillOpen: Final = iokit_common_err(0x2D2)
kIOReturnRLDError: Final = iokit_common_err(0x2D3)
kIOReturnDMAError: Final = iokit_common_err(0x2D4)
kIOReturnBusy: Final = iokit_common_err(0x2D5)
kIOReturnTimeout: Final = iokit_common_err(0x2D6)
kIOReturnOffline: Final = iokit_common_err(0x2D7)
kIOReturnNotReady: Final = iokit_common_err(0x2D8)
kIOReturnNotAttached: Final = iokit_common_err(0x2D9)
kIOReturnNoChannels: Final = iokit_common_err(0x2DA)
kIOReturnNoSpace: Final = iokit_common_err(0x2DB)
kIOReturnPortExists: Final = iokit_common_err(0x2DD)
kIOReturnCannotWire: Final = iokit_common_err(0x2DE)
kIOReturnNoInterrupt: Final = iokit_common_err(0x2DF)
kIOReturnNoFrames: Final = iokit_common_err(0x2E0)
kIOReturnMessageTooLarge: Final = iokit_common_err(0x2E1)
kIOReturnNotPermitted: Final = iokit_common_err(0x2E2)
kIOReturnNoPower: Final = iokit_common_err(0x2E3)
kIOReturnNoMedia: Final = iokit_common_err(0x2E4)
kIOReturnUnformattedMedia: Final = iokit_common_err(0x2E5)
kIOReturnUnsupportedMode: Final = iokit_common_err(0x2E6)
kIOReturnUnderrun: Final = iokit_common_err(0x2E7)
kIOReturnOverrun: Final = iokit_common_err(0x2E8)
kIOReturnDeviceError: Final = iokit_common_err(0x2E9)
kIOReturnNoCompletion: Final = iokit_common_err(0x2EA)
kIOReturnAborted: Final = iokit_common_err(0x2EB)
kIOReturnNoBandwidth: Final = iokit_common_err(0x2EC)
kIOReturnNotResponding: Final = iokit_common_err(0x2ED)
kIOReturnIsoTooOld: Final = iokit_common_err(0x2EE)
kIOReturnIsoTooNew: Final = iokit_common_err(0x2EF)
kIOReturnNotFound: Final = iokit_common_err(0x2F0)
kIOReturnInvalid: Final = iokit_common_err(0x1)

IORETURN_NAMES: Final = {
    value: name
    for name, value in dict(globals()).items()
    if name.startswith("kIOReturn") and isinstance(value, int)
}


def ioreturn_name(code: int) -> str:
    """``kIOReturnNotFound`` for 0xE00002F0; the hex value for unknown codes."""
    return IORETURN_NAMES.get(code, f"{code:#010x}")
