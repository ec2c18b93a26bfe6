"""getProvider and getClient read the service plane's links directly: they must
follow every attach, detach and replacement the registry makes."""

from __future__ import annotations

from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.service.service import IOService
from tests.kernel.service.conftest import IOKit, Nub


def test_a_service_outside_the_registry_has_no_provider_or_client() -> None:
    """A new service is linked to nothing."""
    service = IOService()
    assert service.getProvider() is None
    assert service.getClient() is None
    service.release()


def test_provider_and_client_follow_attach_and_detach(iokit: IOKit) -> None:
    """The first provider and the first client, in attach order; a detach moves on to
    the next, and the last detach leaves none."""
    first, second, client = Nub(), Nub(), IOService()
    assert first.attach(iokit.board)
    assert second.attach(iokit.board)
    assert client.attach(first)
    assert client.attach(second)
    assert client.getProvider() is first
    assert first.getClient() is client
    assert second.getClient() is client
    client.detach(first)
    assert client.getProvider() is second
    assert first.getClient() is None
    client.detach(second)
    assert client.getProvider() is None
    for service in (client, first, second):
        service.release()
    first.detach(iokit.board)
    second.detach(iokit.board)


def test_links_in_other_planes_are_not_providers(iokit: IOKit) -> None:
    """A parent in the device-tree plane is not a provider, nor is a parent that is
    not a service."""
    entry, service = IORegistryEntry(), IOService()
    root = iokit.registry.getRoot()
    service.attachToParent(root, iokit.registry.plane(kIODeviceTreePlane))
    assert service.getProvider() is None
    entry.attachToParent(root, iokit.registry.plane(kIOServicePlane))
    service.attachToParent(entry, iokit.registry.plane(kIOServicePlane))
    assert service.getProvider() is None
    assert entry.getChildEntry(iokit.registry.plane(kIOServicePlane)) is service
    service.detachAbove(iokit.registry.plane(kIOServicePlane))
    service.detachAbove(iokit.registry.plane(kIODeviceTreePlane))
    entry.detachAbove(iokit.registry.plane(kIOServicePlane))
    entry.release()
    service.release()


def test_a_replacing_entry_takes_over_provider_and_clients(iokit: IOKit) -> None:
    """``init(old, plane)``: the old entry's client now has the new one as provider,
    and the new one has the old one's provider."""
    plane = iokit.registry.plane(kIOServicePlane)
    old, new, client = Nub(), Nub(), IOService()
    assert old.attach(iokit.board)
    assert client.attach(old)
    assert new.init(old, plane)
    assert client.getProvider() is new
    assert new.getProvider() is iokit.board
    assert new.getClient() is client
    assert old.getProvider() is None
    assert old.getClient() is None
    client.detach(new)
    new.detach(iokit.board)
    for service in (client, old, new):
        service.release()
