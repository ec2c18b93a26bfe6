"""Fixtures of the user-space tests: a booted default machine and a service that
names a test user client.

``KextLabTestUserClient`` is a small user client written the way a driver writer
would: a dispatch table (an adder, an echo of variable-size structures, a
fixed-size structure, an administrator-only method, a method that records the task
it ran for), ``clientClose`` that terminates it, and a refusal of connection type 7
in ``initWithTask``.  Its classes are registered as a kext of their own, so the
leak check counts their instances.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from kextlab.kernel.ioreturn import kIOReturnNoDevice, kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.memory.task import Task
from kextlab.kernel.service.service import IOService
from kextlab.kernel.service.user_client import (
    IOExternalMethodArguments,
    IOExternalMethodDispatch,
    IOUserClient,
    kIOClientPrivilegeAdministrator,
    kIOUCVariableStructureSize,
)
from kextlab.testing.kernel import booted_kernel
from kextlab.userland import iokitlib as io

TEST_KEXT = "com.kextlab.test.UserClient"
REFUSED_TYPE = 7


class KextLabTestUserClient(IOUserClient):
    """A user client with one method of each kind."""

    def initWithTask(
        self, owningTask: Task, securityToken: object, type: int, properties: object = None
    ) -> bool:
        if type == REFUSED_TYPE:
            return False
        self.tasks_seen: list[object] = []
        return super().initWithTask(owningTask, securityToken, type)

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.provider = provider
        return True

    def clientClose(self) -> int:
        self.terminate()
        return kIOReturnSuccess

    # -- the methods ------------------------------------------------------------------------------

    @staticmethod
    def sAdd(
        target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
    ) -> int:
        assert isinstance(target, KextLabTestUserClient)
        arguments.scalarOutput[0] = (arguments.scalarInput[0] + arguments.scalarInput[1]) & (
            (1 << 64) - 1
        )
        return kIOReturnSuccess

    @staticmethod
    def sEcho(
        target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
    ) -> int:
        """Echo the input structure reversed, inband or out of line."""
        if arguments.structureInputDescriptor is not None:
            descriptor = arguments.structureInputDescriptor
            data = bytearray(descriptor.getLength())
            descriptor.prepare()
            descriptor.readBytes(0, data, len(data))
            descriptor.complete()
        else:
            data = bytearray(arguments.structureInput)
        data.reverse()
        output = arguments.structureOutputDescriptor
        if output is not None:
            output.prepare()
            count = output.writeBytes(0, data, min(len(data), output.getLength()))
            output.complete()
            arguments.structureOutputDescriptorSize = count
        else:
            count = min(len(data), arguments.structureOutputSize)
            arguments.structureOutput[:count] = data[:count]
            arguments.structureOutputSize = count
        return kIOReturnSuccess

    @staticmethod
    def sSum16(
        target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
    ) -> int:
        return kIOReturnSuccess if sum(arguments.structureInput) >= 0 else kIOReturnNoDevice

    @staticmethod
    def sAdminOnly(
        target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
    ) -> int:
        assert isinstance(target, KextLabTestUserClient)
        return IOUserClient.clientHasPrivilege(
            target.owning_task(), kIOClientPrivilegeAdministrator
        )

    @staticmethod
    def sWhoAmI(
        target: OSObject | None, reference: object, arguments: IOExternalMethodArguments
    ) -> int:
        assert isinstance(target, KextLabTestUserClient)
        task = target.owning_task()
        arguments.scalarOutput[0] = getattr(task, "pid", 0)
        return kIOReturnSuccess

    DISPATCH: ClassVar[dict[int, IOExternalMethodDispatch]] = {
        0: IOExternalMethodDispatch(sAdd, 2, 0, 1, 0),
        1: IOExternalMethodDispatch(
            sEcho, 0, kIOUCVariableStructureSize, 0, kIOUCVariableStructureSize
        ),
        2: IOExternalMethodDispatch(sSum16, 0, 16, 0, 0),
        3: IOExternalMethodDispatch(sAdminOnly, 0, 0, 0, 0),
        4: IOExternalMethodDispatch(sWhoAmI, 0, 0, 1, 0),
        5: IOExternalMethodDispatch(None, 0, 0, 0, 0),
    }

    def externalMethod(
        self,
        selector: int,
        arguments: IOExternalMethodArguments,
        dispatch: IOExternalMethodDispatch | None = None,
        target: OSObject | None = None,
        reference: object = None,
    ) -> int:
        entry = self.DISPATCH.get(selector)
        if entry is not None:
            dispatch, target = entry, self
        return super().externalMethod(selector, arguments, dispatch, target, reference)


class KextLabTestUserClientService(IOService):
    """A service whose ``IOUserClientClass`` is the test user client."""


def add_service(kernel: Kernel, user_client_class: str | None) -> io.io_service_t:
    """A new service under ``IOResources`` (naming ``user_client_class``), as a handle."""
    with kernel.entered():
        service = KextLabTestUserClientService()
        service.init()
        if user_client_class is not None:
            service.setProperty("IOUserClientClass", user_client_class)
        assert service.attach(kernel.resources)
        service.release()  # the registry holds it now
    port = io.IOMainPort(kernel.registry, kernel)
    matching = {"IOProviderClass": "KextLabTestUserClientService"}
    _, iterator = io.IOServiceGetMatchingServices(port, matching)
    handle = None
    while (candidate := iterator.next()) is not None:
        handle = candidate
    assert handle is not None
    return handle


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """The default machine, booted and quiet, with the test user client's classes."""
    # The RAM disk alone: the default machine's HBA gets no driver, so its disks are not here.
    with booted_kernel(extensions=()) as booted:
        with booted.entered():
            booted.classes.register(KextLabTestUserClient, kext=TEST_KEXT)
            booted.classes.register(KextLabTestUserClientService, kext=TEST_KEXT)
        yield booted
