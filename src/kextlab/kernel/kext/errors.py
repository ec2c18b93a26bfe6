"""The exceptions of the kext layer: bundles, versions, dependencies, loading.

Each class also inherits the built-in exception a caller would naturally catch, as
the rest of kextlab does (``kextlab.errors``)::

    KextlabError
     +-- KextError
          +-- KextBundleError      (ValueError)   a malformed or incomplete bundle or Info.plist
          +-- KextVersionError     (ValueError)   a string that is not a kext version
          +-- KextDependencyError  (LookupError)  a library missing or incompatible, or a cycle
          +-- KextLoadError        (RuntimeError) the executable failed to import, a class clash
          +-- KextUnloadError      (RuntimeError) a kext that cannot be unloaded now

Messages name the file, the key or value concerned, and what was expected.
"""

from __future__ import annotations

from pathlib import Path

from kextlab.errors import KextlabError


class KextError(KextlabError):
    """Base class of every kext error."""


class KextBundleError(KextError, ValueError):
    """A bundle or its Info.plist is malformed or incomplete.

    ``source`` is the file or directory at fault, ``key`` the Info.plist key path
    (``IOKitPersonalities.Bridge.IOProbeScore``) or ``None`` for the file as a whole.
    """

    def __init__(self, source: str | Path, key: str | None, message: str) -> None:
        self.source = str(source)
        self.key = key
        self.message = message
        where = f"{self.source}: {key}" if key else self.source
        super().__init__(f"{where}: {message}")


class KextVersionError(KextError, ValueError):
    """A string is not a kext version as ``OSKextParseVersionString`` reads them.

    ``text`` is the string, ``reason`` what is wrong with it.
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{text!r} is not a kext version: {reason}")


class KextDependencyError(KextError, LookupError):
    """A kext's OSBundleLibraries cannot be resolved.

    ``requester`` is the kext whose library failed, ``library`` the library's bundle
    identifier (``None`` when the fault is not one library, e.g. a cycle).
    """

    def __init__(self, requester: str, library: str | None, message: str) -> None:
        self.requester = requester
        self.library = library
        self.message = message
        super().__init__(f"{requester}: {message}")


class KextLoadError(KextError, RuntimeError):
    """A kext's executable could not be imported, or its classes not registered."""

    def __init__(self, bundle_id: str, message: str) -> None:
        self.bundle_id = bundle_id
        self.message = message
        super().__init__(f"{bundle_id}: {message}")


class KextUnloadError(KextError, RuntimeError):
    """A kext cannot be unloaded now (instances alive, dependents loaded...)."""

    def __init__(self, bundle_id: str, message: str) -> None:
        self.bundle_id = bundle_id
        self.message = message
        super().__init__(f"{bundle_id}: {message}")
