"""IOService state bits, busy count and busy time (virtual nanoseconds), providers."""

from __future__ import annotations

import pytest

from kextlab.kernel.libkern.convert import to_user
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry
from kextlab.kernel.libkern.serialize import OSSerialize
from kextlab.kernel.registry import IORegistry, IORegistryEntry
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service import (
    IOService,
    kIOServiceFirstMatchState,
    kIOServiceFirstPublishState,
    kIOServiceInactiveState,
    kIOServiceMatchedState,
    kIOServiceRegisteredState,
)
from kextlab.kernel.service.service import kIOServiceBusyStateMask
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.time import MILLISECOND


def test_state_bits_have_xnus_values() -> None:
    """IOServicePrivate.h."""
    assert [
        kIOServiceInactiveState,
        kIOServiceRegisteredState,
        kIOServiceMatchedState,
        kIOServiceFirstPublishState,
        kIOServiceFirstMatchState,
    ] == [0x1, 0x2, 0x4, 0x8, 0x10]


def test_state_bits_are_set_and_cleared() -> None:
    service = IOService()
    assert service.getState() == 0
    service.set_state_bits(kIOServiceRegisteredState | kIOServiceMatchedState)
    assert service.getState() == 0x6
    assert not service.isInactive()
    service.set_state_bits(kIOServiceInactiveState, clear=kIOServiceMatchedState)
    assert service.getState() == kIOServiceRegisteredState | kIOServiceInactiveState
    assert service.isInactive()


def test_busy_time_accumulates_in_virtual_time() -> None:
    """Time counts from 0 to busy and back to 0; nested busy counts add no time."""
    scheduler = Scheduler()
    service = IOService()
    with scheduler.entered():
        scheduler.after(5 * MILLISECOND, lambda: service.adjustBusy(1), "busy")
        scheduler.after(6 * MILLISECOND, lambda: service.adjustBusy(2), "busier")
        scheduler.after(8 * MILLISECOND, lambda: service.adjustBusy(-2), "less busy")
        scheduler.after(12 * MILLISECOND, lambda: service.adjustBusy(-1), "quiet")
        scheduler.run(until=10 * MILLISECOND)
        assert service.getBusyState() == 1
        assert service.busy_time() == 5 * MILLISECOND  # an open period counts so far
        scheduler.run()
        assert service.getBusyState() == 0
        assert service.busy_time() == 7 * MILLISECOND
        scheduler.after(100 * MILLISECOND, lambda: service.adjustBusy(1), "again")
        scheduler.after(101 * MILLISECOND, lambda: service.adjustBusy(-1), "done")
        scheduler.run()
        assert service.busy_time() == 8 * MILLISECOND


def test_the_busy_count_cannot_go_negative_or_past_its_mask() -> None:
    service = IOService()
    service.adjustBusy(-1)
    assert service.getBusyState() == 0
    service.adjustBusy(kIOServiceBusyStateMask)
    service.adjustBusy(1)
    assert service.getBusyState() == kIOServiceBusyStateMask


def test_providers_and_clients_are_service_plane_links() -> None:
    scheduler = Scheduler()
    classes = ClassRegistry()
    scheduler.extensions[KERNEL_EXTENSION] = classes
    with scheduler.entered():
        registry = IORegistry(classes)
        plane = registry.plane(kIOServicePlane)
        provider, first, second = IOService(), IOService(), IOService()
        provider.attachToParent(registry.getRoot(), plane)
        assert first.attach(provider)
        assert second.attach(provider)
        assert first.getProvider() is provider
        assert provider.getClient() is first
        assert provider.getClients() == [first, second]
        assert first.getClients() == []
        first.detach(provider)
        assert first.getProvider() is None
        assert provider.getClients() == [second]
        plain = IORegistryEntry()
        plain.attachToParent(provider, plane)
        assert provider.getClients() == [second]  # only services are clients
        assert IOService().getProvider() is None
        assert IOService().getClient() is None
        assert IOService().getClients() == []
        with pytest.raises(ValueError, match="is not in a registry"):
            IOService().attach(IOService())


def test_a_service_in_a_property_is_not_serializable() -> None:
    holder = IORegistryEntry()
    holder.setProperty("provider", IOService())
    assert to_user(holder.getPropertyTable()) == {"provider": "IOService is not serializable"}
    assert OSSerialize.withObject(holder.getPropertyTable()) == (
        '<dict ID="0"><key>provider</key>'
        '<string ID="1">IOService is not serializable</string></dict>'
    )
