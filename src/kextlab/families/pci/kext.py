"""IOPCIFamily as a built-in library kext: its Info.plist, its classes.

The family is what ``OSBundleLibraries`` names as ``com.apple.iokit.IOPCIFamily``;
its ``Info.plist`` (beside this module) carries the identity, versions and the
personalities of its own drivers, and the kernel loads it at boot
(``Kernel(..., boot_kexts=[IOPCIFAMILY])``): its classes registered under its
identifier, its personalities in the catalogue.
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING

from kextlab.families.pci.bridge import IOPCI2PCIBridge, IOPCIBridge, KextLabPCIHostBridge
from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.kext.dependencies import LibraryKext
from kextlab.kernel.kext.personalities import copy_personalities
from kextlab.kernel.kext.version import parse_version

if TYPE_CHECKING:
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.libkern.object import OSObject


class FamilyKext:
    """A family shipped inside kextlab: a package with an ``Info.plist`` and classes."""

    def __init__(self, package: str, classes: Sequence[type[OSObject]]) -> None:
        self.package = package
        self._classes = tuple(classes)

    @cached_property
    def info(self) -> Mapping[str, object]:
        with resources.files(self.package).joinpath("Info.plist").open("rb") as stream:
            info = plistlib.load(stream)
        assert isinstance(info, dict)
        return info

    @property
    def bundle_id(self) -> str:
        return str(self.info["CFBundleIdentifier"])

    @property
    def version(self) -> str:
        return str(self.info["CFBundleVersion"])

    @property
    def compatible_version(self) -> str:
        return str(self.info["OSBundleCompatibleVersion"])

    @property
    def libraries(self) -> Mapping[str, str]:
        libraries = self.info.get("OSBundleLibraries", {})
        assert isinstance(libraries, dict)
        return libraries

    @property
    def source(self) -> str:
        return f"{self.package}/Info.plist"

    @property
    def personalities(self) -> Mapping[str, Mapping[str, object]]:
        personalities = self.info.get("IOKitPersonalities", {})
        assert isinstance(personalities, dict)
        return personalities

    def library(self) -> LibraryKext:
        """The family as an entry of the kernel's kext index (a library kext)."""
        return LibraryKext(
            self.bundle_id,
            parse_version(self.version),
            parse_version(self.compatible_version),
            personalities=self.personalities,
            required=str(self.info.get("OSBundleRequired", "Root")),
            origin=self.source,
        )

    def classes(self) -> Sequence[type[OSObject]]:
        return self._classes

    def copy_personalities(self) -> list[OSDictionary]:
        return copy_personalities(self)


IOPCIFAMILY = FamilyKext(
    "kextlab.families.pci",
    (IOPCIDevice, IOPCIBridge, IOPCI2PCIBridge, KextLabPCIHostBridge),
)
