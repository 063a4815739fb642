"""Shared cocotb bench helpers: stream bus models, payload packing, scoreboard, results.

The designs under test are Amaranth components turned into Verilog by
:func:`memcrypt.flow.generate.write_outputs`. Their streams follow ``amaranth.lib.stream``:
a stream ``s`` is the ports ``s__payload``, ``s__valid`` and ``s__ready``; a beat moves on
a rising clock edge where ``valid`` and ``ready`` are both high; ``valid`` and ``payload``
stay put until that edge, and ``valid`` never waits for ``ready``. A payload is a packed
``StructLayout``, first field in the least significant bits.

Sampling discipline (the same for every model here): a model drives its outputs just after
a rising edge and samples the handshake in the ``ReadOnly`` phase before the next one, so
that it sees settled combinational values (``ready`` may depend on ``valid`` or on the
other side's ``ready``) and never races the flip-flops at the edge. This holds on Icarus
and on Verilator alike.

Parameters reach the benches through ``MEMCRYPT_BENCH_*`` environment variables set by
``tests/test_cocotb.py`` (:class:`BenchConfig`); every test appends its counts to a JSON
file in the build folder (:func:`record_results`), which the pytest side prints and checks.
"""

import json
import logging
import os
import random
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from memcrypt.regmap import Status

__all__ = [
    "BenchConfig", "PauseGenerator", "StructPacker", "StreamSource", "StreamSink",
    "Scoreboard", "StreamBench", "CipherBench", "TRAFFIC", "AES_ROUNDS", "record_results",
    "distinct_key", "steady_interval", "ENTROPY_GAPS", "PostedBus", "EntropySource",
    "words_to_keys", "status_name",
]

CLOCK_PERIOD_NS = 10
#: AES rounds (Nr) per key size.
AES_ROUNDS = {128: 10, 256: 14}

#: Pause probabilities per cycle for each side (source, sink) of each traffic profile.
#: "stalls" pauses both handshakes at random, in phases of 8 to 200 clocks that each draw
#: one of the probabilities, so that a run sees a starved input, a full output buffer
#: (sink nearly always paused) and everything between; "no_stalls" runs at full rate.
TRAFFIC = {
    "no_stalls": ((0.0,), (0.0,)),
    "stalls": ((0.0, 0.2, 0.5, 0.9), (0.0, 0.2, 0.5, 0.9)),
}
PHASE_CLOCKS = (8, 200)
#: Random gaps (clocks) before each hardware entropy word (:class:`EntropySource`).
ENTROPY_GAPS = (0, 0, 0, 1, 2, 3, 5, 8, 13, 40, 150)


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(f"MEMCRYPT_BENCH_{name}", default)
    if value is None:
        raise RuntimeError(f"MEMCRYPT_BENCH_{name} is not set: run the benches through "
                           "tests/test_cocotb.py (pytest), which sets it")
    return value


@dataclass(frozen=True)
class BenchConfig:
    """The design and workload a bench run is for, read from the environment.

    Attributes
    ----------
    key_bits : int
        128 or 256.
    architecture : str
        ``"pipelined"`` or ``"iterative"``.
    direction : str
        What the design was built for: ``"encrypt"``, ``"decrypt"`` or ``"both"``.
    tag_width : int
        Width of the ``tag`` field (0: no field).
    count : int
        Random blocks (AES bench) or lines (XTS bench) per stalled run.
    quick_count : int
        Random blocks or lines per run without stalls.
    mixed_count : int
        Random blocks of the AES bench's stalled run that interleaves the two directions.
    core_latency : int
        Clocks from an AES core's input handshake to its output handshake, as the design
        reports it (``latency`` of ``AESPipeline`` / ``AESIterative``).
    seed : int
        Base seed; each test derives its own from it and its name.
    results : Path or None
        JSON file the counts go to.
    """

    key_bits: int
    architecture: str
    direction: str
    tag_width: int
    count: int
    quick_count: int
    mixed_count: int
    core_latency: int
    seed: int
    results: Path | None

    @classmethod
    def from_env(cls) -> "BenchConfig":
        results = os.environ.get("MEMCRYPT_BENCH_RESULTS")
        return cls(key_bits=int(_env("KEY_BITS", "128")),
                   architecture=_env("ARCHITECTURE", "pipelined"),
                   direction=_env("DIRECTION", "both"),
                   tag_width=int(_env("TAG_WIDTH", "8")),
                   count=int(_env("COUNT", "2000")),
                   quick_count=int(_env("QUICK_COUNT", "200")),
                   mixed_count=int(_env("MIXED_COUNT", "500")),
                   core_latency=int(_env("CORE_LATENCY")),
                   seed=int(_env("SEED", "1")),
                   results=Path(results) if results else None)

    def rng(self, *labels) -> random.Random:
        """A generator seeded from the base seed and ``labels`` (reproducible per test)."""
        return random.Random("/".join(map(str, (self.seed, *labels))))

    @property
    def key_bytes(self) -> int:
        return self.key_bits // 8

    @property
    def both(self) -> bool:
        """Whether the design runs both directions (a ``decrypt`` bit per request)."""
        return self.direction == "both"

    @property
    def rounds(self) -> int:
        """AES rounds (Nr) of the key size."""
        return AES_ROUNDS[self.key_bits]

    def label(self, kind: str) -> str:
        """How the bench's summaries name the design: ``"aes128 pipelined both"``."""
        return f"{kind}{self.key_bits} {self.architecture} {self.direction}"


class PauseGenerator:
    """Seeded per-cycle pause decisions for one side of a handshake.

    Iterating yields ``True`` for a cycle in which the model pauses (the source offers
    nothing new, the sink drops ``ready``). With one probability, every cycle pauses with
    it (0 never, 1 always); with several, the generator runs in phases of
    ``phase_clocks`` (a range, drawn at random) that each use one of them.
    """

    def __init__(self, probabilities, seed, phase_clocks=PHASE_CLOCKS):
        if isinstance(probabilities, int | float):
            probabilities = (probabilities,)
        self.probabilities = tuple(float(p) for p in probabilities)
        if not self.probabilities or not all(0.0 <= p <= 1.0 for p in self.probabilities):
            raise ValueError(f"pause probabilities must be in [0, 1], not {probabilities!r}")
        self.phase_clocks = phase_clocks
        self._random = random.Random(seed)
        self._probability = self.probabilities[0]
        self._left = 0 if len(self.probabilities) > 1 else -1

    def __iter__(self) -> Iterator[bool]:
        return self

    def __next__(self) -> bool:
        if self._left == 0:
            self._probability = self._random.choice(self.probabilities)
            self._left = self._random.randint(*self.phase_clocks)
        if self._left > 0:
            self._left -= 1
        probability = self._probability
        return probability > 0.0 and (probability >= 1.0 or self._random.random() < probability)


class StructPacker:
    """Packs and unpacks an Amaranth ``StructLayout`` value: first field in the LSBs.

    Written from the layout's documented field order rather than imported from the RTL, so
    that a layout bug in the design shows up as a mismatch instead of being mirrored.
    """

    def __init__(self, fields):
        self.fields = [(name, width) for name, width in fields if width]
        self.width = sum(width for _, width in self.fields)

    def pack(self, **values) -> int:
        unknown = set(values) - {name for name, _ in self.fields}
        if unknown:
            raise KeyError(f"no field(s) {sorted(unknown)} in {self.fields}")
        word, offset = 0, 0
        for name, width in self.fields:
            value = values.get(name, 0)
            if not 0 <= value < 1 << width:
                raise ValueError(f"field {name} value {value:#x} does not fit in {width} bits")
            word |= value << offset
            offset += width
        return word

    def unpack(self, word: int) -> dict:
        values, offset = {}, 0
        for name, width in self.fields:
            values[name] = (word >> offset) & ((1 << width) - 1)
            offset += width
        return values


def _stream_ports(dut, prefix):
    return (getattr(dut, f"{prefix}__payload"), getattr(dut, f"{prefix}__valid"),
            getattr(dut, f"{prefix}__ready"))


class StreamSource:
    """Drives an ``amaranth.lib.stream`` input port: ``<prefix>__payload/valid``.

    Payloads queued with :meth:`send` go out in order. While no beat is offered, the
    payload lines carry random junk, so that a design reading ``payload`` without
    ``valid`` is caught. A pause (from :meth:`set_pause_generator`) only delays the *next*
    beat: once ``valid`` is up it stays up with the same payload until ``ready``.
    """

    def __init__(self, dut, prefix, clock, seed):
        self.payload, self.valid, self.ready = _stream_ports(dut, prefix)
        self.clock = clock
        self.width = len(self.payload)
        self._queue = deque()
        self._pause = PauseGenerator(0.0, 0)
        self._junk = random.Random(seed)
        self.sent = 0
        self.accept_cycles = []  # the clock of each handshake
        self.held_off = 0       # clocks with a beat offered and ready low
        self.cycle = 0
        self.first_cycle = None
        self.last_cycle = None
        self.idle_event = Event()
        self.idle_event.set()

    def set_pause_generator(self, generator: PauseGenerator):
        self._pause = generator

    def send(self, payload: int):
        if not 0 <= payload < 1 << self.width:
            raise ValueError(f"payload {payload:#x} wider than {self.width} bits")
        self._queue.append(payload)
        self.idle_event.clear()

    def clear(self):
        """Forget the beats not yet offered (for a reset in the middle of a stream)."""
        self._queue.clear()
        self.idle_event.set()

    @property
    def idle(self) -> bool:
        return self.idle_event.is_set()

    async def run(self):
        current = None
        self.valid.value = 0
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1
            pause = next(self._pause)
            if current is None:
                if self._queue and not pause:
                    current = self._queue.popleft()
                    self.payload.value = current
                    self.valid.value = 1
                else:
                    self.payload.value = self._junk.getrandbits(self.width)
                    self.valid.value = 0
            await ReadOnly()
            if current is not None and not self.ready.value:
                self.held_off += 1
            elif current is not None:
                current = None
                self.sent += 1
                self.accept_cycles.append(self.cycle)
                if self.first_cycle is None:
                    self.first_cycle = self.cycle
                self.last_cycle = self.cycle
                if not self._queue:
                    self.idle_event.set()


class StreamSink:
    """Takes beats from an ``amaranth.lib.stream`` output port and checks its protocol.

    Each beat is passed to ``callback``. Protocol errors (``valid`` dropped or ``payload``
    changed before the handshake) are counted in :attr:`protocol_errors` with a message.
    """

    def __init__(self, dut, prefix, clock, callback: Callable[[int], None]):
        self.payload, self.valid, self.ready = _stream_ports(dut, prefix)
        self.clock = clock
        self.callback = callback
        self._pause = PauseGenerator(0.0, 0)
        self.received = 0
        self.held_back = 0      # clocks with valid high while this sink paused
        self.cycle = 0
        self.first_cycle = None
        self.last_cycle = None
        self.protocol_errors = []

    def set_pause_generator(self, generator: PauseGenerator):
        self._pause = generator

    async def run(self):
        self.ready.value = 0
        pending = None      # payload offered but not taken in the previous cycle
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1
            ready = not next(self._pause)
            self.ready.value = int(ready)
            await ReadOnly()
            valid = bool(self.valid.value)
            if pending is not None:
                if not valid:
                    self.protocol_errors.append(
                        f"cycle {self.cycle}: o_stream valid dropped before ready")
                elif int(self.payload.value) != pending:
                    self.protocol_errors.append(
                        f"cycle {self.cycle}: o_stream payload changed before ready")
            if valid and ready:
                pending = None
                self.received += 1
                if self.first_cycle is None:
                    self.first_cycle = self.cycle
                self.last_cycle = self.cycle
                self.callback(int(self.payload.value))
            else:
                pending = int(self.payload.value) if valid else None
                self.held_back += valid


class Scoreboard:
    """In-order expected results: each received payload must equal the oldest expected.

    ``describe`` turns a payload into readable text for mismatch messages.
    """

    MAX_REPORTED = 10

    def __init__(self, log, describe: Callable[[int], str] = hex):
        self.log = log
        self.describe = describe
        self.expected = deque()
        self.matched = 0
        self.mismatches = 0
        self.unexpected = 0
        self.messages = []
        self.empty_event = Event()
        self.empty_event.set()

    def expect(self, payload: int, label: str):
        self.expected.append((payload, label))
        self.empty_event.clear()

    def receive(self, payload: int):
        if not self.expected:
            self.unexpected += 1
            self._report(f"unexpected output {self.describe(payload)}")
            return
        want, label = self.expected.popleft()
        if payload == want:
            self.matched += 1
        else:
            self.mismatches += 1
            self._report(f"{label}: got {self.describe(payload)}, "
                         f"expected {self.describe(want)}")
        if not self.expected:
            self.empty_event.set()

    def _report(self, message):
        self.messages.append(message)
        if len(self.messages) <= self.MAX_REPORTED:
            self.log.error("%s", message)

    @property
    def errors(self) -> int:
        return self.mismatches + self.unexpected


class StreamBench:
    """Base of a bench's ``TB``: clock, synchronous reset, one source, one sink, scoreboard.

    Parameters
    ----------
    dut
        The cocotb handle of the top (ports ``clk``, ``rst``, ``i_stream__*``, ``o_stream__*``).
    seed
        Seeds the junk payloads; pause generators are seeded by :meth:`set_traffic`.
    describe
        Formats an output payload for mismatch messages.
    """

    def __init__(self, dut, seed, describe: Callable[[int], str] = hex):
        self.dut = dut
        self.log = dut._log
        self.clock = dut.clk
        Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        self.source = StreamSource(dut, "i_stream", dut.clk, seed=f"{seed}/junk")
        self.scoreboard = Scoreboard(self.log, describe)
        self.sink = StreamSink(dut, "o_stream", dut.clk, self.scoreboard.receive)
        self._tasks = []

    async def reset(self, cycles: int = 4):
        """Hold ``rst`` for ``cycles`` clocks with both handshakes idle, then start the
        bus models."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self.dut.i_stream__valid.value = 0
        self.dut.o_stream__ready.value = 0
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clock)
        self.dut.rst.value = 0
        await RisingEdge(self.clock)
        self._tasks = [cocotb.start_soon(self.source.run()), cocotb.start_soon(self.sink.run())]

    def set_traffic(self, traffic: str, seed):
        """Apply a :data:`TRAFFIC` profile, with seeded pause generators on both sides."""
        source_p, sink_p = TRAFFIC[traffic]
        self.source.set_pause_generator(PauseGenerator(source_p, f"{seed}/source"))
        self.sink.set_pause_generator(PauseGenerator(sink_p, f"{seed}/sink"))

    def check(self, label: str):
        """Assert that every result so far matched (messages name the first failures)."""
        board = self.scoreboard
        assert board.errors == 0, (f"{label}: {board.mismatches} mismatches, "
                                   f"{board.unexpected} unexpected outputs; first: "
                                   f"{board.messages[:3]}")

    async def wait_done(self, max_cycles: int):
        """Wait until every expected result has arrived (at most ``max_cycles`` clocks)."""
        await with_timeout(self.scoreboard.empty_event.wait(),
                           max_cycles * CLOCK_PERIOD_NS, "ns")

    async def assert_nothing_in_flight(self, quiet_cycles: int):
        """Run ``quiet_cycles`` more clocks with the sink always ready and check that no
        further output appears, every input was taken and every expected result arrived."""
        self.sink.set_pause_generator(PauseGenerator(0.0, 0))
        received = self.sink.received
        for _ in range(quiet_cycles):
            await RisingEdge(self.clock)
        assert self.source.idle, "inputs left unsent"
        assert not self.scoreboard.expected, (
            f"{len(self.scoreboard.expected)} expected results never arrived")
        assert self.sink.received == received, (
            f"{self.sink.received - received} extra outputs after the last expected one")
        assert self.scoreboard.unexpected == 0, "outputs nobody expected"
        assert not self.sink.protocol_errors, self.sink.protocol_errors[:5]


def steady_interval(cycles: list[int]) -> float:
    """Mean clocks between handshakes over the second half of ``cycles`` (after any
    pipeline fill): the rate a design sustains."""
    half = len(cycles) // 2
    if len(cycles) - half < 2:
        return 0.0
    return (cycles[-1] - cycles[half]) / (len(cycles) - 1 - half)


def distinct_key(rng: random.Random, nbytes: int, previous: bytes | None) -> bytes:
    """A random key of ``nbytes`` that differs from ``previous`` (a key change every time)."""
    while True:
        key = rng.randbytes(nbytes)
        if key != previous:
            return key


def record_results(config: BenchConfig, test: str, summary: str, **counts):
    """Log ``summary`` and add ``{test: {summary, counts}}`` to the results JSON file."""
    cocotb.log.info("%s", summary)
    print(summary, flush=True)
    if config.results is None:
        return
    try:
        results = json.loads(config.results.read_text())
    except FileNotFoundError:
        results = {}
    results[test] = {"summary": summary, "counts": counts}
    config.results.write_text(json.dumps(results, indent=2, sort_keys=True))


class CipherBench(StreamBench):
    """Base of the AES and XTS benches' ``TB``: requests carry a key (or keys), a ``decrypt``
    bit on a "both" design and a tag; responses carry the result and the tag.

    The payload widths are checked against the design's ports; :meth:`issue` tags requests
    in order (wrapping at the tag width) and counts encryptions and decryptions.

    Parameters
    ----------
    dut, seed
        As for :class:`StreamBench`.
    config : BenchConfig
        The design's parameters.
    request_fields, response_fields : list of (str, int)
        The payload fields ahead of ``decrypt`` and ``tag`` (requests) or ``tag``
        (responses), LSB first.
    """

    def __init__(self, dut, seed, config: BenchConfig, request_fields, response_fields):
        self.config = config
        self.requests = StructPacker([*request_fields, ("decrypt", 1 if config.both else 0),
                                      ("tag", config.tag_width)])
        self.responses = StructPacker([*response_fields, ("tag", config.tag_width)])
        super().__init__(dut, seed, describe=self.describe)
        for port, packer in (("i_stream__payload", self.requests),
                             ("o_stream__payload", self.responses)):
            width = len(getattr(dut, port))
            assert width == packer.width, (
                f"{port.split('__')[0]} payload is {width} bits, the bench expects "
                f"{packer.fields}")
        self._next_tag = 0
        self.encryptions = 0
        self.decryptions = 0

    def describe(self, payload: int) -> str:
        """A response payload for mismatch messages."""
        return hex(payload)

    def describe_tag(self, fields: dict) -> str:
        """`` tag N`` of unpacked response ``fields`` when the design has tags, else ``""``."""
        return f" tag {fields['tag']}" if self.config.tag_width else ""

    def issue(self, request: dict, response: dict, decrypt: bool, label: str):
        """Send ``request`` (its fields but ``decrypt`` and ``tag``) and expect ``response``
        (its fields but ``tag``) for it, under the next tag."""
        tagged = {}
        if self.config.tag_width:
            tagged["tag"] = self._next_tag
            self._next_tag = (self._next_tag + 1) % (1 << self.config.tag_width)
        request = {**request, **tagged}
        if self.config.both:
            request["decrypt"] = int(decrypt)
        self.scoreboard.expect(self.responses.pack(**response, **tagged), label)
        self.source.send(self.requests.pack(**request))
        if decrypt:
            self.decryptions += 1
        else:
            self.encryptions += 1


# -- the control port and the entropy input (sim/control_bench.py, sim/controller_bench.py) --

def status_name(code: int) -> str:
    """The name of a STATUS.CODE value (hexadecimal when it is no status code)."""
    try:
        return Status(code).name
    except ValueError:
        return f"{code:#04x}"


def words_to_keys(words, key_bits):
    """Hardware entropy (or the platform key) from 32-bit words: field 1's words then
    field 2's, byte k of a key in bits 8k+7:8k of the field."""
    per_key = key_bits // 32
    assert len(words) == 2 * per_key, f"{len(words)} words for two {key_bits}-bit keys"
    data = b"".join(w.to_bytes(4, "little") for w in words[:per_key])
    tweak = b"".join(w.to_bytes(4, "little") for w in words[per_key:])
    return data, tweak


class PostedBus:
    """The AsyncDriver's ``read``/``write`` over cocotbext-axi's ``AxiLiteMaster``.

    Writes are posted (handed to the master, which pipelines them); a read waits for every
    earlier write's response first. Every response must be OKAY unless ``expect_error``.
    """

    def __init__(self, dut, clock, seed, status_offset=None):
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), clock, dut.rst)
        for interface in (self.master.write_if, self.master.read_if):
            interface.log.setLevel(logging.WARNING)     # no line per transaction
        # Random pauses on every channel: the master's AW, W and AR valids and its B and R
        # readies, in phases of random length (sim.bench_common.PauseGenerator).
        channels = {
            "aw": self.master.write_if.aw_channel, "w": self.master.write_if.w_channel,
            "b": self.master.write_if.b_channel, "ar": self.master.read_if.ar_channel,
            "r": self.master.read_if.r_channel,
        }
        for name, channel in channels.items():
            channel.set_pause_generator(PauseGenerator(TRAFFIC["stalls"][0], f"{seed}/{name}"))
        self._posted = deque()
        self.reads = 0
        self.writes = 0
        self.partial_writes = 0
        self.slverr = 0
        self.max_in_flight = 0
        self.status_offset = status_offset
        self.status_codes = Counter()   # STATUS.CODE of every STATUS read at status_offset

    def _track(self):
        self.max_in_flight = max(self.max_in_flight, len(self._posted))

    def post(self, address: int, data: bytes):
        """Start a write of ``data`` at byte ``address`` (WSTRB from the master: partial
        and unaligned writes select their byte lanes)."""
        task = cocotb.start_soon(self.master.write(address, data))
        self._posted.append((address, data, task))
        self.writes += 1
        if len(data) != 4 or address % 4:
            self.partial_writes += 1
        self._track()
        return task

    async def write(self, offset: int, value: int):
        self.post(offset, value.to_bytes(4, "little"))

    async def drain(self, expect_error=False):
        """Wait for every posted write's response; each must be OKAY (SLVERR if
        ``expect_error``)."""
        while self._posted:
            address, data, task = self._posted.popleft()
            response = await task
            want = AxiResp.SLVERR if expect_error else AxiResp.OKAY
            assert response.resp == want, (
                f"write of {data.hex()} at {address:#05x}: BRESP {response.resp!r}, "
                f"expected {want!r}")
            self.slverr += response.resp == AxiResp.SLVERR

    async def read(self, offset: int, expect_error=False) -> int:
        await self.drain()
        response = await self.master.read(offset, 4)
        return self._check_read(offset, response, expect_error)

    def _check_read(self, offset, response, expect_error):
        self.reads += 1
        want = AxiResp.SLVERR if expect_error else AxiResp.OKAY
        assert response.resp == want, (
            f"read at {offset:#05x}: RRESP {response.resp!r}, expected {want!r}")
        self.slverr += response.resp == AxiResp.SLVERR
        value = int.from_bytes(response.data, "little")
        if offset == self.status_offset:
            self.status_codes[status_name(value & 0xFF)] += 1
        return value

    async def read_many(self, offsets) -> list[int]:
        """Reads of all ``offsets`` started at once (back to back on the AR channel)."""
        await self.drain()
        tasks = [cocotb.start_soon(self.master.read(offset, 4)) for offset in offsets]
        self.max_in_flight = max(self.max_in_flight, len(tasks))
        return [self._check_read(offset, await task, False)
                for offset, task in zip(offsets, tasks, strict=True)]


class EntropySource:
    """The TRNG: one 32-bit word per handshake on ``entropy_*``, random gaps between words.

    ``words`` lists every word the design took, in order. :meth:`withhold` stops the supply
    (``allow`` words first), :meth:`resume` restarts it. Between words ``entropy_data``
    carries junk, so that a word taken without ``entropy_valid`` would show.
    """

    def __init__(self, dut, clock, rng, gaps=ENTROPY_GAPS):
        self.dut, self.clock, self.rng = dut, clock, rng
        self.gaps = gaps
        self.words = []
        self._junk = random.Random(rng.getrandbits(64))
        self.allowance = None       # words still allowed while withholding, or None
        self.offering = False
        self.word = 0

    def withhold(self, allow: int = 0):
        self.allowance = allow
        if allow == 0:
            self._drop()

    def resume(self):
        self.allowance = None

    def _drop(self):
        if self.offering:
            self.offering = False
            self.dut.entropy_valid.value = 0

    async def run(self):
        """Offer words; between them, and while a word waits for ``entropy_ready``, sleep
        (on a clock count, on the rising edge of ready) rather than wake every clock."""
        dut = self.dut
        dut.entropy_valid.value = 0
        gap = self.rng.choice(self.gaps)
        while True:
            await RisingEdge(self.clock)
            if not self.offering:
                if self.allowance != 0 and gap > 0:
                    dut.entropy_data.value = self._junk.getrandbits(32)
                    dut.entropy_valid.value = 0
                    if gap > 1:
                        await ClockCycles(self.clock, gap - 1)
                    gap = 0
                    continue
                if self.allowance != 0:
                    self.word = self.rng.getrandbits(32)
                    self.offering = True
                dut.entropy_data.value = self.word if self.offering else self._junk.getrandbits(32)
                dut.entropy_valid.value = int(self.offering)
            await ReadOnly()
            if self.offering and not dut.entropy_ready.value:
                await RisingEdge(dut.entropy_ready)
                await ReadOnly()
            if self.offering and dut.entropy_ready.value:
                self.words.append(self.word)     # taken at the coming edge
                self.offering = False
                gap = self.rng.choice(self.gaps)
                if self.allowance:
                    self.allowance -= 1
