"""IOKitLib for Python: what user programs and tools see of a kernel.

Apple's names, PyObjC's conventions: a C function with out-parameters returns a
tuple ``(kern_return, value…)``; one that returns an object returns it or ``None``
(``IO_OBJECT_NULL``).  Everything crossing the boundary is a copy: properties arrive
as plain Python values (``to_user``), so a user program can never change a kernel
object, and registry entries arrive as opaque ``io_object_t`` handles.

A "main port" names the registry a program talks to.  ``IOMainPort(registry)`` makes
one for a live kernel's registry or for one restored from a dump
(``IOMainPortFromSnapshot``); tools take the port as their first argument instead of
reading a process-wide ``kIOMainPortDefault``, so two machines in one process never
mix.

Connections (``IOServiceOpen``, ``IOConnectCallMethod`` and its scalar and
structure forms, ``IOServiceClose``) belong to a user task (``mach_task_self()``,
``kextlab.userland.user_task``): each call is a system call of that task, run on a
kernel thread standing for the calling thread, and the kernel side is
``kextlab.kernel.service.user_client``.

This module is the only door from user space into the kernel (ARCHITECTURE.md §7);
the task's system calls (``UserTask.syscall``) are the gate it goes through, which
the device nodes (``userland.devices``) use too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from kextlab.kernel.ioreturn import (
    KERN_SUCCESS,
    kIOReturnBadArgument,
    kIOReturnNoDevice,
    kIOReturnNotAttached,
    kIOReturnNotFound,
    kIOReturnSuccess,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.kext.manager import (
    kOSKextReturnBadData,
    kOSKextReturnDependencies,
    kOSKextReturnInUse,
    kOSKextReturnLinkError,
    kOSKextReturnNotFound,
    kOSReturnSuccess,
)
from kextlab.kernel.libkern.convert import PrintedValue, UserSet, UserValue, to_user
from kextlab.kernel.libkern.values import OSData, OSString
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.registry.snapshot import (
    IORegistrySnapshotEntry,
    ServiceState,
    SnapshotNode,
    build_snapshot,
)
from kextlab.kernel.service.service import (
    IOService,
    kIOServiceInactiveState,
    kIOServiceMatchedState,
    kIOServiceRegisteredState,
)
from kextlab.kernel.service.user_client import (
    IO_STRUCT_INBAND_MAX,
    IOExternalMethodArguments,
    IOUserClient,
    call_external_method,
    check_scalars,
    close_user_client,
    kIOExternalMethodScalarInputCountMax,
    kIOExternalMethodScalarOutputCountMax,
    open_user_client,
)
from kextlab.userland.user_task import UserBuffer, UserTask, UserTaskError, current_task

__all__ = [
    "KERN_SUCCESS",
    "IOMainPort",
    "IOMainPortFromSnapshot",
    "PrintedValue",
    "ServiceState",
    "SnapshotNode",
    "UserSet",
    "io_object_t",
    "kIODeviceTreePlane",
    "kIORegistryIterateParents",
    "kIORegistryIterateRecursively",
    "kIOReturnBadArgument",
    "kIOReturnNotFound",
    "kIOReturnSuccess",
    "kIOServicePlane",
    "mach_port_t",
]

kIORegistryIterateRecursively: Final = 0x0000_0001
kIORegistryIterateParents: Final = 0x0000_0002
kIOUserClassesKey: Final = "IOUserClasses"


@dataclass(frozen=True)
class mach_port_t:
    """A connection to one kernel: its I/O Registry, and for a live kernel the
    kernel itself (kext management runs there)."""

    registry: IORegistry
    kernel: Kernel | None = None


class io_object_t:
    """An opaque handle on a registry entry (or an iterator)."""

    __slots__ = ("_entry", "_port")

    def __init__(self, port: mach_port_t, entry: IORegistryEntry) -> None:
        self._port = port
        self._entry = entry

    def __eq__(self, other: object) -> bool:
        return isinstance(other, io_object_t) and other._entry is self._entry

    def __hash__(self) -> int:
        return hash(id(self._entry))

    def __repr__(self) -> str:
        return f"<io_object_t {self._entry.getRegistryEntryID():#x}>"


io_registry_entry_t = io_object_t
io_service_t = io_object_t


class io_iterator_t:
    """An iterator over handles (``IOIteratorNext``)."""

    __slots__ = ("_items", "_position")

    def __init__(self, items: list[io_object_t]) -> None:
        self._items = items
        self._position = 0

    def next(self) -> io_object_t | None:
        if self._position >= len(self._items):
            return None
        item = self._items[self._position]
        self._position += 1
        return item

    def reset(self) -> None:
        self._position = 0


def IOMainPort(registry: IORegistry, kernel: Kernel | None = None) -> mach_port_t:
    """The main port of a kernel's registry (the kernel is the registry's owner)."""
    return mach_port_t(registry, kernel)


def IOMainPortFromSnapshot(root: SnapshotNode, plane: str = kIOServicePlane) -> mach_port_t:
    """A main port onto a registry rebuilt from a dump (see ``registry.snapshot``)."""
    return mach_port_t(build_snapshot(root, plane))


def _handle(port: mach_port_t, entry: IORegistryEntry | None) -> io_object_t | None:
    return io_object_t(port, entry) if entry is not None else None


def _entry(handle: io_object_t) -> IORegistryEntry:
    return handle._entry  # the one place handles are opened


def IOObjectRelease(handle: io_object_t | io_iterator_t | None) -> int:
    return KERN_SUCCESS


def IOIteratorNext(iterator: io_iterator_t) -> io_object_t | None:
    return iterator.next()


def IOIteratorReset(iterator: io_iterator_t) -> None:
    iterator.reset()


# -- the registry ---------------------------------------------------------------------------------


def IORegistryGetRootEntry(port: mach_port_t) -> io_registry_entry_t:
    return io_object_t(port, port.registry.getRoot())


def IORegistryEntryFromPath(port: mach_port_t, path: str) -> io_registry_entry_t | None:
    return _handle(port, port.registry.fromPath(path))


def IORegistryEntryGetChildIterator(
    entry: io_registry_entry_t, plane: str
) -> tuple[int, io_iterator_t | None]:
    registry = entry._port.registry
    registry_plane = registry.getPlane(plane)
    if registry_plane is None:
        return kIOReturnBadArgument, None
    children = _entry(entry).getChildren(registry_plane)
    return KERN_SUCCESS, io_iterator_t([io_object_t(entry._port, child) for child in children])


def IORegistryEntryGetParentEntry(
    entry: io_registry_entry_t, plane: str
) -> tuple[int, io_registry_entry_t | None]:
    registry_plane = entry._port.registry.getPlane(plane)
    if registry_plane is None:
        return kIOReturnBadArgument, None
    parent = _entry(entry).getParentEntry(registry_plane)
    if parent is None:
        return kIOReturnNoDevice, None
    return KERN_SUCCESS, io_object_t(entry._port, parent)


def IORegistryEntryGetNameInPlane(entry: io_registry_entry_t, plane: str) -> tuple[int, str]:
    registry_plane = entry._port.registry.getPlane(plane)
    return KERN_SUCCESS, _entry(entry).getName(registry_plane)


def IORegistryEntryGetName(entry: io_registry_entry_t) -> tuple[int, str]:
    return KERN_SUCCESS, _entry(entry).getName()


def IORegistryEntryGetLocationInPlane(
    entry: io_registry_entry_t, plane: str
) -> tuple[int, str | None]:
    registry_plane = entry._port.registry.getPlane(plane)
    location = _entry(entry).getLocation(registry_plane)
    if location is None:
        return kIOReturnNotFound, None
    return KERN_SUCCESS, location


def IORegistryEntryGetPath(entry: io_registry_entry_t, plane: str) -> tuple[int, str | None]:
    registry_plane = entry._port.registry.getPlane(plane)
    if registry_plane is None:
        return kIOReturnBadArgument, None
    path = _entry(entry).getPath(registry_plane)
    if path is None:
        return kIOReturnNotAttached, None
    return KERN_SUCCESS, path


def IORegistryEntryGetRegistryEntryID(entry: io_registry_entry_t) -> tuple[int, int]:
    return KERN_SUCCESS, _entry(entry).getRegistryEntryID()


def IORegistryEntryInPlane(entry: io_registry_entry_t, plane: str) -> bool:
    registry_plane = entry._port.registry.getPlane(plane)
    return registry_plane is not None and _entry(entry).inPlane(registry_plane)


# -- properties ---------------------------------------------------------------------------------


def IORegistryEntryCreateCFProperties(
    entry: io_registry_entry_t,
) -> tuple[int, dict[str, UserValue]]:
    properties = to_user(_entry(entry).getPropertyTable())
    assert isinstance(properties, dict)
    return KERN_SUCCESS, properties


def IORegistryEntryCreateCFProperty(entry: io_registry_entry_t, key: str) -> UserValue | None:
    value = _entry(entry).getProperty(key)
    return to_user(value) if value is not None else None


def IORegistryEntrySearchCFProperty(
    entry: io_registry_entry_t, plane: str, key: str, options: int = 0
) -> UserValue | None:
    """The property ``key`` of ``entry``, else (with ``kIORegistryIterateRecursively``)
    of its parents (``kIORegistryIterateParents``) or children, nearest first."""
    found = IORegistryEntryCreateCFProperty(entry, key)
    if found is not None or not options & kIORegistryIterateRecursively:
        return found
    registry_plane = entry._port.registry.getPlane(plane)
    if registry_plane is None:
        return None
    start = _entry(entry)
    if options & kIORegistryIterateParents:
        current = start.getParentEntry(registry_plane)
        while current is not None:
            value = current.getProperty(key)
            if value is not None:
                return to_user(value)
            current = current.getParentEntry(registry_plane)
        return None
    for descendant in start.iterate(registry_plane, recursive=True):
        value = descendant.getProperty(key)
        if value is not None:
            return to_user(value)
    return None


# -- classes ------------------------------------------------------------------------------------


def class_chain(entry: IORegistryEntry) -> list[str]:
    """The entry's class and its superclasses, up to (not including) OSObject."""
    if isinstance(entry, IORegistrySnapshotEntry):
        return entry.class_chain()
    return list(reversed(type(entry).inheritance()))


def IOObjectGetClass(handle: io_object_t) -> tuple[int, str]:
    return KERN_SUCCESS, _entry(handle).getClassName()


def IOObjectCopySuperclassForClass(port: mach_port_t, class_name: str) -> str | None:
    """The superclass of ``class_name`` in the port's kernel (None past OSObject)."""
    meta = port.registry.classes.getMetaClassWithName(class_name)
    if meta is not None:
        superclass = meta.getSuperClass()
        return superclass.getClassName() if superclass is not None else None
    for entry in [port.registry.getRoot(), *_all_entries(port.registry)]:
        chain = class_chain(entry)
        if class_name in chain:
            index = chain.index(class_name)
            return chain[index + 1] if index + 1 < len(chain) else "OSObject"
    return None


def IOObjectConformsTo(handle: io_object_t, class_name: str) -> bool:
    return class_name in class_chain(_entry(handle)) or class_name == "OSObject"


def IOObjectGetKernelRetainCount(handle: io_object_t) -> int:
    return _entry(handle).getRetainCount()


def IOServiceGetBusyStateAndTime(
    service: io_service_t,
) -> tuple[int, int, int, int]:
    """(kern_return, state bits, busy count, accumulated busy time in ns)."""
    entry = _entry(service)
    if isinstance(entry, IORegistrySnapshotEntry):
        state = entry.service_state
        if state is None:
            return kIOReturnBadArgument, 0, 0, 0
        bits = (
            (kIOServiceRegisteredState if state.registered else 0)
            | (kIOServiceMatchedState if state.matched else 0)
            | (0 if state.active else kIOServiceInactiveState)
        )
        return KERN_SUCCESS, bits, state.busy, state.busy_time
    if not isinstance(entry, IOService):
        return kIOReturnBadArgument, 0, 0, 0
    return KERN_SUCCESS, entry.getState(), entry.getBusyState(), entry.busy_time()


# -- finding services ---------------------------------------------------------------------------


def _all_entries(registry: IORegistry) -> list[IORegistryEntry]:
    seen: dict[int, IORegistryEntry] = {}
    for plane in registry.planes():
        for entry in registry.getRoot().iterate(plane, recursive=True):
            seen.setdefault(entry.getRegistryEntryID(), entry)
    return list(seen.values())


def _property_matches(entry: IORegistryEntry, wanted: Mapping[str, object]) -> bool:
    """Every ``wanted`` property equals the entry's: data (already an ``OSData``, made
    once per lookup) by libkern's rules, other values as user space sees them."""
    for key, value in wanted.items():
        actual = entry.getProperty(key)
        if actual is None:
            return False
        if isinstance(value, OSData):
            if not (isinstance(actual, OSData | OSString) and actual.isEqualTo(value)):
                return False
        elif to_user(actual) != value:
            return False
    return True


def IOServiceGetMatchingServices(
    port: mach_port_t, matching: Mapping[str, object]
) -> tuple[int, io_iterator_t]:
    """Entries passing a matching dictionary of ``IOProviderClass`` (class conformance)
    and ``IOPropertyMatch`` (equal properties) keys.  Any other key matches nothing
    here: the kernel's full matching answers those once the catalogue exists."""
    supported = {"IOProviderClass", "IOPropertyMatch"}
    found: list[io_object_t] = []
    if not set(matching) <= supported:
        return KERN_SUCCESS, io_iterator_t(found)
    provider = matching.get("IOProviderClass")
    properties = matching.get("IOPropertyMatch")
    wanted = (
        {
            key: OSData(value) if isinstance(value, bytes) else value
            for key, value in properties.items()
        }
        if isinstance(properties, Mapping)
        else None
    )
    for entry in _all_entries(port.registry):
        if isinstance(provider, str) and provider not in class_chain(entry):
            continue
        if wanted is not None and not _property_matches(entry, wanted):
            continue
        found.append(io_object_t(port, entry))
    for value in (wanted or {}).values():
        if isinstance(value, OSData):
            value.release()
    return KERN_SUCCESS, io_iterator_t(found)


def IOServiceGetMatchingService(
    port: mach_port_t, matching: Mapping[str, object]
) -> io_service_t | None:
    _, iterator = IOServiceGetMatchingServices(port, matching)
    return iterator.next()


# -- kext management (IOKit.framework's KextManager API) ----------------------------------------

#: ``mach_error_string`` for the kext return codes tools print.
KEXT_RETURN_STRINGS: Final = {
    kOSKextReturnNotFound: "(libkern/kext) not found",
    kOSKextReturnBadData: "(libkern/kext) bad data",
    kOSKextReturnDependencies: "(libkern/kext) dependency resolution failure",
    kOSKextReturnLinkError: "(libkern/kext) link error",
    kOSKextReturnInUse: "(libkern/kext) kext is in use or retained (cannot unload)",
}


@dataclass(frozen=True)
class KextResult:
    """What a KextManager call returns: an ``OSReturn`` and the kernel's messages."""

    status: int
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == kOSReturnSuccess


def _live_kernel(port: mach_port_t) -> Kernel:
    if port.kernel is None:
        raise ValueError("kext management needs a live kernel, not a registry from a dump")
    return port.kernel


def KextManagerLoadKextWithURL(
    port: mach_port_t,
    kextURL: str,
    dependencyKextAndFolderURLs: tuple[str, ...] = (),
    *,
    start_matching: bool = True,
) -> KextResult:
    """Load the kext at ``kextURL`` (dependencies from the other bundles and folders
    given) and run the machine until matching is done."""
    from kextlab.kernel.kext.bundle import KextBundle
    from kextlab.kernel.kext.discovery import bundles_in
    from kextlab.kernel.kext.errors import (
        KextBundleError,
        KextDependencyError,
        KextError,
        KextVersionError,
    )

    kernel = _live_kernel(port)
    try:
        with kernel.entered():
            bundle = KextBundle.read(kextURL)
            candidates = [
                found for path in dependencyKextAndFolderURLs for found in bundles_in(path)
            ]
            kernel.kexts.load(bundle, candidates=candidates, start_matching=start_matching)
    except (KextBundleError, KextVersionError) as error:
        return KextResult(kOSKextReturnBadData, (str(error),))
    except KextDependencyError as error:
        return KextResult(kOSKextReturnDependencies, (str(error),))
    except KextError as error:
        return KextResult(kOSKextReturnLinkError, (str(error),))
    kernel.machine.run()
    return KextResult(kOSReturnSuccess)


def KextManagerUnloadKextWithIdentifier(port: mach_port_t, kextIdentifier: str) -> KextResult:
    """Terminate the kext's drivers, then unload it unless it is in use."""
    from kextlab.kernel.kext.errors import KextUnloadError

    kernel = _live_kernel(port)
    try:
        with kernel.entered():
            kernel.kexts.unload(kextIdentifier)
    except KextUnloadError as error:
        status = kOSKextReturnNotFound if "not found" in error.message else kOSKextReturnInUse
        return KextResult(status, (f"(kernel) {error.message}",))
    finally:
        kernel.machine.run()
    return KextResult(kOSReturnSuccess)


def KextManagerTerminateClasses(port: mach_port_t, classNames: tuple[str, ...]) -> KextResult:
    """``kextunload -c``: terminate instances of classes and remove their personalities."""
    kernel = _live_kernel(port)
    with kernel.entered():
        kernel.kexts.unload_classes(classNames)
    kernel.machine.run()
    return KextResult(kOSReturnSuccess)


def KextManagerCopyLoadedKextInfo(
    port: mach_port_t, kextIdentifiers: tuple[str, ...] | None = None
) -> dict[str, dict[str, object]]:
    """The loaded kexts by identifier, with OSKext's info keys (user-space copies)."""
    kernel = _live_kernel(port)
    manager = kernel.kexts
    info: dict[str, dict[str, object]] = {}
    for kext in manager.loaded():
        if kextIdentifiers is not None and kext.bundle_id not in kextIdentifiers:
            continue
        info[kext.bundle_id] = {
            "CFBundleIdentifier": kext.bundle_id,
            "CFBundleVersion": kext.version,
            "OSBundleLoadTag": kext.tag,
            "OSBundleRetainCount": manager.references(kext),
            "OSBundleLoadAddress": kext.address,
            "OSBundleLoadSize": kext.size,
            "OSBundleWiredSize": kext.size,
            "OSBundleDependencies": [linked.tag for linked in kext.links],
            "OSBundleClasses": list(kext.classes),
            "OSKernelResource": kext.builtin,
        }
    return info


# -- tasks and connections (IOServiceOpen, IOConnectCallMethod) ---------------------------------

#: ``MACH_SEND_INVALID_DEST``: a call on a connection that has been closed.
MACH_SEND_INVALID_DEST: Final = 0x1000_0003


def mach_task_self() -> UserTask:
    """The task whose code is running: on one of its user threads, or on the host
    inside ``with task:`` (``kextlab.userland.user_task``)."""
    task = current_task()
    if task is None:
        raise UserTaskError(
            "mach_task_self(): no user task is running here; create one with "
            "UserTask(kernel, name) and run inside 'with task:' or on its threads"
        )
    return task


class io_connect_t:
    """An opaque handle on a user client: a task's connection to a service."""

    __slots__ = ("_client", "_task", "closed")

    def __init__(self, task: UserTask, client: IOUserClient) -> None:
        self._task = task
        self._client = client
        self.closed = False

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<io_connect_t {self._client.getClassName()} of {self._task!r}{state}>"

    def task_ended(self) -> None:
        """The task ended with the connection open: the kernel calls ``clientDied``."""
        if not self.closed:
            self.closed = True
            close_user_client(self._client, died=True)


def IOServiceOpen(
    service: io_service_t, owningTask: UserTask, type: int
) -> tuple[int, io_connect_t | None]:
    """Open a connection of ``type`` to ``service`` for ``owningTask``: its
    ``newUserClient`` makes the user client (``kIOReturnUnsupported`` when the
    service names no ``IOUserClientClass``)."""
    entry = _entry(service)
    kernel = service._port.kernel
    if not isinstance(entry, IOService) or kernel is None:
        return kIOReturnBadArgument, None
    if not isinstance(owningTask, UserTask) or owningTask.kernel is not kernel:
        return kIOReturnBadArgument, None
    if not owningTask.alive:
        return MACH_SEND_INVALID_DEST, None
    result, client = owningTask.syscall(open_user_client, entry, owningTask, type)
    if result != kIOReturnSuccess or client is None:
        return result, None
    connection = io_connect_t(owningTask, client)
    owningTask.add_resource(connection)
    return kIOReturnSuccess, connection


def IOServiceClose(connect: io_connect_t) -> int:
    """Close the connection (the user client's ``clientClose``); the handle is dead after."""
    task = connect._task
    if connect.closed or not task.alive:
        return MACH_SEND_INVALID_DEST
    connect.closed = True
    task.remove_resource(connect)
    return task.syscall(close_user_client, connect._client)


def IOConnectCallMethod(
    connection: io_connect_t,
    selector: int,
    input: Sequence[int] = (),
    inputStruct: bytes | bytearray | memoryview = b"",
    outputCnt: int = 0,
    outputStructCnt: int = 0,
) -> tuple[int, tuple[int, ...], bytes]:
    """Call external method ``selector`` with scalars ``input`` and structure
    ``inputStruct``; ``(kern_return, output scalars, output structure)``, taking at
    most ``outputCnt`` scalars and ``outputStructCnt`` bytes back.  Structures over
    4096 bytes travel out of line: through the task's memory, as descriptors."""
    task = connection._task
    if connection.closed or not task.alive:
        return MACH_SEND_INVALID_DEST, (), b""
    scalars = check_scalars(input, kIOExternalMethodScalarInputCountMax)
    if scalars is None or not 0 <= outputCnt <= kIOExternalMethodScalarOutputCountMax:
        return kIOReturnBadArgument, (), b""
    if outputStructCnt < 0:
        return kIOReturnBadArgument, (), b""
    structure = bytes(inputStruct)
    staged: list[UserBuffer] = []
    try:
        input_buffer = output_buffer = None
        if len(structure) > IO_STRUCT_INBAND_MAX:
            input_buffer = task.vm_allocate(len(structure))
            input_buffer.write(structure)
            staged.append(input_buffer)
        if outputStructCnt > IO_STRUCT_INBAND_MAX:
            output_buffer = task.vm_allocate(outputStructCnt)
            staged.append(output_buffer)
        result, scalar_output, structure_output, out_of_line = task.syscall(
            _connect_method,
            connection._client,
            task,
            selector,
            scalars,
            structure if input_buffer is None else b"",
            (input_buffer.address, len(structure)) if input_buffer is not None else None,
            outputCnt,
            outputStructCnt if output_buffer is None else 0,
            (output_buffer.address, outputStructCnt) if output_buffer is not None else None,
        )
        if output_buffer is not None:
            structure_output = output_buffer.read(0, out_of_line)
        return result, scalar_output, structure_output
    finally:
        for buffer in staged:
            buffer.deallocate()


def _connect_method(
    client: IOUserClient,
    task: UserTask,
    selector: int,
    scalars: tuple[int, ...],
    structure: bytes,
    input_range: tuple[int, int] | None,
    output_count: int,
    output_size: int,
    output_range: tuple[int, int] | None,
) -> tuple[int, tuple[int, ...], bytes, int]:
    """The kernel side of ``IOConnectCallMethod`` (``is_io_connect_method``)."""
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut

    input_descriptor = output_descriptor = None
    if input_range is not None:
        input_descriptor = IOMemoryDescriptor.withAddressRange(*input_range, kIODirectionOut, task)
    if output_range is not None:
        output_descriptor = IOMemoryDescriptor.withAddressRange(*output_range, kIODirectionIn, task)
    arguments = IOExternalMethodArguments(
        selector,
        scalarInput=scalars,
        structureInput=structure,
        structureInputDescriptor=input_descriptor,
        scalarOutput=[0] * output_count,
        scalarOutputCount=output_count,
        structureOutput=bytearray(output_size),
        structureOutputSize=output_size,
        structureOutputDescriptor=output_descriptor,
        structureOutputDescriptorSize=output_range[1] if output_range is not None else 0,
    )
    try:
        result = call_external_method(client, arguments)
    finally:
        for descriptor in (input_descriptor, output_descriptor):
            if descriptor is not None:
                descriptor.release()
    scalar_output = tuple(arguments.scalarOutput[: arguments.scalarOutputCount])
    structure_output = bytes(arguments.structureOutput[: arguments.structureOutputSize])
    out_of_line = (
        min(arguments.structureOutputDescriptorSize, output_range[1]) if output_range else 0
    )
    return result, scalar_output, structure_output, out_of_line


def IOConnectCallScalarMethod(
    connection: io_connect_t, selector: int, input: Sequence[int] = (), outputCnt: int = 0
) -> tuple[int, tuple[int, ...]]:
    """``IOConnectCallMethod`` with scalars only: ``(kern_return, output scalars)``."""
    result, scalars, _ = IOConnectCallMethod(connection, selector, input, b"", outputCnt, 0)
    return result, scalars


def IOConnectCallStructMethod(
    connection: io_connect_t,
    selector: int,
    inputStruct: bytes | bytearray | memoryview = b"",
    outputStructCnt: int = 0,
) -> tuple[int, bytes]:
    """``IOConnectCallMethod`` with structures only: ``(kern_return, output structure)``."""
    result, _, structure = IOConnectCallMethod(
        connection, selector, (), inputStruct, 0, outputStructCnt
    )
    return result, structure
