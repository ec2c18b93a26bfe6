"""IOCDMediaBSDClient: the BSD client of CD media.

Mirrors ``IOCDMediaBSDClient.h``/``.cpp`` of IOCDStorageFamily: matched on
``IOCDMedia`` in the ``IOMediaBSDClient`` category with a higher score (31000) than
``IOMediaBSDClient`` (30000), so a CD's media gets this class, as real dumps show.
Apple's adds the CD ioctls (``DKIOCCDREADTOC`` ...) to the BSD device; kextlab has
no BSD ioctl layer, so naming (``IOMediaBSDClient``) is all there is to it, and
``IOCDMedia.readTOC`` is how a client reads the TOC.

Threading rules: as ``IOMediaBSDClient``.
"""

from __future__ import annotations

from kextlab.families.storage.media_bsd_client import IOMediaBSDClient

__all__ = ["IOCDMediaBSDClient"]


class IOCDMediaBSDClient(IOMediaBSDClient):
    """The BSD client of an ``IOCDMedia``."""
