"""Target and LUN discovery when the HBA does not manage its devices (spec §1.7):
presence by TEST UNIT READY, INQUIRY, REPORT LUNS or brute force, the nubs and their
properties, and how peripheral drivers would match them."""

from __future__ import annotations

from kextlab.families.scsi import definitions as scsi
from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
from kextlab.families.scsi.peripheral_nub import (
    IOSCSILogicalUnitNub,
    kDefaultProbeRanking,
    kSecondOrderRanking,
)
from kextlab.families.scsi.target_device import IOSCSITargetDevice
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.convert import from_python, to_user
from kextlab.kernel.service.service import ScoreRef, kIOServiceRegisteredState
from kextlab.machine.scsi import sense
from kextlab.machine.scsi.constants import PeripheralType
from kextlab.machine.scsi.request import SCSIRequest
from kextlab.machine.scsi.target import SCSITarget
from kextlab.testing.umibench import RamDisk

from .soft_hba import HBAConfig, logical_units, publish_hba, services_of

TUR, INQUIRY, REQUEST_SENSE, REPORT_LUNS = 0x00, 0x12, 0x03, 0xA0


class NoMediumDisk(RamDisk):
    """A removable disk without its medium: TEST UNIT READY is CHECK CONDITION."""

    removable = True

    def not_ready(self) -> sense.SenseCode | None:
        return sense.NO_MEDIUM


class ScsiTwoDisk(RamDisk):
    """A SCSI-2 disk: its INQUIRY claims ANSI version 2, older than SPC."""

    def standard_inquiry(self) -> bytes:
        data = bytearray(super().standard_inquiry())
        data[2] = scsi.kINQUIRY_ANSI_VERSION_SCSI_2_Compliant
        return bytes(data)


class Tape(RamDisk):
    peripheral_type = PeripheralType.TAPE


class ForgetfulTarget(SCSITarget):
    """A target whose REPORT LUNS leaves LUN 0 out."""

    def report_luns(self, request: SCSIRequest) -> None:
        body = b"".join(bytes((0, lun)) + bytes(6) for lun in self.units if lun)
        request.send(len(body).to_bytes(4, "big") + bytes(4) + body)


def opcodes_to(config: HBAConfig, target_id: int) -> list[tuple[int, int]]:
    """(LUN, opcode) of every command the HBA was given for ``target_id``."""
    return [(lun, cdb[0]) for target, lun, cdb in config.commands if target == target_id]


def test_empty_ids_are_not_present_and_keep_no_target_device(kernel: Kernel) -> None:
    """An empty ID answers TEST UNIT READY with DeviceNotPresent: one TUR, no INQUIRY,
    no target device, and its nub stays unregistered; the disk's ID is scanned."""
    config = HBAConfig(highest_id=3, targets={1: SCSITarget("d", {0: RamDisk("d", 64)})})
    publish_hba(kernel, config)
    assert opcodes_to(config, 0) == [(0, TUR)]
    assert opcodes_to(config, 3) == [(0, TUR)]
    targets = services_of(kernel, IOSCSITargetDevice)
    assert [t.getProvider().GetTargetIdentifier() for t in targets] == [1]
    nubs = {d.GetTargetIdentifier(): d for d in services_of(kernel, IOSCSIParallelInterfaceDevice)}
    assert not nubs[0].getState() & kIOServiceRegisteredState
    assert nubs[1].getState() & kIOServiceRegisteredState
    assert sorted(logical_units(kernel)) == [(1, 0)]


def test_a_logical_unit_nub_publishes_what_inquiry_says(kernel: Kernel) -> None:
    """The LUN nub carries type, identification, LUN, VPD serial number, location and
    protocol characteristics; the target nub its ID."""
    disk = RamDisk("disk0", 64)
    disk.serial = "SERIAL-0042"
    config = HBAConfig(highest_id=2, targets={2: SCSITarget("t", {0: disk})})
    publish_hba(kernel, config)
    nub = logical_units(kernel)[(2, 0)]
    properties = to_user(nub.dictionaryWithProperties())
    assert properties["Peripheral Device Type"] == 0
    assert properties["Vendor Identification"] == "KEXTLAB"
    assert properties["Product Identification"] == "RAM DISK"
    assert properties["Product Revision Level"] == "0001"
    assert properties["SCSI Logical Unit Number"] == 0
    assert properties["IOUnitLUN"] == 0
    assert properties["INQUIRY Unit Serial Number"] == "SERIAL-0042"
    assert properties["IOMatchCategory"] == "SCSITaskUserClientIniter"
    assert properties["Protocol Characteristics"]["SCSI Logical Unit Number"] == 0
    assert properties["Protocol Characteristics"]["SCSI Target Identifier"] == 2
    assert "INQUIRY Device Identification" in properties
    assert nub.getLocation() == "0"
    assert nub.getState() & kIOServiceRegisteredState
    device = nub.getProvider().getProvider()
    assert isinstance(device, IOSCSIParallelInterfaceDevice)
    assert to_user(device.getProperty("IOUnit")) == 2
    assert device.getLocation() == "2"
    features = to_user(device.getProperty(scsi.kIOPropertyProtocolCharacteristicsKey))
    assert features["SCSI I_T Nexus Features"] == 0


def test_check_condition_on_test_unit_ready_still_means_present(kernel: Kernel) -> None:
    """A unit that answers TUR with NOT READY / medium not present is there: its target
    and LUN are made."""
    config = HBAConfig(highest_id=0, targets={0: SCSITarget("r", {0: NoMediumDisk("r", 64)})})
    publish_hba(kernel, config)
    assert sorted(logical_units(kernel)) == [(0, 0)]


def test_the_family_fetches_sense_the_hba_does_not_bring(kernel: Kernel) -> None:
    """With an HBA that does not perform autosense, the CHECK CONDITION of TUR is
    followed by the family's own REQUEST SENSE, and the unit is still found."""
    config = HBAConfig(
        highest_id=0,
        performs_autosense=False,
        targets={0: SCSITarget("r", {0: NoMediumDisk("r", 64)})},
    )
    publish_hba(kernel, config)
    sent = opcodes_to(config, 0)
    assert sent[:2] == [(0, TUR), (0, REQUEST_SENSE)]
    assert sorted(logical_units(kernel)) == [(0, 0)]


def test_report_luns_lists_the_units_and_lun_zero_is_made_anyway(kernel: Kernel) -> None:
    """An SPC target is asked REPORT LUNS (header, then the list); the listed LUNs are
    TUR-verified and made, and LUN 0 is made although the list leaves it out."""
    units = {0: RamDisk("a", 64), 1: RamDisk("b", 64), 4: Tape("c", 64)}
    config = HBAConfig(highest_id=0, targets={0: ForgetfulTarget("t", units)})
    publish_hba(kernel, config)
    assert sorted(logical_units(kernel)) == [(0, 0), (0, 1), (0, 4)]
    sent = opcodes_to(config, 0)
    assert sent.count((0, REPORT_LUNS)) == 2
    assert (1, TUR) in sent
    assert (4, TUR) in sent
    assert (2, TUR) not in sent  # no brute force when REPORT LUNS answered
    assert to_user(logical_units(kernel)[(0, 4)].getProperty("Peripheral Device Type")) == 1


def test_an_old_target_is_scanned_by_brute_force(kernel: Kernel) -> None:
    """A SCSI-2 target gets no REPORT LUNS: LUN 0, then TUR to every LUN up to the
    HBA's highest; "logical unit not supported" answers leave no nub."""
    units = {0: ScsiTwoDisk("a", 64), 3: ScsiTwoDisk("b", 64)}
    config = HBAConfig(highest_id=0, highest_lun=5, targets={0: SCSITarget("t", units)})
    publish_hba(kernel, config)
    sent = opcodes_to(config, 0)
    assert (0, REPORT_LUNS) not in sent
    probed = [lun for lun, op in sent if op == TUR and lun]
    assert sorted(set(probed)) == [1, 2, 3, 4, 5]
    assert [probed.count(lun) for lun in (1, 2, 4, 5)] == [1, 1, 1, 1]  # no nub, no more
    assert sorted(logical_units(kernel)) == [(0, 0), (0, 3)]


def test_the_scan_leaves_the_machine_quiet(kernel: Kernel) -> None:
    """After the scan nothing is pending: the registry is quiet and the run ends."""
    config = HBAConfig(highest_id=2, targets={1: SCSITarget("t", {0: RamDisk("d", 64)})})
    publish_hba(kernel, config)
    assert kernel.scheduler.pending_events == 0 or kernel.wait_quiet() == 0
    assert all(not t.getBusyState() for t in services_of(kernel, IOSCSITargetDevice))


def test_peripheral_drivers_match_by_type_then_identification(kernel: Kernel) -> None:
    """matchPropertyTable ranks Apple's way: type 5000, +vendor+product 15000; a wrong
    field refuses; a table without a type matches only by its match category."""
    config = HBAConfig(highest_id=0, targets={0: SCSITarget("t", {0: RamDisk("d", 64)})})
    publish_hba(kernel, config)
    nub = logical_units(kernel)[(0, 0)]
    assert isinstance(nub, IOSCSILogicalUnitNub)

    def rank(table: dict[str, object], start: int = 0) -> tuple[bool, int]:
        dictionary = from_python(table)
        assert isinstance(dictionary, OSDictionary)
        score = ScoreRef(start)
        matched = nub.matchPropertyTable(dictionary, score)
        dictionary.release()
        return matched, score.value

    assert rank({"Peripheral Device Type": 0}) == (True, kDefaultProbeRanking)
    assert rank({"Peripheral Device Type": 5}) == (False, 0)
    assert rank(
        {
            "Peripheral Device Type": 0,
            "Vendor Identification": "KEXTLAB",
            "Product Identification": "RAM DISK",
        }
    ) == (True, kSecondOrderRanking)
    assert rank({"Peripheral Device Type": 0, "Vendor Identification": "OTHER"})[0] is False
    assert rank({"IOMatchCategory": "SCSITaskUserClientIniter"}) == (
        True,
        kDefaultProbeRanking - 100,
    )
    assert rank({}) == (False, 0)
    assert rank({"Peripheral Device Type": 0}, start=6000) == (True, kDefaultProbeRanking + 4000)
