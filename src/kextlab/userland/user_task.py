"""User tasks: a user program's address space, threads and system calls.

A ``UserTask`` is what ``mach_task_self()`` names: a process of the machine, with
a pid, a security token (administrator or not: uid 0 or 501), its own virtual
address space and its threads.  It is a ``kextlab.kernel.memory.task.Task``, so
the kernel describes its memory the way xnu does,
``IOMemoryDescriptor.withAddressRange(address, length, direction, task)``, and
DMA goes straight into the program's buffers.

Design
------
*Where user code runs.*  A user program is ordinary Python.  It runs either on the
host (a test, a tool's main function) or on one of the task's *user threads*,
kernel threads of the machine that stand for the program's threads
(``start_thread``, ``run``).  A *system call* (``syscall``: iokitlib's connection
calls and the device nodes go through it) runs kernel code for the task: on a
user thread it runs right there, on that thread, which may block; on the host it
runs on the task's system-call thread (a kernel thread made on the first such call
and kept until the task ends) while the host drives the machine until it returns
(about 5 µs of real time per call).  A program that makes many calls, or wants
several in flight at once (a disk benchmark at queue depth 32), runs on user
threads and waits with ``wait_any`` / ``wait_all``, which work on the host and on
user threads alike, for threads and for anything else that completes
(``Completion``: ``kextlab.userland.devices`` uses it for asynchronous I/O).

*Faults.*  An exception escaping a user thread is the program's own crash: it is
kept and re-raised where the thread is waited for (``UserThread.result``), and the
machine carries on.  An exception escaping kernel code inside a system call is a
kernel bug and panics the machine, wherever the call was made from (a user thread
re-raises it at its top so that the scheduler's panic report names it).

*Memory.*  ``vm_allocate`` gives page-aligned, zero-filled memory at a user virtual
address (``USER_BASE`` up, far above any machine's RAM), backed by RAM
the kernel's allocator hands out; a 64-bit kernel places it above 4 GiB when it
can, like everything else.  Allocations are separated by an unmapped guard page,
so a descriptor reaching past its buffer fails to prepare (``kIOReturnVMError``)
instead of touching a neighbour.  Each allocation is one physical run, so a buffer
is one DMA segment and ``memory_view`` gives the program zero-copy access to it;
``fragmented=True`` maps the pages in reverse physical order instead, which makes
every page its own segment, as a real VM would, for code that must walk
scatter/gather lists.  Reading memory into Python bytes (``read_memory``) is a
copy at the user boundary, as ``copyout`` is.  The memory is counted in the
kernel's books (function ``mach_vm_allocate``, as pageable memory), so memory a
task leaves behind shows in the leak check.

*Ending.*  ``terminate()`` (or leaving ``with task:``) waits for the task's
threads, closes what it left open (connections get ``clientDied``, device nodes
are closed), frees its memory and retires its pid: nothing the task held stays
behind.  A task never ended shows in the leak check (its system-call thread, its
memory).

The process table (pids, live tasks) is per machine, in the scheduler's
``extensions`` under ``"userland.tasks"``.

Threading rules: create, enter and terminate a task on the host; ``syscall``,
``start_thread``, ``wait_any``/``wait_all`` and the memory calls work on the host
and on the task's user threads; nothing here may be called from interrupt context
or an event callback.
"""

from __future__ import annotations

import bisect
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from greenlet import getcurrent

from kextlab.errors import KextlabError
from kextlab.kernel.ioreturn import (
    KERN_SUCCESS,
    kIOReturnBadArgument,
    kIOReturnNoMemory,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory.kernel_memory import KernelMemory, kernel_memory
from kextlab.kernel.memory.options import PAGE_SIZE
from kextlab.kernel.memory.task import Task
from kextlab.kernel.service.user_client import security_token_t
from kextlab.sim.context import Context
from kextlab.sim.sync import WaitQueue

if TYPE_CHECKING:
    from kextlab.machine.memory import PhysicalMemory
    from kextlab.sim.thread import KernelThread

T = TypeVar("T")

#: Where the process table lives in ``Scheduler.extensions``.
TASKS_EXTENSION: Final = "userland.tasks"
#: The greenlet attribute naming the task whose code runs there (``mach_task_self``).
TASK_ATTRIBUTE: Final = "kextlab_user_task"
#: The first user address handed out: far above any machine's RAM, so that a user
#: address mistaken for a physical one is never right by accident.
USER_BASE: Final = 0x7000_0000_0000
#: The first pid given to a user task (launchd is 1; the low numbers are daemons').
FIRST_PID: Final = 100
#: The security tokens: root, and the first console user of a Mac (uid 501, staff).
ROOT_TOKEN: Final = security_token_t((0, 0))
USER_TOKEN: Final = security_token_t((501, 20))
#: The Mach flag of ``mach_vm_allocate`` kextlab supports (it always places anywhere).
VM_FLAGS_ANYWHERE: Final = 0x0001

_ALLOCATOR_FUNCTION = "mach_vm_allocate"


class UserTaskError(KextlabError, RuntimeError):
    """A user task used where it cannot be: after it ended, from another machine, or
    with no task running (``mach_task_self`` on the host outside ``with task:``)."""


class KernelFault(BaseException):
    """Carries an exception out of kernel code run inline on a user thread, past the
    program's own ``except Exception`` handlers, so that it panics the machine."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _LivePort(Protocol):
    """A main port (``iokitlib.mach_port_t``): the kernel it names, if live."""

    @property
    def kernel(self) -> Kernel | None: ...


class TaskResource(Protocol):
    """Something a task holds open and the kernel closes if the task ends first
    (a connection, a device node)."""

    def task_ended(self) -> None:
        """Close on behalf of the dead task (runs as a system call of the task)."""


# -- the process table ----------------------------------------------------------------------------


class ProcessTable:
    """The user tasks of one machine, by pid."""

    def __init__(self) -> None:
        self._next_pid = FIRST_PID
        self.tasks: dict[int, UserTask] = {}

    def add(self, task: UserTask) -> int:
        pid = self._next_pid
        self._next_pid += 1
        self.tasks[pid] = task
        return pid

    def remove(self, task: UserTask) -> None:
        self.tasks.pop(task.pid, None)


def process_table(kernel: Kernel) -> ProcessTable:
    """The machine's process table (made on first use)."""
    table = kernel.scheduler.extensions.get(TASKS_EXTENSION)
    if not isinstance(table, ProcessTable):
        table = ProcessTable()
        kernel.scheduler.extensions[TASKS_EXTENSION] = table
    return table


def current_task() -> UserTask | None:
    """The task whose code is running: on one of its user threads, or on the host
    inside ``with task:``."""
    task = getattr(getcurrent(), TASK_ATTRIBUTE, None)
    return task if isinstance(task, UserTask) else None


# -- memory ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    """One ``vm_allocate``: ``length`` bytes at ``address``, backed by the physical
    run at ``physical`` (pages mapped in reverse order when ``fragmented``)."""

    address: int
    length: int
    physical: int
    fragmented: bool

    @property
    def end(self) -> int:
        return self.address + self.length

    def runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        """The physical runs behind ``[offset, offset + length)`` of the region."""
        if not self.fragmented:
            return [(self.physical + offset, length)]
        runs = []
        pages = self.length // PAGE_SIZE
        while length > 0:
            page, inside = divmod(offset, PAGE_SIZE)
            step = min(length, PAGE_SIZE - inside)
            runs.append((self.physical + (pages - 1 - page) * PAGE_SIZE + inside, step))
            offset += step
            length -= step
        return runs


@dataclass(frozen=True)
class UserBuffer:
    """A range of a task's memory, with the program's ways to reach its bytes."""

    task: UserTask
    address: int
    length: int

    def view(self) -> memoryview:
        """Zero-copy access (the buffer must be one physical run)."""
        return self.task.memory_view(self.address, self.length)

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """A copy of ``length`` bytes (the rest of the buffer by default) at ``offset``."""
        if length is None:
            length = self.length - offset
        self._check(offset, length)
        return self.task.read_memory(self.address + offset, length)

    def write(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        """Copy ``data`` into the buffer at ``offset``."""
        self._check(offset, len(data))
        self.task.write_memory(self.address + offset, data)

    def deallocate(self) -> None:
        """Give the memory back (``vm_deallocate``)."""
        self.task.vm_deallocate(self.address, self.length)

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.length:
            raise ValueError(
                f"[{offset:#x}, +{length:#x}) is outside the {self.length:#x}-byte buffer "
                f"at {self.address:#x}"
            )


# -- waiting --------------------------------------------------------------------------------------


class Completion:
    """Something of a task that finishes once (a user thread, an asynchronous I/O);
    ``wait_any``/``wait_all`` wait for them."""

    def __init__(self, task: UserTask) -> None:
        self.task = task
        self.done = False

    def finish(self) -> None:
        """Mark it finished and wake whoever waits on the task.  Any context may call
        this (an I/O completion runs in a driver's work loop): it never blocks."""
        self.done = True
        self.task.completions.wakeup_all()


class UserThread(Completion):
    """A thread of a user task: a kernel thread running ``function(*args)``."""

    def __init__(
        self, task: UserTask, function: Callable[..., Any], args: tuple[Any, ...], name: str
    ) -> None:
        super().__init__(task)
        self.name = name
        self._function = function
        self._args = args
        self._result: Any = None
        self._exception: Exception | None = None
        self.thread: KernelThread = task.kernel.scheduler.spawn(
            self._main, name=f"{task.name}[{task.pid}] {name}"
        )

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"<UserThread {self.name!r} of {self.task.name}[{self.task.pid}] {state}>"

    def _main(self) -> None:
        setattr(getcurrent(), TASK_ATTRIBUTE, self.task)
        try:
            self._result = self._function(*self._args)
        except KernelFault as fault:
            raise fault.error from None  # a kernel bug: the scheduler panics the machine
        except Exception as error:  # the program crashed; the machine carries on
            self._exception = error
        finally:
            self.task.thread_finished(self)
            self.finish()

    def result(self) -> Any:
        """What the thread's function returned; re-raises what it raised.  The thread
        must be done (wait for it first)."""
        if not self.done:
            raise UserTaskError(f"{self!r} has not finished: wait for it first")
        if self._exception is not None:
            raise self._exception
        return self._result


class _SyscallServer:
    """The kernel thread that runs the host's system calls for a task: made on the
    first one and kept until the task ends, so a call costs two wakeups rather than a
    new thread."""

    def __init__(self, task: UserTask) -> None:
        scheduler = task.kernel.scheduler
        label = f"{task.name}[{task.pid}]"
        self.task = task
        self.requests = WaitQueue(scheduler, f"{label} system calls")
        self.replies = WaitQueue(scheduler, f"{label} system call replies")
        self._request: tuple[Callable[..., Any], tuple[Any, ...]] | None = None
        self._reply: list[Any] = []
        self._stopping = False
        self.thread = scheduler.spawn(self._serve, name=f"{label} syscalls")

    def _serve(self) -> None:
        setattr(getcurrent(), TASK_ATTRIBUTE, self.task)
        while True:
            while self._request is None and not self._stopping:
                self.requests.wait(operation="wait for a system call")
            if self._request is None:
                return
            function, args = self._request
            self._request = None
            try:
                self._reply.append(function(*args))
            except KernelFault as fault:  # from a nested call: panic with the original
                raise fault.error from None
            self.replies.wakeup_one()

    def call(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``function(*args)`` on the server thread; the host runs the machine."""
        self._request = (function, args)
        self.requests.wakeup_one()
        while not self._reply:
            self.replies.wait(operation="system call")
        result: T = self._reply.pop()
        return result

    def stop(self) -> None:
        self._stopping = True
        self.requests.wakeup_one()
        self.thread.join()


# -- the task -------------------------------------------------------------------------------------


class UserTask(Task):
    """A process of the machine: address space, threads, system calls."""

    def __init__(
        self, kernel: Kernel | _LivePort, name: str = "a.out", *, administrator: bool = False
    ) -> None:
        """A new task of ``kernel`` (or of the kernel a live main port names, as a tool
        that only holds ``IOMainPort`` starts one), as root when ``administrator``."""
        super().__init__(name)
        if not isinstance(kernel, Kernel):
            port_kernel = kernel.kernel
            if port_kernel is None:
                raise UserTaskError("a task needs a live kernel, not a registry from a dump")
            kernel = port_kernel
        self.kernel = kernel
        self.security_token = ROOT_TOKEN if administrator else USER_TOKEN
        self.pid = process_table(kernel).add(self)
        self.alive = True
        #: Woken whenever a ``Completion`` of the task finishes.
        self.completions = WaitQueue(kernel.scheduler, f"task {name}[{self.pid}] completions")
        self._regions: list[_Region] = []
        self._starts: list[int] = []
        self._next_address = USER_BASE
        self._threads: list[UserThread] = []
        self._resources: list[TaskResource] = []
        self._host_entries: list[object] = []
        self._server: _SyscallServer | None = None

    def __repr__(self) -> str:
        state = "" if self.alive else " (ended)"
        return f"<task {self.name}[{self.pid}]{state}>"

    @property
    def administrator(self) -> bool:
        """Whether the task runs as root (``clientHasPrivilege(..., "root")``)."""
        return self.security_token.val[0] == 0

    # -- entering and ending --------------------------------------------------------------------

    def __enter__(self) -> UserTask:
        here = getcurrent()
        self._host_entries.append(getattr(here, TASK_ATTRIBUTE, None))
        setattr(here, TASK_ATTRIBUTE, self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        setattr(getcurrent(), TASK_ATTRIBUTE, self._host_entries.pop())
        self.terminate()

    @contextmanager
    def entered(self) -> Iterator[UserTask]:
        """Run host code as this task's (``mach_task_self()``) without ending it after."""
        here = getcurrent()
        outer = getattr(here, TASK_ATTRIBUTE, None)
        setattr(here, TASK_ATTRIBUTE, self)
        try:
            yield self
        finally:
            setattr(here, TASK_ATTRIBUTE, outer)

    def terminate(self) -> None:
        """End the task (host only): wait for its threads, close what it left open,
        free its memory.  A machine that panicked only gets its memory back."""
        if not self.alive:
            return
        scheduler = self.kernel.scheduler
        if scheduler.context is not Context.HOST:
            raise UserTaskError(f"{self!r} can only be terminated from the host")
        if not scheduler.panicked:
            self.wait_all(list(self._threads))
            for resource in reversed(list(self._resources)):
                self.syscall(resource.task_ended)
            if self._server is not None:
                self._server.stop()
        self._server = None
        self._resources.clear()
        self.alive = False
        for region in list(self._regions):
            self._free_region(region)
        process_table(self.kernel).remove(self)

    def add_resource(self, resource: TaskResource) -> None:
        """Remember something the kernel must close if the task ends first."""
        self._resources.append(resource)

    def remove_resource(self, resource: TaskResource) -> None:
        if resource in self._resources:
            self._resources.remove(resource)

    def _require_alive(self) -> None:
        if not self.alive:
            raise UserTaskError(f"{self!r} has ended")

    # -- system calls ---------------------------------------------------------------------------

    def syscall(self, function: Callable[..., T], *args: Any) -> T:
        """Run kernel code for this task and return what it returns (see the module
        docstring).  Kernel code that raises panics the machine (``KernelPanic``)."""
        if not self.alive:
            self._require_alive()
        scheduler = self.kernel.scheduler
        context = scheduler.context
        if context is Context.THREAD:
            try:
                return function(*args)
            except Exception as error:
                if current_task() is None:  # a kernel thread's own call: its exception
                    raise
                raise KernelFault(error) from error
        if context is not Context.HOST:
            raise UserTaskError(
                f"system call of {self!r} from {context.value} context: user code runs on "
                "the host or on the task's threads"
            )
        server = self._server
        if server is None:
            server = self._server = _SyscallServer(self)
        with scheduler.entered():
            return server.call(function, args)

    # -- threads --------------------------------------------------------------------------------

    def start_thread(self, function: Callable[..., Any], *args: Any, name: str = "") -> UserThread:
        """Start a user thread running ``function(*args)`` (it starts at once, in
        virtual time; the host must wait or run the machine for it to progress)."""
        self._require_alive()
        thread = UserThread(self, function, args, name or f"thread {len(self._threads) + 1}")
        self._threads.append(thread)
        return thread

    def thread_finished(self, thread: UserThread) -> None:
        if thread in self._threads:
            self._threads.remove(thread)

    def run(self, main: Callable[..., T], *args: Any) -> T:
        """Run ``main(*args)`` as the task's main thread (host only) and return its
        result, re-raising what it raised."""
        thread = self.start_thread(main, *args, name="main")
        self.wait_all([thread])
        result: T = thread.result()
        return result

    def wait_any(
        self, completions: Sequence[Completion], timeout: int | None = None
    ) -> Completion | None:
        """The first of ``completions`` that is done (the earliest in the list when
        several are), waiting until one is; None if ``timeout`` ns pass first."""
        if not completions:
            raise ValueError("wait_any needs something to wait for")
        scheduler = self.kernel.scheduler
        deadline = scheduler.now + timeout if timeout is not None else None
        with scheduler.entered():
            while True:
                for completion in completions:
                    if completion.done:
                        return completion
                remaining = deadline - scheduler.now if deadline is not None else None
                if remaining is not None and remaining <= 0:
                    return None
                self.completions.wait(remaining, operation=f"wait_any in {self!r}")

    def wait_all(self, completions: Iterable[Completion], timeout: int | None = None) -> bool:
        """Wait until every one of ``completions`` is done; False if ``timeout`` ns
        pass first."""
        pending = [completion for completion in completions if not completion.done]
        scheduler = self.kernel.scheduler
        deadline = scheduler.now + timeout if timeout is not None else None
        with scheduler.entered():
            while pending:
                remaining = deadline - scheduler.now if deadline is not None else None
                if remaining is not None and remaining <= 0:
                    return False
                self.completions.wait(remaining, operation=f"wait_all in {self!r}")
                pending = [completion for completion in pending if not completion.done]
        return True

    # -- memory ---------------------------------------------------------------------------------

    def _books(self) -> KernelMemory:
        return kernel_memory(self.kernel.scheduler)

    @property
    def _memory(self) -> PhysicalMemory:
        return self.kernel.machine.memory

    def vm_allocate(self, size: int, *, fragmented: bool = False) -> UserBuffer:
        """``size`` bytes (rounded up to pages) of zeroed memory; ``MemoryError`` when
        the machine's RAM is exhausted.  ``fragmented`` maps the pages in reverse
        physical order (every page its own DMA segment)."""
        self._require_alive()
        if size <= 0:
            raise ValueError(f"vm_allocate of {size} bytes: the size must be positive")
        length = -(-size // PAGE_SIZE) * PAGE_SIZE
        physical = self._books().allocate(
            length,
            function=_ALLOCATOR_FUNCTION,
            alignment=PAGE_SIZE,
            zero=True,
            pageable=True,
            site=_caller_site(),
        )
        if not physical:
            raise MemoryError(f"{self!r}: no RAM left for {length:#x} bytes")
        address = self._next_address
        self._next_address += length + PAGE_SIZE  # an unmapped guard page after each
        region = _Region(address, length, physical, fragmented)
        index = bisect.bisect_left(self._starts, address)
        self._starts.insert(index, address)
        self._regions.insert(index, region)
        return UserBuffer(self, address, length)

    def vm_deallocate(self, address: int, size: int) -> None:
        """Free the allocation that starts at ``address`` (``size`` its size, rounded up
        to pages, as ``vm_allocate`` gave it)."""
        region = self._region_at(address)
        length = -(-size // PAGE_SIZE) * PAGE_SIZE
        if region is None or region.address != address or region.length != length:
            raise ValueError(f"{self!r}: no allocation of {length:#x} bytes starts at {address:#x}")
        self._free_region(region)

    def _free_region(self, region: _Region) -> None:
        index = self._regions.index(region)
        del self._regions[index]
        del self._starts[index]
        self._books().release(
            region.physical,
            region.length,
            function="mach_vm_deallocate",
            frees=(_ALLOCATOR_FUNCTION,),
        )

    def _region_at(self, address: int) -> _Region | None:
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and address < self._regions[index].end:
            return self._regions[index]
        return None

    def allocated_bytes(self) -> int:
        """The bytes the task holds (``vm_allocate`` rounds to pages)."""
        return sum(region.length for region in self._regions)

    def translate(
        self, memory: PhysicalMemory, address: int, length: int
    ) -> list[tuple[int, int]] | None:
        """The physical runs behind ``[address, +length)``; None if part of it is not
        mapped (a guard page, freed memory, an address never handed out)."""
        if length == 0:
            return []
        # ``_region_at`` inlined: every system call's transfer is translated here.
        regions, starts = self._regions, self._starts
        runs: list[tuple[int, int]] = []
        while length > 0:
            index = bisect.bisect_right(starts, address) - 1
            if index < 0:
                return None
            region = regions[index]
            offset = address - region.address
            if offset >= region.length:
                return None
            step = min(length, region.length - offset)
            if region.fragmented:
                runs.extend(region.runs(offset, step))
            else:
                runs.append((region.physical + offset, step))
            address += step
            length -= step
        return runs

    def memory_view(self, address: int, length: int) -> memoryview:
        """Zero-copy access to ``length`` bytes at ``address``; ``ValueError`` if they
        are not mapped or not one physical run (fragmented memory)."""
        runs = self.translate(self._memory, address, length)
        if runs is None:
            raise ValueError(f"{self!r}: [{address:#x}, +{length:#x}) is not mapped")
        if len(runs) != 1:
            raise ValueError(
                f"{self!r}: [{address:#x}, +{length:#x}) spans {len(runs)} physical runs; "
                "use read_memory/write_memory"
            )
        view = self._memory.view(*runs[0])
        assert view is not None  # the allocator only hands out RAM
        return view

    def read_memory(self, address: int, length: int) -> bytes:
        """A copy of ``length`` bytes of the task's memory at ``address``."""
        runs = self.translate(self._memory, address, length)
        if runs is None:
            raise ValueError(f"{self!r}: [{address:#x}, +{length:#x}) is not mapped")
        parts = []
        for physical, run_length in runs:
            view = self._memory.view(physical, run_length)
            assert view is not None
            parts.append(bytes(view))
        return b"".join(parts)

    def write_memory(self, address: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into the task's memory at ``address``."""
        source = memoryview(data).cast("B")
        runs = self.translate(self._memory, address, len(source))
        if runs is None:
            raise ValueError(f"{self!r}: [{address:#x}, +{len(source):#x}) is not mapped")
        done = 0
        for physical, run_length in runs:
            view = self._memory.view(physical, run_length)
            assert view is not None
            view[:] = source[done : done + run_length]
            done += run_length


# -- Mach's names ---------------------------------------------------------------------------------


def mach_vm_allocate(
    target_task: UserTask, size: int, flags: int = VM_FLAGS_ANYWHERE
) -> tuple[int, int]:
    """``(kern_return, address)`` of ``size`` new zeroed bytes in ``target_task``."""
    if not flags & VM_FLAGS_ANYWHERE or size <= 0:
        return kIOReturnBadArgument, 0
    try:
        buffer = target_task.vm_allocate(size)
    except MemoryError:
        return kIOReturnNoMemory, 0
    return KERN_SUCCESS, buffer.address


def mach_vm_deallocate(target_task: UserTask, address: int, size: int) -> int:
    """Free what ``mach_vm_allocate`` gave; ``kIOReturnBadArgument`` for anything else."""
    try:
        target_task.vm_deallocate(address, size)
    except ValueError:
        return kIOReturnBadArgument
    return KERN_SUCCESS


def _caller_site() -> str:
    """``file:line`` of the program that allocated (for the leak report)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
