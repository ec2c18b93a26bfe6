"""The I/O Kit families, each also a built-in library kext (``com.apple.iokit.IOPCIFamily`` ...)."""
