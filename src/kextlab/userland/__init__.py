"""User space: the ``kextlab`` command (and, later, iokitlib and Apple's tools)."""
