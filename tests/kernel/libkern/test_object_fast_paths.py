"""OSObject's per-object bookkeeping, done inline for speed: the class name resolved
once per class, and the instance counts kept by construction and the last release
exactly as ``OSMetaClass.instanceConstructed``/``instanceDestructed`` keep them."""

from __future__ import annotations

from typing import ClassVar

from kextlab.kernel.libkern.object import ClassRegistry, OSObject


class Renamed(OSObject):
    class_name: ClassVar[str | None] = "com_example_Renamed"


class UnderRenamed(Renamed):
    pass


def test_a_class_name_is_its_own_and_never_inherited() -> None:
    """A subclass of a renamed class is named after itself, as a C++ class would be."""
    assert Renamed.className() == "com_example_Renamed"
    assert Renamed().getClassName() == "com_example_Renamed"
    assert UnderRenamed.className() == "UnderRenamed"
    assert UnderRenamed().getClassName() == "UnderRenamed"
    assert OSObject().getClassName() == "OSObject"


def test_counts_rise_and_fall_through_the_superclass_with_many_instances(
    kernel_context: ClassRegistry,
) -> None:
    """Many instances count once in the superclass; only the last release uncounts it."""
    objects = [UnderRenamed() for _ in range(3)]
    sub = kernel_context.getMetaClassWithName("UnderRenamed")
    parent = kernel_context.getMetaClassWithName("com_example_Renamed")
    assert sub is not None
    assert parent is not None
    assert (sub.getInstanceCount(), parent.getInstanceCount()) == (3, 1)
    objects.pop().release()
    objects.pop().release()
    assert (sub.getInstanceCount(), parent.getInstanceCount()) == (1, 1)
    objects.pop().release()
    assert (sub.getInstanceCount(), parent.getInstanceCount()) == (0, 0)
