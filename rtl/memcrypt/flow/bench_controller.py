"""``memcrypt bench controller``: the controller's latencies and bandwidths, in simulation.

The top (:class:`memcrypt.gateware.controller.Controller`) runs in the Amaranth simulator
between a host that keeps up to ``HOST_OUTSTANDING`` bursts in flight on ``s_axi`` and a
memory on ``m_axi`` that answers each read burst ``latency`` cycles after taking it and
each write burst ``latency`` cycles after its last beat, accepting every beat at once
(:class:`_Memory`). The key table is programmed through ``s_axil`` as software would
(:class:`memcrypt.host.driver.AsyncDriver`): KeyID 1 AES-XTS-128, KeyID 2 AES-XTS-256,
KeyID 3 NO_ENCRYPT.

Measured, for each memory latency:

* **latency** (cycles from the AR handshake to the first R beat of a one-beat read): a hit,
  a clean miss, a dirty miss (the victim written back first), an alias (the line cached
  under another KeyID), and a clean miss under the NO_ENCRYPT KeyID (what encryption adds);
* **bandwidth** (bytes per cycle over a run of whole-line bursts, against the memory
  port's peak of 16): sequential and random reads and writes over four times the cache's
  size, under an encrypted KeyID and under NO_ENCRYPT, and sequential reads alternating
  two KeyIDs line by line;
* **page reuse**: a dirty 4 KiB page written again under a new KeyID, the way Linux MKTME
  must (flush the page's lines through FLUSH_CTRL, then write it) and the memcrypt way
  (just write it: the cache evicts the aliases).

Figures come from here only; tests never assert them.
"""

import json
import random
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from ..config import MemcryptConfig, preset
from ..geometry import LINE_BYTES, WORD_BYTES
from ..host.driver import AsyncDriver
from .simulation import run_testbenches
from .table import text_table

__all__ = ["run_controller_bench", "DEFAULT_LATENCIES", "HOST_OUTSTANDING"]

#: Memory latencies (cycles) of the default run.
DEFAULT_LATENCIES = (2, 10, 30, 60)
#: Bursts the bench's host keeps in flight.
HOST_OUTSTANDING = 4
PAGE_BYTES = 4096
ENCRYPTED, ENCRYPTED_256, PLAINTEXT = 1, 2, 3
_KEY1 = bytes(range(16)), bytes(range(16, 32))
_KEY2 = bytes(range(32, 64)), bytes(range(64, 96))


class _Memory:
    """An AXI4 memory for the simulator: every beat accepted at once, a read burst answered
    ``latency`` cycles after its AR, a write burst's B ``latency`` cycles after its last W
    beat, each kind in order."""

    def __init__(self, port, latency):
        self.port = port
        self.latency = latency
        self.words = {}

    async def run(self, ctx):
        port = self.port
        for ready in (port.arready, port.awready, port.wready):
            ctx.set(ready, 1)
        reads, addresses, responses = deque(), deque(), deque()
        beat, writing, cycle = None, None, 0
        while True:
            if beat is None and reads and reads[0][1] <= cycle:
                address, _ = reads.popleft()
                beat = [address, 0]
            if beat is not None:
                ctx.set(port.rvalid, 1)
                ctx.set(port.rdata, self.words.get(beat[0] + WORD_BYTES * beat[1], 0))
                ctx.set(port.rlast, beat[1] == 3)
            else:
                ctx.set(port.rvalid, 0)
            ctx.set(port.bvalid, bool(responses) and responses[0] <= cycle)
            (_, _, arvalid, araddr, awvalid, awaddr, wvalid, wdata, wlast, rready,
             bready) = await ctx.tick().sample(
                port.arvalid, port.araddr, port.awvalid, port.awaddr, port.wvalid,
                port.wdata, port.wlast, port.rready, port.bready)
            cycle += 1
            if arvalid:
                reads.append((araddr, cycle + self.latency))
            if awvalid:
                addresses.append(awaddr)
            if wvalid:
                if writing is None:
                    writing = [addresses.popleft() if addresses else None, 0]
                address = writing[0]
                self.words[address + WORD_BYTES * writing[1]] = wdata
                writing[1] += 1
                if wlast:
                    writing = None
                    responses.append(cycle + self.latency)
            if beat is not None and rready:
                beat[1] += 1
                if beat[1] == 4:
                    beat = None
            if responses and responses[0] < cycle and bready:
                responses.popleft()


class _Host:
    """Whole-line (or one-beat) bursts on ``s_axi``, up to ``HOST_OUTSTANDING`` in flight;
    returns the cycles a batch takes."""

    def __init__(self, dut):
        self.dut = dut
        self.port = dut.s_axi
        self.cycle = 0

    async def _clock(self, ctx):
        while True:
            await ctx.tick()
            self.cycle += 1

    def address(self, keyid, stripped):
        return keyid << self.dut.config.stripped_bits | stripped

    async def reads(self, ctx, addresses, beats=4):
        """Read bursts at ``addresses``; returns (cycles from the first AR to the last R,
        cycles from each AR handshake to its first R beat)."""
        port = self.port
        pending = deque()
        first_beats = []
        issued = done = 0
        start = None
        ctx.set(port.rready, 1)
        ctx.set(port.arlen, beats - 1)
        ctx.set(port.arsize, 4)
        ctx.set(port.arburst, 1)
        cycle = 0
        beat = 0
        while done < len(addresses):
            offering = issued < len(addresses) and len(pending) < HOST_OUTSTANDING
            ctx.set(port.arvalid, offering)
            if offering:
                ctx.set(port.araddr, addresses[issued])
            _, _, arready, rvalid, rlast = await ctx.tick().sample(
                port.arready, port.rvalid, port.rlast)
            cycle += 1
            if offering and arready:
                if start is None:
                    start = cycle
                pending.append(cycle)
                issued += 1
            if rvalid:
                if beat == 0:
                    first_beats.append(cycle - pending[0])
                beat += 1
                if rlast:
                    pending.popleft()
                    done += 1
                    beat = 0
        ctx.set(port.arvalid, 0)
        ctx.set(port.rready, 0)
        return cycle - start + 1, first_beats

    async def writes(self, ctx, addresses, data_of):
        """Whole-line write bursts; returns the cycles from the first AW to the last B."""
        port = self.port
        issued = answered = sent_lines = beat = 0
        start = None
        ctx.set(port.bready, 1)
        ctx.set(port.awlen, 3)
        ctx.set(port.awsize, 4)
        ctx.set(port.awburst, 1)
        ctx.set(port.wstrb, 0xFFFF)
        cycle = 0
        while answered < len(addresses):
            offering = issued < len(addresses) and issued - answered < HOST_OUTSTANDING
            ctx.set(port.awvalid, offering)
            if offering:
                ctx.set(port.awaddr, addresses[issued])
            sending = sent_lines < issued
            ctx.set(port.wvalid, sending)
            if sending:
                line = data_of(addresses[sent_lines])
                ctx.set(port.wdata, int.from_bytes(line[16 * beat:16 * beat + 16], "little"))
                ctx.set(port.wlast, beat == 3)
            _, _, awready, wready, bvalid = await ctx.tick().sample(
                port.awready, port.wready, port.bvalid)
            cycle += 1
            if offering and awready:
                start = cycle if start is None else start
                issued += 1
            if sending and wready:
                beat += 1
                if beat == 4:
                    beat = 0
                    sent_lines += 1
            if bvalid:
                answered += 1
        ctx.set(port.awvalid, 0)
        ctx.set(port.wvalid, 0)
        ctx.set(port.bready, 0)
        return cycle - start + 1


class _Control:
    """AXI4-Lite register accesses for :class:`~memcrypt.host.driver.AsyncDriver`."""

    def __init__(self, dut, ctx):
        self.bus = dut.s_axil
        self.ctx = ctx

    async def read(self, offset):
        bus, ctx = self.bus, self.ctx
        ctx.set(bus.araddr, offset)
        ctx.set(bus.arvalid, 1)
        await ctx.tick().until(bus.arready)
        ctx.set(bus.arvalid, 0)
        ctx.set(bus.rready, 1)
        data, = await ctx.tick().sample(bus.rdata).until(bus.rvalid)
        ctx.set(bus.rready, 0)
        return data

    async def write(self, offset, value):
        bus, ctx = self.bus, self.ctx
        ctx.set(bus.awaddr, offset)
        ctx.set(bus.wdata, value)
        ctx.set(bus.wstrb, 0xF)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        await ctx.tick().until(bus.awready & bus.wready)
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 1)
        await ctx.tick().until(bus.bvalid)
        ctx.set(bus.bready, 0)


def _line_data(address):
    return random.Random(address).randbytes(LINE_BYTES)


def measure(config: MemcryptConfig, latency: int, *, seed=1):
    """Every figure of the module docstring for one memory latency, as a dict."""
    from ..gateware.controller import Controller  # noqa: PLC0415
    dut = Controller(config)
    memory = _Memory(dut.m_axi, latency)
    host = _Host(dut)
    rng = random.Random(seed)
    cache_bytes = config.cache_ways * config.cache_sets * LINE_BYTES
    region = 4 * cache_bytes
    figures = {"latency": latency}

    async def entropy(ctx):
        ctx.set(dut.entropy.valid, 1)
        word = 0
        while True:
            word = (word * 1103515245 + 12345) & 0xFFFF_FFFF
            ctx.set(dut.entropy.data, word)
            await ctx.tick()

    async def testbench(ctx):
        await ctx.tick().until(dut.ready)
        control = _Control(dut, ctx)
        driver = AsyncDriver(control.read, control.write, config=config)
        await driver.set_key_direct(ENCRYPTED, *_KEY1)
        if 256 in config.key_sizes:
            await driver.set_key_direct(ENCRYPTED_256, *_KEY2)
        await driver.no_encrypt(PLAINTEXT)

        def lines(base, count, keyid):
            return [host.address(keyid, base + LINE_BYTES * i) for i in range(count)]

        async def one(address):
            _, firsts = await host.reads(ctx, [address], beats=1)
            return firsts[0]

        # Latencies: the cache starts empty.
        base = 0
        figures["clean miss"] = await one(host.address(ENCRYPTED, base))
        figures["hit"] = await one(host.address(ENCRYPTED, base))
        figures["clean miss, NO_ENCRYPT"] = await one(host.address(PLAINTEXT, base + 64))
        stride = config.cache_sets * LINE_BYTES
        set_lines = [base + 128 + stride * i for i in range(config.cache_ways + 1)]
        await host.writes(ctx, [host.address(ENCRYPTED, a) for a in set_lines[:-1]],
                          _line_data)
        figures["dirty miss"] = await one(host.address(ENCRYPTED, set_lines[-1]))
        figures["alias"] = await one(host.address(PLAINTEXT, set_lines[-1]))
        await driver.flush_all()

        # Bandwidths over four times the cache.
        count = region // LINE_BYTES
        random_lines = [rng.randrange(16 * count) * LINE_BYTES for _ in range(count)]
        for label, keyid in (("", ENCRYPTED), (", NO_ENCRYPT", PLAINTEXT)):
            offset = 0x100000 if keyid == PLAINTEXT else 0
            sequential = lines(offset, count, keyid)
            cycles, _ = await host.reads(ctx, sequential)
            figures[f"sequential read{label}"] = region / cycles
            cycles = await host.writes(ctx, sequential, _line_data)
            figures[f"sequential write{label}"] = region / cycles
            await driver.flush_all()
            shuffled = [host.address(keyid, offset + a) for a in random_lines]
            cycles, _ = await host.reads(ctx, shuffled)
            figures[f"random read{label}"] = region / cycles
            cycles = await host.writes(ctx, shuffled, _line_data)
            figures[f"random write{label}"] = region / cycles
            await driver.flush_all()
        alternating = [host.address(ENCRYPTED if i % 2 else ENCRYPTED_256 if 256 in
                                    config.key_sizes else PLAINTEXT,
                                    0x200000 + LINE_BYTES * i) for i in range(count)]
        cycles, _ = await host.reads(ctx, alternating)
        figures["sequential read, KeyIDs alternating"] = region / cycles
        await driver.flush_all()

        # A dirty page reused under a new KeyID.
        page = 0x300000
        page_lines = PAGE_BYTES // LINE_BYTES
        await host.writes(ctx, lines(page, page_lines, ENCRYPTED), _line_data)
        start = host.cycle
        await driver.flush_range(page, PAGE_BYTES)
        await host.writes(ctx, lines(page, page_lines, PLAINTEXT), _line_data)
        figures["page reuse, flush then write (MKTME)"] = host.cycle - start
        await host.writes(ctx, lines(page, page_lines, ENCRYPTED), _line_data)
        start = host.cycle
        await host.writes(ctx, lines(page, page_lines, PLAINTEXT), _line_data)
        figures["page reuse, write only (memcrypt)"] = host.cycle - start

    run_testbenches(dut, testbench, background=(entropy, memory.run, host._clock))
    return figures


LATENCY_ROWS = ("hit", "clean miss", "dirty miss", "alias", "clean miss, NO_ENCRYPT")
BANDWIDTH_ROWS = ("sequential read", "sequential write", "random read", "random write",
                  "sequential read, NO_ENCRYPT", "sequential write, NO_ENCRYPT",
                  "random read, NO_ENCRYPT", "random write, NO_ENCRYPT",
                  "sequential read, KeyIDs alternating")
PAGE_ROWS = ("page reuse, flush then write (MKTME)", "page reuse, write only (memcrypt)")


def format_report(results):
    """The table: one column per memory latency."""
    header = ("figure", *[f"memory {r['latency']} clk" for r in results])
    rows = []
    for name in LATENCY_ROWS:
        rows.append((f"{name} (clk)", *[str(r[name]) for r in results]))
    for name in BANDWIDTH_ROWS:
        rows.append((f"{name} (B/clk)", *[f"{r[name]:.2f}" for r in results]))
    for name in PAGE_ROWS:
        rows.append((f"{name} (clk)", *[str(r[name]) for r in results]))
    return text_table(header, rows)


def plot(results, path):
    """Bandwidth against memory latency, one line per workload, as a PNG."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415
    figure, axes = pyplot.subplots(figsize=(8, 5))
    latencies = [r["latency"] for r in results]
    for name in BANDWIDTH_ROWS:
        style = "--" if "NO_ENCRYPT" in name else "-"
        axes.plot(latencies, [r[name] for r in results], style, marker="o", label=name)
    axes.axhline(16, color="grey", linewidth=0.8)
    axes.text(latencies[0], 15.4, "memory port peak, 16 B/clk", color="grey", fontsize=8)
    axes.set_xlabel("memory latency (clock cycles)")
    axes.set_ylabel("bandwidth (bytes per clock)")
    axes.set_title("memcrypt controller: bandwidth against memory latency")
    axes.set_yscale("log")
    axes.legend(fontsize=7)
    axes.grid(True, which="both", linewidth=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def run_controller_bench(config_name="intel", latencies=DEFAULT_LATENCIES,
                         workdir=Path("build/bench"), echo=print, **overrides):
    """Measure every latency, print the table, write ``controller.json`` and
    ``controller_bandwidth.png`` into ``workdir``; returns the results."""
    config = preset(config_name)
    if overrides:
        config = replace(config, **overrides, name=f"{config.name} (modified)")
    results = []
    for latency in latencies:
        started = time.monotonic()
        echo(f"[controller {config.name}] memory latency {latency} clk: simulating ...")
        results.append(measure(config, latency))
        echo(f"[controller {config.name}] memory latency {latency} clk: done in "
             f"{time.monotonic() - started:.0f} s")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "controller.json").write_text(json.dumps(results, indent=2))
    png = workdir / "controller_bandwidth.png"
    plot(results, png)
    cache_kib = config.cache_ways * config.cache_sets * LINE_BYTES // 1024
    echo(f"controller, configuration {config.name}: {cache_kib} KiB cache "
         f"({config.cache_ways} ways x {config.cache_sets} sets), {config.engine} AES-XTS "
         f"engines {'/'.join(map(str, config.key_sizes))}; blocking: one host burst served "
         f"at a time, one line miss at a time")
    echo(format_report(results))
    echo(f"wrote {workdir / 'controller.json'} and {png}")
    return results


