"""User tasks: memory the kernel can describe and DMA into, system calls from the
host and from user threads, waiting for any or all, crashes that stay the program's,
kernel faults that panic, and everything given back when the task ends."""

from __future__ import annotations

import pytest

from kextlab.errors import Deadlock, KernelPanic
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import (
    KERN_SUCCESS,
    kIOReturnBadArgument,
    kIOReturnSuccess,
    kIOReturnVMError,
)
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.memory import outstanding_allocations
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
from kextlab.kernel.memory.dma_command import IODMACommand
from kextlab.kernel.memory.dma_segments import Segment64
from kextlab.kernel.memory.options import PAGE_SIZE, kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import ByteCountRef, UInt32Ref, UInt64Ref
from kextlab.sim.time import MILLISECOND
from kextlab.userland.user_task import (
    USER_BASE,
    UserTask,
    UserTaskError,
    mach_vm_allocate,
    mach_vm_deallocate,
    process_table,
)


def describe(task: UserTask, address: int, length: int, direction: int) -> IOMemoryDescriptor:
    memory = IOMemoryDescriptor.withAddressRange(address, length, direction, task)
    assert memory is not None
    return memory


def segments(memory: IOMemoryDescriptor) -> list[tuple[int, int]]:
    """The physical segments of a prepared descriptor."""
    found = []
    offset = 0
    while offset < memory.getLength():
        length = ByteCountRef()
        address = memory.getPhysicalSegment(offset, length)
        found.append((address, length.value))
        offset += length.value
    return found


def test_user_memory_lives_in_ram_at_user_addresses(kernel: Kernel) -> None:
    """vm_allocate gives zeroed, page-rounded memory at user addresses (USER_BASE up),
    backed by machine RAM that the kernel can describe with the task."""
    with UserTask(kernel, "mem") as task, kernel.entered():
        buffer = task.vm_allocate(5000)
        assert buffer.address == USER_BASE
        assert buffer.length == 2 * PAGE_SIZE
        assert buffer.read() == bytes(2 * PAGE_SIZE)
        buffer.write(b"hello", 4094)
        memory = describe(task, buffer.address, buffer.length, kIODirectionOut)
        assert memory.prepare() == 0
        ((physical, length),) = segments(memory)
        assert length == 2 * PAGE_SIZE
        assert physical != buffer.address  # a user address is no physical address
        assert kernel.machine.memory.read(physical + 4094, 5) == b"hello"
        copied = bytearray(5)
        assert memory.readBytes(4094, copied, 5) == 5
        assert copied == b"hello"
        memory.complete()
        memory.release()


def test_fragmented_memory_makes_every_page_a_dma_segment(kernel: Kernel) -> None:
    """fragmented=True maps pages in reverse physical order: a prepared descriptor has
    one segment per page, an IODMACommand walks them, the bytes land in page order."""
    pages = 4
    with UserTask(kernel, "scatter") as task, kernel.entered():
        buffer = task.vm_allocate(pages * PAGE_SIZE, fragmented=True)
        memory = describe(task, buffer.address, buffer.length, kIODirectionIn)
        memory.prepare()
        found = segments(memory)
        assert [length for _, length in found] == [PAGE_SIZE] * pages
        assert [address for address, _ in found] == sorted(
            (address for address, _ in found), reverse=True
        )
        pattern = bytes(range(256)) * (pages * PAGE_SIZE // 256)
        assert memory.writeBytes(0, pattern, len(pattern)) == len(pattern)
        assert buffer.read() == pattern
        with pytest.raises(ValueError, match="physical runs"):
            buffer.view()
        command = IODMACommand.withSpecification(IODMACommand.OutputHost64, 64, 0)
        assert command is not None
        assert command.setMemoryDescriptor(memory) == kIOReturnSuccess
        batch = [Segment64() for _ in range(2 * pages)]
        count = UInt32Ref(len(batch))
        assert command.gen64IOVMSegments(UInt64Ref(0), batch, count) == kIOReturnSuccess
        walked = [(segment.fIOVMAddr, segment.fLength) for segment in batch[: count.value]]
        assert walked == found
        command.clearMemoryDescriptor()
        command.release()
        memory.complete()
        memory.release()


def test_guard_pages_and_freed_memory_cannot_be_prepared(kernel: Kernel) -> None:
    """A descriptor reaching into the guard page after a buffer, or over freed memory,
    fails to prepare with kIOReturnVMError."""
    with UserTask(kernel, "guard") as task, kernel.entered():
        buffer = task.vm_allocate(PAGE_SIZE)
        over = describe(task, buffer.address, PAGE_SIZE + 1, kIODirectionIn)
        assert over.prepare() == kIOReturnVMError
        over.release()
        buffer.deallocate()
        gone = describe(task, buffer.address, 16, kIODirectionIn)
        assert gone.prepare() == kIOReturnVMError
        gone.release()
        with pytest.raises(ValueError, match="not mapped"):
            task.read_memory(buffer.address, 1)


def test_a_task_gives_all_its_memory_back_when_it_ends(kernel: Kernel) -> None:
    """Memory a task still holds at its end goes back to the kernel; the process
    table forgets the pid."""
    before = len(outstanding_allocations(kernel))
    task = UserTask(kernel, "hoarder")
    task.vm_allocate(1 << 20)
    task.vm_allocate(3 * PAGE_SIZE, fragmented=True)
    assert len(outstanding_allocations(kernel)) == before + 2
    assert process_table(kernel).tasks[task.pid] is task
    task.terminate()
    assert len(outstanding_allocations(kernel)) == before
    assert task.pid not in process_table(kernel).tasks
    with pytest.raises(UserTaskError, match="ended"):
        task.vm_allocate(1)


def test_mach_vm_allocate_and_deallocate_speak_kern_return(kernel: Kernel) -> None:
    """The Mach calls return (KERN_SUCCESS, address) and refuse what they cannot do."""
    with UserTask(kernel, "mach") as task:
        result, address = mach_vm_allocate(task, 100)
        assert result == KERN_SUCCESS
        assert address >= USER_BASE
        assert mach_vm_allocate(task, 0) == (kIOReturnBadArgument, 0)
        assert mach_vm_deallocate(task, address + PAGE_SIZE, 100) == kIOReturnBadArgument
        assert mach_vm_deallocate(task, address, 100) == KERN_SUCCESS
        assert task.allocated_bytes() == 0


def test_a_system_call_from_the_host_runs_on_a_kernel_thread(kernel: Kernel) -> None:
    """From the host, syscall runs the kernel code on a kernel thread that may block
    (here for 5 ms of virtual time) and returns its result."""
    with UserTask(kernel, "sleeper") as task:
        start = kernel.scheduler.now

        def kernel_side() -> str:
            assert kernel.scheduler.current_thread is not None
            IOSleep(5)
            return "slept"

        assert task.syscall(kernel_side) == "slept"
        assert kernel.scheduler.now - start >= 5 * MILLISECOND


def test_user_threads_run_at_once_and_wait_any_returns_the_first_to_finish(
    kernel: Kernel,
) -> None:
    """Three user threads sleep 30, 10 and 20 ms in parallel: wait_any gives the 10 ms
    one, wait_all returns after 30 ms, not 60."""
    with UserTask(kernel, "parallel") as task:
        start = kernel.scheduler.now

        def nap(milliseconds: int) -> int:
            task.syscall(IOSleep, milliseconds)
            return milliseconds

        threads = [task.start_thread(nap, ms, name=f"nap {ms}") for ms in (30, 10, 20)]
        first = task.wait_any(threads)
        assert first is threads[1]
        assert threads[1].result() == 10
        assert kernel.scheduler.now - start == 10 * MILLISECOND
        assert task.wait_all(threads)
        assert [thread.result() for thread in threads] == [30, 10, 20]
        assert kernel.scheduler.now - start == 30 * MILLISECOND


def test_waits_time_out_in_virtual_time(kernel: Kernel) -> None:
    """wait_any and wait_all give up after their timeout; the threads finish later."""
    with UserTask(kernel, "patient") as task:
        thread = task.start_thread(lambda: task.syscall(IOSleep, 50))
        assert task.wait_any([thread], timeout=10 * MILLISECOND) is None
        assert not task.wait_all([thread], timeout=10 * MILLISECOND)
        assert task.wait_all([thread])


def test_a_user_thread_that_raises_crashes_the_program_not_the_machine(kernel: Kernel) -> None:
    """An exception escaping user code is re-raised by result() (and by run); the
    machine keeps running."""
    with UserTask(kernel, "buggy") as task:

        def crash() -> None:
            raise ZeroDivisionError("user bug")

        thread = task.start_thread(crash)
        task.wait_all([thread])
        with pytest.raises(ZeroDivisionError, match="user bug"):
            thread.result()
        with pytest.raises(ZeroDivisionError):
            task.run(crash)
        assert task.run(lambda: "still fine") == "still fine"
    assert not kernel.scheduler.panicked


@pytest.mark.allow_leaks
def test_an_exception_in_kernel_code_panics_even_when_user_code_catches_everything(
    kernel: Kernel,
) -> None:
    """Kernel code raising inside a system call made from a user thread panics the
    machine, though the program wraps the call in 'except Exception'."""

    def kernel_bug() -> None:
        raise KeyError("kernel bug")

    task = UserTask(kernel, "victim")

    def main() -> str:
        try:
            task.syscall(kernel_bug)
        except Exception:
            return "swallowed"
        return "returned"

    with pytest.raises(KernelPanic, match="kernel bug"):
        task.run(main)
    task.terminate()  # a panicked machine: only the memory is given back


def test_a_result_before_the_thread_finished_is_refused(kernel: Kernel) -> None:
    """result() of a running thread is a programming error."""
    with UserTask(kernel, "eager") as task:
        thread = task.start_thread(lambda: task.syscall(IOSleep, 1))
        with pytest.raises(UserTaskError, match="not finished"):
            thread.result()


def test_waiting_for_a_thread_that_never_finishes_is_a_deadlock(kernel: Kernel) -> None:
    """wait_all on a thread blocked for ever raises Deadlock on the host."""
    from kextlab.sim.sync import WaitQueue

    forever = WaitQueue(kernel.scheduler, "never woken")
    task = UserTask(kernel, "stuck")
    thread = task.start_thread(lambda: task.syscall(forever.wait))
    with pytest.raises(Deadlock):
        task.wait_all([thread])
    forever.wakeup_all()
    task.terminate()


def test_tasks_get_distinct_pids_and_security_tokens(kernel: Kernel) -> None:
    """Each task has its own pid; an administrator runs as uid 0, a user as 501."""
    first = UserTask(kernel, "one")
    second = UserTask(kernel, "two", administrator=True)
    assert second.pid == first.pid + 1
    assert first.security_token.val == (501, 20)
    assert not first.administrator
    assert second.security_token.val == (0, 0)
    assert second.administrator
    first.terminate()
    second.terminate()


def test_a_tool_holding_only_a_main_port_can_start_a_task(kernel: Kernel) -> None:
    """UserTask takes a live main port (what a tool holds) as well as a kernel; a port
    onto a registry from a dump has no kernel to run a task in."""
    from kextlab.userland import iokitlib as io

    with UserTask(io.IOMainPort(kernel.registry, kernel), "tool") as task:
        assert task.kernel is kernel
    with pytest.raises(UserTaskError, match="live kernel"):
        UserTask(io.IOMainPort(kernel.registry), "tool")
