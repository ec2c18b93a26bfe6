"""The exceptions kextlab raises at its own edges.

Errors a guest (driver) makes are not exceptions: I/O Kit calls return ``IOReturn``
codes, and a misprogrammed device logs a *guest error* and carries on.  Python
exceptions are for three things only: invalid input at our edges (a bad machine
file, a malformed tree), a stopped machine, and bugs.  Each class also inherits the
built-in exception a caller would naturally catch::

    KextlabError
     +-- MachineDescriptionError      (ValueError)   bad machine file, parameter or name
     +-- DeviceTreeSyntaxError        (ValueError)   unreadable Open Firmware tree text
     +-- SchedulingError              (RuntimeError) blocking where nothing can wake the caller
     |    +-- InterruptContextViolation              blocking in interrupt context, or with
     |    |                                          interrupts disabled
     |    +-- Deadlock                               the host waits and no event is left
     +-- LockError                    (RuntimeError) a lock released by a non-owner, or re-taken
     |                                               by its owner when it is not recursive
     +-- KernelPanic                  (RuntimeError) an uncaught exception stopped the machine
     +-- InternalError                (RuntimeError) a bug in kextlab itself

Messages name the file, key or value concerned and say what was expected.
"""

from __future__ import annotations


class KextlabError(Exception):
    """Base class of every exception kextlab raises on purpose."""


class MachineDescriptionError(KextlabError, ValueError):
    """A machine description (TOML file, device parameter, machine name) is invalid.

    ``source`` is the file (or ``<embedded NAME>``), ``key`` the dotted path of the
    offending key (``device[2].params.dma_address_bits``) or ``None`` for the file
    as a whole.
    """

    def __init__(self, source: str, key: str | None, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


class DeviceTreeSyntaxError(KextlabError, ValueError):
    """An Open Firmware device-tree text file cannot be read."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


class SchedulingError(KextlabError, RuntimeError):
    """A blocking call was made where the caller could never be woken."""


class InterruptContextViolation(SchedulingError):
    """Blocking in interrupt context, or while interrupts are disabled.

    On real hardware this deadlocks or panics the machine; here it is reported at the
    offending call, naming the operation.
    """


class Deadlock(SchedulingError):
    """The host is waiting for something that no pending event can bring about."""


class LockError(KextlabError, RuntimeError):
    """A lock was misused: released by a thread that does not hold it, or re-taken
    by its owner although it is not recursive (a self-deadlock on real hardware)."""


class KernelPanic(KextlabError, RuntimeError):
    """The machine stopped because an exception escaped a kernel thread or an event.

    ``report`` holds the panic report: what failed, on which thread, at which virtual
    time, and the traceback.
    """

    def __init__(self, report: str) -> None:
        self.report = report
        super().__init__(report)


class InternalError(KextlabError, RuntimeError):
    """A bug in kextlab itself (an invariant broke), never a guest's fault."""
