"""Driver matching, rule by rule (shared/spec/iokit-matching.md §1).

Each test pins one rule of xnu's passive and active matching; the drivers below
keep a journal of what happened to them so the order of probes and starts can be
read back.
"""

from __future__ import annotations

from typing import ClassVar

from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.service import debug
from kextlab.kernel.service.matching import kIOServiceChangesOK, kIOServiceClassDone
from kextlab.kernel.service.service import IOService, ScoreRef
from tests.kernel.service.conftest import JOURNAL, IOKit, Nub, SubNub


class Driver(IOService):
    """A driver that probes and starts, writing what happens into ``JOURNAL``."""

    start_result: ClassVar[bool] = True
    probe_delta: ClassVar[int] = 0
    declines: ClassVar[bool] = False

    def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
        JOURNAL.append(f"probe {self.getClassName()} {score.value}")
        if self.declines:
            return None
        score.value += self.probe_delta
        return super().probe(provider, score)

    def start(self, provider: IOService) -> bool:
        JOURNAL.append(f"start {self.getClassName()}")
        return self.start_result

    def stop(self, provider: IOService) -> None:
        JOURNAL.append(f"stop {self.getClassName()}")


class DriverA(Driver):
    pass


class DriverB(Driver):
    pass


class DriverC(Driver):
    pass


class FailsToStart(Driver):
    start_result = False


class Declines(Driver):
    declines = True


class Climbs(Driver):
    probe_delta = 500


class CountingNub(Nub):
    """A nub whose family matching counts its calls and can change the score."""

    family_calls = 0

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        CountingNub.family_calls += 1
        bonus = table.getObject("FamilyBonus")
        if isinstance(bonus, OSNumber):
            score.value += bonus.unsigned32BitValue()
        return table.getObject("FamilyRefuses") is None


def personality(cls: type[IOService], **keys: object) -> dict[str, object]:
    return {"IOClass": cls.className(), "IOProviderClass": "Nub", **keys}


def drivers_of(nub: IOService) -> list[str]:
    return [client.getClassName() for client in nub.getClients()]


# -- ordering (§1.2) -----------------------------------------------------------------------------


def test_the_highest_probe_score_wins(iokit: IOKit) -> None:
    """Scores order the candidates, highest first, whatever the catalogue order."""
    iokit.register(DriverA, DriverB)
    iokit.add(personality(DriverA, IOProbeScore=10), personality(DriverB, IOProbeScore=20))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverB"]
    assert JOURNAL == ["probe DriverB 20", "probe DriverA 10", "start DriverB"]


def test_equal_scores_keep_catalogue_order(iokit: IOKit) -> None:
    """OSOrderedSet inserts behind equal scores: the first personality added wins a tie."""
    iokit.register(DriverA, DriverB)
    iokit.add(personality(DriverB), personality(DriverA))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverB"]


def test_negative_scores_rank_below_the_default(iokit: IOKit) -> None:
    """IOProbeScore is read as a signed 32-bit number: -5 loses to the default 0."""
    iokit.register(DriverA, DriverB)
    iokit.add(personality(DriverA, IOProbeScore=-5), personality(DriverB))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverB"]


def test_personalities_of_the_most_derived_provider_class_come_first(iokit: IOKit) -> None:
    """findDrivers walks the nub's class, then its superclasses up to IOService."""
    iokit.register(DriverA, DriverB, DriverC, SubNub)
    iokit.add(
        personality(DriverA),
        personality(DriverB, IOProviderClass="SubNub"),
        personality(DriverC, IOProviderClass="IOService", IOMatchCategory="Everywhere"),
    )
    nub = iokit.publish(SubNub())
    assert drivers_of(nub) == ["DriverB", "DriverC"]
    assert JOURNAL.index("probe DriverB 0") < JOURNAL.index("probe DriverA 0")


def test_the_final_score_is_written_on_the_driver_as_a_32_bit_number(iokit: IOKit) -> None:
    """probe's score becomes the instance's IOProbeScore (OSNumber of 32 bits)."""
    iokit.register(Climbs)
    iokit.add(personality(Climbs, IOProbeScore=-1000))
    nub = iokit.publish(Nub())
    (driver,) = nub.getClients()
    score = driver.getProperty("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert score.numberOfBits() == 32
    assert score.unsigned32BitValue() == (-500) & 0xFFFF_FFFF


# -- categories (§1.3) ---------------------------------------------------------------------------


def test_each_category_gets_its_own_winner(iokit: IOKit) -> None:
    """One winner per (nub, category): two categories, two drivers."""
    iokit.register(DriverA, DriverB, DriverC)
    iokit.add(
        personality(DriverA, IOProbeScore=1, IOMatchCategory="Framebuffer"),
        personality(DriverB, IOProbeScore=2, IOMatchCategory="Framebuffer"),
        personality(DriverC, IOMatchCategory="Accelerator"),
    )
    nub = iokit.publish(Nub())
    assert sorted(drivers_of(nub)) == ["DriverB", "DriverC"]
    categories = {
        client.getClassName(): str(client.getProperty("IOMatchCategory"))
        for client in nub.getClients()
    }
    assert categories == {"DriverB": "Framebuffer", "DriverC": "Accelerator"}


def test_the_default_category_is_written_on_the_driver(iokit: IOKit) -> None:
    iokit.register(DriverA)
    iokit.add(personality(DriverA))
    (driver,) = iokit.publish(Nub()).getClients()
    assert str(driver.getProperty("IOMatchCategory")) == "IODefaultMatchCategory"


def test_a_taken_category_is_skipped_before_passive_matching(iokit: IOKit) -> None:
    """On re-registration, personalities of a category a live client holds are not even
    passively matched: the family is never asked."""
    iokit.register(DriverA, DriverB, CountingNub)
    iokit.add(personality(DriverA, IOProviderClass="CountingNub"))
    nub = iokit.publish(CountingNub())
    assert drivers_of(nub) == ["DriverA"]
    iokit.add(personality(DriverB, IOProviderClass="CountingNub", IOProbeScore=99999))
    # catalogNewDrivers asked the family once, to find the nub worth re-matching;
    # the re-match itself skips the taken category before the family is asked
    CountingNub.family_calls = 0
    iokit.run()
    assert drivers_of(nub) == ["DriverA"]
    assert CountingNub.family_calls == 0
    assert "start DriverB" not in JOURNAL


def test_losers_are_probed_detached_and_released_never_started(iokit: IOKit) -> None:
    """The candidates that lose their category never appear in the registry and leave
    no instance behind."""
    iokit.register(DriverA, DriverB)
    iokit.add(personality(DriverA, IOProbeScore=5), personality(DriverB, IOProbeScore=1))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverA"]
    assert "probe DriverB 1" in JOURNAL
    assert "start DriverB" not in JOURNAL
    assert iokit.counts()["DriverB"] == 0
    assert iokit.counts()["DriverA"] == 1


# -- probe and start (§1.3, §1.9) ----------------------------------------------------------------


def test_start_failure_falls_through_to_the_next_candidate(iokit: IOKit) -> None:
    """startCandidate detaches a driver whose start fails; the next one is started."""
    iokit.register(FailsToStart, DriverA)
    iokit.add(personality(FailsToStart, IOProbeScore=10), personality(DriverA))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverA"]
    assert JOURNAL[-2:] == ["start FailsToStart", "start DriverA"]
    assert iokit.counts()["FailsToStart"] == 0


def test_probe_returning_none_rejects_the_candidate(iokit: IOKit) -> None:
    iokit.register(Declines, DriverA)
    iokit.add(personality(Declines, IOProbeScore=10), personality(DriverA))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverA"]
    assert "start Declines" not in JOURNAL
    assert iokit.counts()["Declines"] == 0


def test_probe_may_raise_the_score_above_a_rival(iokit: IOKit) -> None:
    """The start list is ordered by the score probe leaves, not the personality's."""
    iokit.register(Climbs, DriverA)
    iokit.add(personality(DriverA, IOProbeScore=100), personality(Climbs, IOProbeScore=0))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["Climbs"]


class Substitute(Driver):
    """Probe hands back another object to start instead of itself."""

    def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
        JOURNAL.append("probe Substitute")
        other = DriverB()
        other.init(OSDictionary.withDictionary(self.getPropertyTable()))
        other.setProperty("IOMatchCategory", "IODefaultMatchCategory")
        self.substitute = other
        return other


def test_probe_may_return_another_object_which_is_started_instead(iokit: IOKit) -> None:
    iokit.register(Substitute, DriverB)
    iokit.add(personality(Substitute))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverB"]
    assert iokit.counts()["Substitute"] == 0


def test_probe_runs_attached_and_the_candidate_is_detached_after(iokit: IOKit) -> None:
    seen: list[bool] = []

    class Looks(Driver):
        def probe(self, provider: IOService, score: ScoreRef) -> IOService | None:
            seen.append(self.getProvider() is provider)
            return None

    iokit.register(Looks)
    iokit.add(personality(Looks))
    nub = iokit.publish(Nub())
    assert seen == [True]
    assert nub.getClients() == []


def test_a_personality_without_ioclass_matches_but_is_skipped(iokit: IOKit) -> None:
    """Only boot-time tables need IOClass; addDrivers takes one without and it is
    skipped at allocation (spec §1.1)."""
    iokit.register(DriverA)
    iokit.add({"IOProviderClass": "Nub", "IOProbeScore": 50}, personality(DriverA))
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverA"]


def test_an_unknown_ioclass_is_logged_and_skipped(iokit: IOKit) -> None:
    iokit.register(DriverA)
    iokit.add(
        {"IOClass": "NoSuchDriver", "IOProviderClass": "Nub", "IOProbeScore": 9},
        personality(DriverA),
    )
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == ["DriverA"]
    assert 'Couldn\'t alloc class "NoSuchDriver"' in iokit.log


def test_the_driver_property_table_is_the_matched_personality_copy(iokit: IOKit) -> None:
    """init(props): the copy made for matching, with IONameMatched and IOProbeScore."""
    iokit.register(DriverA)
    iokit.add(personality(DriverA, IONameMatch=["nothing", "Nub"], Extra="kept"))
    (driver,) = iokit.publish(Nub()).getClients()
    table = driver.getPropertyTable()
    assert str(table.getObject("Extra")) == "kept"
    assert str(table.getObject("IONameMatched")) == "Nub"  # the key itself (base rule)
    assert table.getObject("IOProbeScore") is not None


# -- matchInternal key order and the family (§1.4, §1.8) -----------------------------------------


def matches(nub: IOService, options: int = 0, **table: object) -> bool:
    dictionary = from_python(table)
    assert isinstance(dictionary, OSDictionary)
    try:
        return nub.matchPassive(dictionary, options)
    finally:
        dictionary.release()


def test_the_family_is_not_asked_when_every_key_was_consumed(iokit: IOKit) -> None:
    iokit.register(CountingNub)
    nub = iokit.publish(CountingNub())
    CountingNub.family_calls = 0
    assert matches(nub, IOProviderClass="Nub", IONameMatch="CountingNub")
    assert CountingNub.family_calls == 0
    assert matches(nub, IOProviderClass="Nub", IOClass="Whatever")
    assert CountingNub.family_calls == 1
    assert not matches(nub, IOProviderClass="Nub", FamilyRefuses=True)


def test_the_family_may_change_the_score_and_it_is_saved(iokit: IOKit) -> None:
    iokit.register(CountingNub)
    nub = iokit.publish(CountingNub())
    table = from_python({"IOProviderClass": "Nub", "IOProbeScore": 5, "FamilyBonus": 7})
    assert isinstance(table, OSDictionary)
    assert nub.matchPassive(table, kIOServiceChangesOK)
    score = table.getObject("IOProbeScore")
    assert isinstance(score, OSNumber)
    assert score.unsigned32BitValue() == 12
    table.release()


def test_provider_class_is_checked_with_inheritance_unless_class_done(iokit: IOKit) -> None:
    nub = iokit.publish(SubNub())
    assert matches(nub, IOProviderClass="Nub")
    assert matches(nub, IOProviderClass="IOService")
    assert not matches(nub, IOProviderClass="IOResources")
    assert matches(nub, kIOServiceClassDone, IOProviderClass="IOResources")


def test_base_name_matching_is_exact_with_no_wildcards(iokit: IOKit) -> None:
    """IORegistryEntry::compareName: equality with the name; '*' means nothing here."""
    nub = Nub()
    nub.setName("widget")
    iokit.publish(nub)
    assert matches(nub, IONameMatch="widget")
    assert not matches(nub, IONameMatch="wid*")
    assert matches(nub, IONameMatch=["gadget", "widget"])


def test_property_match_is_a_subset_test_with_string_data_equality(iokit: IOKit) -> None:
    """IOPropertyMatch: every key present and equal; a string equals data holding it
    (with its NUL); a list of dicts is an OR."""
    nub = Nub()
    name = OSData(b"display\0")
    nub.getPropertyTable().setObject("name", name)
    name.release()
    nub.setProperty("vendor", 0x10DE, 32)
    iokit.publish(nub)
    assert matches(nub, IOPropertyMatch={"name": "display"})
    assert matches(nub, IOPropertyMatch={"name": "display", "vendor": 0x10DE})
    assert not matches(nub, IOPropertyMatch={"name": "display", "missing": 1})
    assert matches(nub, IOPropertyMatch=[{"vendor": 1}, {"vendor": 0x10DE}])


def test_property_exists_match_is_an_or_over_keys(iokit: IOKit) -> None:
    nub = Nub()
    nub.setProperty("built-in", True)
    iokit.publish(nub)
    assert matches(nub, IOPropertyExistsMatch="built-in")
    assert matches(nub, IOPropertyExistsMatch=["absent", "built-in"])
    assert not matches(nub, IOPropertyExistsMatch=["absent"])


def test_parent_match_is_tried_on_ancestors_never_on_the_service(iokit: IOKit) -> None:
    parent = Nub()
    parent.setName("parent")
    iokit.publish(parent)
    child = SubNub()
    child.setName("child")
    iokit.publish(child, parent)
    assert matches(child, IOParentMatch={"IONameMatch": "parent"})
    assert matches(child, IOParentMatch={"IOProviderClass": "Board"})  # grandparent
    assert not matches(child, IOParentMatch={"IONameMatch": "child"})


class Located(Nub):
    def matchLocation(self, client: IOService) -> IOService | None:
        return self


def test_location_match_as_a_string_and_as_a_dict(iokit: IOKit) -> None:
    """A string compares the service's location; a dict is matched against the nearest
    ancestor that claims location (matchLocation)."""
    bus = Located()
    bus.setLocation("3")
    bus.setName("bus")
    iokit.publish(bus)
    device = Nub()
    device.setLocation("1F,3")
    iokit.publish(device, bus)
    assert matches(device, IOLocationMatch="1F,3")
    assert not matches(device, IOLocationMatch="1F")
    assert matches(device, IOLocationMatch={"IONameMatch": "bus"})
    assert not matches(device, IOLocationMatch={"IONameMatch": "elsewhere"})


def test_path_and_registry_id_match(iokit: IOKit) -> None:
    nub = Nub()
    nub.setName("pathed")
    iokit.publish(nub)
    plane = iokit.registry.plane("IOService")
    path = nub.getPath(plane)
    assert path is not None
    assert matches(nub, IOPathMatch=path)
    assert not matches(nub, IOPathMatch="IOService:/elsewhere")
    assert matches(nub, IORegistryEntryID=nub.getRegistryEntryID())
    assert not matches(nub, IORegistryEntryID=1)


def test_matched_service_count_counts_live_clients_with_a_category(iokit: IOKit) -> None:
    iokit.register(DriverA)
    iokit.add(personality(DriverA))
    nub = iokit.publish(Nub())
    assert matches(nub, IOMatchedServiceCountMatch=1)
    assert not matches(nub, IOMatchedServiceCountMatch=0)


# -- resources (§1.7) ----------------------------------------------------------------------------


def test_resource_drivers_wait_for_their_resource_each_in_its_category(iokit: IOKit) -> None:
    """IOResources personalities match only when every listed resource is published;
    publishResource re-matches them."""
    iokit.register(DriverA, DriverB)
    iokit.add(
        {
            "IOClass": "DriverA",
            "IOProviderClass": "IOResources",
            "IOResourceMatch": "IOBSD",
            "IOMatchCategory": "DriverA",
        },
        {
            "IOClass": "DriverB",
            "IOProviderClass": "IOResources",
            "IOResourceMatch": ["IOBSD", "IOKit"],
            "IOMatchCategory": "DriverB",
        },
    )
    iokit.run()
    assert drivers_of(iokit.resources) == []
    with iokit.scheduler.entered():
        IOService.publishResource("IOKit")
    iokit.run()
    assert drivers_of(iokit.resources) == []
    with iokit.scheduler.entered():
        IOService.publishResource("IOBSD")
    iokit.run()
    assert sorted(drivers_of(iokit.resources)) == ["DriverA", "DriverB"]


def test_a_driver_with_a_resource_match_stalls_in_start_until_published(iokit: IOKit) -> None:
    """On another provider, IOResourceMatch is not passive: startCandidate waits in
    checkResources, in virtual time, until the resource appears."""
    iokit.register(DriverA)
    iokit.add(personality(DriverA, IOResourceMatch="IOTimeSync"))
    nub = iokit.publish(Nub())
    assert "start DriverA" not in JOURNAL
    assert nub.getBusyState() == 1
    with iokit.scheduler.entered():
        IOService.publishResource("IOTimeSync")
    iokit.run()
    assert drivers_of(nub) == ["DriverA"]
    assert nub.getBusyState() == 0


# -- the catalogue (§1.1) ------------------------------------------------------------------------


def test_an_exactly_equal_personality_is_added_once(iokit: IOKit) -> None:
    iokit.register(DriverA)
    iokit.add(personality(DriverA), personality(DriverA), personality(DriverA, Extra=1))
    assert iokit.globals.catalogue.count() == 2


def test_new_personalities_match_services_already_registered(iokit: IOKit) -> None:
    """catalogNewDrivers: a kext loaded late finds its device."""
    iokit.register(DriverA)
    nub = iokit.publish(Nub())
    assert drivers_of(nub) == []
    iokit.add(personality(DriverA))
    iokit.run()
    assert drivers_of(nub) == ["DriverA"]


def test_a_personality_without_a_string_provider_class_is_never_stored(iokit: IOKit) -> None:
    iokit.add({"IOClass": "DriverA"}, {"IOClass": "DriverA", "IOProviderClass": 5})
    assert iokit.globals.catalogue.count() == 0


# -- IOKitDebug (§1.9) ---------------------------------------------------------------------------


def test_iokitdebug_logs_probe_and_start_in_xnus_words(iokit: IOKit) -> None:
    iokit.register(Declines, DriverA)
    iokit.add(
        personality(Declines, IOProbeScore=5, IOKitDebug=debug.kIOLogProbe),
        personality(DriverA),
    )
    iokit.globals.debug_flags = debug.kIOLogStart
    nub = iokit.publish(Nub())
    probes = [line for line in iokit.log if "::probe" in line]
    assert probes[0].startswith("Declines[0x")
    assert probes[0].endswith("]::probe(Nub)")
    assert probes[1].startswith("Declines[0x")
    assert probes[1].endswith("]::probe fails")
    (driver,) = nub.getClients()
    expected = (
        f"DriverA[{driver.getRegistryEntryID():#x}]::start(Nub[{nub.getRegistryEntryID():#x}]) <0>"
    )
    assert expected in iokit.log


def test_the_iokitlib_view_sees_registered_and_matched_drivers(iokit: IOKit) -> None:
    """doServiceMatch sets registered and matched; a driver that registers itself
    shows both."""

    class Registers(Driver):
        def start(self, provider: IOService) -> bool:
            self.registerService()
            return True

    iokit.register(Registers)
    iokit.add(personality(Registers))
    (driver,) = iokit.publish(Nub()).getClients()
    iokit.run()
    assert driver.getState() & 0x6 == 0x6
    assert isinstance(driver.getProperty("IOClass"), OSString)
