"""memcrypt.host.driver against a fake register device: exact accesses, polling, both flavours.

The expected accesses are written out with literal offsets and values (not taken from the
register map) so that a driver and a map that are wrong in the same way still fail here.
"""

import asyncio
import inspect

import pytest

from memcrypt.config import MemcryptConfig, preset
from memcrypt.host.driver import (
    AsyncDriver,
    DeviceError,
    Driver,
    FaultRecord,
    StatusReport,
    run_to_completion,
)
from memcrypt.regmap import (
    ID_VALUE,
    PERF_EVENTS,
    Block,
    FaultKind,
    FaultSource,
    Irq,
    Status,
    register_map,
)

KEYID, KEYID_CTRL, DOORBELL, STATUS = 0x020, 0x024, 0x028, 0x02C
KEY_FIELD_1, KEY_FIELD_2 = 0x040, 0x060
FAULT_OVERFLOW, FAULT_ADDR_LO, FAULT_ADDR_HI, FAULT_INFO, FAULT_POP = (
    0x104, 0x108, 0x10C, 0x110, 0x114)
IRQ_STATUS, IRQ_ENABLE, PERF_CTRL, PERF_BASE = 0x120, 0x124, 0x1F0, 0x200

DONE = 0x200                 # READY, not BUSY, PROG_SUCCESS
BUSY = 0x305                 # READY, BUSY, DEVICE_BUSY
DEFAULT = MemcryptConfig()


def done(code):
    return 0x200 | code


class FakeDevice:
    """Registers in a dict; STATUS reads follow a script; a fault log; latched counters.

    ``log`` records every access as ``("r", offset, value)`` or ``("w", offset, value)``.
    """

    def __init__(self, config=None, status=(), faults=(), counters=None):
        self.regs = {r.offset: r.reset for r in register_map(config or MemcryptConfig())}
        self.status_script = list(status)
        self.fault_log = list(faults)          # (address, info without VALID)
        self.counters = dict(counters or {})
        self.latched = {}
        self.log = []

    def read(self, offset):
        if offset == STATUS:
            value = self.status_script.pop(0) if self.status_script else DONE
        elif offset in (FAULT_ADDR_LO, FAULT_ADDR_HI, FAULT_INFO):
            if self.fault_log:
                address, info = self.fault_log[0]
                value = {FAULT_ADDR_LO: address & 0xFFFF_FFFF, FAULT_ADDR_HI: address >> 32,
                         FAULT_INFO: info | 1 << 31}[offset]
            else:
                value = 0
        elif PERF_BASE <= offset < PERF_BASE + 8 * len(PERF_EVENTS):
            index, high = divmod(offset - PERF_BASE, 8)
            name = PERF_EVENTS[index][0]
            if high:
                value = self.latched.get(name, 0)
            else:
                count = self.counters.get(name, 0)
                self.latched[name] = count >> 32
                value = count & 0xFFFF_FFFF
        elif KEY_FIELD_1 <= offset < KEY_FIELD_2 + 32 or offset in (DOORBELL, FAULT_POP):
            value = 0
        else:
            value = self.regs.get(offset, 0)
        self.log.append(("r", offset, value))
        return value

    def write(self, offset, value):
        assert isinstance(value, int) and 0 <= value < 1 << 32
        self.log.append(("w", offset, value))
        if offset == FAULT_POP and value & 1 and self.fault_log:
            self.fault_log.pop(0)
        elif offset in (KEYID, KEYID_CTRL, IRQ_ENABLE):
            self.regs[offset] = value

    async def aread(self, offset):
        await asyncio.sleep(0)               # really suspend, as a bus model would
        return self.read(offset)

    async def awrite(self, offset, value):
        await asyncio.sleep(0)
        self.write(offset, value)

    def writes(self):
        return [(offset, value) for kind, offset, value in self.log if kind == "w"]

    def reads(self):
        return [offset for kind, offset, _ in self.log if kind == "r"]


def key_words(first_byte, count):
    """The words of a key whose bytes are first_byte, first_byte+1, ..., written out."""
    return [
        (first_byte + 4 * j) | (first_byte + 4 * j + 1) << 8 | (first_byte + 4 * j + 2) << 16
        | (first_byte + 4 * j + 3) << 24
        for j in range(count)
    ]


def expected_program(keyid, ctrl, field1_words, field2_words):
    pad = [0] * 8
    return ([(KEYID, keyid), (KEYID_CTRL, ctrl)]
            + [(KEY_FIELD_1 + 4 * j, w) for j, w in enumerate((field1_words + pad)[:8])]
            + [(KEY_FIELD_2 + 4 * j, w) for j, w in enumerate((field2_words + pad)[:8])]
            + [(DOORBELL, 1)])


def sync_driver(device, config=DEFAULT):
    return Driver(device.read, device.write, config=config)


def async_run(device, scenario, config=DEFAULT):
    """Run ``await scenario(driver)`` with an AsyncDriver on the device's async accessors."""
    driver = AsyncDriver(device.aread, device.awrite, config=config)
    return asyncio.run(scenario(driver))


# -- key programming: exact accesses ----------------------------------------------------------

def test_set_key_direct_128_writes_the_sequence_and_polls():
    device = FakeDevice(status=[BUSY, BUSY, DONE])
    data_key = bytes(range(0x00, 0x10))
    tweak_key = bytes(range(0x80, 0x90))
    status = sync_driver(device).set_key_direct(5, data_key, tweak_key)
    assert status is Status.PROG_SUCCESS
    assert device.writes() == expected_program(5, 0x0100, key_words(0x00, 4),
                                               key_words(0x80, 4))
    # Word 0 of the data key: byte 0 in bits 7:0.
    assert device.writes()[2] == (0x040, 0x03020100)
    assert device.writes()[10] == (0x060, 0x83828180)
    assert device.log[-3:] == [("r", STATUS, BUSY), ("r", STATUS, BUSY), ("r", STATUS, DONE)]
    assert len(device.log) == 19 + 3


def test_set_key_direct_256_uses_all_words_and_algorithm_bit_2():
    device = FakeDevice()
    data_key = bytes(range(0x20, 0x40))
    tweak_key = bytes(range(0xC0, 0xE0))
    assert sync_driver(device).set_key_direct(0xFFFF, data_key, tweak_key) \
        is Status.PROG_SUCCESS
    assert device.writes() == expected_program(0xFFFF, 0x0400, key_words(0x20, 8),
                                               key_words(0xC0, 8))
    assert device.writes()[9] == (0x05C, 0x3F3E3D3C)


@pytest.mark.parametrize("code", list(Status))
def test_program_returns_the_status_code_without_raising(code):
    device = FakeDevice(status=[BUSY, done(code)])
    assert sync_driver(device).set_key_direct(3, bytes(16), bytes(16)) is code


def test_ignored_doorbell_reports_device_busy():
    # Not busy, IGNORED set: the command registers or the doorbell were dropped, so the
    # code (here the previous command's PROG_SUCCESS) is not this command's.
    device = FakeDevice(status=[0x600])
    assert sync_driver(device).clear_key(4) is Status.DEVICE_BUSY


def test_set_key_random_clear_no_encrypt_and_load_platform_key():
    device = FakeDevice()
    driver = sync_driver(device)
    assert driver.set_key_random(7, 256, bytes([0xAA]) * 32, bytes([0x55]) * 32) \
        is Status.PROG_SUCCESS
    assert device.writes() == expected_program(7, 0x0401, [0xAAAAAAAA] * 8, [0x55555555] * 8)
    device.log.clear()
    driver.set_key_random(7, 128, bytes(range(16)), bytes(16))
    assert device.writes() == expected_program(7, 0x0101, key_words(0, 4), [])
    device.log.clear()
    driver.clear_key(9)
    assert device.writes() == expected_program(9, 0x0002, [], [])
    device.log.clear()
    driver.no_encrypt(10)
    assert device.writes() == expected_program(10, 0x0003, [], [])
    device.log.clear()
    driver.load_platform_key(bytes(range(32)), bytes(range(32, 64)))
    assert device.writes() == expected_program(0, 0x0480, key_words(0, 8), key_words(32, 8))


def test_load_platform_key_uses_the_platform_keyid_of_the_build():
    device = FakeDevice(preset("amd-sme"))
    Driver(device.read, device.write, config=preset("amd-sme")).load_platform_key(
        bytes(16), bytes(16))
    assert device.writes()[:2] == [(KEYID, 1), (KEYID_CTRL, 0x0180)]


def test_program_passes_any_fitting_command_and_algorithm():
    device = FakeDevice(status=[done(Status.INVALID_PROG_CMD)])
    assert sync_driver(device).program(2, 0x7F, 0x0003, b"\x01", b"") \
        is Status.INVALID_PROG_CMD
    assert device.writes() == expected_program(2, 0x037F, [1], [])


def test_program_times_out_after_the_poll_limit():
    device = FakeDevice(status=[BUSY] * 10)
    with pytest.raises(TimeoutError, match="BUSY still 1 after 3 reads"):
        sync_driver(device).program(1, 0, 1, bytes(16), bytes(16), poll_limit=3)
    assert device.reads() == [STATUS] * 3
    assert device.status_script == [BUSY] * 7


@pytest.mark.parametrize("call, message", [
    (lambda d: d.set_key_direct(1, bytes(24), bytes(24)), "16 bytes .* or 32 bytes"),
    (lambda d: d.set_key_direct(1, bytes(16), bytes(32)), "same size"),
    (lambda d: d.set_key_direct(1, b"", b""), "16 bytes"),
    (lambda d: d.set_key_direct(0x10000, bytes(16), bytes(16)), "KEYID.KEYID is 16 bits"),
    (lambda d: d.set_key_direct(-1, bytes(16), bytes(16)), "does not fit"),
    (lambda d: d.set_key_random(1, 192, bytes(24), bytes(24)), "128 or 256"),
    (lambda d: d.set_key_random(1, 128, bytes(32), bytes(16)), "data_entropy is 32 bytes"),
    (lambda d: d.set_key_random(1, 256, bytes(32), bytes(16)), "tweak_entropy is 16 bytes"),
    (lambda d: d.load_platform_key(bytes(16), bytes(32)), "same size"),
    (lambda d: d.program(1, 0x100, 1), "COMMAND is 8 bits"),
    (lambda d: d.program(1, 0, 1 << 16), "ENC_ALG is 16 bits"),
    (lambda d: d.program(1, 0, 1, bytes(33)), "at most 32"),
    (lambda d: d.program(1, 0, 1, poll_limit=0), "poll limit"),
    (lambda d: d.irq_enable(16), "not interrupts"),
])
def test_impossible_arguments_raise_before_any_access(call, message):
    device = FakeDevice()
    with pytest.raises(ValueError, match=message):
        call(sync_driver(device))
    assert device.log == []


def test_wait_ready_polls_until_ready_and_idle():
    device = FakeDevice(status=[0x105, 0x000, 0x305, 0x200])
    report = sync_driver(device).wait_ready()
    assert report == StatusReport(Status.PROG_SUCCESS, busy=False, ready=True, ignored=False)
    assert device.reads() == [STATUS] * 4
    device = FakeDevice(status=[0x105] * 5)
    with pytest.raises(TimeoutError):
        sync_driver(device).wait_ready(timeout_polls=5)
    assert device.reads() == [STATUS] * 5


def test_status_decodes_every_bit():
    device = FakeDevice(status=[0x703, 0x0105])
    driver = sync_driver(device)
    assert driver.status() == (Status.INVALID_KEYID, True, True, True)
    assert driver.status() == (Status.DEVICE_BUSY, True, False, False)
    device = FakeDevice(status=[0x0209])
    with pytest.raises(DeviceError, match="STATUS.CODE reads 9"):
        sync_driver(device).status()


# -- identification ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["default", "intel", "amd-sme", "keys1024", "small"])
def test_identify_reads_the_configuration_on_first_use(name):
    config = MemcryptConfig() if name == "default" else preset(name)
    device = FakeDevice(config)
    driver = Driver(device.read, device.write)
    assert driver.config is None
    driver.clear_key(3)
    assert driver.config == config
    assert device.reads()[:8] == [0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x018, 0x01C]
    assert device.writes() == expected_program(3, 0x0002, [], [])
    caps = driver.identify()
    assert caps["id"] == ID_VALUE
    assert caps["num_keys"] == config.num_keys
    assert caps["key_sizes"] == config.key_sizes
    assert caps["mem_bytes"] == config.mem_bytes
    assert caps["keyid0"] == config.keyid0
    assert caps["keyid_shift"] == config.stripped_bits
    assert caps["blocks"] == Block(0)


def test_identify_reads_the_blocks_a_build_contains():
    device = FakeDevice()
    device.regs[0x01C] = Block.CACHE | Block.ENGINE
    assert Driver(device.read, device.write).identify()["blocks"] == Block.CACHE | Block.ENGINE
    device.regs[0x01C] = 0x80
    with pytest.raises(DeviceError, match=r"CAP_BLOCKS.BLOCKS reads 0x80"):
        Driver(device.read, device.write).identify()


def test_identify_happens_once():
    device = FakeDevice()
    driver = Driver(device.read, device.write)
    driver.status()
    first = len(device.log)
    driver.status()
    assert len(device.log) == first + 1


def test_wrong_id_raises_a_clear_error():
    device = FakeDevice()
    device.regs[0x000] = 0xDEADBEEF
    driver = Driver(device.read, device.write)
    with pytest.raises(DeviceError, match=r"ID reads 0xdeadbeef, not 0x4d435259 \(\"MCRY\"\)"):
        driver.set_key_direct(1, bytes(16), bytes(16))
    assert device.writes() == []


def test_wrong_major_version_raises():
    device = FakeDevice()
    device.regs[0x004] = 7 << 16
    with pytest.raises(DeviceError, match="register map version 7.0"):
        Driver(device.read, device.write).identify()


def test_identify_with_a_config_still_checks_the_id():
    device = FakeDevice()
    device.regs[0x000] = 0
    with pytest.raises(DeviceError):
        sync_driver(device).identify()


def test_regmap_argument_stands_in_for_config():
    device = FakeDevice(preset("small"))
    driver = Driver(device.read, device.write, regmap=register_map(preset("small")))
    assert driver.config == preset("small")
    driver.clear_key(1)
    assert device.reads() == [STATUS]


# -- faults, interrupts, counters -------------------------------------------------------------

def fault_info(keyid, source, kind, write):
    return keyid | source << 16 | kind << 24 | write << 28


def test_faults_pops_every_record_in_order():
    records = [
        (0x12_3456_7890, fault_info(5, 0, 1, 0)),
        (0x0000_0040, fault_info(0, 1, 3, 1)),
        (0x0FFC, fault_info(0, 2, 5, 1)),
    ]
    device = FakeDevice(faults=records)
    faults = sync_driver(device).faults()
    assert faults == [
        FaultRecord(0x12_3456_7890, 5, FaultSource.HOST, FaultKind.INVALID_KEYID, False),
        FaultRecord(0x40, 0, FaultSource.DMA, FaultKind.DMA_MASK, True),
        FaultRecord(0xFFC, 0, FaultSource.CONTROL, FaultKind.BAD_CONTROL_ACCESS, True),
    ]
    assert device.fault_log == []
    one = [("r", FAULT_INFO), ("r", FAULT_ADDR_LO), ("r", FAULT_ADDR_HI), ("w", FAULT_POP)]
    assert [(kind, offset) for kind, offset, _ in device.log] == one * 3 + [("r", FAULT_INFO)]
    assert all(value == 1 for kind, _, value in device.log if kind == "w")
    assert sync_driver(device).faults() == []


def test_faults_stops_at_max_records():
    device = FakeDevice(faults=[(64 * i, fault_info(0, 0, 2, 0)) for i in range(5)])
    driver = sync_driver(device)
    assert [f.address for f in driver.faults(max_records=2)] == [0, 64]
    assert len(device.fault_log) == 3
    assert device.log[-1] == ("w", FAULT_POP, 1)
    assert [f.address for f in driver.faults()] == [128, 192, 256]


def test_fault_with_an_undefined_kind_raises():
    device = FakeDevice(faults=[(0, fault_info(0, 0, 9, 0))])
    with pytest.raises(DeviceError, match="kind 9"):
        sync_driver(device).faults()


def test_fault_overflow_and_irq_registers():
    device = FakeDevice()
    device.regs[FAULT_OVERFLOW] = 17
    device.regs[IRQ_STATUS] = 0b101
    driver = sync_driver(device)
    assert driver.fault_overflow() == 17
    driver.clear_fault_overflow()
    assert driver.irq_status() == Irq.COMMAND_DONE | Irq.FAULT_OVERFLOW
    driver.irq_clear(Irq.FAULT_OVERFLOW)
    driver.irq_enable(Irq.FAULT | Irq.COMMAND_DONE)
    driver.irq_enable(0)
    assert device.writes() == [(FAULT_OVERFLOW, 1), (IRQ_STATUS, 0b100), (IRQ_ENABLE, 0b011),
                               (IRQ_ENABLE, 0)]
    assert device.reads() == [FAULT_OVERFLOW, IRQ_STATUS]


def test_perf_counters_read_low_then_high():
    counters = {name: (index + 1) << 32 | (0xF000_0000 + index)
                for index, (name, _) in enumerate(PERF_EVENTS)}
    device = FakeDevice(counters=counters)
    driver = sync_driver(device)
    assert driver.perf_counters() == counters
    expected = []
    for index in range(len(PERF_EVENTS)):
        expected += [PERF_BASE + 8 * index, PERF_BASE + 8 * index + 4]
    assert device.reads() == expected
    driver.clear_perf_counters()
    assert device.writes() == [(PERF_CTRL, 1)]


# -- the two flavours -------------------------------------------------------------------------

async def scenario(driver):
    """Everything the driver does, for comparing the flavours (works for both: a sync
    driver's results are wrapped by ``maybe``)."""
    results = [
        await maybe(driver.identify()),
        await maybe(driver.wait_ready()),
        await maybe(driver.set_key_direct(1, bytes(range(16)), bytes(range(16, 32)))),
        await maybe(driver.set_key_random(2, 256, bytes(32), bytes([1]) * 32)),
        await maybe(driver.clear_key(1)),
        await maybe(driver.no_encrypt(2)),
        await maybe(driver.faults()),
        await maybe(driver.fault_overflow()),
        await maybe(driver.irq_status()),
        await maybe(driver.perf_counters()),
        await maybe(driver.status()),
    ]
    await maybe(driver.irq_clear(Irq.FAULT))
    await maybe(driver.clear_perf_counters())
    return results


async def maybe(value):
    return await value if inspect.isawaitable(value) else value


def make_device():
    return FakeDevice(preset("small"),
                      status=[0x105, DONE, BUSY, DONE, BUSY, BUSY, done(2), DONE, DONE],
                      faults=[(0x1000, fault_info(3, 0, 2, 1))],
                      counters={"host_reads": 5 << 32 | 9})


def test_sync_and_async_flavours_make_identical_accesses():
    sync_device, async_device = make_device(), make_device()
    sync_results = asyncio.run(scenario(Driver(sync_device.read, sync_device.write)))
    async_results = asyncio.run(scenario(AsyncDriver(async_device.aread, async_device.awrite)))
    assert sync_results == async_results
    assert sync_device.log == async_device.log
    assert sync_results[3] is Status.ENTROPY_ERROR
    assert len(sync_device.log) > 60


def test_async_driver_awaits_suspending_accessors():
    device = FakeDevice(status=[BUSY, DONE])

    async def run(driver):
        return await driver.set_key_direct(6, bytes(32), bytes(32))

    assert async_run(device, run) is Status.PROG_SUCCESS
    assert device.writes() == expected_program(6, 0x0400, [], [])


def test_sync_driver_rejects_async_accessors():
    device = FakeDevice()
    driver = Driver(device.aread, device.awrite, config=MemcryptConfig())
    with pytest.raises(TypeError, match="use AsyncDriver"):
        driver.status()


def test_run_to_completion():
    async def plain():
        return 42

    async def suspends():
        await asyncio.sleep(0)
        return 1

    assert run_to_completion(plain()) == 42
    with pytest.raises(RuntimeError, match="suspended"):
        run_to_completion(suspends())


def test_sync_driver_has_every_async_method_with_its_docstring():
    public = {name for name, member in inspect.getmembers(AsyncDriver)
              if not name.startswith("_") and inspect.iscoroutinefunction(member)}
    assert {"identify", "status", "wait_ready", "program", "set_key_direct", "set_key_random",
            "clear_key", "no_encrypt", "load_platform_key", "faults", "fault_overflow",
            "clear_fault_overflow", "irq_status", "irq_clear", "irq_enable",
            "perf_counters", "clear_perf_counters"} <= public
    for name in public:
        method = getattr(Driver, name)
        assert not inspect.iscoroutinefunction(method), name
        assert method.__doc__ and method.__doc__ == getattr(AsyncDriver, name).__doc__
        assert inspect.signature(method) == inspect.signature(getattr(AsyncDriver, name))


def _flush_device(blocks, statuses):
    device = FakeDevice()
    regmap = register_map(DEFAULT)
    device.regs[regmap.offset("CAP_BLOCKS")] = int(blocks)
    status_offset = regmap.offset("FLUSH_STATUS")
    script = list(statuses)
    plain_read = device.read

    def read(offset):
        if offset == status_offset and script:
            value = script.pop(0)
            device.log.append(("r", offset, value))
            return value
        return plain_read(offset)

    device.read = read
    return device, regmap


def test_flush_range_writes_the_line_range_and_waits_for_completion():
    regmap = register_map(DEFAULT)
    busy = regmap["FLUSH_STATUS"].field("BUSY").mask
    done = regmap["FLUSH_STATUS"].field("DONE").mask | 5 << 16
    device, regmap = _flush_device(Block.CACHE, [busy, busy, done])
    driver = Driver(device.read, device.write, config=DEFAULT)
    assert driver.flush_range(0x1_2345_6789, 0x1000) == 5
    writes = dict(device.writes())
    assert writes[regmap.offset("FLUSH_START_LO")] == 0x2345_6780
    assert writes[regmap.offset("FLUSH_START_HI")] == 0x1
    assert writes[regmap.offset("FLUSH_END_LO")] == 0x2345_77C0
    assert writes[regmap.offset("FLUSH_END_HI")] == 0x1
    assert device.writes()[-1] == (regmap.offset("FLUSH_CTRL"), 1)
    assert device.reads().count(regmap.offset("FLUSH_STATUS")) == 3


def test_flush_all_and_its_refusals():
    regmap = register_map(DEFAULT)
    done = regmap["FLUSH_STATUS"].field("DONE").mask | 9 << 16
    device, _ = _flush_device(Block.CACHE, [done])
    assert Driver(device.read, device.write, config=DEFAULT).flush_all() == 9
    assert device.writes() == [(regmap.offset("FLUSH_CTRL"), 2)]
    ignored = regmap["FLUSH_STATUS"].field("IGNORED").mask
    device, _ = _flush_device(Block.CACHE, [ignored])
    with pytest.raises(DeviceError, match="another was running"):
        Driver(device.read, device.write, config=DEFAULT).flush_all()
    device, _ = _flush_device(Block.ENGINE, [])
    with pytest.raises(DeviceError, match="no cache"):
        Driver(device.read, device.write, config=DEFAULT).flush_all()
    assert device.writes() == []


@pytest.mark.parametrize("address, length", [(-1, 64), (0, 0), (1 << 34, 64),
                                             ((1 << 34) - 64, 128)])
def test_flush_range_refuses_ranges_outside_memory_before_any_access(address, length):
    device, _ = _flush_device(Block.CACHE, [])
    with pytest.raises(ValueError):
        Driver(device.read, device.write, config=DEFAULT).flush_range(address, length)
    assert device.log == []
