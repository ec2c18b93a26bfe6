"""Device models, selected by name in machine files.

Each model is one class in one module, named here as ``"module:Class"`` and imported
only when a machine uses it (python-can's back-end table).  Third-party models can
ship in their own packages and register under the entry-point group
``kextlab.devices``; a ``DeviceCatalog`` includes them only when asked, so what a
test sees never depends on what happens to be installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

from kextlab.machine.device import DeviceModel

ENTRY_POINT_GROUP = "kextlab.devices"

BUILTIN_MODELS: Mapping[str, str] = {
    "dec21154": "kextlab.machine.devices.dec21154:DEC21154",
    "mvumi9143": "kextlab.machine.devices.mvumi.device:MarvellUMI9143",
    "mvumi9580": "kextlab.machine.devices.mvumi.device:MarvellUMI9580",
    "testcard": "kextlab.machine.devices.testcard:TestCard",
}


class DeviceCatalog:
    """Model names to model classes."""

    def __init__(self, models: Mapping[str, str | type[DeviceModel]] | None = None) -> None:
        self._targets: dict[str, str | type[DeviceModel]] = dict(
            BUILTIN_MODELS if models is None else models
        )

    @classmethod
    def with_installed_plugins(cls) -> DeviceCatalog:
        """The built-in models plus those registered under ``kextlab.devices``."""
        catalog = cls()
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            catalog._targets.setdefault(entry.name, entry.value)
        return catalog

    def add(self, name: str, model: str | type[DeviceModel]) -> None:
        self._targets[name] = model

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def load(self, name: str) -> type[DeviceModel]:
        """The class for model ``name``; ``KeyError`` if there is none."""
        target = self._targets[name]
        if isinstance(target, str):
            module_name, _, class_name = target.partition(":")
            loaded = getattr(importlib.import_module(module_name), class_name)
            if not (isinstance(loaded, type) and issubclass(loaded, DeviceModel)):
                raise TypeError(f"device model {name!r} ({target}) is not a DeviceModel")
            self._targets[name] = loaded
            return loaded
        return target

    def models(self) -> Iterable[tuple[str, type[DeviceModel]]]:
        for name in self.names():
            yield name, self.load(name)
