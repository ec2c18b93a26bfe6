"""Apple's tools, over ``kextlab.userland.iokitlib``: one module each.

A tool is a function from a main port and its arguments to a ``ToolOutput``: the
lines it writes to standard output and to standard error, and its exit status.
Lines are text; bytes of a real Mac's dump that were not UTF-8 ride along as lone
surrogates, so whoever writes them encodes with ``surrogateescape``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ToolOutput:
    """What one run of a tool wrote, and how it exited."""

    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    status: int = 0
