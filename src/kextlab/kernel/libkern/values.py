"""The scalar OS value types: OSString, OSSymbol, OSNumber, OSData, OSBoolean.

Mirrors libkern's ``OSString.cpp``, ``OSSymbol.cpp``, ``OSNumber.cpp``,
``OSData.cpp`` and ``OSBoolean.cpp``, with their equality rules exactly as matching
needs them (``shared/spec/iokit-matching.md`` §1.2, §1.5):

* ``OSString`` and ``OSData`` compare across types, by xnu's two functions, which
  are not mirror images.  ``OSData::isEqualTo(const OSString *)`` allows the data one
  trailing NUL: ``<"display">`` and ``<"display\\0">`` both equal ``"display"`` (the
  direction IOPropertyMatch takes, so ``{"name" = "display"}`` matches the data
  property ``name = <"display\\0">``).  ``OSString::isEqualTo(const OSData *)``
  counts the string's terminator in its length, so the data must end with that NUL
  and may have one more: ``<"display\\0">`` and ``<"display\\0\\0">`` equal
  ``"display"``, ``<"display">`` does not;
* two ``OSData`` are equal only with equal lengths and bytes;
* ``OSNumber`` compares ``unsigned64BitValue()`` only: the bit size is ignored when
  comparing, but values are masked to their size when created, and printing honours
  the size (a 32-bit -100 is 0xFFFFFF9C, which ``ioreg`` shows sign-extended);
* ``OSBoolean`` compares by identity: there are exactly two, ``kOSBooleanTrue`` and
  ``kOSBooleanFalse``, and retaining or releasing them does nothing.

``OSSymbol`` is a unique string per kernel: ``OSSymbol.withCString`` returns the
same object for the same text while it is alive.

Python's ``==`` keeps its identity meaning on these objects (they are mutable
kernel objects); I/O Kit code compares with ``isEqualTo``, as in C++.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.kernel.libkern.object import OSObject, current_class_registry

if TYPE_CHECKING:
    from kextlab.kernel.libkern.serialize import OSSerialize


class OSString(OSObject):
    """An immutable-by-convention string."""

    __slots__ = ("_string",)

    def __init__(self, string: str = "") -> None:
        super().__init__()
        self._string = string

    @classmethod
    def withCString(cls, string: str) -> OSString:
        return cls(string)

    @classmethod
    def withString(cls, other: OSString) -> OSString:
        return cls(other.getCStringNoCopy())

    def getCStringNoCopy(self) -> str:
        return self._string

    def getLength(self) -> int:
        return len(self._string)

    def __str__(self) -> str:
        return self._string

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._string!r})"

    def isEqualTo(self, other: object) -> bool:
        if isinstance(other, OSString):
            return self._string == other._string
        if isinstance(other, str):
            return self._string == other
        if isinstance(other, OSData):
            # OSString::isEqualTo(const OSData *): the string's length counts its NUL,
            # and the data may carry one byte more if that byte is a NUL too.
            data = other.getBytesNoCopy()
            terminated = self._string.encode("utf-8") + b"\0"
            return data == terminated or data == terminated + b"\0"
        return False

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_string(self)


class OSSymbol(OSString):
    """A string unique per kernel: equal text, same object."""

    __slots__ = ()

    @classmethod
    def withCString(cls, string: str) -> OSSymbol:
        registry = current_class_registry()
        if registry is None:
            return cls(string)
        pool = registry.symbol_pool
        symbol = pool.get(string)
        # A symbol released to zero has left xnu's pool (OSSymbol::free), even if
        # Python still holds the dead object.
        if isinstance(symbol, OSSymbol) and not symbol.freed:
            symbol.retain()
            return symbol
        created = cls(string)
        pool[string] = created
        return created

    @classmethod
    def withString(cls, other: OSString) -> OSSymbol:
        return cls.withCString(other.getCStringNoCopy())


class OSNumber(OSObject):
    """An unsigned integer of 8, 16, 32 or 64 bits."""

    __slots__ = ("_bits", "_value")

    def __init__(self, value: int = 0, numberOfBits: int = 64) -> None:
        super().__init__()
        if not 1 <= numberOfBits <= 64:
            raise ValueError(f"an OSNumber has 1 to 64 bits, not {numberOfBits}")
        self._bits = numberOfBits
        self._value = value & ((1 << numberOfBits) - 1)

    @classmethod
    def withNumber(cls, value: int, numberOfBits: int = 64) -> OSNumber:
        return cls(value, numberOfBits)

    def numberOfBits(self) -> int:
        return self._bits

    def numberOfBytes(self) -> int:
        return (self._bits + 7) // 8

    def unsigned8BitValue(self) -> int:
        return self._value & 0xFF

    def unsigned16BitValue(self) -> int:
        return self._value & 0xFFFF

    def unsigned32BitValue(self) -> int:
        return self._value & 0xFFFF_FFFF

    def unsigned64BitValue(self) -> int:
        return self._value

    def setValue(self, value: int) -> None:
        self._value = value & ((1 << self._bits) - 1)

    def addValue(self, value: int) -> None:
        # setValue inlined: the storage statistics add four values per transfer.
        self._value = (self._value + value) & ((1 << self._bits) - 1)

    def __int__(self) -> int:
        return self._value

    def __repr__(self) -> str:
        return f"OSNumber({self._value:#x}, {self._bits})"

    def isEqualTo(self, other: object) -> bool:
        if isinstance(other, OSNumber):
            return self._value == other._value
        if isinstance(other, int) and not isinstance(other, bool):
            return self._value == other & 0xFFFF_FFFF_FFFF_FFFF
        return False

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_number(self)


class OSData(OSObject):
    """A byte buffer."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        super().__init__()
        self._data = bytearray(data)

    @classmethod
    def withBytes(cls, data: bytes | bytearray | memoryview) -> OSData:
        return cls(data)

    @classmethod
    def withCapacity(cls, capacity: int) -> OSData:
        return cls()

    @classmethod
    def withData(cls, other: OSData) -> OSData:
        return cls(other._data)

    def getBytesNoCopy(self, offset: int = 0, length: int | None = None) -> bytes:
        end = len(self._data) if length is None else offset + length
        return bytes(self._data[offset:end])

    def getLength(self) -> int:
        return len(self._data)

    def appendBytes(self, data: bytes | bytearray | memoryview) -> bool:
        self._data += data
        return True

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def __repr__(self) -> str:
        return f"OSData({bytes(self._data)!r})"

    def isEqualTo(self, other: object) -> bool:
        if isinstance(other, OSData):
            return self._data == other._data
        if isinstance(other, OSString):
            # OSData::isEqualTo(const OSString *): the string's characters, with or
            # without one trailing NUL in the data.
            encoded = other.getCStringNoCopy().encode("utf-8")
            return self._data == encoded or self._data == encoded + b"\0"
        if isinstance(other, bytes | bytearray):
            return self._data == other
        return False

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_data(self)


class OSBoolean(OSObject):
    """True or false; exactly two instances exist."""

    __slots__ = ("_value",)

    def __init__(self, value: bool) -> None:
        super().__init__()
        self._value = value

    @staticmethod
    def withBoolean(value: bool) -> OSBoolean:
        return kOSBooleanTrue if value else kOSBooleanFalse

    def isTrue(self) -> bool:
        return self._value

    def isFalse(self) -> bool:
        return not self._value

    def getValue(self) -> bool:
        return self._value

    def __bool__(self) -> bool:
        return self._value

    def __repr__(self) -> str:
        return "kOSBooleanTrue" if self._value else "kOSBooleanFalse"

    def retain(self) -> None:
        """The two booleans live forever (libkern's ``taggedRetain`` is a no-op)."""

    def release(self) -> None:
        """See ``retain``."""

    def isEqualTo(self, other: object) -> bool:
        if isinstance(other, bool):
            return self._value is other
        return self is other

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_boolean(self)


kOSBooleanTrue = OSBoolean(True)
kOSBooleanFalse = OSBoolean(False)
