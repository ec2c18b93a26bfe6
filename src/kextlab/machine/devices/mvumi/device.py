"""The Marvell UMI RAID controllers as PCI functions: 88SE9143 and 88SE9580.

The chip is a PCIe endpoint in front of an ARM core running firmware.  This module
is the endpoint: configuration header, the register BAR (``registers`` is the
datasheet), the interrupt logic, and the SCSI bus the firmware drives
(``device.scsi_bus``: attach targets there).  Everything the firmware does lives in
``firmware.py`` and ``message_unit.py``; the register hooks here only hand the host's
writes to it.

Interrupts: ``main_int_cause_reg`` is computed on every read from the pending
sources (firmware doorbells under ``arm_to_pciea_mask_reg``, ``outb_isr_cause``)
masked by ``enpointa_mask_reg``, and INTx follows ``main_int_cause & int_mu``
whenever one of them changes: ``update_interrupt`` runs from the write hook of
the four, and the firmware calls it after it changed one.  ``main_int_cause`` reads
the register values directly, with the chip's bits as plain integers taken once at
construction, since every command passes through it a few times; for the same
reason, once realized, the two list pointers' write hooks are the firmware's own
methods.

The 9580 is a subclass that changes only the chip description: its register
offsets and bits, the register BAR (2), no ob_shadow, and its reset registers.

Threading rules: register hooks run in the context of the MMIO access and never
block; the firmware works in scheduler events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from kextlab.errors import InternalError
from kextlab.machine.device import Parameter
from kextlab.machine.devices.mvumi import registers as mv
from kextlab.machine.devices.mvumi.firmware import Firmware, FirmwareSettings
from kextlab.machine.devices.mvumi.handshake import FirmwareCapabilities
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind
from kextlab.machine.pci.function import PCIFunction
from kextlab.machine.registers import Access, Register, RegisterFile
from kextlab.machine.scsi.bus import SCSIBus
from kextlab.sim.time import MICROSECOND, MILLISECOND, SECOND

if TYPE_CHECKING:
    from kextlab.machine.machine import Machine

ReadHook = Callable[[], int] | None
WriteHook = Callable[[int, int], None] | None


class MarvellUMI(PCIFunction):
    """A Marvell UMI controller; subclasses name the chip."""

    chip: ClassVar[mv.Chip]
    has_scsi_bus = True
    parameters: ClassVar[Mapping[str, Parameter]] = {
        "max_targets": Parameter(
            "int",
            16,
            "target IDs the firmware serves (page 1 max_devices_support)",
            minimum=1,
            maximum=255,
        ),
        "queue_depth": Parameter(
            "int",
            64,
            "commands the firmware holds at once and entries per list "
            "(max_io_support, cl_inout_list_depth)",
            minimum=2,
            maximum=255,
        ),
        "max_transfer": Parameter(
            "size",
            1 << 20,
            "largest data_transfer_length of one command (max_transfer_size)",
            minimum=4 << 10,
            maximum=1 << 30,
        ),
        "inbound_frame_size": Parameter(
            "size",
            512,
            "bytes per inbound list entry: a 32-byte frame and up to 32 16-byte SG "
            "entries (cl_in_max_entry_size)",
            minimum=64,
            maximum=4096,
            power_of_two=True,
        ),
        "outbound_frame_size": Parameter(
            "size",
            128,
            "bytes per outbound list entry (cl_out_max_entry_size)",
            minimum=32,
            maximum=1024,
            power_of_two=True,
        ),
        "firmware_latency_ns": Parameter(
            "int",
            2 * MICROSECOND,
            "time from a doorbell to the firmware acting on it",
            minimum=0,
            maximum=SECOND,
        ),
        "boot_time_ns": Parameter(
            "int",
            MILLISECOND,
            "firmware boot time after power-on or a soft reset, until READYSTATE",
            minimum=0,
            maximum=60 * SECOND,
        ),
    }

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(name, parameters)
        chip = self.chip
        self.set_identity(
            vendor_id=mv.VENDOR_ID,
            device_id=chip.device_id,
            class_code=mv.CLASS_CODE,
            revision_id=mv.REVISION_ID,
            subsystem_vendor_id=mv.SUBSYSTEM_VENDOR_ID,
            subsystem_id=chip.device_id,
        )
        self.set_status_capabilities(devsel=r.DEVSEL_FAST)
        self.set_interrupt_pin(r.INTA)
        bits = self._bits = chip.bits
        self._int_dl_cpu2pciea = bits.int_dl_cpu2pciea
        self._int_comaout = bits.int_comaout
        self._int_comaerr = bits.int_comaerr
        self._clic_irq = bits.clic_irq
        self._list_errors = bits.list_errors
        self._int_mu = bits.int_mu
        self.registers = RegisterFile(
            name, mv.REGISTER_BAR_SIZE, self._register_table(), report=self.guest_error
        )
        self._values = self.registers.values
        self.add_bar(
            chip.register_bar,
            BarKind.MEMORY32,
            mv.REGISTER_BAR_SIZE,
            self.registers.region(f"{name}.registers", access_sizes=(4,)),
        )
        capabilities = FirmwareCapabilities(
            max_devices=parameters["max_targets"],
            max_io=parameters["queue_depth"],
            max_transfer=parameters["max_transfer"],
            inbound_entry_code=parameters["inbound_frame_size"].bit_length() - 3,
            outbound_entry_code=parameters["outbound_frame_size"].bit_length() - 3,
            list_depth=parameters["queue_depth"],
        )
        self.firmware_settings = FirmwareSettings(
            capabilities, parameters["firmware_latency_ns"], parameters["boot_time_ns"]
        )
        self._scsi_bus: SCSIBus | None = None
        self._firmware: Firmware | None = None

    def realize(self, machine: Machine) -> None:
        super().realize(machine)
        bus = SCSIBus(
            machine.scheduler,
            f"{self.name}.scsi",
            max_targets=self.firmware_settings.capabilities.max_devices,
        )
        self._scsi_bus = bus
        firmware = self._firmware = Firmware(self, machine.scheduler, bus, self.firmware_settings)
        # From now on the host's pointer writes reach the firmware in one call (every
        # command writes both); the hooks of the table stand in only until realized.
        registers = self.registers
        registers.set_on_write("inb_write_pointer", firmware.inbound_doorbell)
        registers.set_on_write("outb_read_pointer", firmware.outbound_taken)
        firmware.power_on()

    @property
    def scsi_bus(self) -> SCSIBus:
        """The bus behind the firmware; targets attach here."""
        if self._scsi_bus is None:
            raise InternalError(f"{self.name}: the SCSI bus exists once the device is realized")
        return self._scsi_bus

    @property
    def firmware(self) -> Firmware:
        if self._firmware is None:
            raise InternalError(f"{self.name}: the firmware runs once the device is realized")
        return self._firmware

    def reset(self) -> None:
        """PCI reset: the registers, the firmware (rebooting) and the SCSI bus."""
        self.registers.reset()
        if self._firmware is not None:
            self._firmware.soft_reset("PCI reset")
        super().reset()

    # -- the register table ----------------------------------------------------------------

    def _register_table(self) -> list[Register]:
        offsets = self.chip.registers
        hooks: dict[str, tuple[Access, ReadHook, WriteHook]] = {
            "main_int_cause_reg": (Access.RO, self.main_int_cause, None),
            "enpointa_mask_reg": (Access.RW, None, self._interrupt_register_written),
            "pciea_to_arm_drbl_reg": (Access.RW, None, self._host_doorbell),
            "arm_to_pciea_drbl_reg": (Access.W1C, None, self._interrupt_register_written),
            "arm_to_pciea_mask_reg": (Access.RW, None, self._interrupt_register_written),
            "pciea_to_arm_msg0": (Access.RW, None, None),
            "pciea_to_arm_msg1": (Access.RW, None, None),
            "arm_to_pciea_msg0": (Access.RO, None, None),
            "arm_to_pciea_msg1": (Access.RW, None, None),
            "inb_aval_count_basel": (Access.RW, None, None),
            "inb_aval_count_baseh": (Access.RW, None, None),
            "inb_write_pointer": (Access.RW, None, self._inbound_doorbell),
            "inb_read_pointer": (Access.RO, None, None),
            "outb_copy_basel": (Access.RW, None, None),
            "outb_copy_baseh": (Access.RW, None, None),
            "outb_copy_pointer": (Access.RO, None, None),
            "outb_read_pointer": (Access.RW, None, self._outbound_taken),
            "outb_isr_cause": (Access.W1C, None, self._interrupt_register_written),
            "outb_coal_cfg": (Access.RW, None, self._coalescing_written),
            "ctrl_sts_reg": (Access.RW, None, self._inert_written("ctrl_sts_reg")),
            "rstoutn_mask_reg": (Access.RW, None, self._inert_written("rstoutn_mask_reg")),
            "sys_soft_rst_reg": (Access.RW, None, self._inert_written("sys_soft_rst_reg")),
            "rstoutn_en_reg": (Access.RW, None, self._inert_written("rstoutn_en_reg")),
            "reset_enable": (Access.RW, None, None),
            "reset_request": (Access.RW, None, self._reset_requested),
        }
        table = []
        for name, (access, on_read, on_write) in hooks.items():
            offset = getattr(offsets, name)
            if offset is not None:
                table.append(
                    Register(name, offset, access=access, on_read=on_read, on_write=on_write)
                )
        return table

    # -- interrupts ------------------------------------------------------------------------

    def main_int_cause(self) -> int:
        """The pending causes enabled in enpointa_mask_reg (main_int_cause_reg)."""
        values = self._values
        cause = 0
        if values["arm_to_pciea_drbl_reg"] & values["arm_to_pciea_mask_reg"]:
            cause = self._int_dl_cpu2pciea
        list_status = values["outb_isr_cause"]
        if list_status & self._clic_irq:
            cause |= self._int_comaout
        if list_status & self._list_errors:
            cause |= self._int_comaerr
        return cause & values["enpointa_mask_reg"]

    def update_interrupt(self) -> None:
        """Drive INTx from main_int_cause & int_mu."""
        self.set_irq(bool(self.main_int_cause() & self._int_mu))

    def _interrupt_register_written(self, old: int, new: int) -> None:
        """The write hook of the four registers the interrupt depends on."""
        self.update_interrupt()

    # -- host writes the firmware acts on -------------------------------------------------------

    def _host_doorbell(self, old: int, bits: int) -> None:
        self._values["pciea_to_arm_drbl_reg"] = old  # write 1 to set: the firmware ORs
        self.firmware.host_doorbell(bits)

    def _inbound_doorbell(self, old: int, pointer: int) -> None:
        self.firmware.inbound_doorbell(old, pointer)

    def _outbound_taken(self, old: int, pointer: int) -> None:
        self.firmware.outbound_taken(old, pointer)

    def _coalescing_written(self, old: int, value: int) -> None:
        if value:
            self.unimplemented(f"outb_coal_cfg {value:#x}: interrupt coalescing")

    def _inert_written(self, name: str) -> Callable[[int, int], None]:
        def written(old: int, value: int) -> None:
            self.unimplemented(f"{name} {value:#x}: the register has no effect in this model")

        return written

    def _reset_requested(self, old: int, value: int) -> None:
        """9580: reset_request with the bit also set in reset_enable resets the chip."""
        if value & mv.RESET_9580_BIT and self.registers["reset_enable"] & mv.RESET_9580_BIT:
            self.firmware.soft_reset("reset_request")


class MarvellUMI9143(MarvellUMI):
    """Marvell 88SE9143 (registers in BAR0; the emulator's reference profile)."""

    model = "mvumi9143"
    summary = "Marvell UMI 88SE9143 RAID controller: handshake, rings, SCSI bus (mvumi)"
    chip = mv.MV9143


class MarvellUMI9580(MarvellUMI):
    """Marvell 88SE9580 (registers in BAR2 at other offsets; no ob_shadow)."""

    model = "mvumi9580"
    summary = "Marvell UMI 88SE9580 RAID controller: the 9143's firmware at 9580 offsets"
    chip = mv.MV9580
