"""OSObject and OSMetaClass: reference counting and run-time type information.

Mirrors libkern's ``OSObject.cpp`` and ``OSMetaClass.cpp`` (xnu).

Every I/O Kit object derives from ``OSObject``: it starts with a retain count of
one, ``retain``/``release`` move it, and the release that takes it to zero calls
``free()``.  (Python's garbage collector owns the memory; the count is the
bookkeeping I/O Kit code and tools rely on: ``ioreg`` prints it, leak checks read it.)

Each class has one ``OSMetaClass`` *per kernel*: its name, its superclass's
meta-class, its live instance count, the kext that defined it.  A kernel's
``ClassRegistry`` holds them by name, allocates instances by name (an ``IOClass`` in
a personality), and registers and unregisters a kext's classes together.

Instance counts follow xnu's rule exactly: constructing an object increments its
own class's count, and when a class's count goes from 0 to 1 it also increments its
superclass's count (and back when it returns to 0).  So a class's count is its own
instances plus the number of direct subclasses that have any, which is what
``ioclasscount`` prints and what stops a kext whose superclass still has live
subclasses from unloading.

Which kernel an object belongs to: the one whose machine the creating code runs in
(``kextlab.sim.current_scheduler``).  Objects made outside any machine (module
constants, a unit test of a value type) belong to none and are not counted.

Threading rules: objects are used from the machine's threads and events only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar
from weakref import WeakValueDictionary

from kextlab.errors import KextlabError
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.libkern.serialize import OSSerialize

T = TypeVar("T", bound="OSObject")

#: The name the kernel registers under in ``Scheduler.extensions``.
KERNEL_EXTENSION = "classes"


class ClassRegistryError(KextlabError, ValueError):
    """A class registration or unregistration the rules do not allow."""


class OSMetaClass:
    """The meta-class of one OSObject class in one kernel."""

    __slots__ = ("_instance_count", "_superclass", "cls", "kext", "registry")

    def __init__(
        self,
        cls: type[OSObject],
        superclass: OSMetaClass | None,
        registry: ClassRegistry | None,
        kext: str | None,
    ) -> None:
        self.cls = cls
        self._superclass = superclass
        self.registry = registry
        self.kext = kext
        self._instance_count = 0

    def __repr__(self) -> str:
        return f"<OSMetaClass {self.getClassName()} ({self._instance_count})>"

    def getClassName(self) -> str:
        return self.cls.className()

    def getSuperClass(self) -> OSMetaClass | None:
        return self._superclass

    def getInstanceCount(self) -> int:
        return self._instance_count

    def getKmodName(self) -> str:
        return self.kext or "__kernel__"

    def instanceConstructed(self) -> None:
        self._instance_count += 1
        if self._instance_count == 1 and self._superclass is not None:
            self._superclass.instanceConstructed()

    def instanceDestructed(self) -> None:
        if self._instance_count <= 0:
            raise ClassRegistryError(f"{self.getClassName()}: instance count would go negative")
        self._instance_count -= 1
        if self._instance_count == 0 and self._superclass is not None:
            self._superclass.instanceDestructed()

    def alloc(self) -> OSObject:
        """A new, uninitialized instance (``OSMetaClass::alloc``)."""
        return self.cls()

    def isSubclassOf(self, other: OSMetaClass | str) -> bool:
        name = other if isinstance(other, str) else other.getClassName()
        meta: OSMetaClass | None = self
        while meta is not None:
            if meta.getClassName() == name:
                return True
            meta = meta.getSuperClass()
        return False

    def checkMetaCast(self, obj: OSObject | None) -> OSObject | None:
        """``obj`` if it is an instance of this class (or a subclass), else None."""
        if obj is not None and isinstance(obj, self.cls):
            return obj
        return None


class ClassRegistry:
    """A kernel's classes by name (xnu's ``sAllClassesDict``)."""

    def __init__(self) -> None:
        self._by_name: dict[str, OSMetaClass] = {}
        self._by_class: dict[type[OSObject], OSMetaClass] = {}
        #: The kernel's OSSymbols by text, while they live (``OSSymbol.withCString``).
        self.symbol_pool: WeakValueDictionary[str, OSObject] = WeakValueDictionary()

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def classes(self) -> list[OSMetaClass]:
        return [self._by_name[name] for name in sorted(self._by_name)]

    def register(self, cls: type[OSObject], kext: str | None = None) -> OSMetaClass:
        """Register ``cls`` (and, as built-ins, any unregistered ancestors)."""
        existing = self._by_class.get(cls)
        if existing is not None:
            return existing
        name = cls.className()
        if name in self._by_name:
            other = self._by_name[name]
            raise ClassRegistryError(
                f"class {name} of {kext or 'the kernel'} is already defined by "
                f"{other.getKmodName()}"
            )
        parent = cls.superclass()
        superclass = self.register(parent) if parent is not None else None
        meta = OSMetaClass(cls, superclass, self, kext)
        self._by_name[name] = meta
        self._by_class[cls] = meta
        return meta

    def unregister_kext(self, kext: str) -> list[str]:
        """Remove every class ``kext`` defined; refused while any has instances."""
        owned = [meta for meta in self._by_name.values() if meta.kext == kext]
        busy = [meta.getClassName() for meta in owned if meta.getInstanceCount()]
        if busy:
            raise ClassRegistryError(f"{kext}: classes still have instances: {', '.join(busy)}")
        for meta in owned:
            del self._by_name[meta.getClassName()]
            del self._by_class[meta.cls]
        return [meta.getClassName() for meta in owned]

    def metaclass_for(self, cls: type[OSObject]) -> OSMetaClass:
        meta = self._by_class.get(cls)
        return meta if meta is not None else self.register(cls)

    def getMetaClassWithName(self, name: str) -> OSMetaClass | None:
        return self._by_name.get(name)

    def allocClassWithName(self, name: str) -> OSObject | None:
        meta = self._by_name.get(name)
        return meta.alloc() if meta is not None else None

    def instance_counts(self) -> dict[str, int]:
        """Every class with its ``ioclasscount`` number, by name."""
        return {name: self._by_name[name].getInstanceCount() for name in sorted(self._by_name)}


def current_class_registry() -> ClassRegistry | None:
    """The class registry of the kernel the calling code runs in, if any."""
    scheduler = current_scheduler()
    if scheduler is None:
        return None
    registry = scheduler.extensions.get(KERNEL_EXTENSION)
    return registry if isinstance(registry, ClassRegistry) else None


class OSObject:
    """The root of the I/O Kit class hierarchy."""

    __slots__ = ("__weakref__", "_freed", "_metaclass", "_retain_count")

    #: Set on classes that override the I/O Kit class name (``__name__`` otherwise).
    class_name: ClassVar[str | None] = None
    #: The I/O Kit class name, resolved once when the class is made (a class's own
    #: ``class_name`` or its ``__name__``; never inherited, as C++ class names are not).
    _resolved_class_name: ClassVar[str] = "OSObject"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._resolved_class_name = cls.__dict__.get("class_name") or cls.__name__

    def __init__(self) -> None:
        self._retain_count = 1
        self._freed = False
        self._metaclass: OSMetaClass | None = None
        # current_class_registry, metaclass_for and instanceConstructed in one: this
        # runs for every object made, descriptors of every I/O included.  (The
        # registry's and meta-class's private fields are this module's own.)
        scheduler = current_scheduler()
        if scheduler is None:
            return
        registry = scheduler.extensions.get(KERNEL_EXTENSION)
        if not isinstance(registry, ClassRegistry):
            return
        cls = type(self)
        meta = registry._by_class.get(cls)
        if meta is None:
            meta = registry.register(cls)
        meta._instance_count += 1
        if meta._instance_count == 1 and meta._superclass is not None:
            meta._superclass.instanceConstructed()
        self._metaclass = meta

    @classmethod
    def className(cls) -> str:
        return cls._resolved_class_name

    @classmethod
    def superclass(cls) -> type[OSObject] | None:
        """The nearest base class that is an OSObject (None for OSObject itself)."""
        if cls is OSObject:
            return None
        for base in cls.__mro__[1:]:
            if issubclass(base, OSObject):
                return base
        return OSObject

    @classmethod
    def inheritance(cls) -> list[str]:
        """Class names from OSObject's first subclass down to this class."""
        names = []
        current: type[OSObject] | None = cls
        while current is not None and current is not OSObject:
            names.append(current.className())
            current = current.superclass()
        return list(reversed(names))

    # -- reference counting -------------------------------------------------------------

    def retain(self) -> None:
        if self._freed:
            raise ClassRegistryError(f"retain of a freed {self.getClassName()}")
        self._retain_count += 1

    def release(self) -> None:
        if self._freed:
            raise ClassRegistryError(f"release of a freed {self.getClassName()}")
        self._retain_count -= 1
        if self._retain_count == 0:
            self._freed = True
            self.free()
            meta = self._metaclass
            if meta is not None:
                # instanceDestructed, inlined for the common case (this module's own
                # field); the meta-class's method handles the last instance.
                if meta._instance_count > 1:
                    meta._instance_count -= 1
                else:
                    meta.instanceDestructed()

    def getRetainCount(self) -> int:
        return self._retain_count

    @property
    def freed(self) -> bool:
        return self._freed

    def free(self) -> None:
        """Called once, when the last reference goes; subclasses release what they hold."""

    # -- run-time type information ------------------------------------------------------

    def getMetaClass(self) -> OSMetaClass:
        if self._metaclass is not None:
            return self._metaclass
        cls = type(self)
        parent = cls.superclass()
        chain = OSMetaClass(parent, None, None, None) if parent is not None else None
        return OSMetaClass(cls, chain, None, None)

    def getClassName(self) -> str:
        return self._resolved_class_name

    def metaCast(self, name: str) -> OSObject | None:
        """Self if this object is an instance of the class called ``name``."""
        return self if name in type(self).inheritance() or name == "OSObject" else None

    def isEqualTo(self, other: object) -> bool:
        return self is other

    def serialize(self, serializer: OSSerialize) -> bool:
        """Write this object to ``serializer``; objects that cannot say so."""
        return serializer.add_not_serializable(self)


def OSDynamicCast(cls: type[T], obj: object) -> T | None:
    """``obj`` as a ``cls`` if it is one (or of a subclass), else None."""
    return obj if isinstance(obj, cls) else None


def OSTypeAlloc(cls: type[T]) -> T:
    """A new instance of ``cls`` (``OSTypeAlloc``)."""
    return cls()


class OSSerializer(OSObject):
    """An object that serializes as whatever its callback produces at that moment
    (libkern's ``OSSerializer::forTarget``): how the root entry's IOKitDiagnostics
    reports live instance counts."""

    __slots__ = ("_produce",)

    def __init__(self, produce: Callable[[], OSObject]) -> None:
        super().__init__()
        self._produce = produce

    def produce(self) -> OSObject:
        return self._produce()

    def serialize(self, serializer: OSSerialize) -> bool:
        produced = self._produce()
        try:
            return produced.serialize(serializer)
        finally:
            produced.release()
