"""Registration, notifications, waiting, termination and open/close (spec §3)."""

from __future__ import annotations

from kextlab.kernel.ioreturn import kIOReturnSuccess, kIOReturnTimeout
from kextlab.kernel.service.notification import (
    IONotifier,
    addMatchingNotification,
    getMatchingServices,
    gIOFirstMatchNotification,
    gIOMatchedNotification,
    gIOPublishNotification,
    gIOTerminatedNotification,
    serviceMatching,
    waitForMatchingService,
)
from kextlab.kernel.service.service import (
    IOService,
    kIOMessageServiceIsRequestingClose,
    kIOServiceSeize,
    kIOServiceSynchronous,
    kIOServiceTerminateWithRematch,
)
from kextlab.sim.time import SECOND
from tests.kernel.service.conftest import JOURNAL, IOKit, Nub


class Tracked(IOService):
    """A driver that registers itself, so it can have drivers of its own."""

    def start(self, provider: IOService) -> bool:
        JOURNAL.append(f"start {self.getName()}")
        self.registerService()
        return True

    def willTerminate(self, provider: IOService, options: int) -> bool:
        JOURNAL.append(f"willTerminate {self.getName()}")
        return super().willTerminate(provider, options)

    def didTerminate(self, provider: IOService, options: int, defer: list[bool]) -> bool:
        JOURNAL.append(f"didTerminate {self.getName()}")
        return super().didTerminate(provider, options, defer)

    def stop(self, provider: IOService) -> None:
        JOURNAL.append(f"stop {self.getName()}")


class Level1(Tracked):
    pass


class Level2(Tracked):
    pass


class Holder(Tracked):
    """Opens its provider in start and keeps it open until asked to close."""

    closes_on_request = False

    def start(self, provider: IOService) -> bool:
        super().start(provider)
        return provider.open(self)

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        JOURNAL.append(f"message {type:#x}")
        if type == kIOMessageServiceIsRequestingClose and self.closes_on_request:
            provider.close(self)
        return kIOReturnSuccess


def chain(iokit: IOKit) -> Nub:
    """Nub -> Level1 -> Level2 through matching."""
    iokit.register(Level1, Level2)
    iokit.add(
        {"IOClass": "Level1", "IOProviderClass": "Nub"},
        {"IOClass": "Level2", "IOProviderClass": "Level1"},
    )
    nub = Nub()
    iokit.publish(nub)
    return nub


# -- registration --------------------------------------------------------------------------------


def test_register_service_needs_a_place_in_the_service_plane(iokit: IOKit) -> None:
    with iokit.scheduler.entered():
        loose = Nub()
        loose.registerService()
    assert "Nub: not registry member at registerService()" in iokit.log
    assert loose.getState() == 0
    loose.release()


def test_registration_is_asynchronous_and_busy_until_matched(iokit: IOKit) -> None:
    """registerService queues a job; the nub and its providers are busy until it ran."""
    with iokit.scheduler.entered():
        nub = Nub()
        nub.attach(iokit.board)
        nub.registerService()
        assert nub.getBusyState() == 1
        assert iokit.board.getBusyState() == 1  # propagated up
        assert nub.getState() & 0x2 == 0  # registered is set by doServiceMatch
    iokit.run()
    assert nub.getBusyState() == 0
    assert iokit.board.getBusyState() == 0
    assert nub.getState() & 0x6 == 0x6
    nub.release()


def test_synchronous_registration_matches_before_returning(iokit: IOKit) -> None:
    iokit.register(Level1)
    iokit.add({"IOClass": "Level1", "IOProviderClass": "Nub"})
    with iokit.scheduler.entered():
        nub = Nub()
        nub.attach(iokit.board)
        nub.registerService(kIOServiceSynchronous)
        assert [client.getClassName() for client in nub.getClients()] == ["Level1"]
    nub.release()


def test_wait_quiet_times_out_in_virtual_time(iokit: IOKit) -> None:
    iokit.register(Level1)
    iokit.add({"IOClass": "Level1", "IOProviderClass": "Nub", "IOResourceMatch": "Never"})
    nub = iokit.publish(Nub())
    with iokit.scheduler.entered():
        before = iokit.scheduler.now
        assert nub.waitQuiet(30 * SECOND) == kIOReturnTimeout
        assert iokit.scheduler.now - before == 30 * SECOND


# -- notifications (§3.2, §3.3) ------------------------------------------------------------------


def test_notifications_reach_services_that_already_exist(iokit: IOKit) -> None:
    """A new notifier is delivered at once to services already in its state."""
    first = iokit.publish(Nub())
    seen: list[IOService] = []

    def handler(target: object, ref: object, service: IOService, notifier: IONotifier) -> bool:
        seen.append(service)
        return True

    with iokit.scheduler.entered():
        notifier = addMatchingNotification(gIOMatchedNotification, serviceMatching("Nub"), handler)
        assert seen == [first]
        second = iokit.publish(Nub(), run=False)
    iokit.run()
    assert seen == [first, second]
    with iokit.scheduler.entered():
        notifier.remove()


def test_first_match_is_sent_once_per_service(iokit: IOKit) -> None:
    kinds: list[str] = []
    with iokit.scheduler.entered():
        addMatchingNotification(
            gIOFirstMatchNotification,
            serviceMatching("Nub"),
            lambda target, ref, service, notifier: kinds.append("first"),
        ).retain()
        addMatchingNotification(
            gIOPublishNotification,
            serviceMatching("Nub"),
            lambda target, ref, service, notifier: kinds.append("publish"),
        ).retain()
    nub = iokit.publish(Nub())
    with iokit.scheduler.entered():
        nub.registerService()
    iokit.run()
    assert kinds == ["publish", "first", "publish"]


def test_notifications_check_the_provider_class_with_inheritance(iokit: IOKit) -> None:
    iokit.publish(Nub())
    with iokit.scheduler.entered():
        assert len(getMatchingServices(serviceMatching("IOService"))) >= 3
        assert len(getMatchingServices(serviceMatching("Nub"))) == 1
        assert getMatchingServices(serviceMatching("Level1")) == []


def test_wait_for_matching_service_waits_in_virtual_time(iokit: IOKit) -> None:
    with iokit.scheduler.entered():
        iokit.scheduler.after(5 * SECOND, lambda: iokit.publish(Nub(), run=False), "plug")
        start = iokit.scheduler.now
        found = waitForMatchingService(serviceMatching("Nub"), 10 * SECOND)
        assert found is not None
        assert iokit.scheduler.now - start == 5 * SECOND
        found.release()
        assert waitForMatchingService(serviceMatching("Level2"), SECOND) is None
        assert iokit.scheduler.now - start == 6 * SECOND


def test_terminated_notifications_are_sent_in_phase_one(iokit: IOKit) -> None:
    nub = chain(iokit)
    gone: list[str] = []
    with iokit.scheduler.entered():
        addMatchingNotification(
            gIOTerminatedNotification,
            serviceMatching("IOService"),
            lambda target, ref, service, notifier: gone.append(service.getClassName()),
        ).retain()
        nub.terminate()
        assert gone == ["Nub", "Level1", "Level2"]  # breadth first
    iokit.run()


# -- termination (§3.4) --------------------------------------------------------------------------


def test_termination_stops_bottom_up_after_will_and_did_terminate(iokit: IOKit) -> None:
    nub = chain(iokit)
    JOURNAL.clear()
    with iokit.scheduler.entered():
        nub.terminate(kIOServiceSynchronous)
    assert JOURNAL == [
        "willTerminate Level1",
        "willTerminate Level2",
        "didTerminate Level2",
        "didTerminate Level1",
        "stop Level2",
        "stop Level1",
    ]
    assert iokit.counts()["Level1"] == iokit.counts()["Level2"] == 0
    assert iokit.board.getClients() == [iokit.resources]
    assert iokit.board.getBusyState() == 0


def test_asynchronous_termination_runs_on_the_terminate_thread(iokit: IOKit) -> None:
    nub = chain(iokit)
    with iokit.scheduler.entered():
        nub.terminate()
        assert nub.isInactive()
        assert "stop Level1" not in JOURNAL
    iokit.run()
    assert JOURNAL[-2:] == ["stop Level2", "stop Level1"]
    assert iokit.counts()["Nub"] == 0


def test_a_client_with_another_provider_survives(iokit: IOKit) -> None:
    """requestTerminate: only clients whose sole provider dies are terminated."""
    first = iokit.publish(Nub())
    second = iokit.publish(Nub())
    with iokit.scheduler.entered():
        shared = Tracked()
        shared.setName("shared")
        assert shared.attach(first)
        assert shared.attach(second)
        shared.release()
        first.terminate(kIOServiceSynchronous)
    assert not shared.isInactive()
    assert shared.getProviders() == [second]


def test_a_client_holding_its_provider_open_is_stopped_when_it_closes(iokit: IOKit) -> None:
    """didTerminate asks an open client to close; close after terminate stops it."""
    iokit.register(Holder)
    iokit.add({"IOClass": "Holder", "IOProviderClass": "Nub"})
    nub = iokit.publish(Nub())
    (holder,) = nub.getClients()
    assert nub.isOpen(holder)
    with iokit.scheduler.entered():
        nub.terminate()
    iokit.run()
    assert "message 0xe0000100" in JOURNAL  # kIOMessageServiceIsRequestingClose
    assert "stop Holder" not in JOURNAL
    with iokit.scheduler.entered():
        nub.close(holder)
    iokit.run()
    assert "stop Holder" in JOURNAL
    assert iokit.counts()["Holder"] == 0


def test_rematch_on_detach_registers_the_provider_again(iokit: IOKit) -> None:
    """kIOServiceTerminateWithRematch: when the driver detaches, its provider is matched
    again and gets a new driver."""
    iokit.register(Level1)
    iokit.add({"IOClass": "Level1", "IOProviderClass": "Nub"})
    nub = iokit.publish(Nub())
    (driver,) = nub.getClients()
    with iokit.scheduler.entered():
        driver.terminate(kIOServiceTerminateWithRematch)
    iokit.run()
    (replacement,) = nub.getClients()
    assert replacement is not driver
    assert JOURNAL.count("start Level1") == 2


# -- open and close (§3.5) -----------------------------------------------------------------------


def test_open_has_one_exclusive_owner_and_seize_asks_it_to_close(iokit: IOKit) -> None:
    nub = iokit.publish(Nub())
    with iokit.scheduler.entered():
        owner = Holder()
        owner.closes_on_request = True
        other = Tracked()
        owner.attach(nub)
        other.attach(nub)
        assert nub.open(owner)
        assert nub.isOpen(owner)
        assert nub.isOpen()
        assert not nub.open(other)
        assert nub.open(other, kIOServiceSeize)
        assert nub.isOpen(other)
        assert not nub.isOpen(owner)
        nub.close(other)
        assert not nub.isOpen()
        owner.detach(nub)
        other.detach(nub)
        owner.release()
        other.release()


def test_open_fails_on_an_inactive_service(iokit: IOKit) -> None:
    nub = iokit.publish(Nub())
    with iokit.scheduler.entered():
        nub.retain()
        nub.terminate(kIOServiceSynchronous)
        client = Tracked()
        assert not nub.open(client)
        client.release()
        nub.release()


def test_terminating_a_nub_whose_match_job_is_still_queued(iokit: IOKit) -> None:
    """Phase 2 does not wait for a queued job (only ``kIOServiceConfigState`` holds
    it), so detach drops the nub's busy counts and the job's own -1 then finds
    none: xnu logs ``bad busy count`` and carries on, and so does kextlab."""
    iokit.register(Nub)
    with iokit.scheduler.entered():
        nub = Nub()
        nub.init()
        iokit.publish(nub, run=False)
        assert iokit.globals.config.pending == 1
        assert iokit.board.getBusyState() == 1
        nub.terminate(kIOServiceSynchronous)
        assert iokit.globals.config.pending == 1  # the job is still queued
        assert iokit.board.getBusyState() == 0
    iokit.run()
    assert iokit.log == ["Nub: bad busy count (0,-1)"]
    assert iokit.board.getBusyState() == 0
    assert iokit.counts().get("Nub", 0) == 0


def test_an_asynchronous_terminate_waits_for_the_queued_match_job(iokit: IOKit) -> None:
    """On the terminate thread, phase 2 runs after the job: no miscount."""
    iokit.register(Nub)
    with iokit.scheduler.entered():
        nub = Nub()
        nub.init()
        iokit.publish(nub, run=False)
        nub.terminate()
    iokit.run()
    assert iokit.log == []
    assert iokit.board.getBusyState() == 0
    assert iokit.counts().get("Nub", 0) == 0
