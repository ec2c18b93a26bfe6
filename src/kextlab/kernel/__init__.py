"""The kernel: libkern, the I/O Registry, the platform and (later) services, matching
and kexts.  It starts from the firmware's device tree."""
