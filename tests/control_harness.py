"""Amaranth-simulator harness for :class:`memcrypt.gateware.control.KeyControl`.

Around the design: an AXI4-Lite manager with random stalls, the register driver
(:mod:`memcrypt.host.driver`) on top of it, a hardware entropy source whose words are recorded,
a cache stand-in that answers retire requests after a chosen delay and records them, and a
key-table lookup helper. Background processes poll with plain ticks (no ``until``) so that
they can be dropped at the end of the simulation.
"""

import random
from dataclasses import dataclass, field

from axil_sim import AXI4LiteManager

from memcrypt.flow.simulation import run_testbenches
from memcrypt.gateware.control import KeyControl
from memcrypt.gateware.keytable import LOOKUP_LATENCY
from memcrypt.host.driver import AsyncDriver
from memcrypt.regmap import register_map

__all__ = ["ControlHarness", "Retirement", "run_control"]


@dataclass
class Retirement:
    keyid: int
    all: bool
    started: int        # cycle
    completed: int = -1


@dataclass
class ControlHarness:
    dut: KeyControl
    entropy_seed: int = 1
    entropy_enabled: bool = True
    retire_delay: int = 3
    stall: float = 0.3
    entropy_words: list = field(default_factory=list)
    retirements: list = field(default_factory=list)
    cycle: int = 0

    def __post_init__(self):
        self.config = self.dut.config
        self.regmap = register_map(self.config)
        self._entropy_rng = random.Random(self.entropy_seed)

    # -- background processes --------------------------------------------------------------

    async def _clock(self, ctx):
        while True:
            await ctx.tick()
            self.cycle += 1

    async def _entropy(self, ctx):
        dut = self.dut
        word = self._entropy_rng.getrandbits(32)
        while True:
            ctx.set(dut.entropy.valid, self.entropy_enabled)
            ctx.set(dut.entropy.data, word)
            _, _, valid, ready = await ctx.tick().sample(dut.entropy.valid, dut.entropy.ready)
            if valid and ready:
                self.entropy_words.append(word)
                word = self._entropy_rng.getrandbits(32)

    async def _retire(self, ctx):
        retire = self.dut.retire
        while True:
            _, _, valid, keyid, every = await ctx.tick().sample(
                retire.valid, retire.keyid, retire.all)
            if not valid:
                continue
            record = Retirement(keyid, bool(every), self.cycle)
            self.retirements.append(record)
            for _ in range(self.retire_delay):
                _, _, still = await ctx.tick().sample(retire.valid)
                assert still, "retire.valid fell before retire.done"
            ctx.set(retire.done, 1)
            await ctx.tick()
            ctx.set(retire.done, 0)
            record.completed = self.cycle

    # -- helpers for the testbench ----------------------------------------------------------

    def driver(self, ctx, seed=0):
        bus = AXI4LiteManager(self.dut, stall_probability=self.stall, seed=seed)
        self.bus = bus

        async def read(offset):
            data, resp = await bus.read(ctx, offset)
            assert resp == 0, f"SLVERR reading {offset:#x}"
            return data

        async def write(offset, value):
            resp = await bus.write(ctx, offset, value)
            assert resp == 0, f"SLVERR writing {offset:#x}"

        return AsyncDriver(read, write, config=self.config)

    async def lookup(self, ctx, keyid):
        """The key table's answer for ``keyid``: (mode, aes256, data, tweak, decrypt key,
        invalid)."""
        lookup = self.dut.lookup
        ctx.set(lookup.keyid, keyid)
        ctx.set(lookup.valid, 1)
        await ctx.tick()
        ctx.set(lookup.valid, 0)
        for _ in range(LOOKUP_LATENCY - 1):
            await ctx.tick()
        assert ctx.get(lookup.result_valid) and ctx.get(lookup.result_keyid) == keyid
        result = lookup.result
        return (ctx.get(result.mode), ctx.get(result.aes256), ctx.get(result.data_key),
                ctx.get(result.tweak_key), ctx.get(result.decrypt_key),
                ctx.get(lookup.result_invalid))


def run_control(harness, testbench, *, root=None, background=(), vcd=None):
    """Run ``testbench(ctx)`` against the harness's design to its end (``root``: the
    design's elaborated fragment, for a white-box test that reads its registers;
    ``background``: more processes that may run forever)."""
    run_testbenches(root if root is not None else harness.dut, testbench,
                    background=(harness._clock, harness._entropy, harness._retire,
                                *background), vcd=vcd)
