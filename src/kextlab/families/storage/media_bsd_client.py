"""IOMediaBSDClient: the BSD names of media (``diskN``, ``diskNsM``), units, majors, minors.

Mirrors ``IOMediaBSDClient.h``/``.cpp`` of IOStorageFamily, without the BSD device
switch (kextlab has no BSD layer, so no ``/dev`` nodes or ioctls: what user space
needs of them, ``userland.devices`` builds on ``BSD Name``).  Every media object gets
a client (``IOMatchCategory`` = ``IOMediaBSDClient``, score 30000, waiting for the
``IOBSD`` resource as Apple's personality says), which names the media:

* the **anchor** of a media tree is the provider of its whole media (the block
  storage driver: it stays when the medium is ejected), and its index in the kernel's
  anchor table is the **unit**, ``BSD Unit``: the first free one for a new anchor,
  and the same one again for a new medium in the same drive;
* each media takes the first free slot of the **minor** table, ``BSD Minor``, under
  the name ``disk<unit>`` for the whole media and ``disk<unit>s<location>`` for a
  partition (a partition of a partition adds another ``s<location>``: ``disk6s0s1``);
  ``BSD Name`` is that name and ``BSD Major`` the disk major, 1 (macOS's);
* when the client stops (its media terminated) the minor is freed; an anchor's unit
  is freed when the anchor is terminated and no minor uses it any more.

The tables are per kernel (``scheduler.extensions``), never module-global.

Threading rules: start and stop on config and terminate threads; nothing blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from kextlab.families.storage.media import IOMedia
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.service.service import IOService, kIOMessageServiceIsTerminated
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.service.notification import IONotifier

__all__ = [
    "IOMediaBSDClient",
    "MediaBSDTables",
    "kIOBSDMajorKey",
    "kIOBSDMinorKey",
    "kIOBSDNameKey",
    "kIOBSDUnitKey",
    "media_bsd_tables",
]

kIOBSDKey: Final = "IOBSD"
kIOBSDNameKey: Final = "BSD Name"
kIOBSDMajorKey: Final = "BSD Major"
kIOBSDMinorKey: Final = "BSD Minor"
kIOBSDUnitKey: Final = "BSD Unit"
#: The block (and character) device major of disks on macOS.
DISK_MAJOR: Final = 1

_EXTENSION: Final = "kextlab.families.storage.bsd"


@dataclass
class _Anchor:
    anchor: IOService
    key: IOMedia
    notifier: IONotifier | None = None
    obsolete: bool = False


@dataclass
class _Minor:
    media: IOMedia
    anchor_id: int
    client: IOMediaBSDClient
    name: str


@dataclass
class MediaBSDTables:
    """The anchor (unit) and minor tables of one kernel (``gIOMediaBSDClientGlobals``)."""

    anchors: list[_Anchor | None] = field(default_factory=list)
    minors: list[_Minor | None] = field(default_factory=list)
    majorID: int = DISK_MAJOR

    def anchor_id(self, anchor: IOService, whole: IOMedia) -> int:
        """The unit of ``anchor`` for the whole media ``whole``: its slot if it has
        one (reused for a new medium when no minor still names the old one), else the
        first free slot."""
        for index, slot in enumerate(self.anchors):
            if (
                slot is not None
                and not slot.obsolete
                and slot.anchor is anchor
                and slot.key is whole
            ):
                return index
        for index, slot in enumerate(self.anchors):
            if (
                slot is not None
                and not slot.obsolete
                and slot.anchor is anchor
                and not self._referenced(index)
            ):
                slot.key = whole
                return index
        entry = _Anchor(anchor, whole)
        anchor.retain()
        entry.notifier = anchor.registerInterest(
            "IOGeneralInterest", MediaBSDTables._anchor_message, self, entry
        )
        for index, slot in enumerate(self.anchors):
            if slot is None:
                self.anchors[index] = entry
                return index
        self.anchors.append(entry)
        return len(self.anchors) - 1

    def _referenced(self, anchor_id: int) -> bool:
        return any(minor is not None and minor.anchor_id == anchor_id for minor in self.minors)

    @staticmethod
    def _anchor_message(
        target: object, ref: object, type: int, provider: IOService, argument: object
    ) -> int:
        """The anchor is terminated: free its unit now, or when its last minor goes."""
        if type == kIOMessageServiceIsTerminated:
            assert isinstance(target, MediaBSDTables)
            assert isinstance(ref, _Anchor)
            if ref in target.anchors:
                index = target.anchors.index(ref)
                ref.obsolete = True
                if not target._referenced(index):
                    target._remove_anchor(index)
        return kIOReturnSuccess

    def _remove_anchor(self, anchor_id: int) -> None:
        slot = self.anchors[anchor_id]
        if slot is None:
            return
        self.anchors[anchor_id] = None
        if slot.notifier is not None:
            slot.notifier.remove()
        slot.anchor.release()

    def insert_minor(
        self, media: IOMedia, anchor_id: int, client: IOMediaBSDClient, name: str
    ) -> int:
        minor = _Minor(media, anchor_id, client, name)
        for index, slot in enumerate(self.minors):
            if slot is None:
                self.minors[index] = minor
                return index
        self.minors.append(minor)
        return len(self.minors) - 1

    def remove_minor(self, media: IOMedia) -> None:
        for index, slot in enumerate(self.minors):
            if slot is not None and slot.media is media:
                self.minors[index] = None
                anchor = (
                    self.anchors[slot.anchor_id] if slot.anchor_id < len(self.anchors) else None
                )
                if anchor is not None and anchor.obsolete and not self._referenced(slot.anchor_id):
                    self._remove_anchor(slot.anchor_id)
                return

    def names(self) -> dict[str, IOMedia]:
        """Every named media by its BSD name (what ``/dev`` would list)."""
        return {minor.name: minor.media for minor in self.minors if minor is not None}


def media_bsd_tables() -> MediaBSDTables:
    """The running kernel's tables (made on first use)."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise RuntimeError("the BSD tables belong to a running machine")
    tables = scheduler.extensions.get(_EXTENSION)
    if tables is None:
        tables = scheduler.extensions[_EXTENSION] = MediaBSDTables()
    assert isinstance(tables, MediaBSDTables)
    return tables


def whole_media_and_slice_path(media: IOMedia) -> tuple[IOMedia, str] | None:
    """``getWholeMedia``: the whole media at the root of ``media``'s tree and the
    slice path down from it (``"s2"``, ``"s0s1"``); None for a malformed tree."""
    path = ""
    service: IOService | None = media
    while service is not None:
        if isinstance(service, IOMedia):
            if service.isWhole():
                return service, path
            location = service.getLocation()
            if location is None:
                return None
            path = f"s{location}{path}"
        service = service.getProvider()
    return None


class IOMediaBSDClient(IOService):
    """The BSD client of one media object."""

    def __init__(self) -> None:
        super().__init__()
        self._media: IOMedia | None = None

    def getProvider(self) -> IOMedia | None:
        provider = super().getProvider()
        return provider if isinstance(provider, IOMedia) else None

    def start(self, provider: IOService) -> bool:
        if not isinstance(provider, IOMedia) or not super().start(provider):
            return False
        if not self.createNodes(provider):
            return False
        self.registerService()
        return True

    def createNodes(self, media: IOMedia) -> bool:
        """Give ``media`` its unit, minor and name (Apple also makes the ``/dev``
        nodes here)."""
        found = whole_media_and_slice_path(media)
        if found is None:
            return False
        whole, slice_path = found
        anchor = whole.getProvider()
        if anchor is None:
            return False
        tables = media_bsd_tables()
        anchor_id = tables.anchor_id(anchor, whole)
        name = f"disk{anchor_id}{slice_path}"
        minor_id = tables.insert_minor(media, anchor_id, self, name)
        media.setProperty(kIOBSDNameKey, name)
        media.setProperty(kIOBSDUnitKey, anchor_id, 32)
        media.setProperty(kIOBSDMajorKey, tables.majorID, 32)
        media.setProperty(kIOBSDMinorKey, minor_id, 32)
        media.retain()
        self._media = media
        return True

    def stop(self, provider: IOService) -> None:
        media = self._media
        if media is not None:
            media_bsd_tables().remove_minor(media)
            media.release()
            self._media = None
        super().stop(provider)

    def free(self) -> None:
        if self._media is not None:
            self._media.release()
            self._media = None
        super().free()
