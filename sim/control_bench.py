"""cocotb bench for the keyed AES-XTS engine (``memcrypt.gateware.keyed.KeyedEngine``, top
"keyed-engine"): the control interface programmed over AXI4-Lite, the key table feeding the
engine, every line checked against the golden model.

Around the design:

* cocotbext-axi's ``AxiLiteMaster`` on the ``s_axil_*`` port, with seeded random pauses on
  all five channels, wrapped into the two callables :class:`memcrypt.host.driver.AsyncDriver`
  takes (:class:`sim.bench_common.PostedBus`). Writes are posted: each is handed to the
  master at once, so that a command's register writes go out back to back, and every read
  first waits for the responses of the writes before it (the read and write channels are
  independent, so a read could otherwise overtake them). Every BRESP and RRESP must be
  OKAY, except where a test provokes SLVERR on purpose.
* a hardware entropy source (:class:`sim.bench_common.EntropySource`) with random gaps
  between words; it records every word the design takes, so that the platform key (the
  first reset-time words, field 1's then field 2's) and each SET_KEY_RANDOM key (software
  entropy XOR the next words) are computed from what it handed out; it can withhold
  entropy.
* a cache stand-in (:class:`Retirer`) answering ``retire_valid`` after a random (or a chosen
  long) delay, checking that ``retire_valid`` and the KeyID hold until ``retire_done``.
* the lines (:class:`LinePort`): select a KeyID (``select_valid`` -> ``selected``), send
  one line at a time on ``i_line`` (random gaps), take ``o_line`` with random stalls
  (``sim.bench_common.StreamSink``) into an in-order scoreboard of golden results
  (:func:`memcrypt.model.golden.encrypt_line` / :func:`~memcrypt.model.golden.decrypt_line` with the
  keys the test itself programmed, never keys read from the design).

Tests:

* ``every_command_and_status``: every command succeeds (SET_KEY_DIRECT with each key size of
  the build, SET_KEY_RANDOM, CLEAR_KEY, NO_ENCRYPT) and every status code appears
  (INVALID_PROG_CMD, ENTROPY_ERROR with entropy withheld from the start and after a few
  words, INVALID_KEYID for KeyID 0, ``num_keys`` and 0xFFFF, INVALID_ENC_ALG, DEVICE_BUSY
  while a slow retirement is pending, with an ignored doorbell and register write); the
  key fields read zero before, during and after commands and are cleared by every command;
  a key assembled from 1- to 3-byte writes at unaligned offsets (partial WSTRB); bursts of
  overlapping reads and writes; bad offsets answer SLVERR and are logged; interrupts and
  the keys_programmed counter.
* ``every_keyid``: every programmable KeyID programmed in random order (random direct
  keys, some SET_KEY_RANDOM), then every KeyID of the build selected and a random line
  encrypted at a random stripped line address (some decrypted too; every random key by a
  round trip), KeyID 0 and KeyIDs sampled before programming under the platform key.

Each test records its counts (:func:`sim.bench_common.record_results`) for
tests/test_cocotb.py. The build comes from ``MEMCRYPT_BENCH_CONFIG`` (a preset) and
``MEMCRYPT_BENCH_CONFIG_OVERRIDES`` (JSON); the engine's key size is
``MEMCRYPT_BENCH_KEY_BITS``.
"""

import json
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from memcrypt.config import preset
from memcrypt.gateware.interfaces import PerfEventsSignature, flat_names
from memcrypt.gateware.keytable import LOOKUP_LATENCY
from memcrypt.host.driver import AsyncDriver
from memcrypt.model import golden
from memcrypt.regmap import (
    KEY_FIELD_1_BASE,
    KEY_FIELD_2_BASE,
    KEY_FIELD_WORDS,
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
from sim.bench_common import (
    CLOCK_PERIOD_NS,
    TRAFFIC,
    BenchConfig,
    EntropySource,
    PauseGenerator,
    PostedBus,
    Scoreboard,
    StreamSink,
    StructPacker,
    record_results,
    status_name,
    words_to_keys,
)

# cocotbext-axi 0.1.28 uses what cocotb 2 deprecates (``Event.set(data)``, ``Event.data``,
# ``Edge``, ``Task.kill``); those warnings say nothing about the design.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi")

CONFIG = BenchConfig.from_env()
ENGINE_BITS = CONFIG.key_bits


def _build_config():
    overrides = json.loads(os.environ.get("MEMCRYPT_BENCH_CONFIG_OVERRIDES", "{}"))
    if "key_sizes" in overrides:
        overrides["key_sizes"] = tuple(overrides["key_sizes"])
    base = preset(os.environ.get("MEMCRYPT_BENCH_CONFIG", "intel"))
    return replace(base, **overrides) if overrides else base


BUILD = _build_config()
REGMAP = register_map(BUILD, Block.ENGINE)      # KeyedEngine: the control block and the engine
# The top's performance-event inputs (``events_cache_hit``, ``events_host_reads``, ...).
EVENT_PORTS = tuple(f"events_{name}" for name, *_ in flat_names(PerfEventsSignature()))
LABEL = (f"keyed{ENGINE_BITS} {CONFIG.architecture} {BUILD.name} "
         f"({BUILD.num_keys} keys, key sizes {'/'.join(map(str, BUILD.key_sizes))})")
PLATFORM_BITS = BUILD.key_bits
FIRST = BUILD.first_programmable_keyid
PROGRAMMABLE = range(FIRST, BUILD.num_keys)
LINE_CLOCKS = 4 * ({128: 10, 256: 14}[ENGINE_BITS] + 1)
A128, A256 = Algorithm.AES_XTS_128, Algorithm.AES_XTS_256
OFFSET = {name: REGMAP.offset(name) for name in ("ID", "KEYID", "KEYID_CTRL", "DOORBELL",
                                                 "STATUS", "IRQ_ENABLE")}
KEY_FIELD_OFFSETS = [base + 4 * word for base in (KEY_FIELD_1_BASE, KEY_FIELD_2_BASE)
                     for word in range(KEY_FIELD_WORDS)]
#: Random gaps (clocks) before each retirement is answered (and before each entropy word,
#: sim.bench_common.ENTROPY_GAPS); all far below the build's entropy timeout.
RETIRE_DELAYS = (0, 0, 1, 2, 3, 5, 9, 20, 60)
SLOW_RETIREMENT = 2000


def _now() -> int:
    """The current clock cycle."""
    return int(get_sim_time("ns")) // CLOCK_PERIOD_NS


def _command_name(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"{command:#04x}"


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


@dataclass
class Retirement:
    keyid: int
    all: bool
    started: int
    completed: int = -1


class Retirer:
    """The cache's side of the retirement handshake: records each request, checks that it
    is held, answers ``retire_done`` for one clock after a random delay (``delay`` when
    set)."""

    def __init__(self, dut, clock, rng):
        self.dut, self.clock, self.rng = dut, clock, rng
        self.retirements = []
        self.delay = None
        self.errors = []

    async def run(self):
        dut = self.dut
        dut.retire_done.value = 0
        while True:
            await ReadOnly()
            if not dut.retire_valid.value:
                await RisingEdge(dut.retire_valid)
                await ReadOnly()
            keyid, every = int(dut.retire_keyid.value), bool(dut.retire_all.value)
            record = Retirement(keyid, every, _now())
            self.retirements.append(record)
            delay = self.delay if self.delay is not None else self.rng.choice(RETIRE_DELAYS)
            for _ in range(delay):
                await RisingEdge(self.clock)
                await ReadOnly()
                if not dut.retire_valid.value or int(dut.retire_keyid.value) != keyid:
                    self.errors.append(f"cycle {_now()}: retire_valid/retire_keyid changed "
                                       f"before retire_done (KeyID {keyid})")
            await RisingEdge(self.clock)
            dut.retire_done.value = 1
            await RisingEdge(self.clock)         # the design sees retire_done here
            dut.retire_done.value = 0
            record.completed = _now()
            await ReadOnly()
            if dut.retire_valid.value:
                self.errors.append(f"cycle {_now()}: retire_valid still high after "
                                   f"retire_done (KeyID {keyid})")
            await RisingEdge(self.clock)


@dataclass(frozen=True)
class Selection:
    mode: int
    invalid: bool
    usable: bool
    ready: bool         # i_line__ready right after the selection (with no line offered)
    latency: int        # clock edges after the one that took select_valid until selected


class LinePort:
    """Select a KeyID and send lines through the engine; results go to a scoreboard."""

    def __init__(self, dut, clock, rng, seed):
        self.dut, self.clock, self.rng = dut, clock, rng
        self.requests = StructPacker([("data", 512), ("tweak", 128), ("decrypt", 1),
                                      ("tag", 8)])
        self.responses = StructPacker([("data", 512), ("tag", 8)])
        assert len(dut.i_line__payload) == self.requests.width
        assert len(dut.o_line__payload) == self.responses.width
        self.scoreboard = Scoreboard(dut._log, self.describe)
        self.sink = StreamSink(dut, "o_line", clock, self.scoreboard.receive)
        self.sink.set_pause_generator(PauseGenerator(TRAFFIC["stalls"][1], f"{seed}/sink"))
        self.tag = 0
        self.encrypt = 0
        self.decrypt = 0
        self.latencies = Counter()

    def describe(self, payload: int) -> str:
        fields = self.responses.unpack(payload)
        line = golden.from_bus(fields["data"], golden.LINE_BYTES)
        return f"line {line.hex()} tag {fields['tag']}"

    async def select(self, keyid: int) -> Selection:
        dut = self.dut
        await RisingEdge(self.clock)
        dut.select_keyid.value = keyid
        dut.select_valid.value = 1
        await RisingEdge(self.clock)
        dut.select_valid.value = 0
        latency = 0
        await ReadOnly()
        while not dut.selected.value:
            assert latency < 8, f"KeyID {keyid}: selected not high 8 clocks after select"
            await RisingEdge(self.clock)
            latency += 1
            await ReadOnly()
        self.latencies[latency] += 1
        selection = Selection(int(dut.selected_mode.value), bool(dut.selected_invalid.value),
                              bool(dut.selected_usable.value), bool(dut.i_line__ready.value),
                              latency)
        await RisingEdge(self.clock)     # back to a phase where the caller may drive
        return selection

    async def send(self, data: bytes, address: int, decrypt: bool, expected: bytes,
                   label: str):
        """Offer one line (after a random gap) until it is taken; expect ``expected``."""
        dut = self.dut
        tag = self.tag
        self.tag = (tag + 1) % 256
        self.scoreboard.expect(self.responses.pack(data=golden.to_bus(expected), tag=tag),
                               f"{label} ({'decrypt' if decrypt else 'encrypt'} at "
                               f"{address:#x}, data {data.hex()})")
        for _ in range(self.rng.choice((0, 0, 0, 1, 2, 5))):
            await RisingEdge(self.clock)
        await RisingEdge(self.clock)
        dut.i_line__payload.value = self.requests.pack(
            data=golden.to_bus(data), tweak=golden.line_tweak(address), decrypt=int(decrypt),
            tag=tag)
        dut.i_line__valid.value = 1
        for _ in range(100 * LINE_CLOCKS):
            await ReadOnly()
            if dut.i_line__ready.value:
                break
            await RisingEdge(self.clock)
        else:
            raise AssertionError(f"{label}: line not taken in {100 * LINE_CLOCKS} clocks")
        await RisingEdge(self.clock)         # taken at this edge
        dut.i_line__valid.value = 0
        if decrypt:
            self.decrypt += 1
        else:
            self.encrypt += 1

    async def wait_done(self, label: str):
        pending = len(self.scoreboard.expected)
        await with_timeout(self.scoreboard.empty_event.wait(),
                           (pending + 4) * 20 * LINE_CLOCKS * CLOCK_PERIOD_NS, "ns")
        board = self.scoreboard
        assert board.errors == 0, (f"{label}: {board.mismatches} mismatches, "
                                   f"{board.unexpected} unexpected lines; first: "
                                   f"{board.messages[:3]}")
        assert not self.sink.protocol_errors, self.sink.protocol_errors[:3]


class TB:
    """The keyed engine with its bus, entropy, retirement and line models."""

    def __init__(self, dut, name):
        self.dut = dut
        self.log = dut._log
        self.clock = dut.clk
        seed = f"{CONFIG.seed}/{name}"
        self.rng = CONFIG.rng(name, "test")
        Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        self.bus = PostedBus(dut, dut.clk, seed, status_offset=OFFSET["STATUS"])
        self.driver = AsyncDriver(self.bus.read, self.bus.write, config=BUILD)
        self.entropy = EntropySource(dut, dut.clk, CONFIG.rng(name, "entropy"))
        self.retirer = Retirer(dut, dut.clk, CONFIG.rng(name, "retire"))
        self.lines = LinePort(dut, dut.clk, CONFIG.rng(name, "lines"), seed)
        self.platform = None
        self.by_type = Counter()        # command -> issued
        self.commands = Counter()       # command (and key size, or how) -> issued
        self.succeeded = Counter()      # command (and key size) -> PROG_SUCCESS
        self.results = Counter()        # final status of each command
        self.random_keys = set()        # KeyIDs last given a SET_KEY_RANDOM key
        self.started = time.monotonic()
        self.first_cycle = 0

    async def reset(self):
        dut = self.dut
        for port in ("select_valid", "i_line__valid", "o_line__ready", "entropy_valid",
                     "retire_done", "fault_valid", *EVENT_PORTS):
            getattr(dut, port).value = 0
        dut.select_keyid.value = 0
        dut.fault_record.value = 0
        dut.rst.value = 1
        for _ in range(4):
            await RisingEdge(self.clock)
        dut.rst.value = 0
        self.first_cycle = _now()
        for model in (self.entropy, self.retirer, self.lines.sink):
            cocotb.start_soon(model.run())
        first = await self.driver.status()
        assert first.busy and not first.ready and first.code == Status.DEVICE_BUSY, first
        report = await self.driver.wait_ready()
        assert report.code == Status.PROG_SUCCESS and not report.busy, report
        assert dut.ready.value == 1
        words = 2 * PLATFORM_BITS // 32
        assert len(self.entropy.words) == words, (
            f"{len(self.entropy.words)} entropy words taken at reset, expected {words}")
        self.platform = words_to_keys(self.entropy.words, PLATFORM_BITS)
        caps = await self.driver.identify()
        for name in ("keyid_bits", "num_keys", "mem_bytes", "phys_addr_bits", "key_sizes",
                     "entropy_timeout", "fault_log_depth"):
            assert caps[name] == getattr(BUILD, name), (name, caps[name])
        assert caps["blocks"] == Block.ENGINE, caps["blocks"]

    # -- commands -----------------------------------------------------------------------

    async def command(self, keyid, command, algorithm=0, field1=b"", field2=b"",
                      expect=Status.PROG_SUCCESS, label=None):
        """Run one command through the driver; check its status and its retirement.

        Counted by type (``by_type``) and by ``label`` (default: the command, with its key
        size when the algorithm names exactly one)."""
        if label is None:
            label = _command_name(command)
            if command in (Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM) and \
                    algorithm in (A128, A256):
                label += f"/{128 if algorithm == A128 else 256}"
        self.by_type[_command_name(command)] += 1
        self.commands[label] += 1
        retirements = len(self.retirer.retirements)
        status = await self.driver.program(keyid, command, algorithm, field1, field2)
        self.results[status_name(status)] += 1
        assert status == expect, (f"{label} KeyID {keyid} algorithm {algorithm:#x}: "
                                  f"{status!r}, expected {expect!r}")
        new = self.retirer.retirements[retirements:]
        if status == Status.PROG_SUCCESS:
            self.succeeded[label] += 1
            assert [(r.keyid, r.all) for r in new] == [(keyid, False)], (
                f"{label} KeyID {keyid}: retirements {new}")
            assert all(r.completed >= 0 for r in new)
        else:
            assert not new, f"{label} KeyID {keyid} failed ({status!r}) but retired {new}"
        return status

    async def set_direct(self, keyid, key_bits, rng):
        data_key, tweak_key = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)
        await self.command(keyid, Command.SET_KEY_DIRECT, Algorithm.for_key_bits(key_bits),
                           data_key, tweak_key, label=f"SET_KEY_DIRECT/{key_bits}")
        self.random_keys.discard(keyid)
        return data_key, tweak_key

    async def set_random(self, keyid, key_bits, rng):
        """SET_KEY_RANDOM; the keys expected from the software entropy and the hardware
        words the entropy source handed out during the command."""
        nbytes = key_bits // 8
        data_entropy, tweak_entropy = rng.randbytes(nbytes), rng.randbytes(nbytes)
        before = len(self.entropy.words)
        await self.command(keyid, Command.SET_KEY_RANDOM, Algorithm.for_key_bits(key_bits),
                           data_entropy, tweak_entropy, label=f"SET_KEY_RANDOM/{key_bits}")
        hardware = words_to_keys(self.entropy.words[before:], key_bits)
        data_key, tweak_key = _xor(data_entropy, hardware[0]), _xor(tweak_entropy, hardware[1])
        assert data_key != data_entropy and tweak_key != tweak_entropy, (
            f"KeyID {keyid}: the random key equals the software entropy")
        self.random_keys.add(keyid)
        return data_key, tweak_key

    # -- lines --------------------------------------------------------------------------

    async def check_keyid(self, keyid, expected, rng, *, decrypt=False, round_trip=False,
                          label=""):
        """Select ``keyid`` and check what the engine does with it.

        ``expected``: ``("keyed", data_key, tweak_key)``, ``("platform",)`` or
        ``("plaintext",)``. A usable key gets a random line encrypted (and, with
        ``decrypt``, a random line decrypted; with ``round_trip``, the expected ciphertext
        decrypted back). Returns the lines sent.
        """
        selection = await self.lines.select(keyid)
        kind = expected[0]
        label = f"{label} KeyID {keyid} ({kind})"
        assert not selection.invalid, f"{label}: selected_invalid"
        if kind == "keyed":
            data_key, tweak_key = expected[1:]
            want_mode = KeyMode.KEYED
        elif kind == "platform":
            data_key, tweak_key = self.platform
            want_mode = KeyMode.PLATFORM
        else:
            data_key = tweak_key = None
            want_mode = KeyMode.NO_ENCRYPT
        assert selection.mode == want_mode, f"{label}: selected_mode {selection.mode}"
        usable = data_key is not None and 8 * len(data_key) == ENGINE_BITS
        assert selection.usable == usable, f"{label}: selected_usable {selection.usable}"
        assert selection.latency == LOOKUP_LATENCY, (
            f"{label}: selected {selection.latency} clocks after select_valid, not "
            f"{LOOKUP_LATENCY}")
        if not usable:
            assert not selection.ready, f"{label}: i_line ready for an unusable KeyID"
            return 0
        address = rng.getrandbits(BUILD.stripped_bits) & ~(golden.LINE_BYTES - 1)
        plaintext = rng.randbytes(golden.LINE_BYTES)
        ciphertext = golden.encrypt_line(data_key, tweak_key, address, plaintext)
        await self.lines.send(plaintext, address, False, ciphertext, label)
        sent = 1
        if round_trip:
            await self.lines.send(ciphertext, address, True, plaintext, f"{label} round trip")
            sent += 1
        if decrypt:
            address = rng.getrandbits(BUILD.stripped_bits) & ~(golden.LINE_BYTES - 1)
            data = rng.randbytes(golden.LINE_BYTES)
            await self.lines.send(data, address, True,
                                  golden.decrypt_line(data_key, tweak_key, address, data),
                                  f"{label} decrypt")
            sent += 1
        return sent

    # -- results ------------------------------------------------------------------------

    def counts(self) -> dict:
        board, bus = self.lines.scoreboard, self.bus
        cycles = _now() - self.first_cycle
        return {
            "by_type": dict(self.by_type), "commands": dict(self.commands),
            "succeeded": dict(self.succeeded),
            "results": dict(self.results), "statuses_seen": dict(bus.status_codes),
            "lines": self.lines.encrypt + self.lines.decrypt, "encrypt": self.lines.encrypt,
            "decrypt": self.lines.decrypt, "matched": board.matched,
            "mismatches": board.mismatches, "unexpected": board.unexpected,
            "held_back": self.lines.sink.held_back,
            "axi_reads": bus.reads, "axi_writes": bus.writes,
            "partial_writes": bus.partial_writes, "slverr": bus.slverr,
            "max_in_flight": bus.max_in_flight,
            "entropy_words": len(self.entropy.words),
            "retirements": len(self.retirer.retirements),
            "cycles": cycles, "wall_seconds": round(time.monotonic() - self.started, 1),
        }

    def check_models(self):
        assert not self.retirer.errors, self.retirer.errors[:3]


def _spread(counter) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items()))


# -- every command and status ----------------------------------------------------------------

async def _key_fields_read_zero(tb, when: str) -> int:
    values = await tb.bus.read_many(KEY_FIELD_OFFSETS)
    nonzero = {hex(o): hex(v) for o, v in zip(KEY_FIELD_OFFSETS, values, strict=True) if v}
    assert not nonzero, f"key fields read non-zero {when}: {nonzero}"
    return len(values)


async def _write_key_partially(tb, rng, base: int, key: bytes) -> int:
    """Fill the key field at ``base`` with junk words, then write ``key`` in 1- to 3-byte
    pieces at their (mostly unaligned) offsets, in random order: a key that comes out right
    needs WSTRB honoured on every write. Returns the writes made."""
    for word in range(KEY_FIELD_WORDS):
        await tb.bus.write(base + 4 * word, rng.getrandbits(32))
    pieces, position = [], 0
    while position < len(key):
        size = min(rng.randint(1, 3), len(key) - position)
        pieces.append((position, size))
        position += size
    rng.shuffle(pieces)
    for position, size in pieces:
        tb.bus.post(base + position, key[position:position + size])
    await tb.bus.drain()
    return KEY_FIELD_WORDS + len(pieces)


@cocotb.test
async def every_command_and_status(dut):
    """Every command, every status code, key fields, partial writes, SLVERR and the log."""
    tb = TB(dut, "every_command_and_status")
    rng = CONFIG.rng("every_command_and_status")
    await tb.reset()
    driver, bus = tb.driver, tb.bus
    sizes = BUILD.key_sizes
    keyids = rng.sample(list(PROGRAMMABLE), 8)
    expected = {}                      # KeyID -> what check_keyid expects
    checks = Counter()
    key_field_reads = 0

    # Before any command: fields written with junk read zero; a burst of overlapping
    # reads and writes.
    for offset in KEY_FIELD_OFFSETS:
        await bus.write(offset, rng.getrandbits(32))
    key_field_reads += await _key_fields_read_zero(tb, "before a command")
    written = [rng.getrandbits(16) for _ in range(12)]
    reads = rng.choices(("ID", "VERSION", "CAP_KEYS", "CAP_ADDR", "CAP_ENTROPY"), k=12)
    for value in written:
        bus.post(OFFSET["KEYID"], value.to_bytes(4, "little"))
    tasks = [cocotb.start_soon(bus.master.read(REGMAP.offset(name), 4)) for name in reads]
    for name, task in zip(reads, tasks, strict=True):
        value = bus._check_read(REGMAP.offset(name), await task, False)
        assert value == REGMAP[name].reset, f"{name} read {value:#x} during a write burst"
    await bus.drain()
    assert await driver.read("KEYID") == written[-1]
    checks["overlapping_transactions"] += len(written) + len(reads)

    await driver.irq_enable(Irq.COMMAND_DONE | Irq.FAULT)
    await driver.irq_clear(Irq.COMMAND_DONE | Irq.FAULT | Irq.FAULT_OVERFLOW)
    await bus.drain()           # posted writes: done before the pin is looked at
    assert dut.irq.value == 0

    # Every command succeeds.
    for index, key_bits in enumerate(sizes):
        keyid = keyids[index]
        expected[keyid] = ("keyed", *await tb.set_direct(keyid, key_bits, rng))
        key_field_reads += await _key_fields_read_zero(tb, "after SET_KEY_DIRECT")
        await tb.check_keyid(keyid, expected[keyid], rng, decrypt=True, label="direct")
        assert dut.irq.value == 1, "COMMAND_DONE did not raise irq"
        assert await driver.irq_status() & Irq.COMMAND_DONE
        await driver.irq_clear(Irq.COMMAND_DONE)
        await bus.drain()
        assert dut.irq.value == 0
    for index, key_bits in enumerate(sizes):
        keyid = keyids[2 + index]
        expected[keyid] = ("keyed", *await tb.set_random(keyid, key_bits, rng))
        await tb.check_keyid(keyid, expected[keyid], rng, round_trip=True, label="random")
    cleared, plain = keyids[0], keyids[4]
    await tb.command(cleared, Command.CLEAR_KEY)
    expected[cleared] = ("platform",)
    await tb.command(plain, Command.NO_ENCRYPT, rng.getrandbits(16))  # algorithm ignored
    expected[plain] = ("plaintext",)
    await tb.check_keyid(cleared, expected[cleared], rng, label="cleared")
    await tb.check_keyid(plain, expected[plain], rng, label="no-encrypt")
    await tb.check_keyid(0, ("platform",), rng, label="platform KeyID")
    await tb.lines.wait_done("commands")

    # Every refusal, with nothing retired and nothing changed.
    victim = keyids[5]
    expected[victim] = ("keyed", *await tb.set_direct(victim, ENGINE_BITS, rng))
    key = rng.randbytes(ENGINE_BITS // 8)
    algorithm = Algorithm.for_key_bits(ENGINE_BITS)
    refusals = [
        (victim, 4, algorithm, Status.INVALID_PROG_CMD),
        (victim, 0x7F, algorithm, Status.INVALID_PROG_CMD),
        (victim, 0xFF, algorithm, Status.INVALID_PROG_CMD),
        (victim, Command.LOAD_PLATFORM_KEY, algorithm, Status.INVALID_PROG_CMD),
        (0, Command.SET_KEY_DIRECT, algorithm, Status.INVALID_KEYID),
        (0, Command.CLEAR_KEY, 0, Status.INVALID_KEYID),
        (BUILD.platform_keyid, Command.SET_KEY_RANDOM, algorithm, Status.INVALID_KEYID),
        (BUILD.num_keys, Command.SET_KEY_DIRECT, algorithm, Status.INVALID_KEYID),
        (BUILD.num_keys, Command.NO_ENCRYPT, 0, Status.INVALID_KEYID),
        (0xFFFF, Command.SET_KEY_DIRECT, algorithm, Status.INVALID_KEYID),
        (0xFFFF, Command.CLEAR_KEY, 0, Status.INVALID_KEYID),
        (victim, Command.SET_KEY_DIRECT, 0, Status.INVALID_ENC_ALG),
        (victim, Command.SET_KEY_DIRECT, 1 << 1, Status.INVALID_ENC_ALG),   # with integrity
        (victim, Command.SET_KEY_DIRECT, A128 | A256, Status.INVALID_ENC_ALG),
        (victim, Command.SET_KEY_RANDOM, 1 << 15, Status.INVALID_ENC_ALG),
        (victim, Command.SET_KEY_RANDOM, 0, Status.INVALID_ENC_ALG),
    ]
    for bits in (128, 256):
        if bits not in sizes:       # a key size this build lacks
            refusals.append((victim, Command.SET_KEY_DIRECT, Algorithm.for_key_bits(bits),
                             Status.INVALID_ENC_ALG))
    for keyid, command, alg, status in refusals:
        await tb.command(keyid, command, alg, key, key, expect=status)
        checks["refusals"] += 1
    key_field_reads += await _key_fields_read_zero(tb, "after refused commands")
    await tb.check_keyid(victim, expected[victim], rng, label="after refusals")

    # The key fields are cleared by a command that fails: SET_KEY_DIRECT with no key
    # written then programs the all-zero keys.
    zero = bytes(ENGINE_BITS // 8)
    await driver.write("KEYID", victim)
    await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | algorithm << 8)
    await driver.write("DOORBELL", 1)
    tb.by_type["SET_KEY_DIRECT"] += 1
    tb.commands["SET_KEY_DIRECT/no key written"] += 1
    report = await tb.driver.wait_idle()
    tb.results[status_name(report.code)] += 1
    assert report.code == Status.PROG_SUCCESS, report
    tb.succeeded["SET_KEY_DIRECT/no key written"] += 1
    expected[victim] = ("keyed", zero, zero)
    await tb.check_keyid(victim, expected[victim], rng, decrypt=True, label="zero key")

    # ENTROPY_ERROR: entropy withheld from the start, then after three words. The KeyID
    # keeps its key; the next SET_KEY_RANDOM uses fresh words.
    for allow in (0, 3):
        tb.entropy.withhold(allow)
        before = len(tb.entropy.words)
        await tb.command(victim, Command.SET_KEY_RANDOM, algorithm, key, key,
                         expect=Status.ENTROPY_ERROR, label=f"SET_KEY_RANDOM/{ENGINE_BITS}")
        assert len(tb.entropy.words) - before == allow
        tb.entropy.resume()
        await tb.check_keyid(victim, expected[victim], rng, label="after ENTROPY_ERROR")
    expected[victim] = ("keyed", *await tb.set_random(victim, ENGINE_BITS, rng))
    await tb.check_keyid(victim, expected[victim], rng, round_trip=True,
                         label="random after ENTROPY_ERROR")

    # DEVICE_BUSY while a slow retirement is pending. Meanwhile: the key fields read zero,
    # a KEYID write and a second doorbell are ignored (STATUS.IGNORED), and the KeyID's old
    # key stays in force until the retirement completes.
    busy_keyid = keyids[6]
    old = ("keyed", *await tb.set_direct(busy_keyid, ENGINE_BITS, rng))
    new_data, new_tweak = rng.randbytes(ENGINE_BITS // 8), rng.randbytes(ENGINE_BITS // 8)
    tb.retirer.delay = SLOW_RETIREMENT
    retirements = len(tb.retirer.retirements)
    await driver.write("KEYID", busy_keyid)
    await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | algorithm << 8)
    for word in range(ENGINE_BITS // 32):
        await driver.write(f"KEY_FIELD_1_{word}",
                           int.from_bytes(new_data[4 * word:4 * word + 4], "little"))
        await driver.write(f"KEY_FIELD_2_{word}",
                           int.from_bytes(new_tweak[4 * word:4 * word + 4], "little"))
    await driver.write("DOORBELL", 1)
    tb.by_type["SET_KEY_DIRECT"] += 1
    tb.commands[f"SET_KEY_DIRECT/{ENGINE_BITS} slow retirement"] += 1
    def retiring():
        started = tb.retirer.retirements[retirements:]
        return not started or started[0].completed < 0

    busy_polls = 0
    while retiring():
        report = await driver.status()
        if not retiring():
            break
        # The retirement was pending when STATUS was read.
        assert report.busy and report.code == Status.DEVICE_BUSY, report
        busy_polls += 1
        if busy_polls == 2:
            key_field_reads += await _key_fields_read_zero(tb, "while busy")
            await driver.write("KEYID", rng.choice([k for k in keyids if k != busy_keyid]))
            for offset in KEY_FIELD_OFFSETS[:2]:
                await bus.write(offset, 0)
            await driver.write("DOORBELL", 1)
            await tb.check_keyid(busy_keyid, old, rng, decrypt=True, label="while retiring")
            await tb.lines.wait_done("while retiring")
            assert retiring(), "the lines under the old key outlasted the retirement"
    tb.retirer.delay = None
    report = await tb.driver.wait_idle()
    tb.results[status_name(report.code)] += 1
    assert report.code == Status.PROG_SUCCESS and report.ignored, report
    tb.succeeded[f"SET_KEY_DIRECT/{ENGINE_BITS} slow retirement"] += 1
    assert busy_polls >= 3, f"only {busy_polls} STATUS reads during the retirement"
    new = tb.retirer.retirements[retirements:]
    assert [(r.keyid, r.all) for r in new] == [(busy_keyid, False)], new
    assert new[0].completed - new[0].started >= SLOW_RETIREMENT
    assert await driver.read("KEYID") == busy_keyid, "a KEYID write while busy was taken"
    key_field_reads += await _key_fields_read_zero(tb, "after the busy command")
    expected[busy_keyid] = ("keyed", new_data, new_tweak)
    await tb.check_keyid(busy_keyid, expected[busy_keyid], rng, decrypt=True,
                         label="after retiring")
    # The driver reports an ignored sequence as DEVICE_BUSY; the next doorbell clears it.
    await tb.command(busy_keyid, Command.CLEAR_KEY)
    expected[busy_keyid] = ("platform",)
    assert not (await driver.status()).ignored

    # A doorbell without byte lane 0 starts nothing.
    retirements = len(tb.retirer.retirements)
    bus.post(OFFSET["DOORBELL"] + 1, b"\x01")
    report = await driver.status()
    assert not report.busy and len(tb.retirer.retirements) == retirements

    # A key assembled from partial writes (WSTRB), KEYID written a byte at a time.
    partial_keyid = keyids[7]
    data_key, tweak_key = rng.randbytes(ENGINE_BITS // 8), rng.randbytes(ENGINE_BITS // 8)
    checks["partial_key_writes"] += await _write_key_partially(tb, rng, KEY_FIELD_1_BASE,
                                                               data_key)
    checks["partial_key_writes"] += await _write_key_partially(tb, rng, KEY_FIELD_2_BASE,
                                                               tweak_key)
    bus.post(OFFSET["KEYID"], b"\xff\xff\xff\xff")
    for lane in rng.sample([0, 1], 2):
        bus.post(OFFSET["KEYID"] + lane, bytes([partial_keyid >> 8 * lane & 0xFF]))
    bus.post(OFFSET["KEYID"] + 2, b"\x00\x00")
    await driver.write("KEYID_CTRL", Command.SET_KEY_DIRECT | algorithm << 8)
    await driver.write("DOORBELL", 1)
    tb.by_type["SET_KEY_DIRECT"] += 1
    tb.commands[f"SET_KEY_DIRECT/{ENGINE_BITS} partial writes"] += 1
    report = await tb.driver.wait_idle()
    tb.results[status_name(report.code)] += 1
    assert report.code == Status.PROG_SUCCESS, report
    tb.succeeded[f"SET_KEY_DIRECT/{ENGINE_BITS} partial writes"] += 1
    assert await driver.read("KEYID") == partial_keyid
    expected[partial_keyid] = ("keyed", data_key, tweak_key)
    await tb.check_keyid(partial_keyid, expected[partial_keyid], rng, decrypt=True,
                         label="partial writes")

    # Bad offsets answer SLVERR (read data zero) and are logged in order; a write to a
    # read-only register is ignored with OKAY.
    assert await driver.faults() == []
    bad = [(0xFFC, False), (0x800, True), (0x0C0, False), (0x0C4, True), (0x1F8, False)]
    for offset, write in bad:
        assert REGMAP.at(offset) is None
        if write:
            bus.post(offset, rng.getrandbits(32).to_bytes(4, "little"))
            await bus.drain(expect_error=True)
        else:
            assert await bus.read(offset, expect_error=True) == 0
    await bus.write(OFFSET["ID"], 0)
    assert await driver.read("ID") == REGMAP["ID"].reset
    assert dut.irq.value == 1, "a logged fault did not raise irq"
    assert await driver.read("FAULT_STATUS") == len(bad)
    faults = await driver.faults()
    assert [(f.address, f.source, f.kind, f.write) for f in faults] == [
        (offset, FaultSource.CONTROL, FaultKind.BAD_CONTROL_ACCESS, write)
        for offset, write in bad], faults
    assert await driver.irq_status() & Irq.FAULT
    await driver.irq_clear(Irq.FAULT | Irq.COMMAND_DONE)
    await bus.drain()
    assert dut.irq.value == 0

    # Everything programmed is still in force; the counter counted every success.
    for keyid, want in expected.items():
        await tb.check_keyid(keyid, want, rng, label="final")
    await tb.lines.wait_done("every command and status")
    counters = await driver.perf_counters()
    assert counters["keys_programmed"] == sum(tb.succeeded.values()), counters
    tb.check_models()

    counts = tb.counts()
    counts.update(checks, key_field_reads=key_field_reads, busy_polls=busy_polls,
                  faults_logged=len(faults), keys_programmed=sum(tb.succeeded.values()),
                  key_sizes=list(sizes))
    record_results(
        CONFIG, "every_command_and_status",
        f"{LABEL}: every command and status: commands {_spread(tb.by_type)} "
        f"({_spread(tb.commands)}); "
        f"results {_spread(tb.results)}; STATUS reads {_spread(bus.status_codes)}; "
        f"{counts['lines']} lines ({counts['encrypt']} encrypt, {counts['decrypt']} "
        f"decrypt), {counts['mismatches']} mismatches; {key_field_reads} key-field reads "
        f"(all zero), {counts['partial_writes']} partial-strobe writes, {counts['slverr']} "
        f"SLVERR, {len(faults)} faults logged, up to {counts['max_in_flight']} transactions "
        f"in flight; {counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)


# -- every KeyID -------------------------------------------------------------------------------

@cocotb.test
async def every_keyid(dut):
    """Every programmable KeyID programmed; a line checked under every KeyID."""
    tb = TB(dut, "every_keyid")
    rng = CONFIG.rng("every_keyid")
    await tb.reset()
    sizes = BUILD.key_sizes
    other = [bits for bits in sizes if bits != ENGINE_BITS]
    order = list(PROGRAMMABLE)
    rng.shuffle(order)

    # Never programmed: the platform key (and KeyID 0 too).
    before = rng.sample(order, min(16, len(order)))
    platform_lines = 0
    for keyid in [0, *before]:
        platform_lines += await tb.check_keyid(keyid, ("platform",), rng, decrypt=True,
                                               label="never programmed")
    await tb.lines.wait_done("never programmed")

    expected, kinds = {}, Counter()
    for keyid in order:
        key_bits = other[0] if other and rng.random() < 0.1 else ENGINE_BITS
        if rng.random() < 0.125:
            expected[keyid] = ("keyed", *await tb.set_random(keyid, key_bits, rng))
            kind = "random"
        else:
            expected[keyid] = ("keyed", *await tb.set_direct(keyid, key_bits, rng))
            kind = "direct"
        kinds[f"{kind}/{key_bits}"] += 1
    programmed_cycles = _now() - tb.first_cycle
    assert len(expected) == len(PROGRAMMABLE)

    checked, usable_lines, unusable = Counter(), 0, 0
    for keyid in rng.sample(range(BUILD.num_keys), BUILD.num_keys):
        want = expected.get(keyid, ("platform",))
        sent = await tb.check_keyid(keyid, want, rng, decrypt=rng.random() < 0.25,
                                    round_trip=keyid in tb.random_keys, label="every KeyID")
        checked[want[0]] += 1
        if want[0] == "platform":
            platform_lines += sent
        if sent:
            usable_lines += 1
        else:
            unusable += 1
    await tb.lines.wait_done("every KeyID")
    counters = await tb.driver.perf_counters()
    assert counters["keys_programmed"] == len(PROGRAMMABLE)
    tb.check_models()

    counts = tb.counts()
    counts.update(keys_programmed=len(expected), kinds=dict(kinds),
                  keyids_checked=sum(checked.values()), checked=dict(checked),
                  keyids_with_lines=usable_lines, keyids_unusable=unusable,
                  platform_lines=platform_lines, num_keys=BUILD.num_keys,
                  programmable=len(PROGRAMMABLE), programming_cycles=programmed_cycles,
                  random_round_trips=len(tb.random_keys))
    record_results(
        CONFIG, "every_keyid",
        f"{LABEL}: every KeyID: {len(expected)} KeyIDs programmed ({_spread(kinds)}) in "
        f"{programmed_cycles} cycles; {sum(checked.values())} KeyIDs checked "
        f"({_spread(checked)}; {unusable} of another key size refused), {counts['lines']} "
        f"lines ({counts['encrypt']} encrypt, {counts['decrypt']} decrypt, {platform_lines} "
        f"under the platform key), {counts['mismatches']} mismatches; results "
        f"{_spread(tb.results)}; {counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)
