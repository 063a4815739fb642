"""``memcrypt bench controller``: the controller's latencies and bandwidths, in simulation.

The top (:class:`memcrypt.gateware.controller.Controller`) runs in the Amaranth simulator
between a host that keeps up to ``HOST_OUTSTANDING`` bursts in flight on ``s_axi`` and a
memory on ``m_axi`` that answers each read burst ``latency`` cycles after taking it and
each write burst ``latency`` cycles after its last beat, accepting every beat at once
(:class:`~memcrypt.flow.controller_sim.SimMemory`). The key table is programmed through
``s_axil`` as software would (:class:`memcrypt.host.driver.AsyncDriver`): KeyID 1
AES-XTS-128, KeyID 2 AES-XTS-256, KeyID 3 NO_ENCRYPT.

Measured, for each memory latency:

* **latency** (cycles from the AR handshake to the first R beat of a one-beat read): a hit,
  a clean miss, a dirty miss (the victim written back first), an alias (the line cached
  dirty under another keyed KeyID: written back, answered by memory, then filled), and a
  clean miss under the NO_ENCRYPT KeyID (what encryption adds);
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
from dataclasses import replace
from pathlib import Path

from ..config import MemcryptConfig, preset
from ..geometry import LINE_BYTES
from ..host.driver import AsyncDriver
from .controller_sim import SimControl, SimHost, SimMemory
from .simulation import run_testbenches
from .table import text_table

__all__ = ["run_controller_bench", "DEFAULT_LATENCIES"]

#: Memory latencies (cycles) of the default run.
DEFAULT_LATENCIES = (4, 16, 64)
PAGE_BYTES = 4096
ENCRYPTED, ENCRYPTED_256, PLAINTEXT = 1, 2, 3
_KEY1 = bytes(range(16)), bytes(range(16, 32))
_KEY2 = bytes(range(32, 64)), bytes(range(64, 96))


def _line_data(address):
    return random.Random(address).randbytes(LINE_BYTES)


def measure(config: MemcryptConfig, latency: int, *, seed=1, echo=print):
    """Every figure of the module docstring for one memory latency, as a dict (progress
    lines go to ``echo``)."""
    from ..gateware.controller import Controller  # noqa: PLC0415
    dut = Controller(config)
    memory = SimMemory(dut.m_axi, latency)
    host = SimHost(dut)
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
        control = SimControl(dut, ctx)
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
        # The line just read is cached clean under ENCRYPTED; make it dirty, then read it
        # under another encrypted KeyID: written back, answered, filled again.
        await host.writes(ctx, [host.address(ENCRYPTED, set_lines[-1])], _line_data)
        other = ENCRYPTED_256 if 256 in config.key_sizes else PLAINTEXT
        figures["alias"] = await one(host.address(other, set_lines[-1]))
        await driver.flush_all()

        echo(f"  latencies done at cycle {host.cycle}")
        # Bandwidths over four times the cache.
        count = region // LINE_BYTES
        span = 16 * region                  # random lines fall in 16 times the region
        random_lines = [rng.randrange(16 * count) * LINE_BYTES for _ in range(count)]
        for label, keyid in (("", ENCRYPTED), (", NO_ENCRYPT", PLAINTEXT)):
            offset = span if keyid == PLAINTEXT else 0
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
            echo(f"  bandwidths{label or ', encrypted'} done at cycle {host.cycle}")
        alternating = [host.address(ENCRYPTED if i % 2 else ENCRYPTED_256 if 256 in
                                    config.key_sizes else PLAINTEXT,
                                    2 * span + LINE_BYTES * i) for i in range(count)]
        cycles, _ = await host.reads(ctx, alternating)
        figures["sequential read, KeyIDs alternating"] = region / cycles
        await driver.flush_all()

        # A dirty page reused under a new KeyID.
        page = 3 * span
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

    run_testbenches(dut, testbench, background=(entropy, memory.run, host.count_cycles))
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


#: The simulated cache: the preset's ways with this many sets (1 KiB for the Intel preset),
#: so that the bandwidth runs (four times the cache) take minutes in the Amaranth
#: simulator; a blocking cache's streaming figures do not depend on its size.
SIMULATED_CACHE_SETS = 4


def run_controller_bench(config_name="intel", latencies=DEFAULT_LATENCIES,
                         workdir=Path("build/bench"), echo=print, **overrides):
    """Measure every latency, print the table, write ``controller.json`` and
    ``controller_bandwidth.png`` into ``workdir``; returns the results."""
    config = preset(config_name)
    overrides = {"cache_sets": SIMULATED_CACHE_SETS, **overrides}
    if overrides:
        config = replace(config, **overrides, name=f"{config.name} (modified)")
    results = []
    for latency in latencies:
        started = time.monotonic()
        echo(f"[controller {config.name}] memory latency {latency} clk: simulating ...")
        results.append(measure(config, latency, echo=echo))
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


