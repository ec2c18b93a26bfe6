"""OSObject reference counting, OSMetaClass instance counts and the class registry.

The instance-count rule is xnu's ``OSMetaClass::instanceConstructed`` /
``instanceDestructed``: a class's count moves with its own instances, and when it
goes from 0 to 1 (or back) its superclass's count moves by one.  So what
``ioclasscount`` prints for a class is its own live instances plus the number of its
*direct* subclasses that have a non-zero count.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kextlab.kernel.libkern.object import (
    ClassRegistry,
    ClassRegistryError,
    OSDynamicCast,
    OSMetaClass,
    OSObject,
    OSSerializer,
    OSTypeAlloc,
    current_class_registry,
)
from kextlab.kernel.libkern.serialize import OSSerialize
from kextlab.kernel.libkern.values import OSNumber, OSString
from tests.kernel.conftest import entered_kernel


class Base(OSObject):
    pass


class Middle(Base):
    pass


class Leaf(Middle):
    pass


class Other(Base):
    pass


class Renamed(Base):
    class_name = "IORenamedThing"


class Tracked(OSObject):
    """Records each call of ``free``."""

    frees: ClassVar[list[Tracked]] = []

    def free(self) -> None:
        Tracked.frees.append(self)
        super().free()


HIERARCHY: list[type[OSObject]] = [Base, Middle, Leaf, Other]


def count(classes: ClassRegistry, name: str) -> int:
    meta = classes.getMetaClassWithName(name)
    assert meta is not None, f"{name} is not registered"
    return meta.getInstanceCount()


# -- retain, release, free ------------------------------------------------------------------------


def test_an_object_starts_with_one_reference_and_is_freed_by_the_last_release() -> None:
    """retain/release move the count; the release that reaches zero calls free once."""
    Tracked.frees.clear()
    thing = Tracked()
    assert thing.getRetainCount() == 1
    thing.retain()
    thing.retain()
    assert thing.getRetainCount() == 3
    thing.release()
    thing.release()
    assert thing.getRetainCount() == 1
    assert Tracked.frees == []
    assert not thing.freed
    thing.release()
    assert thing.getRetainCount() == 0
    assert thing.freed
    assert Tracked.frees == [thing]


def test_using_a_freed_object_is_a_programming_error() -> None:
    """Retaining or releasing a freed object raises, naming its class."""
    thing = Tracked()
    thing.release()
    with pytest.raises(ClassRegistryError, match="retain of a freed Tracked"):
        thing.retain()
    with pytest.raises(ClassRegistryError, match="release of a freed Tracked"):
        thing.release()


# -- instance counts ---------------------------------------------------------------------------


def test_counts_include_one_per_direct_subclass_with_instances(
    kernel_context: ClassRegistry,
) -> None:
    """Two Leafs count 2 in Leaf but 1 in Middle and 1 in Base, as ioclasscount shows."""
    classes = kernel_context
    leaves = [Leaf(), Leaf()]
    assert (count(classes, "Leaf"), count(classes, "Middle"), count(classes, "Base")) == (2, 1, 1)
    middle = Middle()
    assert (count(classes, "Leaf"), count(classes, "Middle"), count(classes, "Base")) == (2, 2, 1)
    other = Other()
    assert (count(classes, "Other"), count(classes, "Base")) == (1, 2)
    for leaf in leaves:
        leaf.release()
    assert (count(classes, "Leaf"), count(classes, "Middle"), count(classes, "Base")) == (0, 1, 2)
    middle.release()
    assert (count(classes, "Middle"), count(classes, "Base")) == (0, 1)
    other.release()
    assert count(classes, "Base") == 0
    assert count(classes, "OSObject") == 0


@given(st.lists(st.tuples(st.sampled_from(range(4)), st.booleans()), max_size=40))
def test_every_count_is_own_instances_plus_busy_direct_subclasses(
    steps: list[tuple[int, bool]],
) -> None:
    """After any sequence of allocations and releases, each count follows xnu's rule."""
    with entered_kernel() as classes:
        live: dict[type[OSObject], list[OSObject]] = {cls: [] for cls in HIERARCHY}
        for index, create in steps:
            cls = HIERARCHY[index]
            if create or not live[cls]:
                live[cls].append(cls())
            else:
                live[cls].pop().release()
            for meta in classes.classes():
                own = len(live.get(meta.cls, []))
                busy_subclasses = sum(
                    1
                    for other in classes.classes()
                    if other.getSuperClass() is meta and other.getInstanceCount() > 0
                )
                assert meta.getInstanceCount() == own + busy_subclasses, meta.getClassName()


def test_each_kernel_counts_its_own_objects(kernel_context: ClassRegistry) -> None:
    """Objects count in the kernel their creating code runs in, and only there."""
    here = kernel_context
    mine = Leaf()
    with entered_kernel() as elsewhere:
        theirs = [Leaf(), Leaf(), Leaf()]
        assert count(elsewhere, "Leaf") == 3
        mine.release()  # released from the other kernel's code: still counted at home
        assert count(elsewhere, "Leaf") == 3
    assert count(here, "Leaf") == 0
    for leaf in theirs:
        leaf.release()
    assert count(elsewhere, "Leaf") == 0
    assert mine.getMetaClass().registry is here
    assert theirs[0].getMetaClass().registry is elsewhere


def test_objects_made_outside_any_kernel_are_not_counted() -> None:
    """Module constants and unit-test values belong to no kernel."""
    assert current_class_registry() is None
    leaf = Leaf()
    meta = leaf.getMetaClass()
    assert meta.registry is None
    assert meta.getClassName() == "Leaf"
    super_meta = meta.getSuperClass()
    assert super_meta is not None
    assert super_meta.getClassName() == "Middle"
    leaf.release()  # nothing to decrement, nothing raised


def test_the_current_registry_is_the_entered_kernels(kernel_context: ClassRegistry) -> None:
    assert current_class_registry() is kernel_context


def test_instance_counts_list_every_class_by_name(kernel_context: ClassRegistry) -> None:
    leaf = Leaf()
    counts = kernel_context.instance_counts()
    assert list(counts) == sorted(counts)
    assert counts == {"Base": 1, "Leaf": 1, "Middle": 1, "OSObject": 1}
    leaf.release()
    assert set(kernel_context.instance_counts().values()) == {0}


# -- the class registry --------------------------------------------------------------------------


def test_registering_a_class_registers_its_ancestors_as_built_ins() -> None:
    classes = ClassRegistry()
    meta = classes.register(Leaf, "com.example.leaf")
    assert meta.getKmodName() == "com.example.leaf"
    assert [name for name in ("Leaf", "Middle", "Base", "OSObject") if name in classes] == [
        "Leaf",
        "Middle",
        "Base",
        "OSObject",
    ]
    middle = classes.getMetaClassWithName("Middle")
    assert middle is not None
    assert middle.getKmodName() == "__kernel__"
    assert meta.getSuperClass() is middle
    assert classes.register(Leaf, "com.example.leaf") is meta
    assert meta.isSubclassOf("Base")
    assert meta.isSubclassOf(middle)
    assert not middle.isSubclassOf("Leaf")


def test_a_class_name_can_be_defined_once() -> None:
    """A second class with a taken name is refused, naming both owners."""

    class Leaf(OSObject):  # a different class with the same I/O Kit name
        pass

    classes = ClassRegistry()
    classes.register(globals()["Leaf"], "com.example.first")
    with pytest.raises(
        ClassRegistryError, match=r"Leaf of com\.example\.second .* com\.example\.first"
    ):
        classes.register(Leaf, "com.example.second")


def test_a_kext_cannot_unload_while_its_classes_have_instances(
    kernel_context: ClassRegistry,
) -> None:
    """xnu refuses to unload a kext whose classes (or their subclasses) are in use."""
    classes = kernel_context
    classes.register(Base, "com.example.family")
    classes.register(Middle, "com.example.family")
    classes.register(Leaf, "com.example.driver")
    leaf = Leaf()
    with pytest.raises(ClassRegistryError, match=r"com\.example\.driver: .*Leaf"):
        classes.unregister_kext("com.example.driver")
    # the family's classes count the driver's live subclass
    with pytest.raises(ClassRegistryError, match=r"com\.example\.family: .*Base, Middle"):
        classes.unregister_kext("com.example.family")
    assert "Leaf" in classes
    leaf.release()
    assert classes.unregister_kext("com.example.driver") == ["Leaf"]
    assert classes.unregister_kext("com.example.family") == ["Base", "Middle"]
    assert "Leaf" not in classes
    assert classes.getMetaClassWithName("Middle") is None
    assert classes.allocClassWithName("Leaf") is None
    assert classes.unregister_kext("com.example.nothing") == []


def test_classes_are_allocated_by_name(kernel_context: ClassRegistry) -> None:
    """allocClassWithName is how an IOClass in a personality becomes an object."""
    kernel_context.register(Renamed, "com.example.renamed")
    made = kernel_context.allocClassWithName("IORenamedThing")
    assert isinstance(made, Renamed)
    assert made.getClassName() == "IORenamedThing"
    assert count(kernel_context, "IORenamedThing") == 1
    assert kernel_context.allocClassWithName("Renamed") is None


# -- run-time type information ---------------------------------------------------------------------


def test_dynamic_cast_and_meta_cast_follow_the_hierarchy() -> None:
    leaf = Leaf()
    assert OSDynamicCast(Middle, leaf) is leaf
    assert OSDynamicCast(Other, leaf) is None
    assert OSDynamicCast(Leaf, None) is None
    assert OSDynamicCast(OSString, "not an OSObject") is None
    assert leaf.metaCast("Base") is leaf
    assert leaf.metaCast("OSObject") is leaf
    assert leaf.metaCast("Other") is None
    assert Leaf.inheritance() == ["Base", "Middle", "Leaf"]
    assert Renamed().metaCast("IORenamedThing") is not None
    assert Leaf.superclass() is Middle
    assert OSObject.superclass() is None


def test_a_metaclass_casts_instances_of_its_class_and_subclasses(
    kernel_context: ClassRegistry,
) -> None:
    middle_meta = kernel_context.register(Middle)
    leaf, other = Leaf(), Other()
    assert middle_meta.checkMetaCast(leaf) is leaf
    assert middle_meta.checkMetaCast(other) is None
    assert middle_meta.checkMetaCast(None) is None
    assert isinstance(middle_meta, OSMetaClass)


def test_type_alloc_makes_a_counted_instance(kernel_context: ClassRegistry) -> None:
    made = OSTypeAlloc(Leaf)
    assert type(made) is Leaf
    assert count(kernel_context, "Leaf") == 1


# -- OSSerializer ----------------------------------------------------------------------------------


def test_a_serializer_writes_what_its_callback_produces_at_that_moment() -> None:
    """Each serialization asks again, and releases what it was given."""
    produced: list[OSNumber] = []

    def produce() -> OSObject:
        number = OSNumber(len(produced), 32)
        produced.append(number)
        return number

    serializer = OSSerializer(produce)
    assert OSSerialize.withObject(serializer) == '<integer size="32" ID="0">0x0</integer>'
    assert OSSerialize.withObject(serializer) == '<integer size="32" ID="0">0x1</integer>'
    assert [number.freed for number in produced] == [True, True]
