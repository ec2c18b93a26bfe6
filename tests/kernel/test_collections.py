"""OSArray, OSDictionary, OSSet, OSOrderedSet and OSCollectionIterator.

A collection holds one reference on each member: taken when the member goes in,
dropped when it is replaced or removed or the collection is freed (libkern's
``OSArray.cpp``, ``OSDictionary.cpp``, ``OSSet.cpp``, ``OSOrderedSet.cpp``).
"""

from __future__ import annotations

from kextlab.kernel.libkern.collections import (
    OSArray,
    OSCollectionIterator,
    OSDictionary,
    OSOrderedSet,
    OSSet,
)
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString


def made(*texts: str) -> list[OSString]:
    """Fresh strings, each with only the caller's reference."""
    return [OSString(text) for text in texts]


# -- OSArray ---------------------------------------------------------------------------------


def test_an_array_retains_what_it_holds_and_releases_it_when_freed() -> None:
    first, second = made("a", "b")
    array = OSArray([first, second])
    assert [first.getRetainCount(), second.getRetainCount()] == [2, 2]
    first.release()
    array.release()
    assert first.freed
    assert not second.freed
    assert second.getRetainCount() == 1


def test_array_insert_replace_remove_move_references() -> None:
    a, b, c = made("a", "b", "c")
    array = OSArray.withObjects([a])
    array.setObject(c)
    array.setObject(b, 1)
    assert [str(item) for item in array] == ["a", "b", "c"]
    array.replaceObject(0, c)
    assert a.getRetainCount() == 1
    assert c.getRetainCount() == 3
    array.removeObject(2)
    assert c.getRetainCount() == 2
    assert array.getObject(0) is c
    assert array.getObject(5) is None
    assert array.getObject(-1) is None
    assert array.getNextIndexOfObject(b) == 1
    assert array.getNextIndexOfObject(OSString("b")) == -1  # by identity
    assert array.getCount() == len(array) == 2


def test_merging_arrays_appends_and_retains() -> None:
    a, b = made("a", "b")
    first, second = OSArray([a]), OSArray([b, a])
    assert first.merge(second)
    assert [str(item) for item in first] == ["a", "b", "a"]
    assert a.getRetainCount() == 4


def test_arrays_compare_element_wise_in_order() -> None:
    assert OSArray(made("x", "y")).isEqualTo(OSArray(made("x", "y")))
    assert not OSArray(made("x", "y")).isEqualTo(OSArray(made("y", "x")))
    assert not OSArray(made("x")).isEqualTo(OSArray(made("x", "x")))
    # members use their own rules: the service's data against the matching string
    assert OSArray([OSData(b"pci\0")]).isEqualTo(OSArray(made("pci")))
    assert not OSArray(made("x")).isEqualTo(OSSet(made("x")))


# -- OSDictionary ----------------------------------------------------------------------------


def test_set_object_replaces_retaining_the_new_value_and_releasing_the_old() -> None:
    old, new = OSNumber(1), OSNumber(2)
    dictionary = OSDictionary()
    dictionary.setObject("IOProbeScore", old)
    old.release()  # the dictionary holds the only reference
    assert dictionary.setObject("IOProbeScore", new)
    assert old.freed
    assert new.getRetainCount() == 2
    assert dictionary.getObject("IOProbeScore") is new


def test_setting_the_same_value_again_keeps_it_alive() -> None:
    value = OSString("v")
    dictionary = OSDictionary([("k", value)])
    value.release()
    dictionary.setObject("k", value)
    assert not value.freed
    assert value.getRetainCount() == 1


def test_keys_keep_their_first_position_and_string_keys_equal_text_keys() -> None:
    a, b, c = made("a", "b", "c")
    dictionary = OSDictionary([("one", a), ("two", b)])
    dictionary.setObject(OSString("one"), c)
    assert dictionary.keys() == ["one", "two"]
    assert dictionary.getObject(OSString("one")) is c
    assert OSString("two") in dictionary
    assert "three" not in dictionary
    assert 3 not in dictionary
    dictionary.removeObject("two")
    dictionary.removeObject("absent")
    assert b.getRetainCount() == 1
    assert dictionary.getCount() == 1


def test_a_freed_dictionary_releases_its_values() -> None:
    value = OSString("v")
    dictionary = OSDictionary([("k", value)])
    value.release()
    dictionary.release()
    assert value.freed


def test_with_dictionary_is_a_shallow_copy() -> None:
    shared = OSString("shared")
    original = OSDictionary([("k", shared)])
    copy = OSDictionary.withDictionary(original)
    assert copy.getObject("k") is shared
    assert shared.getRetainCount() == 3
    copy.setObject("extra", OSNumber(1))
    assert "extra" not in original
    copy.release()
    assert shared.getRetainCount() == 2


def test_merge_overrides_and_adds_keys() -> None:
    a, b, c = made("a", "b", "c")
    target = OSDictionary([("x", a), ("y", b)])
    source = OSDictionary([("y", c), ("z", c)])
    assert target.merge(source)
    assert target.keys() == ["x", "y", "z"]
    assert target.getObject("y") is c
    assert c.getRetainCount() == 5  # own, source twice, target twice


def test_full_equality_needs_the_same_keys_and_equal_values() -> None:
    def table(**values: OSObject) -> OSDictionary:
        return OSDictionary(values.items())

    assert table(a=OSString("1"), b=OSNumber(2, 8)).isEqualTo(
        table(b=OSNumber(2, 64), a=OSString("1"))
    )
    assert not table(a=OSString("1")).isEqualTo(table(a=OSString("1"), b=OSString("2")))
    assert not table(a=OSString("1"), b=OSString("2")).isEqualTo(table(a=OSString("1")))
    assert not table(a=OSString("1")).isEqualTo(table(a=OSString("2")))
    assert not table().isEqualTo(OSArray())


def test_equality_over_chosen_keys_is_what_property_matching_uses() -> None:
    """OSDictionary::isEqualTo(src, keys): every key in both, values equal; nested
    dictionaries still compare in full."""
    service = OSDictionary(
        [
            ("name", OSData(b"display\0")),
            ("class-code", OSData(b"\0\0\3\0")),
            ("nested", OSDictionary([("a", OSNumber(1)), ("b", OSNumber(2))])),
        ]
    )
    match = OSDictionary([("name", OSString("display"))])
    assert service.isEqualTo(match, match.keys())
    assert service.isEqualTo(match, match)  # a dictionary stands for its keys
    assert not service.isEqualTo(match, OSArray([OSString("name"), OSString("model")]))
    # OSDynamicCast(OSString, ...) ends the walk at the first key that is no string
    assert service.isEqualTo(match, OSArray([OSString("name"), OSNumber(1), OSString("x")]))
    assert not service.isEqualTo(match)  # full equality needs equal counts
    absent = OSDictionary([("model", OSString("x"))])
    assert not service.isEqualTo(absent, absent.keys())
    partial = OSDictionary([("nested", OSDictionary([("a", OSNumber(1))]))])
    assert not service.isEqualTo(partial, ["nested"])
    assert service.isEqualTo(match, [])


# -- OSSet --------------------------------------------------------------------------------


def test_set_members_are_distinct_objects() -> None:
    """OSSet::member compares pointers: the same object once, equal objects each."""
    a, also_a = made("a", "a")
    members = OSSet()
    assert members.setObject(a)
    assert not members.setObject(a)
    assert a.getRetainCount() == 2
    assert members.setObject(also_a)
    assert members.getCount() == 2
    assert members.containsObject(a)
    assert not members.containsObject(OSString("a"))
    assert members.getAnyObject() is a


def test_removing_a_member_releases_it() -> None:
    a, b = made("a", "b")
    members = OSSet([a, b])
    members.removeObject(a)
    members.removeObject(OSString("b"))  # not a member: nothing happens
    assert a.getRetainCount() == 1
    assert [str(member) for member in members] == ["b"]


def test_merge_adds_what_is_not_already_a_member() -> None:
    a, b, c = made("a", "b", "c")
    members = OSSet([a])
    assert members.merge(OSArray([a, b]))
    assert members.merge(OSSet([c, b]))
    assert list(members) == [a, b, c]
    # own reference, the temporary containers, the set
    assert [a.getRetainCount(), b.getRetainCount(), c.getRetainCount()] == [3, 4, 3]


def test_sets_are_equal_with_the_same_members_in_any_order() -> None:
    a, b = made("a", "b")
    assert OSSet([a, b]).isEqualTo(OSSet([b, a]))
    assert not OSSet([a]).isEqualTo(OSSet([a, b]))
    assert not OSSet([a]).isEqualTo(OSArray([a]))


def test_members_not_shared_are_compared_by_position() -> None:
    """OSSet::isEqualTo: a member of the other set that is not one of ours must
    equal our member at the same index."""
    assert OSSet(made("a", "b")).isEqualTo(OSSet(made("a", "b")))
    assert not OSSet(made("a", "b")).isEqualTo(OSSet(made("b", "a")))
    a = OSString("a")
    assert OSSet([a, OSString("b")]).isEqualTo(OSSet([OSString("b"), a])) is False
    assert OSSet([OSNumber(1, 8)]).isEqualTo(OSSet([OSNumber(1, 64)]))


# -- OSOrderedSet -----------------------------------------------------------------------------


def score(obj: OSObject | None) -> int:
    return int(obj) if isinstance(obj, OSNumber) else 0


def by_score(a: OSObject, b: OSObject, context: object) -> int:
    """I/O Kit's IOServiceOrdering: order(a, b) = score(a) - score(b)."""
    return score(a) - score(b)


def test_an_ordered_set_keeps_the_highest_score_first_and_ties_in_arrival_order() -> None:
    numbers = [OSNumber(value) for value in (5, 10, 5, 0, 10, 7)]
    ordered = OSOrderedSet(by_score)
    for number in numbers:
        assert ordered.setObject(number)
    assert list(ordered) == [numbers[1], numbers[4], numbers[5], numbers[0], numbers[2], numbers[3]]
    assert ordered.getFirstObject() is numbers[1]
    assert ordered.getLastObject() is numbers[3]
    assert ordered.orderObject(numbers[5]) == 7
    assert not ordered.setObject(numbers[0])
    assert numbers[0].getRetainCount() == 2


def test_an_ordered_set_without_a_function_keeps_arrival_order() -> None:
    a, b, c = made("a", "b", "c")
    ordered = OSOrderedSet.withCapacity(4)
    ordered.setObject(a)
    ordered.setObject(b)
    ordered.setFirstObject(c)
    assert not ordered.setFirstObject(a)
    assert not ordered.setLastObject(c)
    assert list(ordered) == [c, a, b]
    assert ordered.orderObject(a) == 0
    ordered.removeObject(c)
    assert c.getRetainCount() == 1
    assert ordered.getObject(1) is b
    assert ordered.getObject(2) is None
    ordered.release()
    assert a.getRetainCount() == b.getRetainCount() == 1


# -- OSCollectionIterator ---------------------------------------------------------------------


def test_an_iterator_walks_a_snapshot_until_reset() -> None:
    a, b, c = made("a", "b", "c")
    array = OSArray([a, b])
    iterator = OSCollectionIterator.withCollection(array)
    array.setObject(c)
    assert iterator.getNextObject() is a
    assert iterator.getNextObject() is b
    assert iterator.getNextObject() is None
    iterator.reset()
    assert [iterator.getNextObject() for _ in range(3)] == [a, b, c]
    assert iterator.isValid()
    values = OSCollectionIterator(OSDictionary([("k", a)]))
    assert values.getNextObject() is a
