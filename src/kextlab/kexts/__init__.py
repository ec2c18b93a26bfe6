"""The driver kexts kextlab ships, as real bundles (``Info.plist`` + Python module).

``SHIPPED`` is the folder that holds them; ``shipped(name)`` the path of one, for
``kextlab kextload`` and for tests::

    kextlab kextload "$(python -c 'import kextlab.kexts as k; print(k.shipped("KextLabTestCard"))')"
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

SHIPPED: Final = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The bundle ``name.kext`` shipped with kextlab."""
    path = SHIPPED / f"{name}.kext"
    if not path.is_dir():
        raise FileNotFoundError(f"kextlab ships no kext called {name}.kext (in {SHIPPED})")
    return path
