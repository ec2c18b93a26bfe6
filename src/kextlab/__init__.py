"""kextlab: an I/O Kit laboratory.

Write drivers in Apple's I/O Kit model, load them as kexts into an emulated,
deterministic machine (Open Firmware, PCI, devices), and inspect and test them with
Apple's own tools.  The layers, bottom up (each imports only those below it)::

    sim        virtual time, events, kernel threads, blocking, trace, seeded RNG
    machine    physical memory, PCI, interrupts, device models, machine descriptions
    firmware   Open Firmware: PCI probe and resource assignment, the device tree
    userland   the ``kextlab`` command

See ``docs`` in the repository for the architecture.
"""

__version__ = "0.1.0"
