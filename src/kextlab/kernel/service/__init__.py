"""IOService: states, busy counts, providers and clients (matching comes next)."""

from kextlab.kernel.service.service import (
    IOService,
    kIOServiceFirstMatchState,
    kIOServiceFirstPublishState,
    kIOServiceInactiveState,
    kIOServiceMatchedState,
    kIOServiceRegisteredState,
)

__all__ = [
    "IOService",
    "kIOServiceFirstMatchState",
    "kIOServiceFirstPublishState",
    "kIOServiceInactiveState",
    "kIOServiceMatchedState",
    "kIOServiceRegisteredState",
]
