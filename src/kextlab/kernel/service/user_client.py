"""IOUserClient: the kernel end of a user program's connection to a service.

Mirrors xnu's ``iokit/IOKit/IOUserClient.h`` and the parts of
``iokit/Kernel/IOUserClient.cpp`` a driver meets: ``initWithTask``, ``clientClose``
and ``clientDied``, ``externalMethod`` with its ``IOExternalMethodDispatch``
argument checking, ``clientHasPrivilege``, and ``IOService::newUserClient``'s
default rule (``IOService.cpp``): allocate the class named by the service's
``IOUserClientClass`` property, ``initWithTask``, ``attach``, ``start``.  What
xnu's MIG routines do around them (``is_io_service_open_extended``,
``is_io_connect_method``, ``is_io_service_close``) is ``open_user_client``,
``call_external_method`` and ``close_user_client`` here; ``kextlab.userland.iokitlib``
calls them on a kernel thread standing for the calling user thread.

A connection's life
-------------------
``IOServiceOpen`` -> ``open_user_client``: ``service.newUserClient(task, task,
type, None, handler)``; on success the client gets ``IOUserClientCreator``
(``"pid N, name"``, as ``ioreg`` shows it) and the connection holds the reference
``newUserClient`` returned.  ``IOServiceClose`` -> ``close_user_client``:
``clientClose()`` once (a second close is ignored, as xnu's ``closed`` flag
does), then the connection's reference is released.  A task that ends with the
connection still open makes the kernel call ``clientDied()`` instead, whose
default is ``clientClose()``.  ``IOUserClient::clientClose`` itself returns
``kIOReturnUnsupported``: a subclass that wants to go away when its client does
says so, usually with ``terminate()``, exactly as on a Mac.

Arguments
---------
``IOExternalMethodArguments`` carries Python values where xnu has pointers:
``scalarInput`` a tuple of unsigned 64-bit ints, ``structureInput`` bytes (the
inband structure, up to 4096 bytes), ``structureInputDescriptor`` an
``IOMemoryDescriptor`` over the caller's memory for a larger one (xnu's
out-of-line input); ``scalarOutput`` a list the method fills in
(``scalarOutputCount`` says how many the caller takes), ``structureOutput`` a
``bytearray`` of ``structureOutputSize`` bytes the method writes into and whose
used size it stores back in ``structureOutputSize``, and
``structureOutputDescriptor`` (with ``structureOutputDescriptorSize``) for a large
output.  ``externalMethod(selector, arguments, dispatch, target, reference)``
checks the four counts of ``dispatch`` against them (``kIOUCVariableStructureSize``
means "any"), returns ``kIOReturnBadArgument`` on a mismatch, and calls
``dispatch.function(target, reference, arguments)``.  Without a dispatch xnu falls
back to the pre-Leopard ``getTargetAndMethodForIndex`` tables; kextlab has no such
tables, so that path is ``kIOReturnUnsupported`` (what xnu returns when the table
has no entry).

Privilege: a task carries a security token (``security_token_t``: uid, gid), and
``clientHasPrivilege(task, kIOClientPrivilegeAdministrator)`` is
``kIOReturnSuccess`` for uid 0 and ``kIOReturnNotPrivileged`` otherwise.  Every
kextlab user task sits at the console, so ``kIOClientPrivilegeLocalUser`` and
``kIOClientPrivilegeForeground`` always hold.

Not here: shared memory (``clientMemoryForType`` / ``IOConnectMapMemory``),
asynchronous methods and notification ports.

Threading rules: ``newUserClient``, ``externalMethod``, ``clientClose`` and
``clientDied`` run on a kernel thread standing for the calling user thread (never
in interrupt context); they may block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnError,
    kIOReturnNoCompletion,
    kIOReturnNoMemory,
    kIOReturnNotPrivileged,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSString
from kextlab.kernel.memory.task import Task, kernel_task
from kextlab.kernel.service.globals import current_globals
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

# -- IOUserClient.h -------------------------------------------------------------------------------
kIOUCTypeMask: Final = 0x0000_000F
kIOUCScalarIScalarO: Final = 0
kIOUCScalarIStructO: Final = 2
kIOUCStructIStructO: Final = 3
kIOUCScalarIStructI: Final = 4
kIOUCForegroundOnly: Final = 0x0000_0010
#: A dispatch count that accepts any size.
kIOUCVariableStructureSize: Final = 0xFFFF_FFFF
kIOExternalMethodScalarInputCountMax: Final = 16
kIOExternalMethodScalarOutputCountMax: Final = 16
kIOExternalMethodArgumentsCurrentVersion: Final = 2

#: ``clientHasPrivilege`` names.
kIOClientPrivilegeAdministrator: Final = "root"
kIOClientPrivilegeLocalUser: Final = "local"
kIOClientPrivilegeForeground: Final = "foreground"

# -- IOKitKeys.h ----------------------------------------------------------------------------------
kIOUserClientClassKey: Final = "IOUserClientClass"
kIOUserClientCreatorKey: Final = "IOUserClientCreator"

#: The largest structure MIG carries inband (``io_struct_inband_t``); larger ones
#: travel out of line, as memory descriptors over the caller's memory.
IO_STRUCT_INBAND_MAX: Final = 4096
_UINT64_MASK: Final = (1 << 64) - 1


# -- tasks as the kernel sees them ----------------------------------------------------------------


@dataclass(frozen=True)
class security_token_t:
    """A task's security token (``TASK_SECURITY_TOKEN``): ``val[0]`` the effective
    uid, ``val[1]`` the effective gid."""

    val: tuple[int, int]


#: ``KERNEL_SECURITY_TOKEN``: the kernel's own task is root.
KERNEL_SECURITY_TOKEN: Final = security_token_t((0, 1))


@runtime_checkable
class UserTaskLike(Protocol):
    """What the kernel reads of a user task (``kextlab.userland.user_task.UserTask``):
    its process id and name, and its security token."""

    @property
    def pid(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def security_token(self) -> security_token_t: ...


def task_security_token(task: object) -> security_token_t | None:
    """``task_info(task, TASK_SECURITY_TOKEN)``; None for something that is no task."""
    if task is kernel_task:
        return KERNEL_SECURITY_TOKEN
    if isinstance(task, UserTaskLike):
        return task.security_token
    return None


# -- method arguments -----------------------------------------------------------------------------


@dataclass
class IOExternalMethodArguments:
    """One external method call's arguments (see the module docstring)."""

    selector: int
    scalarInput: tuple[int, ...] = ()
    structureInput: bytes = b""
    structureInputDescriptor: IOMemoryDescriptor | None = None
    scalarOutput: list[int] = field(default_factory=list)
    scalarOutputCount: int = 0
    structureOutput: bytearray = field(default_factory=bytearray)
    structureOutputSize: int = 0
    structureOutputDescriptor: IOMemoryDescriptor | None = None
    structureOutputDescriptorSize: int = 0
    version: int = kIOExternalMethodArgumentsCurrentVersion
    asyncWakePort: object = None
    asyncReference: tuple[int, ...] = ()

    @property
    def scalarInputCount(self) -> int:
        return len(self.scalarInput)

    @property
    def structureInputSize(self) -> int:
        return len(self.structureInput)


#: ``IOExternalMethodAction``: ``function(target, reference, arguments) -> IOReturn``.
IOExternalMethodAction = Callable[[OSObject | None, object, IOExternalMethodArguments], int]


@dataclass(frozen=True)
class IOExternalMethodDispatch:
    """One selector's entry: the function and the counts the call must carry."""

    function: IOExternalMethodAction | None
    checkScalarInputCount: int
    checkStructureInputSize: int
    checkScalarOutputCount: int
    checkStructureOutputSize: int


@dataclass
class IOUserClientRef:
    """The ``IOUserClient **handler`` of ``newUserClient``."""

    value: IOUserClient | None = None


def _count_mismatch(expected: int, actual: int) -> bool:
    return expected != kIOUCVariableStructureSize and expected != actual


# -- the class ------------------------------------------------------------------------------------


class IOUserClient(IOService):
    """The kernel object behind an ``io_connect_t``."""

    def __init__(self) -> None:
        super().__init__()
        self._owning_task: Task | None = None
        self._security_token: object = None
        self._type = 0
        #: xnu's ``closed``: ``clientClose`` (or ``clientDied``) has been called.
        self.closed = False

    def initWithTask(
        self,
        owningTask: Task,
        securityToken: object,
        type: int,
        properties: OSDictionary | None = None,
    ) -> bool:
        """Initialise for a connection from ``owningTask`` (``type`` is the connection
        type ``IOServiceOpen`` passed); a subclass refuses a type or a task here."""
        if not self.init(properties):
            return False
        self._owning_task = owningTask
        self._security_token = securityToken
        self._type = type
        return True

    def owning_task(self) -> Task | None:
        """The task ``initWithTask`` was given."""
        return self._owning_task

    # -- closing ----------------------------------------------------------------------------------

    def clientClose(self) -> int:
        """The user program closed the connection (``IOServiceClose``)."""
        return kIOReturnUnsupported

    def clientDied(self) -> int:
        """The owning task ended with the connection open: close it once."""
        if self.closed:
            return kIOReturnUnsupported
        self.closed = True
        return self.clientClose()

    def getService(self) -> IOService | None:
        """The service this connection is to, if the subclass says (``IOConnectGetService``)."""
        return None

    # -- methods ----------------------------------------------------------------------------------

    def externalMethod(
        self,
        selector: int,
        arguments: IOExternalMethodArguments,
        dispatch: IOExternalMethodDispatch | None = None,
        target: OSObject | None = None,
        reference: object = None,
    ) -> int:
        """Check ``arguments`` against ``dispatch`` and run its function.  A subclass
        overrides this, picks the dispatch for ``selector`` from its table and calls
        ``super().externalMethod(selector, arguments, dispatch, self, reference)``."""
        if dispatch is None:
            return kIOReturnUnsupported
        if _count_mismatch(dispatch.checkScalarInputCount, arguments.scalarInputCount):
            return kIOReturnBadArgument
        input_descriptor = arguments.structureInputDescriptor
        input_size = (
            input_descriptor.getLength()
            if input_descriptor is not None
            else arguments.structureInputSize
        )
        if _count_mismatch(dispatch.checkStructureInputSize, input_size):
            return kIOReturnBadArgument
        if _count_mismatch(dispatch.checkScalarOutputCount, arguments.scalarOutputCount):
            return kIOReturnBadArgument
        output_descriptor = arguments.structureOutputDescriptor
        output_size = (
            output_descriptor.getLength()
            if output_descriptor is not None
            else arguments.structureOutputSize
        )
        if _count_mismatch(dispatch.checkStructureOutputSize, output_size):
            return kIOReturnBadArgument
        if dispatch.function is None:
            return kIOReturnNoCompletion  # "implementer can dispatch"
        return dispatch.function(target, reference, arguments)

    # -- privilege --------------------------------------------------------------------------------

    @staticmethod
    def clientHasPrivilege(securityToken: object, privilegeName: str) -> int:
        """Whether the task ``securityToken`` (what ``initWithTask`` received) holds
        ``privilegeName``: ``kIOReturnSuccess`` or ``kIOReturnNotPrivileged``;
        ``kIOReturnUnsupported`` for a name kextlab does not know."""
        if privilegeName == kIOClientPrivilegeForeground:
            return kIOReturnSuccess
        token = task_security_token(securityToken)
        if token is None:
            return kIOReturnNotPrivileged
        if privilegeName == kIOClientPrivilegeAdministrator:
            return kIOReturnSuccess if token.val[0] == 0 else kIOReturnNotPrivileged
        if privilegeName == kIOClientPrivilegeLocalUser:
            return kIOReturnSuccess  # every kextlab user task is a console user
        return kIOReturnUnsupported

    def free(self) -> None:
        self._owning_task = None
        self._security_token = None
        super().free()


# -- IOService::newUserClient ---------------------------------------------------------------------


def new_user_client(
    service: IOService,
    owningTask: Task,
    securityID: object,
    type: int,
    properties: OSDictionary | None,
    handler: IOUserClientRef,
) -> int:
    """xnu's default ``IOService::newUserClient``: the class the service's
    ``IOUserClientClass`` property names, initialised for the task, attached to the
    service and started.  ``kIOReturnUnsupported`` without the property (or when the
    class is no user client, or attach or start fails), ``kIOReturnNoMemory`` when
    no class has that name, ``kIOReturnBadArgument`` when ``initWithTask`` refuses."""
    value = service.getProperty(kIOUserClientClassKey)
    if not isinstance(value, OSString):
        return kIOReturnUnsupported
    instance = current_globals().classes.allocClassWithName(value.getCStringNoCopy())
    if instance is None:
        return kIOReturnNoMemory
    if not isinstance(instance, IOUserClient):
        instance.release()
        return kIOReturnUnsupported
    client = instance
    if not client.initWithTask(owningTask, securityID, type, properties):
        client.release()
        return kIOReturnBadArgument
    if not client.attach(service):
        client.release()
        return kIOReturnUnsupported
    if not client.start(service):
        client.detach(service)
        client.release()
        return kIOReturnUnsupported
    handler.value = client
    return kIOReturnSuccess


# -- what the MIG routines do ---------------------------------------------------------------------


def open_user_client(
    service: IOService, owningTask: Task, type: int
) -> tuple[int, IOUserClient | None]:
    """``is_io_service_open_extended``: a started user client for ``owningTask``, or
    the ``IOReturn`` that says why not.  The caller owns the returned reference."""
    handler = IOUserClientRef()
    result = service.newUserClient(owningTask, owningTask, type, None, handler)
    client = handler.value
    if result != kIOReturnSuccess:
        return result, None
    if not isinstance(client, IOUserClient):
        return kIOReturnError, None
    if isinstance(owningTask, UserTaskLike):
        client.setProperty(kIOUserClientCreatorKey, f"pid {owningTask.pid}, {owningTask.name}")
    return kIOReturnSuccess, client


def close_user_client(client: IOUserClient, *, died: bool = False) -> int:
    """``is_io_service_close`` (or, with ``died``, the task's death): close once,
    then drop the connection's reference."""
    try:
        if died:
            return client.clientDied()
        if client.closed:
            return kIOReturnSuccess  # xnu logs "ignored is_io_service_close" and succeeds
        client.closed = True
        client.clientClose()
        return kIOReturnSuccess
    finally:
        client.release()


def check_scalars(values: Sequence[int], limit: int) -> tuple[int, ...] | None:
    """Scalars as the kernel receives them (``uint64_t``, at most ``limit`` of them),
    or None when there are too many."""
    if len(values) > limit:
        return None
    return tuple(int(value) & _UINT64_MASK for value in values)


def call_external_method(client: IOUserClient, arguments: IOExternalMethodArguments) -> int:
    """``is_io_connect_method``: run ``externalMethod``; keep the output sizes sane."""
    result = client.externalMethod(arguments.selector, arguments)
    capacity = len(arguments.structureOutput)
    if not 0 <= arguments.structureOutputSize <= capacity:
        arguments.structureOutputSize = 0
        return kIOReturnBadArgument
    if not 0 <= arguments.scalarOutputCount <= len(arguments.scalarOutput):
        arguments.scalarOutputCount = 0
        return kIOReturnBadArgument
    return result
