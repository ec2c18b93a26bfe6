"""IOPCIFamily: PCI bridges and their IOPCIDevice nubs (built-in library kext
``com.apple.iokit.IOPCIFamily``).

The kernel-independent rules live in their own modules: register matching
(``match_keys``: IOPCIMatch, IOPCIPrimaryMatch, IOPCISecondaryMatch, IOPCIClassMatch)
and the names a nub is published and name-matched under (``names``).
"""
