"""The control interface and key table (memcrypt.gateware.control, memcrypt.gateware.keytable)
in the Amaranth simulator, programmed through memcrypt.host.driver over AXI4-Lite with random
stalls.

Expected keys come from the test's own inputs and the golden model (decryption start
keys), never from the design.
"""

import random

import pytest
from amaranth.hdl import Fragment
from control_harness import ControlHarness, run_control

from formal.whitebox import Probe
from memcrypt.config import MemcryptConfig
from memcrypt.gateware.control import KeyControl
from memcrypt.gateware.interfaces import PerfEventsSignature
from memcrypt.model import golden
from memcrypt.regmap import (
    KEY_FIELD_1_BASE,
    KEY_FIELD_2_BASE,
    KEY_FIELD_WORDS,
    PERF_EVENTS,
    Access,
    Algorithm,
    Block,
    Command,
    FaultKind,
    FaultSource,
    Irq,
    KeyMode,
    Status,
    register_map,
)

SMALL = MemcryptConfig(phys_addr_bits=24, keyid_bits=4, num_keys=12, mem_bytes=1 << 20,
                       key_sizes=(128, 256), entropy_timeout=40, fault_log_depth=4)
SME = MemcryptConfig(phys_addr_bits=24, keyid_bits=1, num_keys=2, mem_bytes=1 << 20,
                     key_sizes=(128,), keyid0="plaintext")
LOADABLE = MemcryptConfig(phys_addr_bits=24, keyid_bits=2, num_keys=4, mem_bytes=1 << 20,
                          key_sizes=(128,), platform_key_loadable=True)


def _run(config, testbench, **harness_options):
    harness = ControlHarness(KeyControl(config), **harness_options)
    async def bench(ctx):
        await testbench(ctx, harness)
    run_control(harness, bench)
    return harness


def _platform_key(words, key_bits):
    """The platform key from the reset-time entropy words: field 1 then field 2."""
    per_key = key_bits // 32
    data = b"".join(w.to_bytes(4, "little") for w in words[:per_key])
    tweak = b"".join(w.to_bytes(4, "little") for w in words[per_key:2 * per_key])
    return data, tweak


def _bus(key):
    return golden.to_bus(key)


async def _expect_keyed(ctx, harness, keyid, data_key, tweak_key):
    mode, aes256, data, tweak, decrypt, invalid = await harness.lookup(ctx, keyid)
    assert (mode, invalid) == (KeyMode.KEYED, 0)
    assert aes256 == (len(data_key) == 32)
    assert data == _bus(data_key), f"KeyID {keyid}: data key"
    assert tweak == _bus(tweak_key), f"KeyID {keyid}: tweak key"
    assert decrypt == _bus(golden.decryption_key(data_key)), f"KeyID {keyid}: decrypt key"


async def _expect_platform(ctx, harness, keyid):
    mode, aes256, data, tweak, decrypt, invalid = await harness.lookup(ctx, keyid)
    key_bits = harness.config.key_bits
    data_key, tweak_key = _platform_key(harness.entropy_words, key_bits)
    assert (mode, invalid, aes256) == (KeyMode.PLATFORM, 0, key_bits == 256)
    assert (data, tweak) == (_bus(data_key), _bus(tweak_key))
    assert decrypt == _bus(golden.decryption_key(data_key))


def test_reset_draws_the_platform_key_and_sweeps_the_table():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx)
        first = await driver.status()
        assert first.busy and not first.ready and first.code == Status.DEVICE_BUSY
        report = await driver.wait_ready()
        assert report.code == Status.PROG_SUCCESS and not report.busy
        assert len(harness.entropy_words) == 2 * SMALL.key_bits // 32
        for keyid in range(SMALL.num_keys):
            await _expect_platform(ctx, harness, keyid)
        mode, *_, invalid = await harness.lookup(ctx, SMALL.num_keys)
        assert invalid and mode == KeyMode.NO_ENCRYPT
        assert harness.retirements == []
    _run(SMALL, testbench)


def test_capabilities_describe_the_build():
    async def testbench(ctx, harness):
        caps = await harness.driver(ctx).identify()
        assert caps["keyid_bits"] == SMALL.keyid_bits
        assert caps["num_keys"] == SMALL.num_keys
        assert caps["mem_bytes"] == SMALL.mem_bytes
        assert caps["phys_addr_bits"] == SMALL.phys_addr_bits
    _run(SMALL, testbench)


@pytest.mark.parametrize("key_bits", [128, 256])
def test_set_key_direct_then_clear_and_no_encrypt(key_bits):
    rng = random.Random(key_bits)
    data_key, tweak_key = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=key_bits)
        await driver.wait_ready()
        assert await driver.set_key_direct(3, data_key, tweak_key) == Status.PROG_SUCCESS
        await _expect_keyed(ctx, harness, 3, data_key, tweak_key)
        await _expect_platform(ctx, harness, 4)            # the neighbour is untouched
        assert await driver.no_encrypt(3) == Status.PROG_SUCCESS
        mode, _, data, tweak, decrypt, _ = await harness.lookup(ctx, 3)
        assert (mode, data, tweak, decrypt) == (KeyMode.NO_ENCRYPT, 0, 0, 0)
        assert await driver.clear_key(3) == Status.PROG_SUCCESS
        await _expect_platform(ctx, harness, 3)
        assert [(r.keyid, r.all) for r in harness.retirements] == [(3, False)] * 3
        counters = await driver.perf_counters()
        assert counters["keys_programmed"] == 3
    _run(SMALL, testbench)


@pytest.mark.parametrize("key_bits", [128, 256])
def test_set_key_random_mixes_hardware_entropy(key_bits):
    rng = random.Random(7 + key_bits)
    data_entropy, tweak_entropy = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=3)
        await driver.wait_ready()
        before = len(harness.entropy_words)
        status = await driver.set_key_random(5, key_bits, data_entropy, tweak_entropy)
        assert status == Status.PROG_SUCCESS
        words = harness.entropy_words[before:]
        assert len(words) == 2 * key_bits // 32
        hardware_data, hardware_tweak = _platform_key(words, key_bits)
        data_key = bytes(a ^ b for a, b in zip(data_entropy, hardware_data, strict=True))
        tweak_key = bytes(a ^ b for a, b in zip(tweak_entropy, hardware_tweak, strict=True))
        assert data_key != data_entropy and tweak_key != tweak_entropy
        await _expect_keyed(ctx, harness, 5, data_key, tweak_key)
    _run(SMALL, testbench)


def test_status_codes_for_bad_commands():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=5)
        await driver.wait_ready()
        key = bytes(16)
        a128 = Algorithm.AES_XTS_128
        cases = [
            ((1, 4, a128), Status.INVALID_PROG_CMD),
            ((1, 0x7F, a128), Status.INVALID_PROG_CMD),
            ((1, Command.LOAD_PLATFORM_KEY, a128), Status.INVALID_PROG_CMD),  # not loadable
            ((0, Command.SET_KEY_DIRECT, a128), Status.INVALID_KEYID),      # platform KeyID
            ((0, Command.CLEAR_KEY, a128), Status.INVALID_KEYID),
            ((SMALL.num_keys, Command.SET_KEY_DIRECT, a128), Status.INVALID_KEYID),
            ((0xFFFF, Command.NO_ENCRYPT, a128), Status.INVALID_KEYID),
            ((1, Command.SET_KEY_DIRECT, 0), Status.INVALID_ENC_ALG),
            ((1, Command.SET_KEY_DIRECT, 1 << 1), Status.INVALID_ENC_ALG),  # with integrity
            ((1, Command.SET_KEY_RANDOM, a128 | Algorithm.AES_XTS_256),
             Status.INVALID_ENC_ALG),
            ((1, Command.SET_KEY_DIRECT, 1 << 15), Status.INVALID_ENC_ALG),
        ]
        for (keyid, command, algorithm), expected in cases:
            status = await driver.program(keyid, command, algorithm, key, key)
            assert status == expected, (keyid, command, algorithm)
        # Nothing changed, nothing was retired.
        assert harness.retirements == []
        for keyid in range(SMALL.num_keys):
            await _expect_platform(ctx, harness, keyid)
        # CLEAR_KEY and NO_ENCRYPT ignore the algorithm.
        assert await driver.program(2, Command.NO_ENCRYPT, 0) == Status.PROG_SUCCESS
    _run(SMALL, testbench)


def test_entropy_error_changes_nothing():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=6)
        await driver.wait_ready()
        key = bytes(range(16))
        assert await driver.set_key_direct(6, key, key) == Status.PROG_SUCCESS
        harness.entropy_enabled = False
        status = await driver.set_key_random(6, 128, bytes(16), bytes(16))
        assert status == Status.ENTROPY_ERROR
        await _expect_keyed(ctx, harness, 6, key, key)     # still the old key
        assert len(harness.retirements) == 1                # only the first command
        harness.entropy_enabled = True
        assert await driver.set_key_random(6, 128, bytes(16), bytes(16)) == \
            Status.PROG_SUCCESS
    _run(SMALL, testbench)


def test_sme_like_build_refuses_keyids_0_and_1():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=7)
        await driver.wait_ready()
        mode, *_ = await harness.lookup(ctx, 0)
        assert mode == KeyMode.NO_ENCRYPT
        await _expect_platform(ctx, harness, 1)
        for keyid in (0, 1, 2):
            assert await driver.set_key_direct(keyid, bytes(16), bytes(16)) == \
                Status.INVALID_KEYID
        assert await driver.set_key_direct(1, bytes(32), bytes(32)) == Status.INVALID_KEYID
    _run(SME, testbench)


def test_device_busy_until_retirement_completes():
    old, new = bytes(range(16)), bytes(range(100, 116))

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=8)
        await driver.wait_ready()
        assert await driver.set_key_direct(2, old, old) == Status.PROG_SUCCESS
        harness.retire_delay = 200
        await driver.write("KEYID", 2)
        await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | Algorithm.AES_XTS_128 << 8)
        for word in range(4):
            value = int.from_bytes(new[4 * word:4 * word + 4], "little")
            await driver.write(f"KEY_FIELD_1_{word}", value)
            await driver.write(f"KEY_FIELD_2_{word}", value)
        await driver.write("DOORBELL", 1)
        polls = 0
        while len(harness.retirements) < 2 or harness.retirements[1].completed < 0:
            report = await driver.status()
            assert report.busy and report.code == Status.DEVICE_BUSY
            # The key fields stay unreadable, and the old key stays in force.
            for word in range(KEY_FIELD_WORDS):
                assert await driver.read(f"KEY_FIELD_1_{word}") == 0
            if len(harness.retirements) < 2 or harness.retirements[1].completed < 0:
                await _expect_keyed(ctx, harness, 2, old, old)
            polls += 1
            if polls == 2:
                # Writes while busy are ignored and flagged; so is a second doorbell.
                await driver.write("KEYID", 7)
                await driver.write("DOORBELL", 1)
        assert polls >= 3
        report = await driver.wait_idle()
        assert report.code == Status.PROG_SUCCESS and report.ignored
        assert await driver.read("KEYID") == 2
        await _expect_keyed(ctx, harness, 2, new, new)
        assert [r.keyid for r in harness.retirements] == [2, 2]
        # The next accepted doorbell clears IGNORED.
        assert await driver.clear_key(2) == Status.PROG_SUCCESS
        assert not (await driver.status()).ignored
    _run(SMALL, testbench)


def test_key_fields_read_zero_and_are_cleared():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=9)
        await driver.wait_ready()
        offsets = [base + 4 * w for base in (KEY_FIELD_1_BASE, KEY_FIELD_2_BASE)
                   for w in range(KEY_FIELD_WORDS)]
        for offset in offsets:
            await harness.bus.write(ctx, offset, 0xA5A5_0000 | offset)
        for offset in offsets:
            assert (await harness.bus.read(ctx, offset)) == (0, 0)
        # A command that fails clears the fields: NO_ENCRYPT of KeyID 0 is refused, and a
        # following SET_KEY_DIRECT with no key written programs the all-zero key.
        assert await driver.program(0, Command.NO_ENCRYPT, 0) == Status.INVALID_KEYID
        await driver.write("KEYID", 1)
        await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | Algorithm.AES_XTS_128 << 8)
        await driver.write("DOORBELL", 1)
        report = await driver.wait_idle()
        assert report.code == Status.PROG_SUCCESS
        await _expect_keyed(ctx, harness, 1, bytes(16), bytes(16))
    _run(SMALL, testbench)


def test_partial_strobe_writes_assemble_a_key():
    key = bytes(range(0x40, 0x50))

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=10)
        await driver.wait_ready()
        bus = harness.bus
        for word in range(4):
            value = int.from_bytes(key[4 * word:4 * word + 4], "little")
            for lane in (2, 0, 3, 1):    # one byte per write, out of order, junk elsewhere
                junk = 0xDEADBEEF & ~(0xFF << 8 * lane)
                for base in (KEY_FIELD_1_BASE, KEY_FIELD_2_BASE):
                    resp = await bus.write(ctx, base + 4 * word,
                                           (value & 0xFF << 8 * lane) | junk, 1 << lane)
                    assert resp == 0
        await bus.write(ctx, harness.regmap.offset("KEYID"), 0x0904, 0b01)   # KEYID = 4
        await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | Algorithm.AES_XTS_128 << 8)
        await driver.write("DOORBELL", 1)
        report = await driver.wait_idle()
        assert report.code == Status.PROG_SUCCESS
        assert await driver.read("KEYID") == 4
        await _expect_keyed(ctx, harness, 4, key, key)
        # A doorbell write without byte lane 0 does nothing.
        resp = await bus.write(ctx, harness.regmap.offset("DOORBELL"), 1, 0b1110)
        assert resp == 0 and not (await driver.status()).busy
    _run(SMALL, testbench)


def test_bad_offsets_answer_slverr_and_are_logged():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=11)
        await driver.wait_ready()
        await driver.irq_enable(Irq.FAULT | Irq.FAULT_OVERFLOW | Irq.COMMAND_DONE)
        bus = harness.bus
        assert await bus.read(ctx, 0xFFC) == (0, 0b10)
        assert await bus.write(ctx, 0x800, 0x1234) == 0b10
        # A write to a read-only register is ignored with OKAY.
        assert await bus.write(ctx, harness.regmap.offset("ID"), 0) == 0
        assert await driver.read("ID") == 0x4D435259
        assert ctx.get(harness.dut.irq)
        faults = await driver.faults()
        assert [(f.address, f.source, f.kind, f.write) for f in faults] == [
            (0xFFC, FaultSource.CONTROL, FaultKind.BAD_CONTROL_ACCESS, False),
            (0x800, FaultSource.CONTROL, FaultKind.BAD_CONTROL_ACCESS, True),
        ]
        assert await driver.irq_status() & Irq.FAULT
        await driver.irq_clear(Irq.FAULT)
        assert not await driver.irq_status() & Irq.FAULT
        assert not ctx.get(harness.dut.irq)
    _run(SMALL, testbench)


def test_fault_log_keeps_order_and_counts_overflow():
    dut_faults = [(0x10_0000 * k + 0x40 * k, k, FaultSource.HOST if k % 2 else FaultSource.DMA,
                   FaultKind(1 + k % 4), bool(k & 1)) for k in range(7)]

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=12)
        await driver.wait_ready()
        await driver.irq_enable(Irq.FAULT_OVERFLOW)
        dut = harness.dut
        for address, keyid, source, kind, write in dut_faults:
            record = dut.fault.record
            ctx.set(record.address, address)
            ctx.set(record.keyid, keyid)
            ctx.set(record.source, source)
            ctx.set(record.kind, kind)
            ctx.set(record.write, write)
            ctx.set(dut.fault.valid, 1)
            await ctx.tick().until(dut.fault.ready)
            ctx.set(dut.fault.valid, 0)
        depth = SMALL.fault_log_depth
        assert await driver.read("FAULT_STATUS") == depth
        assert await driver.fault_overflow() == len(dut_faults) - depth
        assert ctx.get(dut.irq)
        faults = await driver.faults()
        assert [(f.address, f.keyid, f.source, f.kind, f.write) for f in faults] == \
            dut_faults[:depth]
        assert await driver.read("FAULT_INFO") == 0     # empty: VALID clear
        await driver.clear_fault_overflow()
        assert await driver.fault_overflow() == 0
    _run(SMALL, testbench)


def test_performance_counters_count_events():
    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=13)
        await driver.wait_ready()
        strobes = {name: PerfEventsSignature.strobe(harness.dut.events, name)
                   for name, _ in PERF_EVENTS if name != "keys_programmed"}
        pattern = [random.Random(14).getrandbits(len(PERF_EVENTS)) for _ in range(50)]
        for bits in pattern:
            for index, strobe in enumerate(strobes.values()):
                ctx.set(strobe, bits >> index & 1)
            await ctx.tick()
        for strobe in strobes.values():
            ctx.set(strobe, 0)
        counters = await driver.perf_counters()
        for index, name in enumerate(strobes):
            assert counters[name] == sum(bits >> index & 1 for bits in pattern), name
        assert counters["keys_programmed"] == 0     # counted inside: no command ran
        await driver.clear_perf_counters()
        assert set((await driver.perf_counters()).values()) == {0}
    _run(SMALL, testbench)


def test_platform_key_loads_once_in_a_bring_up_build():
    data_key, tweak_key = bytes(range(16)), bytes(range(16, 32))

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=15)
        await driver.wait_ready()
        assert await driver.load_platform_key(data_key, tweak_key) == Status.PROG_SUCCESS
        assert [(r.all) for r in harness.retirements] == [True]
        for keyid in range(LOADABLE.num_keys):
            mode, _, data, tweak, decrypt, _ = await harness.lookup(ctx, keyid)
            assert (mode, data, tweak) == (KeyMode.PLATFORM, _bus(data_key), _bus(tweak_key))
            assert decrypt == _bus(golden.decryption_key(data_key))
        assert await driver.load_platform_key(tweak_key, data_key) == \
            Status.INVALID_PROG_CMD
        assert await driver.load_platform_key(bytes(32), bytes(32)) == \
            Status.INVALID_PROG_CMD
    _run(LOADABLE, testbench)


def test_capabilities_name_the_blocks_of_the_build():
    async def testbench(ctx, harness):
        caps = await harness.driver(ctx).identify()
        assert caps["blocks"] == Block.CACHE | Block.ENGINE
    harness = ControlHarness(KeyControl(SMALL, blocks=Block.CACHE | Block.ENGINE))

    async def bench(ctx):
        await testbench(ctx, harness)
    run_control(harness, bench)
    with pytest.raises(TypeError, match="blocks must be a memcrypt.regmap.Block flag, not 3"):
        KeyControl(SMALL, blocks=3)


def key_material_registers(fragment, config):
    """``{name: signal}`` of every register of an elaborated KeyControl that holds key
    material, the key table apart (white box, as ``formal/control.py`` finds them)."""
    probe = Probe(fragment)
    registers = {name: probe.signal(name) for name in ("field1", "field2", "decrypt_key")}
    for key_bits in config.key_sizes:
        unit = probe.sub(f"key_schedule_{key_bits}")
        registers[f"key_schedule_{key_bits}.key"] = unit.signal("key")
    registers["bus.wdata"] = probe.sub("bus").signal("wdata")
    return registers


def test_no_key_material_is_left_when_a_command_finishes():
    """White box: when the platform key has been drawn and after every command, successful
    or not, the key fields, the decryption start key, the key-schedule units' key registers
    and the bus target's write data are zero; each of them did hold key material meanwhile
    (so the check is not vacuous)."""
    control = KeyControl(SMALL)
    fragment = Fragment.get(control, None)
    registers = key_material_registers(fragment, SMALL)
    held = set()        # registers seen holding something other than zero
    rng = random.Random(17)

    async def watch(ctx):
        while True:
            await ctx.tick()
            held.update(name for name, signal in registers.items() if ctx.get(signal))

    def left(ctx):
        return {name for name, signal in registers.items() if ctx.get(signal)}

    async def testbench(ctx, harness):
        driver = harness.driver(ctx, seed=17)
        await driver.wait_ready()
        assert left(ctx) == set(), "after the platform key draw"
        for key_bits in (128, 256):
            data_key, tweak_key = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)
            assert await driver.set_key_direct(2, data_key, tweak_key) == Status.PROG_SUCCESS
            assert left(ctx) == set(), f"after SET_KEY_DIRECT ({key_bits})"
            status = await driver.set_key_random(3, key_bits, data_key, tweak_key)
            assert status == Status.PROG_SUCCESS
            assert left(ctx) == set(), f"after SET_KEY_RANDOM ({key_bits})"
        key = rng.randbytes(16)
        assert await driver.set_key_direct(0, key, key) == Status.INVALID_KEYID
        assert left(ctx) == set(), "after INVALID_KEYID"
        harness.entropy_enabled = False
        assert await driver.set_key_random(4, 128, key, key) == Status.ENTROPY_ERROR
        assert left(ctx) == set(), "after ENTROPY_ERROR"
        assert await driver.clear_key(2) == Status.PROG_SUCCESS
        assert left(ctx) == set(), "after CLEAR_KEY"
        assert held == set(registers)

    harness = ControlHarness(control)

    async def bench(ctx):
        await testbench(ctx, harness)
    run_control(harness, bench, root=fragment, background=(watch,))


def test_every_readable_register_is_accounted_for():
    """Key fields are write-only in the map, and the map has no readable key register."""
    regmap = register_map(SMALL)
    for register in regmap:
        if register.name.startswith("KEY_FIELD"):
            assert register.access == Access.WO
    assert sum(r.name.startswith("KEY_FIELD") for r in regmap) == 2 * KEY_FIELD_WORDS


@pytest.mark.parametrize("kwargs, message", [
    (dict(keyid_bits=0), "keyid_bits must be from 1 to 15"),
    (dict(keyid_bits=16), "keyid_bits must be from 1 to 15"),
    (dict(num_keys=65), "num_keys must be from 2 to 64"),
    (dict(num_keys=1), "num_keys must be from 2 to 64"),
    (dict(mem_bytes=100), "multiple of 64"),
    (dict(mem_bytes=1 << 40), "exceeds the 34-bit stripped address space"),
    (dict(key_sizes=(192,)), "key_sizes must be"),
    (dict(key_sizes=()), "key_sizes must be"),
    (dict(keyid0="amd"), "keyid0 must be one of"),
    (dict(phys_addr_bits=12, keyid_bits=6), "a 64-byte line needs at least 7"),
    (dict(fault_log_depth=12), "power of two"),
    (dict(cache_ways=0), "cache_ways must be from 1 to 8, not 0"),
    (dict(cache_sets=48), "cache_sets must be a power of two, not 48"),
    (dict(engine="unrolled"), "engine must be one of iterative, pipelined"),
    (dict(sbox="rom"), "sbox must be one of bram, lut"),
    (dict(host_id_width=33), "host_id_width must be from 0 to 32"),
    (dict(memory_id_width=0), "memory_id_width must be from 1 to 32"),
    (dict(memory_base=32), "memory_base must be a multiple of 64"),
    (dict(memory_base=1 << 40), "does not fit the 40-bit memory port address"),
])
def test_bad_configuration_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MemcryptConfig(**kwargs)


def test_bad_configuration_types_raise():
    with pytest.raises(TypeError, match="keyid_bits must be an integer"):
        MemcryptConfig(keyid_bits=True)
    with pytest.raises(TypeError, match="config must be a MemcryptConfig"):
        KeyControl({"keyid_bits": 4})


def test_the_controller_refuses_what_its_blocks_cannot_build():
    from memcrypt.gateware.controller import Controller  # noqa: PLC0415
    with pytest.raises(ValueError, match="need phys_addr_bits of at least 12, not 10"):
        Controller(MemcryptConfig(phys_addr_bits=10, keyid_bits=2, mem_bytes=1 << 8,
                                  num_keys=4))
    with pytest.raises(ValueError, match="64 sets exceed the 16 lines"):
        Controller(MemcryptConfig(phys_addr_bits=12, keyid_bits=2, mem_bytes=1 << 10,
                                  num_keys=4))
    with pytest.raises(TypeError, match="config must be a MemcryptConfig"):
        Controller("intel")
