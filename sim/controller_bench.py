"""cocotb bench of the memory-encryption controller (``memcrypt generate --top controller``,
:class:`memcrypt.gateware.controller.Controller`) end to end, under Icarus Verilog and
Verilator, against the golden system model :class:`memcrypt.model.controller.ControllerModel`
(an uncached encrypted memory: the cache must be invisible, memory must hold AES-XTS
ciphertext).

Around the design:

* the host (:class:`HostPort`) on ``s_axi_*``: bursts of every kind AMBA allows (INCR of 1
  to 256 beats, WRAP of 2, 4, 8 and 16, FIXED of 1 to 16), full and narrow sizes,
  unaligned starts, any byte strobes within a beat's lanes, random IDs and sidebands,
  several bursts outstanding; built on cocotbext-axi's channel models (``AxiAWSource`` ...
  ``AxiRSink``) with seeded random pauses on all five channels. Every beat's address and
  byte lanes come from :class:`Burst` (AMBA IHI 0022E A3.4), not from the design, and every
  read beat is scored lane by lane against the model (DECERR beats must carry zeros). The
  ``wrong_keyid_read`` test drives the port with cocotbext-axi's own ``AxiMaster`` instead,
  as a second, independent master.
* memory (:class:`Memory`) on ``m_axi_*``: cocotbext-axi's ``AxiRam`` read and write
  interfaces over one sparse memory of ``memory_base + mem_bytes`` bytes, with random pauses
  on every channel, chosen words that answer SLVERR or DECERR (a refused write leaves the
  memory unchanged), and a mode in which writes become visible only when answered, after a
  long delay, while reads are answered at once. Monitors check that every access is a 4-beat
  INCR burst of 16-byte beats with ID 0 at ``memory_base`` plus a stripped line address, and
  that no fill of a line is issued while a write-back of that line is unanswered.
* the control port ``s_axil_*`` through :class:`memcrypt.host.driver.AsyncDriver` over
  :class:`sim.bench_common.PostedBus` (random pauses on all five channels), and the entropy
  input (:class:`sim.bench_common.EntropySource`), from whose words the platform key and
  every SET_KEY_RANDOM key are computed.

Concurrent host traffic keeps the model exact (:class:`Traffic`): bursts touching disjoint
lines (a line under any KeyID: aliases conflict) overlap freely, reads overlap reads, writes
overlap writes (the design serves them in order of acceptance), and a read and a write of a
common line never overlap; a KeyID whose key changes carries no traffic meanwhile (other
KeyIDs keep running, aliases included).

Tests:

* ``random_traffic``: ``MEMCRYPT_BENCH_TRANSACTIONS`` bursts in batches, concentrated on a
  working set four times the cache under every KeyID (keys of both sizes, direct and random,
  NO_ENCRYPT, cleared, never programmed), with some bursts anywhere in memory, near and
  beyond its end and under invalid KeyIDs; key changes (with their hardware retirement),
  range flushes and flush-alls run beside the traffic. After each batch the fault log must
  hold one record per refused burst; after every flush-all in a quiet moment, and at the
  end, every byte of memory must equal the model's ciphertext image (zeros elsewhere). The
  performance counters must count every burst.
* ``wrong_keyid_read``: with cocotbext-axi's ``AxiMaster``: data written under one KeyID and
  read under another comes back as D_k2(E_k1(data)), computed with the golden AES-XTS
  (checked against pycryptodome and published vectors); a NO_ENCRYPT alias reads the
  ciphertext itself; the lines-encrypted and lines-decrypted counters match memory traffic.
* ``errors``: DECERR for invalid KeyIDs and for bursts reaching beyond ``mem_bytes`` (reads
  and writes; nothing written), SLVERR for bursts AMBA forbids, each with its fault record;
  memory read errors (SLVERR and DECERR, on one beat of a fill) give SLVERR on the host
  beats that needed the line, and a MEMORY_ERROR record; a refused write-back leaves memory
  as it was and logs MEMORY_ERROR with the line's address and KeyID; the irq output follows
  IRQ_ENABLE.FAULT; the controller keeps serving.
* ``control_fuzz``: thousands of register reads and writes at random offsets (unmapped ones
  included), data and byte strobes, each checked against a register model (fault log, IRQ
  bits, key fields, flush registers), with modelled key commands (valid or refused) and
  flushes among them and host traffic beside them; then every KeyID still decrypts as the
  model says and memory matches its image.
* ``ordering``: memory answers writes late and reads early. An alias refill (a line written
  under k1 then read at once under k2) must see the write-back; a line evicted by capacity
  and read again likewise; a KeyID's dirty lines, re-keyed while their write-backs wait,
  must reach memory encrypted under the old key.

Each test records its counts (:func:`sim.bench_common.record_results`) for
tests/test_cocotb.py. The build comes from ``MEMCRYPT_BENCH_CONFIG`` (a preset) and
``MEMCRYPT_BENCH_CONFIG_OVERRIDES`` (JSON), the workload from
``MEMCRYPT_BENCH_TRANSACTIONS``.
"""

import contextlib
import json
import logging
import os
import random
import time
import warnings
from collections import Counter, deque
from dataclasses import dataclass, field, replace

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, Lock, ReadOnly, RisingEdge, Timer, with_timeout
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiBurstType, AxiBus, AxiMaster, AxiResp
from cocotbext.axi.axi_channels import (
    AxiARMonitor,
    AxiARSource,
    AxiAWMonitor,
    AxiAWSource,
    AxiBMonitor,
    AxiBSink,
    AxiRSink,
    AxiWSource,
)
from cocotbext.axi.axi_ram import AxiRamRead, AxiRamWrite
from cocotbext.axi.sparse_memory import SparseMemory
from cocotbext.axi.stream import StreamSource

from memcrypt.config import preset
from memcrypt.geometry import LINE_BYTES, WORD_BYTES, WORDS_PER_LINE
from memcrypt.host.driver import AsyncDriver, FaultRecord
from memcrypt.model import golden
from memcrypt.model.controller import ControllerModel, Mode
from memcrypt.regmap import (
    KEY_FIELD_WORDS,
    Access,
    Algorithm,
    Block,
    Command,
    FaultKind,
    FaultSource,
    Irq,
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
    record_results,
    status_name,
    words_to_keys,
)

# cocotbext-axi 0.1.28 uses what cocotb 2 deprecates (``Event.set(data)``, ``Event.data``,
# ``Edge``, ``Task.kill``); those warnings say nothing about the design.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi")

CONFIG = BenchConfig.from_env()
TRANSACTIONS = int(os.environ.get("MEMCRYPT_BENCH_TRANSACTIONS", "2000"))
#: Pauses on the AXI channels (a profile of sim.bench_common.TRAFFIC, "stalls" by default).
STALLS = TRAFFIC[os.environ.get("MEMCRYPT_BENCH_TRAFFIC", "stalls")]
#: The share of the other tests' rounds that run: all of them from 2,000 transactions up
#: (Verilator), fewer for the short runs (Icarus, ten times slower per clock).
SCALE = min(1.0, TRANSACTIONS / 2000)


def _rounds(full: int, least: int = 1) -> int:
    return max(least, round(full * SCALE))


def _build_config():
    overrides = json.loads(os.environ.get("MEMCRYPT_BENCH_CONFIG_OVERRIDES", "{}"))
    if "key_sizes" in overrides:
        overrides["key_sizes"] = tuple(overrides["key_sizes"])
    base = preset(os.environ.get("MEMCRYPT_BENCH_CONFIG", "small"))
    return replace(base, **overrides) if overrides else base


BUILD = _build_config()
BLOCKS = Block.CACHE | Block.ENGINE | Block.HOST_PORT | Block.MEMORY_PORT
REGMAP = register_map(BUILD, BLOCKS)
CACHE_LINES = BUILD.cache_ways * BUILD.cache_sets
LABEL = (f"controller {BUILD.name} ({BUILD.num_keys} keys, key sizes "
         f"{'/'.join(map(str, BUILD.key_sizes))}, cache {BUILD.cache_ways}x{BUILD.cache_sets}, "
         f"{BUILD.engine} engines)")
PROGRAMMABLE = list(range(BUILD.first_programmable_keyid, BUILD.num_keys))
INVALID_KEYIDS = list(range(BUILD.num_keys, 1 << BUILD.keyid_bits))
#: Bytes of the host and memory data buses (one 128-bit word).
BUS_BYTES = WORD_BYTES
PAGE_BYTES = 0x1000
#: Clocks any one wait may take before the bench calls the design stuck.
STUCK_CYCLES = 400_000
#: Refused bursts allowed between two reads of the fault log (below its depth: none lost).
FAULT_BUDGET = BUILD.fault_log_depth - 4
#: Host tasks issuing bursts side by side.
WORKERS = 4
BATCH = 200


def _now() -> int:
    """The current clock cycle."""
    return int(get_sim_time("ns")) // CLOCK_PERIOD_NS


async def _sleep(clock, cycles: int):
    """Wait ``cycles`` rising edges of ``clock`` (called just after one) with two wake-ups
    instead of one per clock."""
    if cycles > 1:
        await Timer(cycles * CLOCK_PERIOD_NS - CLOCK_PERIOD_NS // 2, "ns")
    await RisingEdge(clock)


def _timeout(cycles: int) -> tuple[int, str]:
    """``with_timeout`` arguments for ``cycles`` clocks."""
    return cycles * CLOCK_PERIOD_NS, "ns"


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _value(signal_value) -> int:
    """An integer from a sampled bus value; X and Z bits read as zero."""
    try:
        return int(signal_value)
    except ValueError:
        return int(str(signal_value).lower().replace("x", "0").replace("z", "0"), 2)


# -- AXI4 bursts (AMBA IHI 0022E, A3.4) ------------------------------------------------------

FIXED, INCR, WRAP = int(AxiBurstType.FIXED), int(AxiBurstType.INCR), int(AxiBurstType.WRAP)
KIND_NAMES = {FIXED: "FIXED", INCR: "INCR", WRAP: "WRAP", 3: "reserved"}


@dataclass(frozen=True)
class Burst:
    """One AXI4 burst: AxADDR, the number of beats (AxLEN + 1), AxSIZE and AxBURST.

    :meth:`lanes` gives each beat's data-bus word and byte lanes by A3.4.2: the first beat
    at AxADDR, the next ones at the next ``2**size``-aligned address (INCR), wrapping at the
    ``beats * 2**size`` boundary (WRAP), or at AxADDR again (FIXED, which keeps the first
    beat's lanes). A burst may be built illegal on purpose (:attr:`legal` tells).
    """

    address: int
    beats: int
    size: int
    kind: int

    @property
    def beat_bytes(self) -> int:
        return 1 << self.size

    @property
    def keyid(self) -> int:
        return BUILD.split(self.address)[0]

    @property
    def legal(self) -> bool:
        n = self.beat_bytes
        if not 1 <= self.beats <= 256 or n > BUS_BYTES or self.kind not in (FIXED, INCR, WRAP):
            return False
        if self.kind == WRAP:
            return self.beats in (2, 4, 8, 16) and self.address % n == 0
        if self.kind == FIXED:
            return self.beats <= 16
        aligned = self.address - self.address % n
        return aligned // PAGE_BYTES == (aligned + n * self.beats - 1) // PAGE_BYTES

    def lanes(self) -> list[tuple[int, int, int]]:
        """(word address, lowest lane, highest lane) of every beat."""
        n, start = self.beat_bytes, self.address
        aligned = start - start % n
        total = n * self.beats
        boundary = start - start % total
        first_word = start - start % BUS_BYTES
        first = (first_word, start - first_word, aligned + n - 1 - first_word)
        lanes = [first]
        for beat in range(1, self.beats):
            if self.kind == FIXED:
                lanes.append(first)
                continue
            address = aligned + beat * n
            if self.kind == WRAP and address >= boundary + total:
                address -= total
            word = address - address % BUS_BYTES
            lanes.append((word, address - word, address - word + n - 1))
        return lanes

    def byte_addresses(self) -> list[list[int]]:
        """The physical addresses of every beat's bytes, in lane order."""
        return [[word + lane for lane in range(low, high + 1)]
                for word, low, high in self.lanes()]

    def stripped_lines(self) -> frozenset:
        """The stripped line addresses the burst touches (the same under every KeyID)."""
        mask = (1 << BUILD.stripped_bits) - 1
        return frozenset(address & mask & ~(LINE_BYTES - 1)
                         for beat in self.byte_addresses() for address in beat)

    def describe(self) -> str:
        return (f"{KIND_NAMES.get(self.kind, self.kind)} {self.beats}x{self.beat_bytes} at "
                f"{self.address:#x} (KeyID {self.keyid})")


def written_bytes(burst: Burst, beats) -> dict[int, int]:
    """Physical address -> byte of a write burst's ``beats`` (data, strobe): every strobed
    byte of each beat's lanes, later beats over earlier ones (FIXED)."""
    values = {}
    for (word, low, high), (data, strobe) in zip(burst.lanes(), beats, strict=True):
        for lane in range(low, high + 1):
            if strobe >> lane & 1:
                values[word + lane] = data >> 8 * lane & 0xFF
    return values


def lane_mask(low: int, high: int) -> int:
    return ((1 << (high + 1)) - 1) & ~((1 << low) - 1)


def random_write_beats(rng: random.Random, burst: Burst):
    """Random (data, strobe) beats: data everywhere (junk outside the beat's lanes),
    strobes only within them: all lanes, a random subset, or none."""
    beats = []
    for _, low, high in burst.lanes():
        lanes = lane_mask(low, high)
        choice = rng.random()
        if choice < 0.7:
            strobe = lanes
        elif choice < 0.96:
            strobe = rng.getrandbits(BUS_BYTES) & lanes
        else:
            strobe = 0
        beats.append((rng.getrandbits(8 * BUS_BYTES), strobe))
    return beats


# -- random pauses ----------------------------------------------------------------------------

class Pauses:
    """Random pauses for many cocotbext-axi channels from one coroutine: every clock, each
    channel's ``pause`` is set from its own generator, as the channel's own
    ``set_pause_generator`` would do with one coroutine per channel (fifteen coroutines
    woken every clock cost more than the design's simulation). A channel's generator only
    advances while its pause can matter: a source with beats to send, a sink whose
    ``busy`` callable says a beat may come (default: always)."""

    def __init__(self, clock):
        self.clock = clock
        self._channels = {}
        cocotb.start_soon(self._run())

    def set(self, channel, generator, busy=None):
        """Pause ``channel`` as ``generator`` says (``None``: never)."""
        channel.set_pause_generator(None)
        channel.pause = False
        if generator is None:
            self._channels.pop(channel, None)
            return
        if busy is None and isinstance(channel, StreamSource):
            busy = channel.active_event.is_set
        self._channels[channel] = (generator, busy)

    async def _run(self):
        edge = RisingEdge(self.clock)
        while True:
            for channel, (generator, busy) in self._channels.items():
                if busy is None or busy():
                    channel.pause = next(generator)
            await edge


# -- the host ---------------------------------------------------------------------------------

class Transfer:
    """One burst on the host port and what came back: ``responses`` holds (RDATA, RRESP)
    per read beat, or the BRESP of a write."""

    def __init__(self, burst: Burst, write: bool, ident: int, beats=None):
        self.burst, self.write, self.ident, self.beats = burst, write, ident, beats
        self.responses = []
        self.done = Event()
        self.issued = _now()
        self.completed = None

    async def wait(self):
        try:
            await with_timeout(self.done.wait(), *_timeout(STUCK_CYCLES))
        except cocotb.triggers.SimTimeoutError:
            raise AssertionError(f"{'write' if self.write else 'read'} {self.burst.describe()}"
                                 f" issued at cycle {self.issued}: no response in "
                                 f"{STUCK_CYCLES} cycles") from None
        return self


class HostPort:
    """The host's AXI4 manager on ``s_axi_*``: any burst, several outstanding.

    cocotbext-axi's channel models carry the beats (each with seeded random pauses, in
    phases); this class builds AW/W and AR from :class:`Burst` and hands each response to
    the oldest burst of its channel (the design answers in order), checking RID/BID and
    RLAST. Protocol problems are collected in :attr:`errors`.
    """

    def __init__(self, dut, seed, pauses: Pauses):
        bus = AxiBus.from_prefix(dut, "s_axi")
        clock, reset = dut.clk, dut.rst
        self.pauses = pauses
        self.aw = AxiAWSource(bus.write.aw, clock, reset)
        self.w = AxiWSource(bus.write.w, clock, reset)
        self.b = AxiBSink(bus.write.b, clock, reset)
        self.ar = AxiARSource(bus.read.ar, clock, reset)
        self.r = AxiRSink(bus.read.r, clock, reset)
        self.channels = {"aw": self.aw, "w": self.w, "b": self.b, "ar": self.ar, "r": self.r}
        for channel in self.channels.values():
            channel.log.setLevel(logging.WARNING)
        self.stall(seed)
        self.id_count = 1 << len(bus.write.aw.awid)
        self._reads, self._writes = deque(), deque()
        self.rng = random.Random(f"{seed}/sidebands")
        self.read_bursts = self.write_bursts = 0
        self.read_beats = self.write_beats = 0
        self.max_outstanding = 0
        self.errors = []
        cocotb.start_soon(self._take_reads())
        cocotb.start_soon(self._take_writes())

    def stall(self, seed):
        """Random pauses on every channel (:data:`STALLS`)."""
        busy = {"b": lambda: bool(self._writes), "r": lambda: bool(self._reads)}
        for name, channel in self.channels.items():
            self.pauses.set(channel, PauseGenerator(STALLS[0], f"{seed}/{name}"),
                            busy.get(name))

    def _address_fields(self, prefix, transaction, burst, ident):
        rng = self.rng
        values = {"id": ident, "addr": burst.address, "len": burst.beats - 1,
                  "size": burst.size, "burst": burst.kind, "lock": int(rng.random() < 0.05),
                  "cache": rng.getrandbits(4), "prot": rng.getrandbits(3),
                  "qos": rng.getrandbits(4)}
        for name, value in values.items():
            setattr(transaction, prefix + name, value)

    def _track(self):
        self.max_outstanding = max(self.max_outstanding, len(self._reads) + len(self._writes))

    def start_read(self, burst: Burst, ident: int | None = None) -> Transfer:
        ident = self.rng.randrange(self.id_count) if ident is None else ident
        transfer = Transfer(burst, False, ident)
        self._reads.append(transfer)
        ar = self.ar._transaction_obj()
        self._address_fields("ar", ar, burst, ident)
        self.ar.send_nowait(ar)
        self.read_bursts += 1
        self._track()
        return transfer

    def start_write(self, burst: Burst, beats, ident: int | None = None) -> Transfer:
        ident = self.rng.randrange(self.id_count) if ident is None else ident
        assert len(beats) == burst.beats
        transfer = Transfer(burst, True, ident, beats)
        self._writes.append(transfer)
        aw = self.aw._transaction_obj()
        self._address_fields("aw", aw, burst, ident)
        self.aw.send_nowait(aw)
        for index, (data, strobe) in enumerate(beats):
            w = self.w._transaction_obj()
            w.wdata, w.wstrb, w.wlast = data, strobe, int(index == len(beats) - 1)
            self.w.send_nowait(w)
        self.write_bursts += 1
        self._track()
        return transfer

    async def read(self, burst: Burst, ident=None) -> Transfer:
        return await self.start_read(burst, ident).wait()

    async def write(self, burst: Burst, beats, ident=None) -> Transfer:
        return await self.start_write(burst, beats, ident).wait()

    async def _take_reads(self):
        while True:
            r = await self.r.recv()
            if not self._reads:
                self.errors.append(f"cycle {_now()}: R beat with no read outstanding")
                continue
            transfer = self._reads[0]
            rid, rlast = _value(r.rid), _value(r.rlast)
            if rid != transfer.ident:
                self.errors.append(f"cycle {_now()}: RID {rid} for the read "
                                   f"{transfer.burst.describe()} of ARID {transfer.ident}")
            transfer.responses.append((_value(r.rdata), _value(r.rresp)))
            self.read_beats += 1
            last = len(transfer.responses) == transfer.burst.beats
            if bool(rlast) != last:
                self.errors.append(f"cycle {_now()}: RLAST {rlast} on beat "
                                   f"{len(transfer.responses)} of {transfer.burst.describe()}")
            if last:
                self._reads.popleft()
                transfer.completed = _now()
                transfer.done.set()

    async def _take_writes(self):
        while True:
            b = await self.b.recv()
            if not self._writes:
                self.errors.append(f"cycle {_now()}: B with no write outstanding")
                continue
            transfer = self._writes.popleft()
            bid = _value(b.bid)
            if bid != transfer.ident:
                self.errors.append(f"cycle {_now()}: BID {bid} for the write "
                                   f"{transfer.burst.describe()} of AWID {transfer.ident}")
            transfer.responses.append(_value(b.bresp))
            self.write_beats += transfer.burst.beats
            transfer.completed = _now()
            transfer.done.set()


# -- memory -----------------------------------------------------------------------------------

class MemoryFault(Exception):
    """Raised by the memory for a word chosen to fail (cocotbext-axi answers SLVERR)."""


class _RamWrite(AxiRamWrite):
    """AxiRam's write side, storing through :meth:`Memory.store` and answering through
    :meth:`Memory.respond_write` (which may delay the response and the data with it)."""

    def __init__(self, memory, bus, clock, reset, size, mem):
        self.memory = memory
        super().__init__(bus, clock, reset, size=size, mem=mem)
        forward = self.b_channel.send

        async def respond(b):
            await memory.respond_write()
            await forward(b)

        self.b_channel.send = respond

    async def _write(self, address, data):
        self.memory.store(address, data)


class _RamRead(AxiRamRead):
    """AxiRam's read side, loading through :meth:`Memory.load`; a failed beat answers
    :attr:`Memory.read_error_response`."""

    def __init__(self, memory, bus, clock, reset, size, mem):
        self.memory = memory
        super().__init__(bus, clock, reset, size=size, mem=mem)
        forward = self.r_channel.send

        async def respond(r):
            if r.rresp != AxiResp.OKAY:
                r.rresp = memory.read_error_response
            await forward(r)

        self.r_channel.send = respond

    async def _read(self, address, length):
        return self.memory.load(address, length)


class Memory:
    """The memory behind ``m_axi_*`` (see the module docstring).

    ``read_errors`` / ``write_errors``: memory word addresses that fail (a failed write beat
    stores nothing). ``write_delay``: ``None``, or a (low, high) range of clocks each write
    burst waits, its data invisible to reads, before memory stores it and answers B.
    """

    def __init__(self, dut, seed, pauses: Pauses):
        self.dut = dut
        self.pauses = pauses
        self.base = BUILD.memory_base
        self.size = BUILD.memory_base + BUILD.mem_bytes
        self.mem = SparseMemory(self.size)
        self.rng = random.Random(f"{seed}/delays")
        self.read_errors, self.write_errors = set(), set()
        self.read_error_response = AxiResp.SLVERR
        self.write_delay = None
        self._unanswered_data = []
        bus = AxiBus.from_prefix(dut, "m_axi")
        clock, reset = dut.clk, dut.rst
        self.write_if = _RamWrite(self, bus.write, clock, reset, self.size, self.mem)
        self.read_if = _RamRead(self, bus.read, clock, reset, self.size, self.mem)
        self.channels = {"aw": self.write_if.aw_channel, "w": self.write_if.w_channel,
                         "b": self.write_if.b_channel, "ar": self.read_if.ar_channel,
                         "r": self.read_if.r_channel}
        for logger in (self.write_if.log, self.read_if.log,
                       *(c.log for c in self.channels.values())):
            logger.setLevel(logging.ERROR)      # no line per burst, nor per injected error
        self.stall(seed)
        # The monitors share the interfaces' logger ("cocotb.top.m_axi"), quietened above.
        monitors = {"ar": AxiARMonitor(bus.read.ar, clock, reset),
                    "aw": AxiAWMonitor(bus.write.aw, clock, reset),
                    "b": AxiBMonitor(bus.write.b, clock, reset)}
        self.fills = self.write_backs = self.write_responses = 0
        self.fill_lines, self.written_lines = Counter(), Counter()
        self.errors = []
        self.fill_overtakes = []
        self._unanswered = deque()          # (stripped line, AW cycle) of each write-back
        self._fill_cycles = {}              # stripped line -> cycles of its recent fills
        cocotb.start_soon(self._watch_fills(monitors["ar"]))
        cocotb.start_soon(self._watch_write_backs(monitors["aw"]))
        cocotb.start_soon(self._watch_write_responses(monitors["b"]))

    def stall(self, seed):
        """Random pauses on every channel (:data:`STALLS`: the memory's B and R valid as
        a source's, its AR, AW and W ready as a sink's)."""
        source, sink = STALLS
        for name, channel in self.channels.items():
            chosen = source if name in ("b", "r") else sink
            offered = None if name in ("b", "r") else lambda valid=channel.valid: valid.value == 1
            self.pauses.set(channel, PauseGenerator(chosen, f"{seed}/memory/{name}"), offered)

    def answer_writes_late(self, seed, delay=(150, 600)):
        """Writes wait ``delay`` clocks, invisible, before they are stored and answered (and
        B pauses in long phases); reads are answered at once."""
        self.write_delay = delay
        self.pauses.set(self.channels["b"], PauseGenerator((0.0, 0.9, 1.0), f"{seed}/late-b",
                                                           phase_clocks=(50, 400)))
        self.pauses.set(self.channels["r"], None)
        self.pauses.set(self.channels["ar"], None)

    # -- data ---------------------------------------------------------------------------------

    def _check_window(self, address, length, what):
        if not (self.base <= address and address + length <= self.size):
            self.errors.append(f"cycle {_now()}: {what} at {address:#x} outside memory "
                               f"[{self.base:#x}, {self.size:#x})")
            raise MemoryFault(address)

    def store(self, address, data):
        self._check_window(address, len(data), "write")
        if address - address % BUS_BYTES in self.write_errors:
            raise MemoryFault(address)
        if self.write_delay is None:
            self.mem.write(address, data)
        else:
            self._unanswered_data.append((address, bytes(data)))

    async def respond_write(self):
        if self.write_delay is not None:
            await _sleep(self.dut.clk, self.rng.randint(*self.write_delay))
        for address, data in self._unanswered_data:
            self.mem.write(address, data)
        self._unanswered_data.clear()

    def load(self, address, length):
        self._check_window(address, length, "read")
        if address - address % BUS_BYTES in self.read_errors:
            raise MemoryFault(address)
        return self.mem.read(address, length)

    def line(self, stripped: int) -> bytes:
        return self.mem.read(self.base + stripped, LINE_BYTES)

    def fail_line(self, stripped: int, *, read=False, write=False, words=None):
        """Make the words ``words`` (default all four) of a line fail."""
        indices = range(WORDS_PER_LINE) if words is None else words
        addresses = {self.base + stripped + BUS_BYTES * index for index in indices}
        if read:
            self.read_errors |= addresses
        if write:
            self.write_errors |= addresses

    def heal(self):
        self.read_errors.clear()
        self.write_errors.clear()
        self.read_error_response = AxiResp.SLVERR

    # -- monitors -----------------------------------------------------------------------------

    def _check_burst(self, kind, address, length, size, burst, ident) -> int | None:
        problems = []
        if length != WORDS_PER_LINE - 1 or size != 4 or burst != INCR:
            problems.append(f"len {length} size {size} burst {burst}, not a 4-beat INCR of "
                            f"16 bytes")
        if ident != 0:
            problems.append(f"ID {ident}")
        if address % LINE_BYTES or not self.base <= address < self.size:
            problems.append(f"address {address:#x} not a line in [{self.base:#x}, "
                            f"{self.size:#x})")
        if problems:
            self.errors.append(f"cycle {_now()}: {kind} {'; '.join(problems)}")
            return None
        return address - self.base

    async def _watch_fills(self, monitor):
        while True:
            ar = await monitor.recv()
            line = self._check_burst("AR", _value(ar.araddr), _value(ar.arlen),
                                     _value(ar.arsize), _value(ar.arburst), _value(ar.arid))
            self.fills += 1
            if line is not None:
                self.fill_lines[line] += 1
                if any(pending == line for pending, _ in self._unanswered):
                    self._fill_cycles.setdefault(line, []).append(_now())

    async def _watch_write_backs(self, monitor):
        while True:
            aw = await monitor.recv()
            line = self._check_burst("AW", _value(aw.awaddr), _value(aw.awlen),
                                     _value(aw.awsize), _value(aw.awburst), _value(aw.awid))
            self.write_backs += 1
            if line is not None:
                self.written_lines[line] += 1
            self._unanswered.append((line, _now()))

    async def _watch_write_responses(self, monitor):
        """Ordering rule 1 at the pins: a fill of a line issued while a write-back of that
        line is unanswered (AW seen, B not yet) may read stale memory."""
        while True:
            await monitor.recv()
            answered = _now()
            self.write_responses += 1
            if not self._unanswered:
                self.errors.append(f"cycle {answered}: B with no write-back outstanding")
                continue
            line, issued = self._unanswered.popleft()
            fills = self._fill_cycles.get(line, [])
            for cycle in fills:
                if issued <= cycle < answered:
                    self.fill_overtakes.append(
                        f"fill of line {line:#x} at cycle {cycle} while its write-back "
                        f"(AW at cycle {issued}) was unanswered until cycle {answered}")
            if not any(pending == line for pending, _ in self._unanswered):
                self._fill_cycles.pop(line, None)

    @property
    def unanswered(self) -> int:
        return len(self._unanswered)


# -- the bench --------------------------------------------------------------------------------

class TB:
    """The controller with its host, memory, control and entropy models and the golden
    model."""

    def __init__(self, dut, name):
        self.dut = dut
        self.name = name
        self.log = dut._log
        self.clock = dut.clk
        seed = f"{CONFIG.seed}/{name}"
        self.seed = seed
        self.rng = CONFIG.rng(name, "test")
        Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        self.pauses = Pauses(dut.clk)
        self.memory = Memory(dut, seed, self.pauses)
        self.bus = PostedBus(dut, dut.clk, seed, status_offset=REGMAP.offset("STATUS"))
        control = self.bus.master
        writing = lambda: not control.write_if.idle()  # noqa: E731
        reading = lambda: not control.read_if.idle()  # noqa: E731
        for label, channel, busy in (("aw", control.write_if.aw_channel, None),
                                     ("w", control.write_if.w_channel, None),
                                     ("b", control.write_if.b_channel, writing),
                                     ("ar", control.read_if.ar_channel, None),
                                     ("r", control.read_if.r_channel, reading)):
            self.pauses.set(channel, PauseGenerator(STALLS[0], f"{seed}/{label}"), busy)
        self.driver = AsyncDriver(self.bus.read, self.bus.write, config=BUILD, regmap=REGMAP)
        self.entropy = EntropySource(dut, dut.clk, CONFIG.rng(name, "entropy"))
        self.model = ControllerModel(BUILD)
        self.control = Lock()
        self.traffic = None
        self.host = None
        self.commands = Counter()           # command (and key size) -> succeeded
        self.programmed = (0, 0)            # KEYID and KEYID_CTRL of the last command
        self.results = Counter()            # status name -> commands
        self.flushes = Counter()
        self.flushed_lines = 0
        self.memory_checks = 0
        self.lines_checked = 0
        self.started = time.monotonic()
        self.first_cycle = 0

    def attach_host(self):
        """The bench's own host master (every test but ``wrong_keyid_read``)."""
        self.host = HostPort(self.dut, f"{self.seed}/host", self.pauses)
        self.traffic = Traffic(self)
        return self.host

    async def reset(self):
        dut = self.dut
        dut.entropy_valid.value = 0
        dut.rst.value = 1
        for _ in range(4):
            await RisingEdge(self.clock)
        dut.rst.value = 0
        self.first_cycle = _now()
        cocotb.start_soon(self.entropy.run())
        report = await self.driver.wait_ready()
        assert report.code == Status.PROG_SUCCESS and not report.busy, report
        for _ in range(STUCK_CYCLES // 100):
            await RisingEdge(self.clock)
            await ReadOnly()
            if dut.ready.value:
                break
        else:
            raise AssertionError("ready still low after the control block became ready")
        await RisingEdge(self.clock)
        words = 2 * BUILD.key_bits // 32
        assert len(self.entropy.words) == words, (
            f"{len(self.entropy.words)} entropy words taken at reset, expected {words}")
        self.model.set_platform_key(*words_to_keys(self.entropy.words, BUILD.key_bits))
        caps = await self.driver.identify()
        for name in ("keyid_bits", "num_keys", "mem_bytes", "phys_addr_bits", "key_sizes",
                     "keyid0", "fault_log_depth"):
            assert caps[name] == getattr(BUILD, name), (name, caps[name])
        assert caps["blocks"] == BLOCKS, caps["blocks"]

    # -- key commands -------------------------------------------------------------------------

    async def command(self, keyid, command, key_bits=None, *, expect=Status.PROG_SUCCESS):
        """Run one key command for ``keyid`` (with no traffic under it meanwhile) and apply
        it to the model; returns the status."""
        rng = self.rng
        size = (key_bits or BUILD.key_bits) // 8
        field1, field2 = rng.randbytes(size), rng.randbytes(size)
        algorithm = Algorithm.for_key_bits(key_bits) if key_bits else rng.getrandbits(16)
        label = Command(command).name + (f"/{key_bits}" if key_bits else "")
        quiet = self.traffic.exclusive(keyid) if self.traffic else contextlib.nullcontext()
        async with quiet, self.control:
            before = len(self.entropy.words)
            self.programmed = (keyid, command | algorithm << 8)
            status = await self.driver.program(keyid, command, algorithm, field1, field2)
            hardware = self.entropy.words[before:]
            self.results[status_name(status)] += 1
            assert status == expect, f"{label} KeyID {keyid}: {status!r}, expected {expect!r}"
            if status != Status.PROG_SUCCESS:
                return status
            self.commands[label] += 1
            if command == Command.SET_KEY_DIRECT:
                self.model.set_key(keyid, field1, field2)
            elif command == Command.SET_KEY_RANDOM:
                entropy = words_to_keys(hardware, key_bits)
                self.model.set_key(keyid, _xor(field1, entropy[0]), _xor(field2, entropy[1]))
            elif command == Command.CLEAR_KEY:
                self.model.clear_key(keyid)
            else:
                self.model.no_encrypt(keyid)
        return status

    async def random_command(self, keyid, rng):
        choice = rng.random()
        bits = rng.choice(BUILD.key_sizes)
        if choice < 0.45:
            return await self.command(keyid, Command.SET_KEY_DIRECT, bits)
        if choice < 0.7:
            return await self.command(keyid, Command.SET_KEY_RANDOM, bits)
        if choice < 0.85:
            return await self.command(keyid, Command.CLEAR_KEY)
        return await self.command(keyid, Command.NO_ENCRYPT)

    async def program_keyids(self, rng):
        """Give the programmable KeyIDs a mix: keys of each size (direct and random), some
        NO_ENCRYPT, some cleared, some never programmed."""
        plan = []
        sizes = BUILD.key_sizes
        for index, keyid in enumerate(rng.sample(PROGRAMMABLE, len(PROGRAMMABLE))):
            kind = index % 6
            if kind in (0, 1):
                plan.append((keyid, Command.SET_KEY_DIRECT, sizes[kind % len(sizes)]))
            elif kind == 2:
                plan.append((keyid, Command.SET_KEY_RANDOM, sizes[-1 - index % len(sizes)]))
            elif kind == 3:
                plan.append((keyid, Command.NO_ENCRYPT, None))
            elif kind == 4:
                plan.append((keyid, Command.SET_KEY_DIRECT, sizes[0]))
                plan.append((keyid, Command.CLEAR_KEY, None))
        for keyid, command, bits in plan:
            await self.command(keyid, command, bits)

    # -- maintenance --------------------------------------------------------------------------

    async def flush_all(self) -> int:
        async with self.control:
            lines = await self.driver.flush_all()
        self.flushes["all"] += 1
        self.flushed_lines += lines
        return lines

    async def flush_range(self, start: int, length: int) -> int:
        async with self.control:
            lines = await self.driver.flush_range(start, length)
        self.flushes["range"] += 1
        self.flushed_lines += lines
        return lines

    def memory_mismatches(self) -> list[str]:
        """Every line of memory against the model's image (zeros outside it and outside the
        controller's window)."""
        memory, model = self.memory, self.model
        lines = {line for line in model.image()}
        for block in list(memory.mem.segs):
            for offset in range(0, PAGE_BYTES, LINE_BYTES):
                address = block + offset
                if address + LINE_BYTES > memory.size:
                    break
                if memory.base <= address:
                    lines.add(address - memory.base)
                elif any(memory.mem.read(address, LINE_BYTES)):
                    return [f"memory at {address:#x}, outside the controller's window, "
                            f"is not zero"]
        problems = []
        for line in sorted(lines):
            want, got = model.ciphertext(line), memory.line(line)
            if want != got:
                problems.append(f"line {line:#x}: memory {got.hex()}, model {want.hex()}")
        self.memory_checks += 1
        self.lines_checked += len(lines)
        return problems

    async def check_memory(self, label):
        """flush_all with nothing else running, then memory against the model."""
        await self.flush_all()
        assert self.memory.unanswered == 0, (
            f"{label}: flush_all completed with {self.memory.unanswered} write-backs "
            f"unanswered")
        problems = self.memory_mismatches()
        assert not problems, f"{label}: {len(problems)} lines differ; first: {problems[:3]}"

    async def check_faults(self, expected, label):
        """The fault log holds exactly ``expected`` (in any order); it is emptied."""
        async with self.control:
            faults = await self.driver.faults()
        key = lambda f: (f.address, f.keyid, int(f.source), int(f.kind), f.write)  # noqa: E731
        got = sorted(map(key, faults))
        want = sorted(map(key, expected))
        assert got == want, (f"{label}: fault log {[_fault_text(f) for f in faults]}, "
                             f"expected {[_fault_text(f) for f in expected]}")
        return len(faults)

    def counts(self) -> dict:
        host, memory = self.host, self.memory
        counts = {
            "commands": dict(self.commands), "results": dict(self.results),
            "flushes": dict(self.flushes), "flushed_lines": self.flushed_lines,
            "memory_checks": self.memory_checks, "lines_checked": self.lines_checked,
            "fills": memory.fills, "write_backs": memory.write_backs,
            "lines_filled": len(memory.fill_lines), "lines_written": len(memory.written_lines),
            "memory_errors": len(memory.errors), "fill_overtakes": len(memory.fill_overtakes),
            "entropy_words": len(self.entropy.words),
            "axil_reads": self.bus.reads, "axil_writes": self.bus.writes,
            "cycles": _now() - self.first_cycle,
            "wall_seconds": round(time.monotonic() - self.started, 1),
        }
        if host is not None:
            counts.update(host_reads=host.read_bursts, host_writes=host.write_bursts,
                          host_bursts=host.read_bursts + host.write_bursts,
                          host_read_beats=host.read_beats, host_write_beats=host.write_beats,
                          max_outstanding=host.max_outstanding,
                          host_protocol_errors=len(host.errors))
        if self.traffic is not None:
            counts.update(self.traffic.counts())
        return counts

    def check_protocols(self):
        problems = list(self.memory.errors) + list(self.memory.fill_overtakes)
        if self.host is not None:
            problems += self.host.errors
        assert not problems, f"{len(problems)} protocol problems; first: {problems[:5]}"


def _fault_text(fault: FaultRecord) -> str:
    return (f"{FaultSource(fault.source).name}/{FaultKind(fault.kind).name} at "
            f"{fault.address:#x} KeyID {fault.keyid}{' write' if fault.write else ''}")


def host_fault(burst: Burst, kind: FaultKind, write: bool) -> FaultRecord:
    return FaultRecord(burst.address, burst.keyid, FaultSource.HOST, kind, write)


def memory_fault(keyid: int, line: int, write: bool) -> FaultRecord:
    return FaultRecord(BUILD.join(keyid, line), keyid, FaultSource.HOST, FaultKind.MEMORY_ERROR,
                       write)


# -- concurrent traffic -----------------------------------------------------------------------

@dataclass
class _Active:
    lines: frozenset
    write: bool
    keyid: int


@dataclass
class Outcome:
    """What a burst returned and what the scoreboard made of it."""
    transfer: Transfer
    fault: FaultKind | None
    mismatches: list = field(default_factory=list)


class Traffic:
    """Host bursts issued side by side with an exact model (see the module docstring):
    :meth:`access` waits until its burst conflicts with no outstanding one, updates the
    model (writes, in the order they are issued) or computes the expected data (reads),
    issues the burst and scores the response."""

    def __init__(self, tb: TB):
        self.tb = tb
        self.model = tb.model
        self.host = tb.host
        self._active = {}
        self._blocked = set()
        self._changed = Event()
        self.kinds = Counter()          # "INCR/full", "WRAP/narrow", ...
        self.lengths = Counter()        # "1", "2-4", "5-16", "17-64", "65-256"
        self.refused = Counter()        # fault kind -> bursts
        self.strobes = Counter()        # "full", "partial", "none" (write beats)
        self.unaligned = 0
        self.keyids = Counter()
        self.beats_scored = 0
        self.bytes_scored = 0
        self.mismatches = []
        self.mismatched_bursts = 0

    # -- conflicts ----------------------------------------------------------------------------

    def _conflicts(self, lines, write, keyid) -> bool:
        if keyid in self._blocked:
            return True
        return any(active.write != write and active.lines & lines
                   for active in self._active.values())

    async def _wait_change(self):
        changed = self._changed
        await changed.wait()

    def _notify(self):
        changed, self._changed = self._changed, Event()
        changed.set()

    @contextlib.asynccontextmanager
    async def exclusive(self, keyid):
        """No burst under ``keyid`` runs inside (those running finish first)."""
        self._blocked.add(keyid)
        try:
            while any(active.keyid == keyid for active in self._active.values()):
                await self._wait_change()
            yield
        finally:
            self._blocked.discard(keyid)
            self._notify()

    async def idle(self):
        while self._active:
            await self._wait_change()

    # -- one burst ----------------------------------------------------------------------------

    def _classify(self, burst: Burst, write: bool, beats):
        kind = KIND_NAMES.get(burst.kind, "?")
        self.kinds[f"{kind}/{'full' if burst.size == 4 else 'narrow'}"] += 1
        self.kinds[f"{kind}/{'write' if write else 'read'}"] += 1
        n = burst.beats
        self.lengths["1" if n == 1 else "2-4" if n <= 4 else "5-16" if n <= 16
                     else "17-64" if n <= 64 else "65-256"] += 1
        self.unaligned += burst.address % burst.beat_bytes != 0
        self.keyids[burst.keyid] += 1
        for (_, low, high), (_, strobe) in zip(burst.lanes(), beats or (), strict=False):
            lanes = lane_mask(low, high)
            self.strobes["full" if strobe == lanes else "none" if not strobe
                         else "partial"] += 1

    async def access(self, burst: Burst, write: bool, beats=None, *, rng=None,
                     ident=None, expect_fault="model") -> Outcome:
        """Issue ``burst`` (a write of ``beats``, random if not given) and score it.
        ``expect_fault``: the fault kind the model predicts (default) or one given."""
        addresses = burst.byte_addresses()
        flat = [address for beat in addresses for address in beat]
        fault = self.model.fault(flat) if expect_fault == "model" else expect_fault
        keyid = burst.keyid
        lines = frozenset() if fault is not None else burst.stripped_lines()
        while self._conflicts(lines, write, keyid):
            await self._wait_change()
        token = object()
        self._active[token] = _Active(lines, write, keyid)
        try:
            if write:
                if beats is None:
                    beats = random_write_beats(rng or self.tb.rng, burst)
                if fault is None:
                    self.model.write_bytes(written_bytes(burst, beats))
                transfer = self.host.start_write(burst, beats, ident)
                expected = None
            else:
                expected = None if fault is not None else self.model.read_bytes(flat)
                transfer = self.host.start_read(burst, ident)
            self._classify(burst, write, beats)
            await transfer.wait()
        finally:
            del self._active[token]
            self._notify()
        outcome = Outcome(transfer, fault)
        if fault is not None:
            self.refused[FaultKind(fault).name] += 1
        self._score(outcome, addresses, expected)
        return outcome

    def _score(self, outcome: Outcome, addresses, expected):
        transfer, fault = outcome.transfer, outcome.fault
        burst = transfer.burst
        problems = outcome.mismatches
        if fault is None:
            want = AxiResp.OKAY
        elif fault in (FaultKind.INVALID_KEYID, FaultKind.OUT_OF_RANGE):
            want = AxiResp.DECERR
        else:
            want = AxiResp.SLVERR
        if transfer.write:
            if transfer.responses[0] != want:
                problems.append(f"BRESP {transfer.responses[0]}, expected {int(want)}")
        else:
            position = 0
            for index, ((data, resp), (word, low, high)) in enumerate(
                    zip(transfer.responses, burst.lanes(), strict=True)):
                count = high - low + 1
                if resp != want:
                    problems.append(f"beat {index}: RRESP {resp}, expected {int(want)}")
                if fault is not None:
                    if data:
                        problems.append(f"beat {index}: refused but RDATA {data:#034x}")
                else:
                    got = [(data >> 8 * lane) & 0xFF for lane in range(low, high + 1)]
                    wanted = expected[position:position + count]
                    if got != wanted:
                        problems.append(f"beat {index} at {word + low:#x}: "
                                        f"{bytes(got).hex()}, expected {bytes(wanted).hex()}"
                                        f"{self._locate(bytes(got), word + low)}")
                    self.bytes_scored += count
                position += count
                self.beats_scored += 1
        if problems:
            self.mismatched_bursts += 1
            text = (f"{'write' if transfer.write else 'read'} {burst.describe()} (issued cycle "
                    f"{transfer.issued}, done {transfer.completed}): {'; '.join(problems[:4])}")
            self.mismatches.append(text)
            if len(self.mismatches) <= 10:
                self.tb.log.error("%s", text)

    def _locate(self, data: bytes, address: int) -> str:
        """Where ``data`` (read at ``address``) is in the model's view of the lines around
        it, under its KeyID or another, or around its page offset in the first page: a hint
        for a misplaced beat."""
        if len(data) < 2 or len(set(data)) == 1:
            return ""
        keyid, stripped = BUILD.split(address)
        for around in (stripped, stripped % PAGE_BYTES):
            low = max(0, (around & ~(LINE_BYTES - 1)) - 4 * LINE_BYTES)
            high = min(BUILD.mem_bytes, low + 9 * LINE_BYTES)
            for view in [keyid, *(k for k in range(BUILD.num_keys) if k != keyid)]:
                found = self.model.read(BUILD.join(view, low), high - low).find(data)
                if found >= 0:
                    return f" (the model's bytes at {BUILD.join(view, low + found):#x})"
        return ""

    def counts(self) -> dict:
        return {"kinds": dict(self.kinds), "lengths": dict(self.lengths),
                "refused": dict(self.refused), "strobes": dict(self.strobes),
                "unaligned": self.unaligned,
                "keyids_used": len(self.keyids), "beats_scored": self.beats_scored,
                "bytes_scored": self.bytes_scored, "mismatches": len(self.mismatches),
                "mismatched_bursts": self.mismatched_bursts}

    def check(self, label):
        assert not self.mismatches, (f"{label}: {len(self.mismatches)} bursts differ from "
                                     f"the model; first: {self.mismatches[:3]}")


# -- random bursts ----------------------------------------------------------------------------

class Workload:
    """Where random bursts go: mostly a working set of four times the cache's lines (a 4 KiB
    aligned region, so that INCR bursts stay in it), some anywhere in memory, some at its
    end or beyond it, and under invalid KeyIDs; under the KeyIDs the caller allows."""

    def __init__(self, rng: random.Random, *, refused=True):
        self.rng = rng
        span = -(-4 * CACHE_LINES * LINE_BYTES // PAGE_BYTES) * PAGE_BYTES
        self.hot_bytes = min(span, BUILD.mem_bytes - BUILD.mem_bytes % PAGE_BYTES)
        pages = (BUILD.mem_bytes - self.hot_bytes) // PAGE_BYTES
        self.hot_base = rng.randrange(pages + 1) * PAGE_BYTES
        self.refused = refused
        self.beyond = (1 << BUILD.stripped_bits) - BUILD.mem_bytes

    def stripped(self) -> int:
        rng = self.rng
        choice = rng.random()
        if choice < 0.88 or not self.refused and choice < 0.96:
            return self.hot_base + rng.randrange(self.hot_bytes)
        if choice < 0.96:
            return rng.randrange(BUILD.mem_bytes)
        if choice < 0.985 or not self.beyond:
            return max(0, BUILD.mem_bytes - rng.randrange(1, PAGE_BYTES + 1))
        return BUILD.mem_bytes + rng.randrange(min(self.beyond, 1 << 20))

    def keyid(self, allowed) -> int:
        if self.refused and INVALID_KEYIDS and self.rng.random() < 0.01:
            return self.rng.choice(INVALID_KEYIDS)
        return self.rng.choice(allowed)

    def burst(self, keyid: int) -> Burst:
        rng = self.rng
        start = self.stripped()
        choice = rng.random()
        kind = INCR if choice < 0.6 else WRAP if choice < 0.8 else FIXED
        size = 4 if rng.random() < 0.6 else rng.randrange(4)
        n = 1 << size
        unaligned = rng.random() < 0.3
        if kind == WRAP:
            beats = rng.choice((2, 4, 8, 16))
            start -= start % n
        elif kind == FIXED:
            beats = rng.randint(1, 16)
            if not unaligned:
                start -= start % n
        else:
            choice = rng.random()
            beats = (rng.randint(1, 4) if choice < 0.55 else rng.randint(5, 16) if choice < 0.9
                     else rng.randint(17, 64) if choice < 0.985 else rng.randint(65, 256))
            if not unaligned:
                start -= start % n
            aligned = start - start % n
            beats = min(beats, (PAGE_BYTES - aligned % PAGE_BYTES) // n)
        return Burst(BUILD.join(keyid, start), beats, size, kind)


async def run_batch(tb: TB, workload: Workload, count: int, allowed, *, refused_budget=0,
                    write_share=0.45):
    """``count`` random bursts from :data:`WORKERS` tasks; returns the faults expected (one
    per refused burst, at most ``refused_budget``)."""
    traffic, model = tb.traffic, tb.model
    expected = []
    left = [count]
    budget = [refused_budget]

    async def worker(index):
        rng = random.Random(f"{tb.seed}/worker/{index}/{workload.rng.random()}")
        while left[0] > 0:
            left[0] -= 1
            usable = [keyid for keyid in allowed if keyid not in traffic._blocked] or allowed
            while True:
                burst = workload.burst(workload.keyid(usable))
                fault = model.fault(a for beat in burst.byte_addresses() for a in beat)
                if fault is None or budget[0] > 0:
                    break
            write = rng.random() < write_share
            if fault is not None:
                budget[0] -= 1
                expected.append(host_fault(burst, FaultKind(fault), write))
            await traffic.access(burst, write, rng=rng)

    tasks = [cocotb.start_soon(worker(index)) for index in range(WORKERS)]
    for task in tasks:
        await task
    return expected


# -- random traffic ---------------------------------------------------------------------------

@cocotb.test()
async def random_traffic(dut):
    """Random bursts of every kind over a small working set under every KeyID, with key
    changes and flushes beside them; memory against the model after every quiet flush."""
    tb = TB(dut, "random_traffic")
    rng = tb.rng
    tb.attach_host()
    await tb.reset()
    await tb.program_keyids(rng)
    workload = Workload(random.Random(f"{tb.seed}/workload"))
    allowed = list(range(BUILD.num_keys))
    batches = max(1, TRANSACTIONS // BATCH)
    per_batch = [TRANSACTIONS // batches + (i < TRANSACTIONS % batches) for i in range(batches)]
    faults_logged = 0
    control = Counter()
    check_every = max(1, min(8, batches // 2))      # memory against the model, now and then

    async def control_side(done: Event):
        while not done.is_set():
            await _sleep(dut.clk, rng.randint(1000, 8000))
            if done.is_set():
                break
            choice = rng.random()
            if choice < 0.5 and PROGRAMMABLE:
                await tb.random_command(rng.choice(PROGRAMMABLE), rng)
                control["commands"] += 1
            elif choice < 0.8:
                start = workload.hot_base + rng.randrange(workload.hot_bytes)
                await tb.flush_range(start, rng.randint(1, 8 * LINE_BYTES))
                control["range flushes"] += 1
            else:
                await tb.flush_all()
                control["flush-alls"] += 1

    for index, count in enumerate(per_batch):
        done = Event()
        side = cocotb.start_soon(control_side(done))
        expected = await run_batch(tb, workload, count, allowed, refused_budget=FAULT_BUDGET)
        done.set()
        await side
        faults_logged += await tb.check_faults(expected, f"batch {index}")
        tb.traffic.check(f"batch {index}")
        if index % check_every == check_every - 1:
            await tb.check_memory(f"after batch {index}")
        if index % 5 == 4 and len(allowed) > 1:
            # A new working set now and then: cold lines, and lines left dirty elsewhere.
            workload.hot_base = rng.randrange((BUILD.mem_bytes - workload.hot_bytes)
                                              // PAGE_BYTES + 1) * PAGE_BYTES
    await tb.check_memory("final")
    counters = await tb.driver.perf_counters()
    tb.check_protocols()
    host, memory = tb.host, tb.memory
    counter_problems = []
    if counters["host_reads"] != host.read_bursts or counters["host_writes"] != host.write_bursts:
        counter_problems.append(f"host_reads/writes {counters['host_reads']}/"
                                f"{counters['host_writes']}, bursts {host.read_bursts}/"
                                f"{host.write_bursts}")
    if counters["write_backs"] != memory.write_backs:
        counter_problems.append(f"write_backs {counters['write_backs']}, memory saw "
                                f"{memory.write_backs}")
    if not (counters["lines_encrypted"] <= memory.write_backs
            and counters["lines_decrypted"] <= memory.fills):
        counter_problems.append(f"lines_encrypted/decrypted {counters['lines_encrypted']}/"
                                f"{counters['lines_decrypted']}, memory write-backs/fills "
                                f"{memory.write_backs}/{memory.fills}")
    if counters["keys_programmed"] != sum(tb.commands.values()):
        counter_problems.append(f"keys_programmed {counters['keys_programmed']}, "
                                f"{sum(tb.commands.values())} commands succeeded")
    counts = tb.counts()
    counts.update(batches=batches, faults_logged=faults_logged, control=dict(control),
                  perf=counters, counter_problems=counter_problems,
                  working_set_lines=workload.hot_bytes // LINE_BYTES, cache_lines=CACHE_LINES)
    record_results(
        CONFIG, "random_traffic",
        f"{LABEL}: random traffic: {counts['host_bursts']} bursts ({host.read_bursts} reads, "
        f"{host.write_bursts} writes; {_spread(tb.traffic.kinds)}; lengths "
        f"{_spread(tb.traffic.lengths)}), {counts['bytes_scored']} bytes scored, "
        f"{counts['mismatches']} mismatches; refused {_spread(tb.traffic.refused)}; "
        f"{memory.fills} fills, {memory.write_backs} write-backs, "
        f"{counters['alias_evictions']} alias evictions; {_spread(tb.commands)} commands, "
        f"{_spread(tb.flushes)} flushes; {tb.memory_checks} memory checks; "
        f"{counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)
    tb.traffic.check("random traffic")
    assert not counter_problems, counter_problems


def _spread(counter) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items(), key=str))


# -- reads through another KeyID (cocotbext-axi's AxiMaster) --------------------------------------

def _views(model: ControllerModel) -> dict[str, list[int]]:
    """The valid KeyIDs by what they do now: "keyed" (own or platform key) and "plain"."""
    views = {"keyed": [], "plain": []}
    for keyid in range(BUILD.num_keys):
        views["plain" if model.mode(keyid) == Mode.NO_ENCRYPT else "keyed"].append(keyid)
    return views


@cocotb.test()
async def wrong_keyid_read(dut):
    """Lines written under one KeyID and read under another, through cocotbext-axi's
    AxiMaster: D_k2(E_k1(data)) from the golden AES-XTS; NO_ENCRYPT aliases see the
    ciphertext; the AES line counters match memory traffic."""
    tb = TB(dut, "wrong_keyid_read")
    rng = tb.rng
    master = AxiMaster(AxiBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)
    for interface in (master.write_if, master.read_if):
        interface.log.setLevel(logging.WARNING)
    channels = {"aw": master.write_if.aw_channel, "w": master.write_if.w_channel,
                "b": master.write_if.b_channel, "ar": master.read_if.ar_channel,
                "r": master.read_if.r_channel}
    for name, channel in channels.items():
        tb.pauses.set(channel, PauseGenerator(STALLS[0], f"{tb.seed}/{name}"))
    await tb.reset()
    model = tb.model
    sizes = BUILD.key_sizes
    if PROGRAMMABLE:
        picks = rng.sample(PROGRAMMABLE, min(4, len(PROGRAMMABLE)))
        plan = [(Command.SET_KEY_DIRECT, sizes[0]), (Command.SET_KEY_DIRECT, sizes[-1]),
                (Command.SET_KEY_RANDOM, sizes[-1]), (Command.NO_ENCRYPT, None)]
        for keyid, (command, bits) in zip(picks, plan, strict=False):
            await tb.command(keyid, command, bits)
    views = _views(model)
    keyed = views["keyed"]
    await tb.flush_all()
    await tb.driver.clear_perf_counters()
    await tb.bus.drain()
    fills, write_backs = tb.memory.fills, tb.memory.write_backs
    hot = rng.randrange(BUILD.mem_bytes // PAGE_BYTES) * PAGE_BYTES
    stats = Counter()
    reads = writes = 0

    async def write(keyid, stripped, data):
        nonlocal writes
        response = await master.write(BUILD.join(keyid, stripped), data)
        assert response.resp == AxiResp.OKAY, (keyid, hex(stripped), response)
        model.write(BUILD.join(keyid, stripped), data)
        writes += 1

    async def read(keyid, stripped, nbytes):
        nonlocal reads
        response = await master.read(BUILD.join(keyid, stripped), nbytes)
        assert response.resp == AxiResp.OKAY, (keyid, hex(stripped), response)
        reads += 1
        return response.data

    # Whole lines written under a keyed KeyID and read under every other keyed KeyID.
    pairs = [(a, b) for a in keyed for b in keyed if a != b]
    rng.shuffle(pairs)
    written = {}
    for index, (writer, reader) in enumerate(pairs[:_rounds(24, 4)]):
        nlines = rng.randint(1, 4)
        stripped = hot + (index * 4 * LINE_BYTES) % PAGE_BYTES
        data = rng.randbytes(nlines * LINE_BYTES)
        await write(writer, stripped, data)
        got = await read(reader, stripped, len(data))
        want = b""
        for line in range(nlines):
            address = stripped + line * LINE_BYTES
            plain = data[line * LINE_BYTES:(line + 1) * LINE_BYTES]
            stored = golden.encrypt_line(*model.keys(writer), address, plain)
            want += golden.decrypt_line(*model.keys(reader), address, stored)
            written[address] = stored
        assert model.read(BUILD.join(reader, stripped), len(data)) == want, "model vs golden"
        assert got == want, (f"KeyID {writer} -> {reader} at {stripped:#x}: read "
                             f"{got.hex()}, expected D_{reader}(E_{writer}(data)) {want.hex()}")
        stats["cross-key reads"] += 1
    await tb.flush_all()
    for address, stored in written.items():
        assert tb.memory.line(address) == stored, f"line {address:#x} in memory"
    counters = await tb.driver.perf_counters()
    line_counts = {"fills": tb.memory.fills - fills, "write_backs": tb.memory.write_backs -
                   write_backs}
    assert counters["host_reads"] == reads and counters["host_writes"] == writes, counters
    assert counters["lines_decrypted"] == line_counts["fills"], (counters, line_counts)
    assert counters["lines_encrypted"] == line_counts["write_backs"], (counters, line_counts)

    # NO_ENCRYPT aliases: the ciphertext itself, and plaintext decrypted by a keyed KeyID.
    for plain in views["plain"]:
        for other in rng.sample(keyed, min(_rounds(3), len(keyed))):
            stripped = hot + rng.randrange(PAGE_BYTES // LINE_BYTES) * LINE_BYTES
            data = rng.randbytes(LINE_BYTES)
            await write(other, stripped, data)
            got = await read(plain, stripped, LINE_BYTES)
            assert got == golden.encrypt_line(*model.keys(other), stripped, data), (
                f"NO_ENCRYPT KeyID {plain} reads the ciphertext of KeyID {other}")
            await write(plain, stripped, data)
            got = await read(other, stripped, LINE_BYTES)
            assert got == golden.decrypt_line(*model.keys(other), stripped, data)
            stats["no-encrypt aliases"] += 2

    # Unaligned, partial writes through one KeyID, read through another (the model merges).
    for _ in range(_rounds(40, 6)):
        writer, reader = rng.choice(keyed + views["plain"]), rng.choice(keyed + views["plain"])
        start = hot + rng.randrange(PAGE_BYTES - 300)
        data = rng.randbytes(rng.randint(1, 300 - start % 16))
        await write(writer, start, data)
        low = start - rng.randrange(min(64, start - hot + 1))
        nbytes = min(start + len(data) + rng.randrange(64), hot + PAGE_BYTES) - low
        got = await read(reader, low, nbytes)
        want = model.read(BUILD.join(reader, low), nbytes)
        assert got == want, (f"partial write KeyID {writer} at {start:#x} read by {reader} at "
                             f"{low:#x}: {got.hex()}, expected {want.hex()}")
        stats["partial writes"] += 1
    await tb.check_memory("final")
    tb.check_protocols()
    counts = tb.counts()
    counts.update(stats, host_bursts=reads + writes, host_reads=reads, host_writes=writes,
                  keyed_keyids=len(keyed), plain_keyids=len(views["plain"]),
                  perf=counters, line_counts=line_counts)
    record_results(
        CONFIG, "wrong_keyid_read",
        f"{LABEL}: reads through other KeyIDs (cocotbext-axi AxiMaster): {_spread(stats)}; "
        f"{reads} reads, {writes} writes; lines decrypted/encrypted "
        f"{counters['lines_decrypted']}/{counters['lines_encrypted']} = memory fills/"
        f"write-backs; {counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)


# -- errors -----------------------------------------------------------------------------------

def _mode_keyid(model: ControllerModel, mode: Mode, *, exclude=()) -> int | None:
    for keyid in range(BUILD.num_keys):
        if model.mode(keyid) == mode and keyid not in exclude:
            return keyid
    return None


def _score_failing(tb: TB, transfer: Transfer, failing: set) -> list[str]:
    """A burst some of whose lines could not be filled: every beat in a line of ``failing``
    answers SLVERR (reads: data zero), the others OKAY with the model's data."""
    burst, model = transfer.burst, tb.model
    mask = (1 << BUILD.stripped_bits) - 1
    problems = []
    if transfer.write:
        want = AxiResp.SLVERR if any(
            (address & mask & ~(LINE_BYTES - 1)) in failing
            for beat in burst.byte_addresses() for address in beat) else AxiResp.OKAY
        if transfer.responses[0] != want:
            problems.append(f"BRESP {transfer.responses[0]}, expected {int(want)}")
        return problems
    for index, ((data, resp), (word, low, high)) in enumerate(
            zip(transfer.responses, burst.lanes(), strict=True)):
        if (word & mask & ~(LINE_BYTES - 1)) in failing:
            if resp != AxiResp.SLVERR or data:
                problems.append(f"beat {index} (failing line): RRESP {resp}, data {data:#x}")
            continue
        got = [(data >> 8 * lane) & 0xFF for lane in range(low, high + 1)]
        want = model.read_bytes(word + lane for lane in range(low, high + 1))
        if resp != AxiResp.OKAY or got != want:
            problems.append(f"beat {index}: RRESP {resp}, {bytes(got).hex()}, expected "
                            f"{bytes(want).hex()}")
    return problems


async def _irq_settles(tb: TB, level: int, label: str):
    await tb.bus.drain()
    for _ in range(8):
        await RisingEdge(tb.clock)
    await ReadOnly()
    assert int(tb.dut.irq.value) == level, f"{label}: irq {tb.dut.irq.value}, expected {level}"
    await RisingEdge(tb.clock)


@cocotb.test()
async def errors(dut):
    """Refused bursts (DECERR, SLVERR), memory read and write errors, their fault records and
    interrupt; nothing written by a refused burst; the controller serves on."""
    tb = TB(dut, "errors")
    rng = tb.rng
    host = tb.attach_host()
    traffic, model, memory, driver = tb.traffic, tb.model, tb.memory, tb.driver
    await tb.reset()
    await tb.program_keyids(rng)
    keyid = _mode_keyid(model, Mode.KEYED)
    keyid = BUILD.platform_keyid if keyid is None else keyid
    other = _mode_keyid(model, Mode.KEYED, exclude=(keyid,))
    other = next(k for k in range(BUILD.num_keys) if k != keyid) if other is None else other
    workload = Workload(random.Random(f"{tb.seed}/workload"), refused=False)
    hot = workload.hot_base
    await driver.irq_enable(Irq.FAULT)
    await _irq_settles(tb, 0, "before any fault")
    stats = Counter()
    expected = []

    async def refused(burst, write, kind, beats=None):
        outcome = await traffic.access(burst, write, beats, rng=rng, expect_fault=kind)
        expected.append(host_fault(burst, kind, write))
        stats[f"{kind.name}/{'write' if write else 'read'}"] += 1
        return outcome

    async def reread(bursts):
        """Read every line the bursts name under a valid KeyID: the model, unchanged."""
        mask = (1 << BUILD.stripped_bits) - 1
        for burst in bursts:
            for address in {a & mask & ~(LINE_BYTES - 1) for beat in burst.byte_addresses()
                            for a in beat}:
                if address + LINE_BYTES <= BUILD.mem_bytes:
                    await traffic.access(Burst(BUILD.join(keyid, address), 4, 4, INCR), False)
                    stats["lines re-read"] += 1

    # Invalid KeyIDs (checked before the range): nothing written.
    touched = []
    for bad in rng.sample(INVALID_KEYIDS, min(3, len(INVALID_KEYIDS))):
        for write in (False, True):
            burst = workload.burst(bad)
            await refused(burst, write, FaultKind.INVALID_KEYID)
            touched.append(burst)
        if BUILD.mem_bytes < 1 << BUILD.stripped_bits:
            await refused(Burst(BUILD.join(bad, BUILD.mem_bytes), 1, 4, INCR), True,
                          FaultKind.INVALID_KEYID)
    await reread(touched)
    logged = await tb.check_faults(expected, "invalid KeyIDs")
    expected.clear()

    # Beyond mem_bytes, wholly or by the last bytes; the last bytes in range are served.
    end = BUILD.mem_bytes
    beyond = [Burst(BUILD.join(keyid, end - 32), 4, 4, INCR),
              Burst(BUILD.join(keyid, end - 1), 2, 0, INCR),
              Burst(BUILD.join(keyid, end - 16), 16, 4, WRAP),
              Burst(BUILD.join(keyid, end - 8), 4, 3, FIXED)]
    if end < 1 << BUILD.stripped_bits:
        beyond += [Burst(BUILD.join(keyid, end), 1, 0, INCR),
                   Burst(BUILD.join(keyid, end + 0x40), 8, 4, INCR),
                   Burst(BUILD.join(keyid, end + 0x103), 3, 1, FIXED)]
    for burst in beyond:
        fault = model.fault(a for beat in burst.byte_addresses() for a in beat)
        if not burst.legal or fault is None:
            continue
        for write in (False, True):
            await refused(burst, write, FaultKind.OUT_OF_RANGE)
    inside = Burst(BUILD.join(keyid, end - 64), 4, 4, INCR)
    for write in (True, False):
        await traffic.access(inside, write, rng=rng)
    await reread(beyond)
    logged += await tb.check_faults(expected, "beyond mem_bytes")
    expected.clear()

    # Bursts AMBA forbids (PROTOCOL_ERROR, SLVERR): nothing written.
    page_end = hot + PAGE_BYTES
    illegal = [Burst(BUILD.join(keyid, hot + 0x40), 3, 4, WRAP),
               Burst(BUILD.join(keyid, hot + 0x84), 4, 4, WRAP),
               Burst(BUILD.join(keyid, hot + 0xC0), 2, 5, INCR),
               Burst(BUILD.join(keyid, hot + 0x100), 2, 4, 3),
               Burst(BUILD.join(keyid, page_end - 32), 4, 4, INCR)]
    if page_end + PAGE_BYTES > BUILD.mem_bytes:
        illegal.pop()
    for burst in illegal:
        assert not burst.legal, burst
        for write in (False, True):
            beats = [(rng.getrandbits(8 * BUS_BYTES), (1 << BUS_BYTES) - 1)] * burst.beats
            await refused(burst, write, FaultKind.PROTOCOL_ERROR, beats if write else None)
    await reread(illegal[:4])
    logged += await tb.check_faults(expected, "bursts AMBA forbids")
    await _irq_settles(tb, 1, "faults logged with IRQ_ENABLE.FAULT")
    await driver.irq_clear(Irq.FAULT)
    await _irq_settles(tb, 0, "IRQ_STATUS.FAULT cleared")
    expected.clear()

    # Memory read errors: the beats that need the line answer SLVERR; the line stays out.
    await tb.flush_all()
    lines = [hot + 0x200 * index for index in range(1, 6)]
    # One word of a line fails; the burst's beat in it needs it, the next beats do not.
    memory.fail_line(lines[0], read=True, words=[rng.randrange(WORDS_PER_LINE)])
    transfer = await host.read(Burst(BUILD.join(keyid, lines[0] + 48), 3, 4, INCR))
    problems = _score_failing(tb, transfer, {lines[0]})
    expected.append(memory_fault(keyid, lines[0], False))
    # Memory answers DECERR: the host still sees SLVERR.
    memory.read_error_response = AxiResp.DECERR
    memory.fail_line(lines[1], read=True, words=[1])
    transfer = await host.read(Burst(BUILD.join(other, lines[1] + 0x24), 1, 2, INCR))
    problems += _score_failing(tb, transfer, {lines[1]})
    expected.append(memory_fault(other, lines[1], False))
    memory.read_error_response = AxiResp.SLVERR
    # A write burst: its beat in the failing line (partial, so it needs the line) is not
    # written and BRESP is SLVERR; its beat in the next line is written.
    memory.fail_line(lines[2], read=True)
    burst = Burst(BUILD.join(keyid, lines[2] + 48), 2, 4, INCR)
    beats = [(rng.getrandbits(128), 0x0FF0), (rng.getrandbits(128), 0xFFFF)]
    model.write_bytes({address: value for address, value in written_bytes(burst, beats).items()
                       if address & ~(LINE_BYTES - 1) != BUILD.join(keyid, lines[2])})
    transfer = await host.write(burst, beats)
    problems += _score_failing(tb, transfer, {lines[2]})
    expected.append(memory_fault(keyid, lines[2], False))
    # Every beat of a 4-beat read needs the failing line.
    memory.fail_line(lines[3], read=True, words=[3])
    transfer = await host.read(Burst(BUILD.join(keyid, lines[3]), 4, 4, INCR))
    problems += _score_failing(tb, transfer, {lines[3]})
    assert not problems, f"memory read errors: {problems}"
    stats["memory read errors"] += 4
    memory.heal()
    faults = await driver.faults()
    last = memory_fault(keyid, lines[3], False)
    repeats = sum(1 for fault in faults if fault == last)
    assert 1 <= repeats <= WORDS_PER_LINE and len(faults) == len(expected) + repeats, (
        [_fault_text(f) for f in faults])
    assert [f for f in faults if f != last] == expected, (
        f"memory read faults {[_fault_text(f) for f in faults]}, expected "
        f"{[_fault_text(f) for f in expected]} and {last}")
    four_beat_read_faults = repeats
    logged += len(faults)
    expected.clear()
    for line in lines[:4]:
        for view in (keyid, other):
            await traffic.access(Burst(BUILD.join(view, line), 4, 4, INCR), False)
            await traffic.access(Burst(BUILD.join(view, line + LINE_BYTES), 4, 4, INCR), False)

    # Write-back errors: memory keeps what it had, the line is lost, a fault says which.
    await tb.flush_all()
    full = [(rng.getrandbits(128), 0xFFFF) for _ in range(WORDS_PER_LINE)]
    lost = lines[4]
    before = model.ciphertext(lost)
    assert memory.line(lost) == before
    await traffic.access(Burst(BUILD.join(keyid, lost), 4, 4, INCR), True, full)
    memory.fail_line(lost, write=True)
    await tb.flush_range(lost, LINE_BYTES)
    assert memory.line(lost) == before, "a refused write-back changed memory"
    model.set_ciphertext(lost, before)
    expected.append(memory_fault(keyid, lost, True))
    # The same by eviction: the set's other lines pushed through the cache.
    evicted = hot + PAGE_BYTES // 2 + LINE_BYTES
    before_evicted = model.ciphertext(evicted)
    await traffic.access(Burst(BUILD.join(other, evicted), 4, 4, INCR), True, full)
    memory.fail_line(evicted, write=True)
    stride = BUILD.cache_sets * LINE_BYTES
    for index in range(1, 2 * BUILD.cache_ways + 1):
        neighbour = (evicted + index * stride) % BUILD.mem_bytes
        await traffic.access(Burst(BUILD.join(keyid, neighbour), 4, 4, INCR), False)
    await tb.flush_all()
    assert memory.line(evicted) == before_evicted, "a refused write-back changed memory"
    model.set_ciphertext(evicted, before_evicted)
    expected.append(memory_fault(other, evicted, True))
    memory.heal()
    logged += await tb.check_faults(expected, "write-back errors")
    await _irq_settles(tb, 1, "write-back faults")
    await driver.irq_clear(Irq.FAULT)
    await _irq_settles(tb, 0, "IRQ_STATUS.FAULT cleared")
    for line, view in ((lost, keyid), (evicted, other), (lost, other)):
        await traffic.access(Burst(BUILD.join(view, line), 4, 4, INCR), False)
    stats["write-back errors"] += 2

    # And on: random traffic, then memory against the model.
    await run_batch(tb, workload, _rounds(100, 20), list(range(BUILD.num_keys)))
    await tb.check_memory("final")
    traffic.check("errors")
    tb.check_protocols()
    counts = tb.counts()
    counts.update(stats)
    counts.update(faults_logged=logged, four_beat_read_faults=four_beat_read_faults)
    record_results(
        CONFIG, "errors",
        f"{LABEL}: errors: {_spread(stats)}; {logged} faults logged as expected; "
        f"{counts['host_bursts']} bursts, {counts['mismatches']} mismatches; "
        f"{counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)


# -- control fuzz -----------------------------------------------------------------------------

#: Register accesses of ``control_fuzz``, and its host bursts beside them.
REGISTER_ACCESSES = max(200, TRANSACTIONS // 2)
FUZZ_TRANSACTIONS = max(50, TRANSACTIONS // 8)
KEY_FIELD_BYTES = 4 * KEY_FIELD_WORDS
#: The registers whose value is whatever software last wrote (their fields).
STORED = ("KEYID", "KEYID_CTRL", "IRQ_ENABLE", "FLUSH_START_LO", "FLUSH_START_HI",
          "FLUSH_END_LO", "FLUSH_END_HI")


def _field_mask(register) -> int:
    mask = 0
    for f in register.fields:
        mask |= f.mask
    return mask


def _strobed(old: int, data: bytes, first_lane: int) -> int:
    """``old`` with the byte lanes from ``first_lane`` replaced by ``data``."""
    for index, byte in enumerate(data):
        shift = 8 * (first_lane + index)
        old = old & ~(0xFF << shift) | byte << shift
    return old


def expected_status(keyid: int, command: int, algorithm: int) -> Status:
    """The outcome of a command by the register map's rules, in their order: the command,
    the KeyID, the algorithm (SET_KEY_*: exactly one bit, of a supported size)."""
    if command not in (Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM, Command.CLEAR_KEY,
                       Command.NO_ENCRYPT):
        return Status.INVALID_PROG_CMD
    if not BUILD.first_programmable_keyid <= keyid < BUILD.num_keys:
        return Status.INVALID_KEYID
    supported = {int(Algorithm.for_key_bits(bits)) for bits in BUILD.key_sizes}
    if command in (Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM) and algorithm not in supported:
        return Status.INVALID_ENC_ALG
    return Status.PROG_SUCCESS


class RegisterModel:
    """What every register of the control port reads, from the register map's documented
    behaviour and everything the bench did through the port (nothing else writes it: host
    traffic in ``control_fuzz`` is all valid, so it logs no fault)."""

    def __init__(self, keyid=0, keyid_ctrl=0):
        self.stored = dict.fromkeys(STORED, 0)
        self.stored.update(KEYID=keyid, KEYID_CTRL=keyid_ctrl)
        self.key_fields = bytearray(2 * KEY_FIELD_BYTES)
        self.status_code = Status.PROG_SUCCESS
        self.ignored = False
        self.irq_status = 0
        self.faults = deque()
        self.overflow = 0
        self.flush_done = False
        self.flush_ignored = False

    def log(self, record: FaultRecord):
        if len(self.faults) < BUILD.fault_log_depth:
            self.faults.append(record)
            self.irq_status |= Irq.FAULT
        else:
            self.overflow = min(self.overflow + 1, 0xFFFF_FFFF)
            self.irq_status |= Irq.FAULT_OVERFLOW

    def command_done(self, status: Status):
        self.status_code = status
        self.ignored = False
        self.key_fields[:] = bytes(len(self.key_fields))
        self.irq_status |= Irq.COMMAND_DONE

    def flush_finished(self):
        self.flush_done = True
        self.flush_ignored = False
        self.irq_status |= Irq.FLUSH_DONE

    def read(self, register) -> tuple[int, int]:
        """(value, the bits of it the model knows) of ``register``."""
        name = register.name
        everything = 0xFFFF_FFFF
        if register.key_word is not None or register.access in (Access.WO, Access.WT):
            return 0, everything
        if register.counter is not None:
            return 0, everything if register.counter.high else 0
        if name in STORED:
            return self.stored[name], everything
        head = self.faults[0] if self.faults else None
        if name == "STATUS":
            return self.status_code | 1 << 9 | self.ignored << 10, everything
        if name == "FAULT_STATUS":
            return len(self.faults), everything
        if name == "FAULT_OVERFLOW":
            return self.overflow, everything
        if name == "FAULT_ADDR_LO":
            return (head.address & 0xFFFF_FFFF if head else 0), everything
        if name == "FAULT_ADDR_HI":
            return (head.address >> 32 if head else 0), everything
        if name == "FAULT_INFO":
            if head is None:
                return 0, everything
            value = (head.keyid | int(head.source) << 16 | int(head.kind) << 24
                     | head.write << 28 | 1 << 31)
            # A control-port fault has no KeyID; the field is not specified for it.
            known = everything & ~0xFFFF if head.source == FaultSource.CONTROL else everything
            return value, known
        if name == "IRQ_STATUS":
            return self.irq_status, everything
        if name == "FLUSH_STATUS":
            return self.flush_done << 1 | self.flush_ignored << 2, 0xFFFF    # LINES: not known
        assert register.access == Access.RO, name
        return register.reset, everything

    def write(self, register, first_lane: int, data: bytes) -> str | None:
        """Apply a write; returns "flush" when it starts a flush."""
        name = register.name
        lane0 = first_lane == 0
        bit0 = lane0 and data[0] & 1
        if register.key_word is not None:
            field, word = register.key_word.field, register.key_word.word
            base = (field - 1) * KEY_FIELD_BYTES + 4 * word + first_lane
            self.key_fields[base:base + len(data)] = data
        elif name in STORED:
            merged = _strobed(self.stored[name], data, first_lane)
            self.stored[name] = merged & _field_mask(register)
        elif name == "DOORBELL":
            assert not bit0, "the fuzz rings the doorbell only through command steps"
        elif name == "FAULT_OVERFLOW":
            if bit0:
                self.overflow = 0
        elif name == "FAULT_POP":
            if bit0 and self.faults:
                self.faults.popleft()
        elif name == "IRQ_STATUS":
            if lane0:
                self.irq_status &= ~data[0]
        elif name == "FLUSH_CTRL":
            if lane0 and data[0] & 0b11:
                return "flush"
        return None


@cocotb.test()
async def control_fuzz(dut):
    """Random register accesses (unmapped offsets, partial strobes included) checked against
    a register model, with modelled commands and flushes, beside host traffic; then every
    KeyID reads as the model says and memory matches it."""
    tb = TB(dut, "control_fuzz")
    rng = tb.rng
    tb.attach_host()
    await tb.reset()
    await tb.program_keyids(rng)
    registers = RegisterModel(*tb.programmed)
    if tb.commands:
        registers.irq_status |= Irq.COMMAND_DONE
    bus, traffic = tb.bus, tb.traffic
    mapped = list(REGMAP)
    unmapped = [offset for offset in range(0, 1 << 12, 4) if REGMAP.at(offset) is None]
    stats = Counter()
    mismatches = []
    workload = Workload(random.Random(f"{tb.seed}/workload"), refused=False)
    allowed = list(range(BUILD.num_keys))
    background = cocotb.start_soon(run_batch(tb, workload, FUZZ_TRANSACTIONS, allowed))

    def compare(register, value, label):
        want, known = registers.read(register)
        if (value ^ want) & known:
            mismatches.append(f"{label}: {register.name} read {value:#010x}, expected "
                              f"{want:#010x} (bits {known:#010x})")
            if len(mismatches) <= 10:
                tb.log.error("%s", mismatches[-1])

    async def read_step(index):
        if rng.random() < 0.15:
            offset = rng.choice(unmapped)
            value = await bus.read(offset, expect_error=True)
            if value:
                mismatches.append(f"step {index}: unmapped {offset:#05x} read {value:#x}")
            registers.log(FaultRecord(offset, 0, FaultSource.CONTROL,
                                      FaultKind.BAD_CONTROL_ACCESS, False))
            stats["unmapped reads"] += 1
            return
        register = rng.choice(mapped)
        compare(register, await bus.read(register.offset), f"step {index}")
        stats["reads"] += 1

    async def flush_step(index):
        await bus.drain()
        for _ in range(100_000):
            status = await bus.read(REGMAP.offset("FLUSH_STATUS"))
            if not status & 1:
                break
        else:
            raise AssertionError(f"step {index}: flush never finished")
        registers.flush_finished()
        compare(REGMAP["FLUSH_STATUS"], status, f"step {index} (flush)")
        stats["flushes"] += 1

    async def write_step(index):
        if rng.random() < 0.15:
            offset = rng.choice(unmapped)
            await bus.drain()
            bus.post(offset, rng.randbytes(rng.randint(1, 4)))
            await bus.drain(expect_error=True)
            registers.log(FaultRecord(offset, 0, FaultSource.CONTROL,
                                      FaultKind.BAD_CONTROL_ACCESS, True))
            stats["unmapped writes"] += 1
            return
        register = rng.choice(mapped)
        first = rng.randrange(4)
        data = bytearray(rng.randbytes(rng.randint(1, 4 - first)))
        if register.name == "DOORBELL" and first == 0:
            data[0] &= 0xFE
        if register.name == "FLUSH_CTRL" and rng.random() < 0.7:
            data[0] &= 0xFC
        bus.post(register.offset + first, bytes(data))
        stats["writes"] += 1
        stats["partial writes"] += len(data) < 4
        if registers.write(register, first, bytes(data)) == "flush":
            await flush_step(index)

    async def command_step(index):
        valid = rng.random() < 0.8
        keyid = rng.choice(PROGRAMMABLE) if valid and PROGRAMMABLE else rng.getrandbits(16)
        if rng.random() < 0.85:
            command = rng.choice([Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM,
                                  Command.CLEAR_KEY, Command.NO_ENCRYPT])
        else:
            command = rng.getrandbits(8)
        bits = rng.choice(BUILD.key_sizes)
        algorithm = (int(Algorithm.for_key_bits(bits)) if rng.random() < 0.8
                     else rng.getrandbits(16))
        want = expected_status(keyid, command, algorithm)
        quiet = (traffic.exclusive(keyid) if keyid < BUILD.num_keys
                 else contextlib.nullcontext())
        async with quiet:
            for name, value in (("KEYID", keyid | rng.getrandbits(16) << 16),
                                ("KEYID_CTRL", command | algorithm << 8
                                 | rng.getrandbits(8) << 24)):
                bus.post(REGMAP.offset(name), value.to_bytes(4, "little"))
                registers.write(REGMAP[name], 0, value.to_bytes(4, "little"))
            for _ in range(rng.randint(0, 6)):
                register = REGMAP[f"KEY_FIELD_{rng.randint(1, 2)}_{rng.randrange(8)}"]
                data = rng.randbytes(4)
                bus.post(register.offset, data)
                registers.write(register, 0, data)
            fields = bytes(registers.key_fields)
            before = len(tb.entropy.words)
            bus.post(REGMAP.offset("DOORBELL"), (1 | rng.getrandbits(31) << 1).to_bytes(4,
                                                                                         "little"))
            report = await tb.driver.wait_idle()
            hardware = tb.entropy.words[before:]
        tb.results[status_name(report.code)] += 1
        if report.code != want or report.ignored:
            mismatches.append(f"step {index}: command {command:#x} KeyID {keyid} algorithm "
                              f"{algorithm:#x}: {report}, expected {want.name}")
        registers.command_done(want)
        stats[f"commands/{want.name}"] += 1
        if want != Status.PROG_SUCCESS:
            return
        label = Command(command).name
        tb.commands[label] += 1
        size = 16 if algorithm == Algorithm.AES_XTS_128 else 32
        key1, key2 = fields[:size], fields[KEY_FIELD_BYTES:KEY_FIELD_BYTES + size]
        if command == Command.SET_KEY_DIRECT:
            tb.model.set_key(keyid, key1, key2)
        elif command == Command.SET_KEY_RANDOM:
            entropy = words_to_keys(hardware, bits)
            tb.model.set_key(keyid, _xor(key1, entropy[0]), _xor(key2, entropy[1]))
        elif command == Command.CLEAR_KEY:
            tb.model.clear_key(keyid)
        else:
            tb.model.no_encrypt(keyid)

    async def irq_step(index):
        await bus.drain()
        for _ in range(3):
            await RisingEdge(dut.clk)
        await ReadOnly()
        want = int(bool(registers.irq_status & registers.stored["IRQ_ENABLE"]))
        if int(dut.irq.value) != want:
            mismatches.append(f"step {index}: irq {dut.irq.value}, expected {want} (status "
                              f"{registers.irq_status:#x}, enable "
                              f"{registers.stored['IRQ_ENABLE']:#x})")
        await RisingEdge(dut.clk)
        stats["irq checks"] += 1

    for index in range(REGISTER_ACCESSES):
        choice = rng.random()
        if choice < 0.03:
            await command_step(index)
        elif choice < 0.05:
            await irq_step(index)
        elif choice < 0.5:
            await read_step(index)
        else:
            await write_step(index)
    await background
    await irq_step(REGISTER_ACCESSES)
    faults = await tb.driver.faults()
    overflow = await tb.driver.fault_overflow()
    key = lambda f: (f.address, f.source, f.kind, f.write)  # noqa: E731
    if [key(f) for f in faults] != [key(f) for f in registers.faults]:
        mismatches.append(f"fault log {[_fault_text(f) for f in faults]}, expected "
                          f"{[_fault_text(f) for f in registers.faults]}")
    if overflow != registers.overflow:
        mismatches.append(f"FAULT_OVERFLOW {overflow}, expected {registers.overflow}")
    # Afterwards: every KeyID reads the working set as the model says, memory matches.
    for keyid in allowed:
        for _ in range(4):
            line = workload.hot_base + rng.randrange(workload.hot_bytes // LINE_BYTES) * LINE_BYTES
            await traffic.access(Burst(BUILD.join(keyid, line), 4, 4, INCR), False)
    await run_batch(tb, workload, _rounds(100, 20), allowed)
    await tb.check_memory("final")
    tb.check_protocols()
    counts = tb.counts()
    counts.update(stats, register_accesses=REGISTER_ACCESSES,
                  register_mismatches=len(mismatches), faults_logged=len(faults),
                  fault_overflow=overflow)
    record_results(
        CONFIG, "control_fuzz",
        f"{LABEL}: control fuzz: {REGISTER_ACCESSES} steps ({_spread(stats)}), "
        f"{len(mismatches)} register mismatches, {len(faults)} faults logged and {overflow} "
        f"lost as modelled; beside {counts['host_bursts']} bursts, {counts['mismatches']} "
        f"mismatches; {counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)
    assert not mismatches, f"{len(mismatches)} register mismatches; first: {mismatches[:3]}"
    traffic.check("control fuzz")


# -- ordering ---------------------------------------------------------------------------------

async def _alias_traffic(traffic: Traffic, rng, lines, keyids):
    """Whole-line reads (and some writes) of ``lines`` under random ``keyids``."""
    for line in lines:
        view = rng.choice(keyids)
        await traffic.access(Burst(BUILD.join(view, line), 4, 4, INCR), rng.random() < 0.3,
                             rng=rng)


@cocotb.test()
async def ordering(dut):
    """Memory answers writes late and reads at once: alias refills and refills after an
    eviction must see the write-back; a re-keyed KeyID's lines reach memory under the old
    key."""
    tb = TB(dut, "ordering")
    rng = tb.rng
    tb.attach_host()
    traffic, memory = tb.traffic, tb.memory
    await tb.reset()
    await tb.program_keyids(rng)
    memory.answer_writes_late(tb.seed)
    workload = Workload(random.Random(f"{tb.seed}/workload"), refused=False)
    hot = workload.hot_base
    allowed = list(range(BUILD.num_keys))
    stats = Counter()
    full = lambda: [(rng.getrandbits(128), 0xFFFF) for _ in range(WORDS_PER_LINE)]  # noqa: E731

    def distinct_pair():
        first = rng.choice(allowed)
        return first, rng.choice([k for k in allowed if k != first] or allowed)

    # (a) A line written under k1, then read at once under k2: the read's fill must wait for
    # the write-back of k1's line (whose data memory shows only when it answers).
    for round_ in range(_rounds(48, 8)):
        k1, k2 = distinct_pair()
        line = hot + rng.randrange(workload.hot_bytes // LINE_BYTES) * LINE_BYTES
        if round_ % 2:
            await traffic.access(Burst(BUILD.join(k1, line), 4, 4, INCR), True, full())
        else:
            burst = Burst(BUILD.join(k1, line + rng.randrange(0, 64, 4)), 1, 2, INCR)
            await traffic.access(burst, True, rng=rng)
        await traffic.access(Burst(BUILD.join(k2, line), 4, 4, INCR), False)
        stats["alias refills"] += 1

    # (b) A dirty line evicted by its set's other lines, then read again at once.
    stride = BUILD.cache_sets * LINE_BYTES
    for _ in range(_rounds(16, 3)):
        k1, k2 = distinct_pair()
        line = hot + rng.randrange(BUILD.cache_sets) * LINE_BYTES
        await traffic.access(Burst(BUILD.join(k1, line), 4, 4, INCR), True, full())
        for index in range(1, BUILD.cache_ways + 1):
            neighbour = (line + index * stride) % BUILD.mem_bytes
            await traffic.access(Burst(BUILD.join(k2, neighbour), 1, 4, INCR), False)
        await traffic.access(Burst(BUILD.join(k1, line), 4, 4, INCR), False)
        stats["eviction refills"] += 1

    # (c) Dirty lines of a KeyID, then a key change while their write-backs wait (and the
    # other KeyIDs use the same lines meanwhile): memory must hold them under the old key.
    for round_ in range(_rounds(12, 3) if PROGRAMMABLE else 0):
        keyid = rng.choice(PROGRAMMABLE)
        lines = rng.sample(range(hot, hot + workload.hot_bytes, LINE_BYTES), 6)
        for line in lines:
            await traffic.access(Burst(BUILD.join(keyid, line), 4, 4, INCR), True, full())
        others = [k for k in allowed if k != keyid]
        beside = cocotb.start_soon(_alias_traffic(traffic, rng, lines, others)) if others else None
        await tb.random_command(keyid, rng)
        if beside is not None:
            await beside
        if round_ % 3 == 2:
            await tb.check_memory(f"after re-keying round {round_}")
        for line in lines:
            await traffic.access(Burst(BUILD.join(keyid, line), 4, 4, INCR), False)
        stats["re-keyings"] += 1

    await tb.check_memory("final")
    traffic.check("ordering")
    tb.check_protocols()
    counts = tb.counts()
    counts.update(stats)
    record_results(
        CONFIG, "ordering",
        f"{LABEL}: ordering with writes answered late: {_spread(stats)}; {memory.fills} fills, "
        f"{memory.write_backs} write-backs, {len(memory.fill_overtakes)} fills over an "
        f"unanswered write-back of their line; {counts['mismatches']} mismatches; "
        f"{counts['cycles']} cycles, {counts['wall_seconds']} s",
        **counts)
