"""IOServiceOpen, IOConnectCallMethod and IOServiceClose against a test user client:
xnu's default newUserClient, IOExternalMethodDispatch argument checking, privilege,
out-of-line structures, closing, a task that dies with a connection open, and no
leaks after any of it."""

from __future__ import annotations

import pytest

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnNoCompletion,
    kIOReturnNoMemory,
    kIOReturnNotPrivileged,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.registry.registry import kIOServicePlane
from kextlab.kernel.service.user_client import IOUserClient
from kextlab.userland import iokitlib as io
from kextlab.userland.user_task import UserTask, UserTaskError

from .conftest import REFUSED_TYPE, add_service

ADD, ECHO, SUM16, ADMIN_ONLY, WHO_AM_I, NO_FUNCTION = range(6)


def instances(kernel: Kernel, name: str = "KextLabTestUserClient") -> int:
    meta = kernel.classes.getMetaClassWithName(name)
    return meta.getInstanceCount() if meta is not None else 0


def clients_of(service: io.io_service_t) -> list[str]:
    _, iterator = io.IORegistryEntryGetChildIterator(service, kIOServicePlane)
    assert iterator is not None
    names = []
    while (child := iterator.next()) is not None:
        names.append(io.IOObjectGetClass(child)[1])
    return names


def test_a_service_without_a_user_client_class_cannot_be_opened(kernel: Kernel) -> None:
    """xnu's default newUserClient needs IOUserClientClass: kIOReturnUnsupported."""
    service = add_service(kernel, None)
    with UserTask(kernel, "opener") as task:
        result, connection = io.IOServiceOpen(service, task, 0)
    assert result == kIOReturnUnsupported
    assert connection is None


def test_a_user_client_class_nobody_defined_is_out_of_memory(kernel: Kernel) -> None:
    """An IOUserClientClass naming no class: allocClassWithName fails, kIOReturnNoMemory."""
    service = add_service(kernel, "NoSuchUserClient")
    with UserTask(kernel, "opener") as task:
        assert io.IOServiceOpen(service, task, 0) == (kIOReturnNoMemory, None)


def test_a_class_that_is_no_user_client_is_unsupported(kernel: Kernel) -> None:
    """IOUserClientClass naming a service class that is not an IOUserClient is refused."""
    service = add_service(kernel, "KextLabTestUserClientService")
    with UserTask(kernel, "opener") as task:
        assert io.IOServiceOpen(service, task, 0) == (kIOReturnUnsupported, None)
    kernel.machine.run()
    assert instances(kernel, "KextLabTestUserClientService") == 1  # only the service itself


def test_initwithtask_refusing_the_connection_type_is_a_bad_argument(kernel: Kernel) -> None:
    """A user client whose initWithTask refuses the type: kIOReturnBadArgument, no instance."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "opener") as task:
        assert io.IOServiceOpen(service, task, REFUSED_TYPE) == (kIOReturnBadArgument, None)
    assert instances(kernel) == 0


def test_open_attaches_a_started_client_that_names_its_creator(kernel: Kernel) -> None:
    """IOServiceOpen makes the class IOUserClientClass names, attached under the service,
    started, with IOUserClientCreator "pid N, name"; closing terminates it."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "toolname") as task:
        result, connection = io.IOServiceOpen(service, task, 0)
        assert result == kIOReturnSuccess
        assert connection is not None
        assert clients_of(service) == ["KextLabTestUserClient"]
        _, iterator = io.IORegistryEntryGetChildIterator(service, kIOServicePlane)
        assert iterator is not None
        client = iterator.next()
        assert client is not None
        creator = io.IORegistryEntryCreateCFProperty(client, "IOUserClientCreator")
        assert creator == f"pid {task.pid}, toolname"
        assert instances(kernel) == 1
        assert io.IOServiceClose(connection) == kIOReturnSuccess
    kernel.machine.run()
    assert clients_of(service) == []
    assert instances(kernel) == 0


def test_scalar_methods_take_and_return_64_bit_scalars(kernel: Kernel) -> None:
    """A scalar method gets unsigned 64-bit inputs and returns its outputs."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "adder") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        assert io.IOConnectCallScalarMethod(connection, ADD, (40, 2), 1) == (
            kIOReturnSuccess,
            (42,),
        )
        result, output = io.IOConnectCallScalarMethod(connection, ADD, (-1, 2), 1)
        assert (result, output) == (kIOReturnSuccess, (1,))  # -1 arrives as 2**64 - 1
        io.IOServiceClose(connection)


@pytest.mark.parametrize(
    ("inputs", "output_count"),
    [((1,), 1), ((1, 2, 3), 1), ((1, 2), 0), ((1, 2), 2)],
    ids=["too few inputs", "too many inputs", "no output", "two outputs"],
)
def test_a_scalar_count_other_than_the_dispatch_says_is_a_bad_argument(
    kernel: Kernel, inputs: tuple[int, ...], output_count: int
) -> None:
    """IOExternalMethodDispatch checks the scalar input and output counts exactly."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "adder") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        result, output = io.IOConnectCallScalarMethod(connection, ADD, inputs, output_count)
        assert (result, output) == (kIOReturnBadArgument, (0,) * output_count)
        io.IOServiceClose(connection)


def test_a_fixed_structure_size_is_checked_and_variable_sizes_pass(kernel: Kernel) -> None:
    """A dispatch fixing a 16-byte structure refuses 15 and 17 bytes; a variable-size
    one takes anything."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "structs") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        assert io.IOConnectCallStructMethod(connection, SUM16, bytes(16))[0] == kIOReturnSuccess
        assert io.IOConnectCallStructMethod(connection, SUM16, bytes(15))[0] == kIOReturnBadArgument
        assert io.IOConnectCallStructMethod(connection, SUM16, bytes(17))[0] == kIOReturnBadArgument
        assert io.IOConnectCallStructMethod(connection, ECHO, b"abc", 8) == (
            kIOReturnSuccess,
            b"cba",
        )
        assert io.IOConnectCallStructMethod(connection, ECHO, b"", 0) == (kIOReturnSuccess, b"")
        io.IOServiceClose(connection)


def test_unknown_selectors_and_dispatches_without_a_function(kernel: Kernel) -> None:
    """No dispatch for the selector: kIOReturnUnsupported (no legacy method table);
    a dispatch without a function: kIOReturnNoCompletion."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "unknown") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        assert io.IOConnectCallScalarMethod(connection, 99)[0] == kIOReturnUnsupported
        assert io.IOConnectCallScalarMethod(connection, NO_FUNCTION)[0] == kIOReturnNoCompletion
        io.IOServiceClose(connection)


def test_more_than_sixteen_scalars_never_reach_the_kernel(kernel: Kernel) -> None:
    """kIOExternalMethodScalarInputCountMax is 16: a 17th scalar is refused in user space."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "many") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        assert io.IOConnectCallScalarMethod(connection, ADD, range(17), 1)[0] == (
            kIOReturnBadArgument
        )
        io.IOServiceClose(connection)


def test_structures_over_4096_bytes_travel_out_of_line_through_task_memory(
    kernel: Kernel,
) -> None:
    """Large input and output structures reach the user client as memory descriptors
    over the task's memory (xnu's out-of-line structures), and come back whole; the
    staging memory is freed."""
    service = add_service(kernel, "KextLabTestUserClient")
    payload = bytes((index * 7 + 3) & 0xFF for index in range(10_000))
    with UserTask(kernel, "big") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        result, echoed = io.IOConnectCallStructMethod(connection, ECHO, payload, 10_000)
        assert result == kIOReturnSuccess
        assert echoed == payload[::-1]
        result, echoed = io.IOConnectCallStructMethod(connection, ECHO, payload[:100], 8192)
        assert (result, echoed) == (kIOReturnSuccess, payload[:100][::-1])
        assert task.allocated_bytes() == 0
        io.IOServiceClose(connection)


def test_a_method_demanding_an_administrator_refuses_other_users(kernel: Kernel) -> None:
    """clientHasPrivilege(task, "root"): kIOReturnNotPrivileged for uid 501, success for root."""
    service = add_service(kernel, "KextLabTestUserClient")
    for administrator, expected in ((False, kIOReturnNotPrivileged), (True, kIOReturnSuccess)):
        with UserTask(kernel, "sudo", administrator=administrator) as task:
            _, connection = io.IOServiceOpen(service, task, 0)
            assert connection is not None
            assert io.IOConnectCallScalarMethod(connection, ADMIN_ONLY)[0] == expected
            io.IOServiceClose(connection)


def test_privilege_names_kextlab_does_not_know_are_unsupported(kernel: Kernel) -> None:
    """Every kextlab user task is a console user; unknown privilege names are unsupported."""
    with UserTask(kernel, "console") as task:
        assert IOUserClient.clientHasPrivilege(task, "local") == kIOReturnSuccess
        assert IOUserClient.clientHasPrivilege(task, "foreground") == kIOReturnSuccess
        assert IOUserClient.clientHasPrivilege(task, "console") == kIOReturnUnsupported
        assert IOUserClient.clientHasPrivilege(object(), "root") == kIOReturnNotPrivileged


def test_a_closed_connection_is_a_dead_port(kernel: Kernel) -> None:
    """After IOServiceClose the handle is dead: calls and a second close fail with
    MACH_SEND_INVALID_DEST."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "twice") as task:
        _, connection = io.IOServiceOpen(service, task, 0)
        assert connection is not None
        assert io.IOServiceClose(connection) == kIOReturnSuccess
        assert io.IOServiceClose(connection) == io.MACH_SEND_INVALID_DEST
        assert io.IOConnectCallScalarMethod(connection, ADD, (1, 2), 1)[0] == (
            io.MACH_SEND_INVALID_DEST
        )


def test_a_task_that_ends_with_a_connection_open_makes_the_kernel_call_clientdied(
    kernel: Kernel,
) -> None:
    """Leaving the task with the connection open: clientDied -> clientClose -> terminate;
    no user client is left."""
    service = add_service(kernel, "KextLabTestUserClient")
    with UserTask(kernel, "crasher") as task:
        result, connection = io.IOServiceOpen(service, task, 0)
        assert result == kIOReturnSuccess
    kernel.machine.run()
    assert clients_of(service) == []
    assert instances(kernel) == 0
    assert connection is not None
    assert connection.closed


def test_methods_run_for_the_calling_task_on_its_threads_too(kernel: Kernel) -> None:
    """Calls made from a user thread run inline there; mach_task_self() is the task
    on its threads and inside 'with task:' on the host, and nowhere else."""
    service = add_service(kernel, "KextLabTestUserClient")
    with pytest.raises(UserTaskError):
        io.mach_task_self()
    with UserTask(kernel, "threaded") as task:
        assert io.mach_task_self() is task

        def main() -> tuple[int, ...]:
            result, connection = io.IOServiceOpen(service, io.mach_task_self(), 0)
            assert result == kIOReturnSuccess
            assert connection is not None
            _, pid = io.IOConnectCallScalarMethod(connection, WHO_AM_I, (), 1)
            io.IOServiceClose(connection)
            return pid

        assert task.run(main) == (task.pid,)
    kernel.machine.run()
    assert instances(kernel) == 0


def test_a_task_of_another_kernel_cannot_open_a_service(kernel: Kernel) -> None:
    """IOServiceOpen wants a live task of the service's own kernel."""
    service = add_service(kernel, "KextLabTestUserClient")
    task = UserTask(kernel, "gone")
    task.terminate()
    assert io.IOServiceOpen(service, task, 0) == (io.MACH_SEND_INVALID_DEST, None)
    assert io.IOServiceOpen(service, object(), 0) == (kIOReturnBadArgument, None)  # type: ignore[arg-type]


def test_every_open_and_close_leaves_the_kernel_as_it_found_it(kernel: Kernel) -> None:
    """A hundred open/call/close cycles: no user client instance and no memory left."""
    from kextlab.kernel.memory import outstanding_allocations

    service = add_service(kernel, "KextLabTestUserClient")
    before = len(outstanding_allocations(kernel))
    with UserTask(kernel, "cycler") as task:
        for cycle in range(100):
            _, connection = io.IOServiceOpen(service, task, 0)
            assert connection is not None
            assert io.IOConnectCallScalarMethod(connection, ADD, (cycle, 1), 1)[1] == (cycle + 1,)
            io.IOServiceClose(connection)
    kernel.machine.run()
    assert instances(kernel) == 0
    assert len(outstanding_allocations(kernel)) == before
