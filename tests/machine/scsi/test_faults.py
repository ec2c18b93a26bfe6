"""Fault injection: every fault kind's exact SCSI-level effect, and determinism.

A disk sits at target 0 of a bus whose ``FaultInjector`` is scsi_debug's (spec §3);
commands go in through ``SCSIBus.submit`` as an HBA would send them, and each test
checks what came back: status, sense key/ASC/ASCQ, INFORMATION, the data moved,
whether the command completed at all, and what the injector recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kextlab.machine.scsi import Direction, HostStatus, MemoryBuffer, SCSIBus, SCSIRequest, sense
from kextlab.machine.scsi.bus import Timing
from kextlab.machine.scsi.constants import Opcode, SenseKey, Status
from kextlab.machine.scsi.disk import DiskUnit
from kextlab.machine.scsi.faults import (
    TRANSPORT_PROBLEM,
    Action,
    FaultError,
    FaultInjector,
    FaultRule,
    Opts,
    transfer_of,
    with_block_count,
)
from kextlab.machine.scsi.image import DiskImage
from kextlab.machine.scsi.target import SCSITarget
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.time import MICROSECOND, MILLISECOND

BLOCK = 512
BLOCKS = 8192


@dataclass
class Bench:
    scheduler: Scheduler
    bus: SCSIBus
    faults: FaultInjector
    disk: DiskUnit

    def submit(
        self,
        cdb: bytes,
        *,
        data_in: int = 0,
        data_out: bytes = b"",
        target: int = 0,
        tag: int = 0,
    ) -> SCSIRequest:
        if data_out:
            request = SCSIRequest(0, cdb, Direction.OUT, MemoryBuffer(data_out), tag=tag)
        elif data_in:
            request = SCSIRequest(0, cdb, Direction.IN, MemoryBuffer(data_in), tag=tag)
        else:
            request = SCSIRequest(0, cdb, tag=tag)
        self.bus.submit(target, request)
        return request

    def run(self, cdb: bytes, **kwargs: int | bytes) -> SCSIRequest:
        request = self.submit(cdb, **kwargs)  # type: ignore[arg-type]
        self.scheduler.run()
        return request


def read10(lba: int, blocks: int) -> bytes:
    return (
        bytes([Opcode.READ_10, 0])
        + lba.to_bytes(4, "big")
        + bytes([0])
        + blocks.to_bytes(2, "big")
        + bytes([0])
    )


def write10(lba: int, blocks: int) -> bytes:
    return bytes([Opcode.WRITE_10]) + read10(lba, blocks)[1:]


def read16(lba: int, blocks: int) -> bytes:
    return bytes([Opcode.READ_16, 0]) + lba.to_bytes(8, "big") + blocks.to_bytes(4, "big") + b"\0\0"


TUR = bytes(6)


def pattern(blocks: int, seed: int = 1) -> bytes:
    return bytes((seed + index) & 0xFF for index in range(blocks * BLOCK))


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    scheduler = Scheduler(seed=5)
    bus = SCSIBus(scheduler, "scsi0")
    faults = FaultInjector(scheduler)
    faults.install(bus)
    with DiskImage(tmp_path / "disk.img", size=BLOCKS * BLOCK) as image:
        disk = DiskUnit("disk0", image)
        disk.take_unit_attention()  # POWER ON OCCURRED
        bus.attach(0, SCSITarget("disk0", {0: disk}), timing=Timing(command_ns=10 * MICROSECOND))
        yield Bench(scheduler, bus, faults, disk)


def assert_check(request: SCSIRequest, code: sense.SenseCode) -> sense.DecodedSense:
    assert request.completed
    assert request.status is Status.CHECK_CONDITION, request
    decoded = sense.decode(request.sense)
    assert decoded.code == (code.key, code.asc, code.ascq), decoded
    return decoded


# -- CDB helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cdb", "span"),
    [
        (bytes([Opcode.READ_6, 0x01, 0x02, 0x03, 0, 0]), (0x10203, 256)),
        (read10(0x12345678, 9), (0x12345678, 9)),
        (
            bytes([Opcode.READ_12, 0]) + (7).to_bytes(4, "big") + (3).to_bytes(4, "big") + b"\0\0",
            (7, 3),
        ),
        (read16(1 << 40, 70000), (1 << 40, 70000)),
        (TUR, None),
        (bytes([Opcode.READ_10, 0, 0]), None),
    ],
)
def test_transfer_of_reads_every_cdb_length(cdb: bytes, span: tuple[int, int] | None) -> None:
    assert transfer_of(cdb) == span
    if span is not None and cdb[0] != Opcode.READ_6:
        assert transfer_of(with_block_count(cdb, 2)) == (span[0], 2)


# -- rules ------------------------------------------------------------------------------


def test_timeout_rule_never_completes_until_aborted(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule(Action.TIMEOUT, opcode=Opcode.READ_10, count=1))
    dropped = bench.submit(read10(0, 1), data_in=BLOCK, tag=7)
    bench.scheduler.run()
    assert not dropped.completed
    assert bench.bus.in_flight(0) == [dropped]
    assert bench.bus.abort(0, 7)
    assert dropped.completed
    assert dropped.host_status is HostStatus.ABORTED
    again = bench.run(read10(0, 1), data_in=BLOCK)
    assert again.ok  # the rule fired its one time


def test_fail_rule_from_scsi_debug_line_fires_count_times(bench: Bench) -> None:
    """``2 -2 0x88 0 0 0x2 0x3 0x11 0x0``: READ(16) fails MEDIUM ERROR/UNRECOVERED READ
    ERROR twice, then reads work again; other commands never fail."""
    rule = bench.faults.add_rule(FaultRule.parse("2 -2 0x88 0 0 0x2 0x3 0x11 0x0", target=0))
    assert bench.run(read10(0, 1), data_in=BLOCK).ok
    for _ in range(2):
        request = bench.run(read16(0, 1), data_in=BLOCK)
        assert_check(request, sense.READ_ERROR)
        assert request.transferred == 0
    assert bench.run(read16(0, 1), data_in=BLOCK).ok
    assert rule.fired == 2
    assert [record.fault for record in bench.faults.records] == ["rule: fail"] * 2


def test_fail_rule_with_a_host_byte_and_busy_status(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule.parse("2 1 0xff 0x7 0 0 0 0 0"))
    assert bench.run(TUR).host_status is HostStatus.TRANSPORT_ERROR
    bench.faults.rules.clear()
    bench.faults.add_rule(FaultRule.parse("2 1 0xff 0 0 0x8 0 0 0"))
    busy = bench.run(TUR)
    assert busy.status is Status.BUSY
    assert busy.sense == b""


def test_busy_rule_refuses_at_once(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule.parse("1 -1 0x00 0x1055"))
    refused = bench.run(TUR)
    assert refused.status is Status.BUSY
    assert bench.run(TUR).ok


def test_medium_error_rule_covers_an_lba_range_for_reads_and_writes(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule(Action.MEDIUM_ERROR, target=0, lba=100, blocks=8))
    assert bench.run(read10(90, 10), data_in=10 * BLOCK).ok  # 90-99: before the range
    decoded = assert_check(bench.run(read10(95, 10), data_in=10 * BLOCK), sense.READ_ERROR)
    assert decoded.information == 100
    decoded = assert_check(bench.run(read10(104, 2), data_in=2 * BLOCK), sense.READ_ERROR)
    assert decoded.information == 104
    written = bench.run(write10(107, 1), data_out=pattern(1))
    assert assert_check(written, sense.WRITE_ERROR).information == 107
    assert bench.run(read10(108, 4), data_in=4 * BLOCK).ok  # after the range


def test_transport_recovered_and_short_transfer_rules(bench: Bench) -> None:
    data = pattern(8)
    assert bench.run(write10(0, 8), data_out=data).ok
    bench.faults.add_rule(FaultRule(Action.TRANSPORT_ERROR, count=1))
    assert_check(bench.run(read10(0, 8), data_in=8 * BLOCK), TRANSPORT_PROBLEM)
    bench.faults.add_rule(FaultRule(Action.RECOVERED_ERROR, count=1))
    recovered = bench.run(read10(0, 8), data_in=8 * BLOCK)
    assert_check(recovered, sense.RECOVERED_ERROR)
    assert recovered.transferred == 8 * BLOCK
    assert isinstance(recovered.buffer, MemoryBuffer)
    assert bytes(recovered.buffer.data) == data
    bench.faults.add_rule(FaultRule(Action.SHORT_TRANSFER, count=1))
    short = bench.run(read10(0, 8), data_in=8 * BLOCK)
    assert short.ok
    assert short.transferred == 4 * BLOCK
    assert short.residual == 4 * BLOCK
    assert isinstance(short.buffer, MemoryBuffer)
    assert bytes(short.buffer.data[: 4 * BLOCK]) == data[: 4 * BLOCK]
    assert bytes(short.buffer.data[4 * BLOCK :]) == bytes(4 * BLOCK)


def test_task_set_full_and_delay_rules(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule(Action.TASK_SET_FULL, count=1))
    assert bench.run(TUR).status is Status.TASK_SET_FULL
    start = bench.scheduler.now
    plain = bench.run(TUR)
    plain_time = bench.scheduler.now - start
    bench.faults.add_rule(FaultRule(Action.DELAY, delay_ns=5 * MILLISECOND, count=1))
    start = bench.scheduler.now
    delayed = bench.run(TUR)
    assert plain.ok
    assert delayed.ok
    assert bench.scheduler.now - start == plain_time + 5 * MILLISECOND


def test_drop_off_bus_rule_detaches_the_target(bench: Bench) -> None:
    changes: list[tuple[int, object]] = []
    bench.bus.on_change.append(lambda target_id, target: changes.append((target_id, target)))
    bench.faults.add_rule(FaultRule(Action.DROP_OFF_BUS, opcode=Opcode.WRITE_10))
    assert bench.run(TUR).ok
    gone = bench.run(write10(0, 1), data_out=pattern(1))
    assert gone.host_status is HostStatus.NO_TARGET
    assert changes == [(0, None)]
    assert bench.bus.target(0) is None
    assert bench.run(TUR).host_status is HostStatus.NO_TARGET


def test_abort_and_reset_fail_rules(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule(Action.TIMEOUT))
    stuck = bench.submit(read10(0, 1), data_in=BLOCK, tag=3)
    bench.scheduler.run()
    bench.faults.add_rule(FaultRule.parse("3 -1 0x28"))
    bench.faults.add_rule(FaultRule.parse("4 -1 0xff"))
    assert not bench.bus.abort(0, 3)  # the abort fails once
    assert not bench.bus.reset_target(0)  # so does the reset
    assert not stuck.completed
    assert bench.bus.reset_target(0)
    assert stuck.completed
    assert stuck.host_status is HostStatus.RESET
    assert [record.fault for record in bench.faults.records][-2:] == [
        "rule: abort fails",
        "rule: reset fails",
    ]


def test_rules_match_target_lun_and_opcode(bench: Bench) -> None:
    bench.faults.add_rule(FaultRule(Action.BUSY, target=1))
    bench.faults.add_rule(FaultRule(Action.BUSY, lun=3))
    inquiry_rule = bench.faults.add_rule(FaultRule(Action.BUSY, opcode=Opcode.INQUIRY))
    assert bench.run(TUR).ok
    assert bench.run(bytes([Opcode.INQUIRY, 0, 0, 0, 36, 0]), data_in=36).status is Status.BUSY
    bench.faults.remove_rule(inquiry_rule)
    assert bench.run(bytes([Opcode.INQUIRY, 0, 0, 0, 36, 0]), data_in=36).ok


# -- every_nth and opts ----------------------------------------------------------------------


def test_every_nth_timeout_drops_every_nth_command(bench: Bench) -> None:
    bench.faults.every_nth = 3
    bench.faults.set_opts(Opts.TIMEOUT)
    requests = [bench.submit(TUR) for _ in range(7)]
    bench.scheduler.run()
    assert [request.completed for request in requests] == [
        True,
        True,
        False,
        True,
        True,
        False,
        True,
    ]


def test_negative_every_nth_becomes_a_dead_device_after_its_first_hit(bench: Bench) -> None:
    bench.faults.every_nth = -3
    bench.faults.set_opts(Opts.TIMEOUT)
    requests = [bench.submit(TUR) for _ in range(6)]
    bench.scheduler.run()
    assert [request.completed for request in requests] == [True, True, False, False, False, False]
    assert bench.faults.every_nth == -1


def test_mac_timeout_spares_commands_that_do_not_touch_the_medium(bench: Bench) -> None:
    bench.faults.every_nth = 1
    bench.faults.set_opts(Opts.MAC_TIMEOUT)
    assert bench.run(TUR).ok
    read = bench.submit(read10(0, 1), data_in=BLOCK)
    bench.scheduler.run()
    assert not read.completed


def test_a_hit_stays_pending_until_the_next_read_or_write(bench: Bench) -> None:
    """every_nth 3 with TRANSPORT_ERR: the hit lands on a TUR and is taken by the READ."""
    bench.faults.every_nth = 3
    bench.faults.set_opts(Opts.TRANSPORT_ERR)
    assert bench.run(TUR).ok
    assert bench.run(TUR).ok
    assert bench.run(TUR).ok  # command 3: a hit, pending
    assert_check(bench.run(read10(0, 1), data_in=BLOCK), TRANSPORT_PROBLEM)
    assert bench.run(read10(0, 1), data_in=BLOCK).ok


def test_recovered_and_short_transfer_opts(bench: Bench) -> None:
    bench.faults.every_nth = 1
    bench.faults.set_opts(Opts.RECOVERED_ERR)
    written = bench.run(write10(0, 2), data_out=pattern(2))
    assert_check(written, sense.RECOVERED_ERROR)
    assert written.transferred == 2 * BLOCK
    bench.faults.set_opts(Opts.SHORT_TRANSFER)
    short = bench.run(read10(0, 2), data_in=2 * BLOCK)
    assert short.ok
    assert short.transferred == BLOCK


def test_medium_err_opt_uses_scsi_debugs_range_without_every_nth(bench: Bench) -> None:
    bench.faults.set_opts(Opts.MEDIUM_ERR)
    assert bench.run(read10(0x1220, 8), data_in=8 * BLOCK).ok
    failed = bench.run(read10(0x1230, 8), data_in=8 * BLOCK)
    assert assert_check(failed, sense.READ_ERROR).information == 0x1234
    assert failed.transferred == 0
    assert bench.run(write10(0x1234, 1), data_out=pattern(1)).ok  # reads only
    assert bench.run(read10(0x123E, 1), data_in=BLOCK).ok


def test_host_busy_opt(bench: Bench) -> None:
    bench.faults.every_nth = 2
    bench.faults.set_opts(Opts.HOST_BUSY)
    assert [bench.run(TUR).status for _ in range(4)] == [
        Status.GOOD,
        Status.BUSY,
        Status.GOOD,
        Status.BUSY,
    ]


def test_rare_tsf_refuses_every_nth_command_that_would_fill_the_queue(bench: Bench) -> None:
    """With a queue of 4 and every_nth 2, the second command that would take the last
    free slot is refused with TASK SET FULL."""
    bench.bus.detach(0)
    bench.bus.attach(0, SCSITarget("disk0", {0: bench.disk}), queue_depth=4)
    bench.faults.every_nth = 2
    bench.faults.set_opts(Opts.RARE_TSF)
    first = [bench.submit(TUR) for _ in range(4)]
    bench.scheduler.run()
    second = [bench.submit(TUR) for _ in range(4)]
    bench.scheduler.run()
    assert [request.status for request in first + second] == [Status.GOOD] * 7 + [
        Status.TASK_SET_FULL
    ]
    assert bench.faults.records[-1].fault == "every_nth: task set full (RARE_TSF)"


def test_unsupported_and_unknown_opts_are_refused_by_name(bench: Bench) -> None:
    with pytest.raises(FaultError, match=r"opts bit 0x20 \(DIF_ERR\) is not offered"):
        bench.faults.set_opts(Opts.DIF_ERR)
    with pytest.raises(FaultError, match="unknown bits"):
        bench.faults.set_opts(0x100000)


# -- delay and determinism -------------------------------------------------------------------


def completion_times(seed: int, tmp_path: Path) -> list[int]:
    scheduler = Scheduler(seed=seed)
    bus = SCSIBus(scheduler, "scsi0")
    faults = FaultInjector(scheduler, delay_ns=MILLISECOND, random_delay=True, every_nth=4)
    faults.set_opts(Opts.TIMEOUT)
    faults.install(bus)
    times: list[int] = []
    with DiskImage(tmp_path / f"disk{seed}.img", size=BLOCKS * BLOCK) as image:
        bus.attach(0, SCSITarget("d", {0: DiskUnit("d", image)}))
        for _ in range(12):
            request = SCSIRequest(0, TUR)
            request.on_complete = lambda _request: times.append(scheduler.now)
            bus.submit(0, request)
        scheduler.run()
    return times


def test_random_delays_and_faults_repeat_with_the_seed(tmp_path: Path) -> None:
    first = completion_times(11, tmp_path)
    assert len(first) == 9  # commands 4, 8, 12 dropped
    assert first == completion_times(11, tmp_path)
    assert first != completion_times(12, tmp_path)


# -- reading rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9 1 0x28", "unknown code 9"),
        ("0 x 0x28", "field 2 (count) must be a number"),
        ("0 1 0x128", "is not a byte"),
        ("2 1 0x28 0 0 2 3", "code 2 takes 9 fields"),
        ("2 1 0x28 0x2 0 2 3 0x11 0", "host byte 0x2 has no kextlab equivalent"),
        ("2 1 0x28 0 0 0x3 3 0x11 0", "status byte 0x3 is not a SAM status"),
        ("0 1", "expected '<code> <count> <opcode> ...'"),
    ],
)
def test_bad_scsi_debug_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(FaultError, match=re.escape(message)):
        FaultRule.parse(line)


def test_scsi_debug_counts_always_n_times_and_inactive() -> None:
    assert FaultRule.parse("0 5 0xff").count is None
    assert FaultRule.parse("0 -5 0xff").count == 5
    inactive = FaultRule.parse("0 0 0xff")
    assert not inactive.active


def test_rules_from_machine_description_tables() -> None:
    rule = FaultRule.from_table(
        {"action": "fail", "target": 2, "status": "check-condition", "sense": [3, 0x11, 0]},
        "device[1].fault[0]",
    )
    assert rule.sense_code == sense.SenseCode(SenseKey.MEDIUM_ERROR, 0x11, 0)
    assert rule.target == 2
    with pytest.raises(FaultError, match=r"device\[1\]\.fault\[0\]\.action: expected one of"):
        FaultRule.from_table({"action": "explode"}, "device[1].fault[0]")
    with pytest.raises(FaultError, match=r"fault\.lba: expected a whole number, got -1"):
        FaultRule.from_table({"action": "medium-error", "lba": -1}, "fault")
    with pytest.raises(FaultError, match=r"fault\.colour: unknown key"):
        FaultRule.from_table({"action": "busy", "colour": 1}, "fault")
    with pytest.raises(FaultError, match=r"fault: a delay rule needs delay_ns"):
        FaultRule.from_table({"action": "delay"}, "fault")
