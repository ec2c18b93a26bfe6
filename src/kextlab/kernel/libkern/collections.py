"""The OS collections: OSArray, OSDictionary, OSSet, OSOrderedSet, OSCollectionIterator.

Mirrors libkern's ``OSArray.cpp``, ``OSDictionary.cpp``, ``OSSet.cpp``,
``OSOrderedSet.cpp`` and ``OSCollectionIterator.cpp``.  A collection retains what it
holds and releases it when the object is replaced or removed, or when the collection
is freed, as libkern does.

Equality (``shared/spec/iokit-matching.md`` §1.2, §1.5): arrays compare element-wise
in order; dictionaries compare all keys (``isEqualTo(other)``: same count, equal
values) or a chosen set of keys (``isEqualTo(other, keys)``, what IOPropertyMatch
uses).  A set's members are distinct objects (identity, as ``OSSet::member``
compares pointers); two sets are equal when each member of the other is one of ours
or equals our member at the same index (``OSSet::isEqualTo``).

``OSOrderedSet`` keeps its members sorted by an ordering function
``order(a, b, context) -> int``: ``setObject`` walks from the front while
``order(existing, new) >= 0`` and inserts at the first position where it is
negative.  With I/O Kit's ``order(a, b) = score(a) - score(b)`` the set is sorted by
score, highest first, and ties keep their insertion order.  That rule decides every
tie in driver matching.

Dictionary keys are kept as Python ``str`` (libkern uses OSSymbols; the text is what
matters), in insertion order.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSString

if TYPE_CHECKING:
    from kextlab.kernel.libkern.serialize import OSSerialize

OrderFunction = Callable[[OSObject, OSObject, object], int]


def _key(key: str | OSString) -> str:
    return key.getCStringNoCopy() if isinstance(key, OSString) else key


class OSCollection(OSObject):
    """What the collections share: iteration and freeing their members."""

    __slots__ = ()

    def members(self) -> Iterator[OSObject]:
        raise NotImplementedError

    def getCount(self) -> int:
        return sum(1 for _ in self.members())

    def free(self) -> None:
        for member in list(self.members()):
            member.release()
        self.flushCollection()

    def flushCollection(self) -> None:
        """Remove every member (releasing it)."""


class OSArray(OSCollection):
    """An ordered list of objects."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[OSObject] = ()) -> None:
        super().__init__()
        self._items: list[OSObject] = []
        for item in items:
            self.setObject(item)

    @classmethod
    def withCapacity(cls, capacity: int) -> OSArray:
        return cls()

    @classmethod
    def withObjects(cls, objects: Iterable[OSObject]) -> OSArray:
        return cls(objects)

    def members(self) -> Iterator[OSObject]:
        return iter(list(self._items))

    def getCount(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[OSObject]:
        return iter(list(self._items))

    def setObject(self, obj: OSObject, index: int | None = None) -> bool:
        """Append ``obj`` (or insert it at ``index``)."""
        obj.retain()
        if index is None:
            self._items.append(obj)
        else:
            self._items.insert(index, obj)
        return True

    def getObject(self, index: int) -> OSObject | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def replaceObject(self, index: int, obj: OSObject) -> None:
        obj.retain()
        old = self._items[index]
        self._items[index] = obj
        old.release()

    def removeObject(self, index: int) -> None:
        self._items.pop(index).release()

    def getNextIndexOfObject(self, obj: OSObject, start: int = 0) -> int:
        for index in range(start, len(self._items)):
            if self._items[index] is obj:
                return index
        return -1

    def merge(self, other: OSArray) -> bool:
        for obj in other:
            self.setObject(obj)
        return True

    def flushCollection(self) -> None:
        self._items.clear()

    def isEqualTo(self, other: object) -> bool:
        if not isinstance(other, OSArray) or len(other) != len(self):
            return False
        return all(
            mine.isEqualTo(theirs) for mine, theirs in zip(self._items, other._items, strict=True)
        )

    def __repr__(self) -> str:
        return f"OSArray({self._items!r})"

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_array(self)


class OSDictionary(OSCollection):
    """Objects by string key, in insertion order."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[str, OSObject]] = ()) -> None:
        super().__init__()
        self._entries: dict[str, OSObject] = {}
        for key, value in entries:
            self.setObject(key, value)

    @classmethod
    def withCapacity(cls, capacity: int) -> OSDictionary:
        return cls()

    @classmethod
    def withDictionary(cls, other: OSDictionary) -> OSDictionary:
        return cls(other.items())

    def members(self) -> Iterator[OSObject]:
        return iter(list(self._entries.values()))

    def getCount(self) -> int:
        return len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str | OSString) and _key(key) in self._entries

    def keys(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, OSObject]]:
        return list(self._entries.items())

    def setObject(self, key: str | OSString, obj: OSObject) -> bool:
        name = _key(key)
        obj.retain()
        old = self._entries.get(name)
        self._entries[name] = obj
        if old is not None:
            old.release()
        return True

    def getObject(self, key: str | OSString) -> OSObject | None:
        return self._entries.get(_key(key))

    def removeObject(self, key: str | OSString) -> None:
        old = self._entries.pop(_key(key), None)
        if old is not None:
            old.release()

    def merge(self, other: OSDictionary) -> bool:
        for key, value in other.items():
            self.setObject(key, value)
        return True

    def flushCollection(self) -> None:
        self._entries.clear()

    def isEqualTo(
        self, other: object, keys: OSCollection | Iterable[str | OSString] | None = None
    ) -> bool:
        """All keys (same count, equal values) or only ``keys``: each in both
        dictionaries with ``mine.isEqualTo(theirs)`` (``OSDictionary::isEqualTo``).

        ``keys`` may be an OS collection, as in xnu: a dictionary stands for its keys
        (IOPropertyMatch calls ``properties.isEqualTo(match, match)``), and the
        members of an array or set are read up to the first that is not a string.
        """
        if not isinstance(other, OSDictionary):
            return False
        names: Iterable[str]
        if keys is None:
            if len(other) != len(self):
                return False
            names = self._entries
        elif isinstance(keys, OSDictionary):
            names = keys.keys()
        elif isinstance(keys, OSCollection):
            names = []
            for member in keys.members():
                if not isinstance(member, OSString):
                    break
                names.append(member.getCStringNoCopy())
        else:
            names = [_key(key) for key in keys]
        for name in names:
            mine = self._entries.get(name)
            theirs = other._entries.get(name)
            if mine is None or theirs is None or not mine.isEqualTo(theirs):
                return False
        return True

    def __repr__(self) -> str:
        return f"OSDictionary({self._entries!r})"

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_dictionary(self)


class OSSet(OSCollection):
    """Distinct objects (by identity), in insertion order."""

    __slots__ = ("_members",)

    def __init__(self, members: Iterable[OSObject] = ()) -> None:
        super().__init__()
        self._members: list[OSObject] = []
        for member in members:
            self.setObject(member)

    @classmethod
    def withCapacity(cls, capacity: int) -> OSSet:
        return cls()

    def members(self) -> Iterator[OSObject]:
        return iter(list(self._members))

    def getCount(self) -> int:
        return len(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[OSObject]:
        return iter(list(self._members))

    def containsObject(self, obj: OSObject) -> bool:
        return any(member is obj for member in self._members)

    member = containsObject

    def setObject(self, obj: OSObject) -> bool:
        """Add ``obj``; False if it is already a member."""
        if self.containsObject(obj):
            return False
        obj.retain()
        self._members.append(obj)
        return True

    def removeObject(self, obj: OSObject) -> None:
        for index, member in enumerate(self._members):
            if member is obj:
                del self._members[index]
                member.release()
                return

    def getAnyObject(self) -> OSObject | None:
        return self._members[0] if self._members else None

    def merge(self, other: OSArray | OSSet) -> bool:
        """Add every member of ``other`` that is not already one of ours (``OSSet::merge``)."""
        for obj in other:
            if not self.containsObject(obj):
                self.setObject(obj)
        return True

    def flushCollection(self) -> None:
        self._members.clear()

    def isEqualTo(self, other: object) -> bool:
        """``OSSet::isEqualTo``: equal counts, and each of the other set's members is
        one of ours or equals our member at the same index."""
        if not isinstance(other, OSSet) or len(other) != len(self):
            return False
        return all(
            self.containsObject(theirs) or theirs.isEqualTo(mine)
            for theirs, mine in zip(other._members, self._members, strict=True)
        )

    def __repr__(self) -> str:
        return f"OSSet({self._members!r})"

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_set(self)


class OSOrderedSet(OSCollection):
    """Distinct objects kept in the order an ordering function defines.

    ``setObject`` inserts behind every member the new object does not outrank
    (``order(existing, new) >= 0``), as xnu's does.  When the order is a difference
    of ranks, ``order(a, b) == rank(a) - rank(b)`` (I/O Kit's ``IOServiceOrdering``
    of probe scores), passing ``rank`` gives the same order by binary search over
    the ranks taken at insertion, instead of calling ``order`` once per member: the
    candidate sets of matching stay cheap with thousands of personalities."""

    __slots__ = ("_context", "_ids", "_members", "_order", "_rank", "_ranks")

    def __init__(
        self,
        order: OrderFunction | None = None,
        context: object = None,
        *,
        rank: Callable[[OSObject], int] | None = None,
    ) -> None:
        super().__init__()
        self._members: list[OSObject] = []
        self._ids: set[int] = set()
        self._order = order
        self._context = context
        self._rank = rank
        #: With ``rank``: the members' negated ranks, ascending (highest rank first).
        self._ranks: list[int] = []

    @classmethod
    def withCapacity(
        cls, capacity: int, order: OrderFunction | None = None, context: object = None
    ) -> OSOrderedSet:
        return cls(order, context)

    def members(self) -> Iterator[OSObject]:
        return iter(list(self._members))

    def getCount(self) -> int:
        return len(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[OSObject]:
        return iter(list(self._members))

    def containsObject(self, obj: OSObject) -> bool:
        return id(obj) in self._ids

    def _compare(self, existing: OSObject, new: OSObject) -> int:
        return self._order(existing, new, self._context) if self._order is not None else 0

    def _insert(self, index: int, obj: OSObject, rank: int | None) -> None:
        obj.retain()
        self._members.insert(index, obj)
        self._ids.add(id(obj))
        if self._rank is not None:
            self._ranks.insert(index, -(rank if rank is not None else self._rank(obj)))

    def setObject(self, obj: OSObject) -> bool:
        """Insert ``obj`` behind every member it does not outrank; no duplicates."""
        if self.containsObject(obj):
            return False
        if self._rank is not None:
            rank = self._rank(obj)
            self._insert(bisect.bisect_right(self._ranks, -rank), obj, rank)
            return True
        index = 0
        while index < len(self._members) and self._compare(self._members[index], obj) >= 0:
            index += 1
        self._insert(index, obj, None)
        return True

    def setFirstObject(self, obj: OSObject) -> bool:
        if self.containsObject(obj):
            return False
        self._insert(0, obj, None)
        return True

    def setLastObject(self, obj: OSObject) -> bool:
        if self.containsObject(obj):
            return False
        self._insert(len(self._members), obj, None)
        return True

    def getFirstObject(self) -> OSObject | None:
        return self._members[0] if self._members else None

    def getLastObject(self) -> OSObject | None:
        return self._members[-1] if self._members else None

    def getObject(self, index: int) -> OSObject | None:
        return self._members[index] if 0 <= index < len(self._members) else None

    def removeObject(self, obj: OSObject) -> None:
        if id(obj) not in self._ids:
            return
        for index, member in enumerate(self._members):
            if member is obj:
                del self._members[index]
                if self._rank is not None:
                    del self._ranks[index]
                self._ids.discard(id(obj))
                member.release()
                return

    def orderObject(self, obj: OSObject) -> int:
        """``order(obj, None)``: the object's own rank, as the ordering function sees it."""
        if self._rank is not None:
            return self._rank(obj)
        if self._order is None:
            return 0
        return self._order(obj, None, self._context)  # type: ignore[arg-type]

    def flushCollection(self) -> None:
        self._members.clear()
        self._ids.clear()
        self._ranks.clear()

    def __repr__(self) -> str:
        return f"OSOrderedSet({self._members!r})"

    def serialize(self, serializer: OSSerialize) -> bool:
        return serializer.add_array(self)


class OSCollectionIterator(OSObject):
    """Walks a collection's members (a snapshot taken when created or reset)."""

    __slots__ = ("_collection", "_items", "_position")

    def __init__(self, collection: OSCollection) -> None:
        super().__init__()
        self._collection = collection
        self._items: list[OSObject] = []
        self._position = 0
        self.reset()

    @classmethod
    def withCollection(cls, collection: OSCollection) -> OSCollectionIterator:
        return cls(collection)

    def reset(self) -> None:
        self._items = list(self._collection.members())
        self._position = 0

    def getNextObject(self) -> OSObject | None:
        if self._position >= len(self._items):
            return None
        item = self._items[self._position]
        self._position += 1
        return item

    def isValid(self) -> bool:
        return True
