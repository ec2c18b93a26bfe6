"""Device models: the base class and the parameter schema machine files are checked against.

A device model is one class in one module (``kextlab.machine.devices``), selected
by name in a machine file.  Construction has two phases, as in QEMU's object model:

* ``__init__(name, parameters)`` cannot fail: the parameters were already checked
  against the class's ``parameters`` schema when the machine file was read, so the
  model only copies them into its state (config space, registers);
* ``realize(machine)`` connects the device to the machine (memory for DMA, its
  interrupt line, fixed mappings) and may fail with ``MachineDescriptionError``.
  Subclasses call ``super().realize(machine)``.

``reset()`` returns the device to its power-on state.  Models see only what real
hardware sees (ARCHITECTURE.md §3); they never import the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kextlab.errors import InternalError
from kextlab.machine.sizes import format_size, parse_size

if TYPE_CHECKING:
    from kextlab.machine.machine import Machine
    from kextlab.machine.scsi.bus import SCSIBus


class ParameterError(ValueError):
    """A parameter is unknown, or its value is not what the schema expects.

    ``key`` names the parameter; the message says what was expected.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Parameter:
    """One device parameter: its kind, default and bounds.

    ``kind`` is ``"int"``, ``"size"`` (bytes, written as ``"64K"`` or an integer),
    ``"bool"`` or ``"str"``.  ``choices`` restricts the values; ``power_of_two``
    applies to integers and sizes.
    """

    kind: str
    default: Any
    help: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Any, ...] = ()
    power_of_two: bool = False

    def convert(self, value: object) -> Any:
        """The checked, typed value; ``ParameterError`` saying what was expected."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"expected true or false, not {value!r}")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise ParameterError(f"expected a string, not {value!r}")
            converted: Any = value
        elif self.kind == "size":
            try:
                converted = parse_size(value)
            except ValueError as error:
                raise ParameterError(str(error)) from None
        elif self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"expected an integer, not {value!r}")
            converted = value
        else:
            raise ParameterError(f"unknown parameter kind {self.kind!r}")
        if self.choices and converted not in self.choices:
            allowed = ", ".join(repr(choice) for choice in self.choices)
            raise ParameterError(f"expected one of {allowed}, not {value!r}")
        if isinstance(converted, int):
            self._check_bounds(converted)
        return converted

    def _check_bounds(self, value: int) -> None:
        show = format_size if self.kind == "size" else str
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"expected at least {show(self.minimum)}, not {show(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"expected at most {show(self.maximum)}, not {show(value)}")
        if self.power_of_two and (value <= 0 or value & (value - 1)):
            raise ParameterError(f"expected a power of two, not {show(value)}")

    def describe(self) -> str:
        """The default and constraints, for ``kextlab devices``."""
        default = format_size(self.default) if self.kind == "size" else repr(self.default)
        parts = [f"{self.kind}, default {default}"]
        if self.choices:
            parts.append("one of " + ", ".join(repr(choice) for choice in self.choices))
        if self.power_of_two:
            parts.append("a power of two")
        return "; ".join(parts)


def check_schema(
    schema: Mapping[str, Parameter], given: Mapping[str, object], unknown: str
) -> dict[str, Any]:
    """Every key of ``schema``, typed from ``given`` or its default.

    Raises ``ParameterError`` naming the first key ``schema`` lacks (with the message
    ``unknown``), else the first bad value in the order of ``given``; the
    machine-file reader names that key.
    """
    for key in given:
        if key not in schema:
            raise ParameterError(unknown, key)
    checked: dict[str, Any] = {}
    for key, value in given.items():
        try:
            checked[key] = schema[key].convert(value)
        except ParameterError as error:
            raise ParameterError(str(error), key) from None
    return {key: checked.get(key, parameter.default) for key, parameter in schema.items()}


class DeviceModel:
    """Base class of every device model."""

    #: The name machine files use to select the model.
    model: ClassVar[str] = ""
    #: One line for ``kextlab devices``.
    summary: ClassVar[str] = ""
    #: The parameter schema; machine files may set exactly these keys.
    parameters: ClassVar[Mapping[str, Parameter]] = {}
    #: A host bus adapter: it has a ``scsi_bus`` once realized, and machine files may
    #: give it ``[[device.target]]`` entries.
    has_scsi_bus: ClassVar[bool] = False

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        self.name = name
        self.machine: Machine | None = None
        self.parameter_values = dict(parameters)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @classmethod
    def check_parameters(cls, given: Mapping[str, object]) -> dict[str, Any]:
        """Every parameter, typed, with defaults filled in (see ``check_schema``)."""
        return check_schema(cls.parameters, given, "no such parameter")

    @property
    def scsi_bus(self) -> SCSIBus:
        """A host bus adapter's bus (models with ``has_scsi_bus`` override this)."""
        raise InternalError(f"{self.name}: model {self.model!r} has no SCSI bus")

    def realize(self, machine: Machine) -> None:
        """Connect the device to ``machine``; subclasses call super first."""
        self.machine = machine

    def reset(self) -> None:
        """Return to the power-on state."""
