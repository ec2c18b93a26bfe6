"""Open Firmware configuration variables: Apple's set, types and defaults.

The list and its order are Apple's ``gOFVariables[]`` (xnu-792
``iokit/Kernel/IONVRAM.cpp``); ``printenv`` and the NVRAM layer keep this order.
Defaults are the values a Power Macintosh G3 (Blue & White, Open Firmware 3.1.1)
shows in ``/options`` (``shared/data/oftrees/oftree.nw``); where that machine has
none, the default is OpenBIOS's (``forth/admin/nvram.fs``) and ``apple_default`` is
False.  See ``shared/spec/open-firmware.md`` §2.1.

``/options`` holds one property per variable, its current value as text
("The properties of the /options node are the configuration variables").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ConfigVariable:
    name: str
    kind: str  # "bool", "num", "str" or "data"
    default: str
    oldworld_slot: int | None = None
    root_only: bool = False
    apple_default: bool = True


def _v(
    name: str,
    kind: str,
    default: str,
    slot: int | None = None,
    *,
    root_only: bool = False,
    apple_default: bool = True,
) -> ConfigVariable:
    return ConfigVariable(name, kind, default, slot, root_only, apple_default)


CONFIG_VARIABLES: Final[tuple[ConfigVariable, ...]] = (
    _v("little-endian?", "bool", "false", 0),
    _v("real-mode?", "bool", "false", 1),
    _v("auto-boot?", "bool", "true", 2),
    _v("diag-switch?", "bool", "false", 3),
    _v("fcode-debug?", "bool", "false", 4),
    _v("oem-banner?", "bool", "false", 5),
    _v("oem-logo?", "bool", "false", 6),
    _v("use-nvramrc?", "bool", "false", 7),
    _v("use-generic?", "bool", "false"),
    _v("default-mac-address?", "bool", "false"),
    _v("real-base", "num", "-1", 8),
    _v("real-size", "num", "-1", 9),
    _v("virt-base", "num", "-1", 10),
    _v("virt-size", "num", "-1", 11),
    _v("load-base", "num", "0x800000", 12),
    _v("pci-probe-list", "num", "-1", 13, apple_default=False),
    _v("pci-probe-mask", "num", "-1"),
    _v("screen-#columns", "num", "100", 14),
    _v("screen-#rows", "num", "40", 15),
    _v("selftest-#megs", "num", "0", 16),
    _v("boot-device", "str", "hd:,\\\\:tbxi", 17),
    _v("boot-file", "str", "", 18),
    _v("boot-screen", "str", ""),
    _v("console-screen", "str", ""),
    _v("diag-device", "str", "floppy", 19),
    _v("diag-file", "str", "diags", 20),
    _v("input-device", "str", "keyboard", 21),
    _v("output-device", "str", "screen", 22),
    _v("input-device-1", "str", "", apple_default=False),
    _v("output-device-1", "str", "", apple_default=False),
    _v("mouse-device", "str", "mouse"),
    _v("oem-banner", "str", "", 23),
    _v("oem-logo", "str", "", 24),
    _v("nvramrc", "str", "", 25, apple_default=False),
    _v("boot-command", "str", "mac-boot", 26),
    _v("default-client-ip", "str", ""),
    _v("default-server-ip", "str", ""),
    _v("default-gateway-ip", "str", ""),
    _v("default-subnet-mask", "str", ""),
    _v("default-router-ip", "str", ""),
    _v("boot-script", "str", ""),
    _v("boot-args", "str", "", apple_default=False),
    _v("aapl,pci", "data", "", root_only=True),
    _v("security-mode", "str", "none", apple_default=False),
    _v("security-password", "data", "", root_only=True, apple_default=False),
    _v("boot-image", "data", "", apple_default=False),
)

VARIABLES_BY_NAME: Final = {variable.name: variable for variable in CONFIG_VARIABLES}
