"""The key-tagged cache (memcrypt.gateware.cache) in the Amaranth simulator: random traffic rich in
KeyID aliases against the reference semantics of memcrypt.model.memory, with random stalls
on every handshake, maintenance operations, and directed tests of each transition.

What is checked, every run: every read returns what an uncached encrypted memory would
(D_k of the line as last written, whatever KeyID wrote it); after a flush, the memory
behind the cache equals the reference byte for byte; after "retire KeyID k", no line of k
is left (a read under k misses) and every dirty line of k has reached memory.
"""

import random
from collections import Counter, deque

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import wiring
from axil_sim import AXI4LiteManager
from streams import StallPattern, stream_get, stream_put

from memcrypt.config import MemcryptConfig
from memcrypt.flow.simulation import run_testbenches
from memcrypt.gateware.cache import KeyTaggedCache
from memcrypt.gateware.control import KeyControl
from memcrypt.gateware.interfaces import CACHE_EVENT_COUNTERS, MaintOp
from memcrypt.geometry import (
    LINE_BYTES,
    LINE_OFFSET_BITS,
    WORD_BYTES,
    WORD_OFFSET_BITS,
    WORDS_PER_LINE,
)
from memcrypt.host.driver import AsyncDriver
from memcrypt.model.memory import EncryptedMemory, Reference
from memcrypt.regmap import Status

CONFIG = MemcryptConfig(phys_addr_bits=24, keyid_bits=4, num_keys=16, mem_bytes=1 << 20,
                        key_sizes=(128,))
EVENTS = tuple(CACHE_EVENT_COUNTERS)


class CacheBench:
    """The cache between a testbench and an encrypted memory with random stalls."""

    def __init__(self, ways, sets, stall=0.3, seed=0, config=CONFIG):
        self.dut = KeyTaggedCache(config, ways=ways, sets=sets)
        self.memory = EncryptedMemory()
        self.reference = Reference()
        self.events = Counter()
        self.stall = StallPattern(stall, seed + 100)
        self.fills = deque()
        self.hold_write_backs = 0    # cycles for which memory will not take a write-back

    async def memory_side(self, ctx):
        dut = self.dut
        offered = None
        while True:
            holding = self.hold_write_backs > 0
            self.hold_write_backs -= holding
            ctx.set(dut.wb.ready, not holding and not self.stall.stall())
            ctx.set(dut.fill_req.ready, not self.stall.stall())
            if offered is None and self.fills and not self.stall.stall():
                offered = self.fills.popleft()
                ctx.set(dut.fill_resp.payload.data, int.from_bytes(offered, "little"))
                ctx.set(dut.fill_resp.valid, 1)
            sampled = await ctx.tick().sample(
                dut.wb.valid, dut.wb.ready, dut.wb.payload.line, dut.wb.payload.keyid,
                dut.wb.payload.data, dut.fill_req.valid, dut.fill_req.ready,
                dut.fill_req.payload.line, dut.fill_req.payload.keyid,
                dut.fill_resp.valid, dut.fill_resp.ready,
                *(getattr(dut.events, event) for event in EVENTS))
            (wb_valid, wb_ready, wb_line, wb_keyid, wb_data, fill_valid, fill_ready,
             fill_line, fill_keyid, resp_valid, resp_ready) = sampled[2:13]
            for event, value in zip(EVENTS, sampled[13:], strict=True):
                self.events[event] += value
            if wb_valid and wb_ready:
                self.memory.write_back(wb_line, wb_keyid, wb_data.to_bytes(LINE_BYTES, "little"))
            if fill_valid and fill_ready:
                self.fills.append(self.memory.fill(fill_line, fill_keyid))
            if resp_valid and resp_ready:
                offered = None
                ctx.set(dut.fill_resp.valid, 0)

    async def access(self, ctx, address, keyid, write=False, strobe=0xFFFF,
                     data=bytes(WORD_BYTES)):
        payload = {"address": address, "keyid": keyid, "write": int(write),
                   "strobe": strobe, "data": int.from_bytes(data, "little")}
        await stream_put(ctx, self.dut.req, payload, self.stall)
        value, was_write = await stream_get(ctx, self.dut.resp, ("data", "write"), self.stall)
        assert was_write == int(write)
        if write:
            self.reference.write(address, keyid, strobe, data)
        else:
            expected = self.reference.read(address, keyid)
            assert value.to_bytes(WORD_BYTES, "little") == expected, (
                f"read {address:#x} under KeyID {keyid}")
        return value

    async def maintain(self, ctx, op, keyid=0, start=0, end=0):
        await stream_put(ctx, self.dut.maint,
                         {"op": op, "keyid": keyid, "start": start, "end": end}, self.stall)
        (lines,) = await stream_get(ctx, self.dut.maint_done, ("lines",), self.stall)
        return lines

    async def retire(self, ctx, keyid, every=False):
        retire = self.dut.retire
        ctx.set(retire.keyid, keyid)
        ctx.set(retire.all, every)
        ctx.set(retire.valid, 1)
        cycles = 0
        while True:
            _, _, done = await ctx.tick().sample(retire.done)
            cycles += 1
            if done:
                break
        ctx.set(retire.valid, 0)
        return cycles

    def memory_matches_reference(self, lines):
        for line in lines:
            assert self.memory.ciphertext(line) == self.reference.memory.ciphertext(line), \
                f"line {line:#x}"

    def run(self, testbench, root=None, background=()):
        async def main(ctx):
            await testbench(ctx, self)
        run_testbenches(root if root is not None else self.dut, main,
                        background=(self.memory_side, *background))


@pytest.mark.parametrize("ways, sets", [(1, 4), (2, 4), (3, 2), (4, 2), (8, 1)])
def test_random_aliased_traffic(ways, sets):
    rng = random.Random(ways * 10 + sets)
    lines = list(range(3 * ways * sets))       # more lines than the cache holds
    keyids = [0, 1, 2, 5]
    bench = CacheBench(ways, sets, seed=ways)
    stats = Counter()
    owner = {line: rng.choice(keyids) for line in lines}    # most accesses use the owner

    async def testbench(ctx, bench):
        for _ in range(600):
            line = rng.choice(lines)
            address = (line << LINE_OFFSET_BITS
                       | rng.randrange(WORDS_PER_LINE) << WORD_OFFSET_BITS)
            keyid = owner[line] if rng.random() < 0.8 else rng.choice(keyids)
            roll = rng.random()
            if roll < 0.45:
                strobe = rng.choice([0xFFFF, rng.getrandbits(16)])
                await bench.access(ctx, address, keyid, True, strobe, rng.randbytes(16))
                stats["writes"] += 1
            elif roll < 0.95:
                await bench.access(ctx, address, keyid)
                stats["reads"] += 1
            elif roll < 0.97:
                retired = rng.choice(keyids)
                await bench.retire(ctx, retired)
                stats["retires"] += 1
            elif roll < 0.99:
                start = rng.choice(lines)
                await bench.maintain(ctx, MaintOp.FLUSH_RANGE, start=start,
                                     end=start + rng.randrange(1, 5))
                stats["range flushes"] += 1
            else:
                await bench.maintain(ctx, MaintOp.FLUSH_ALL)
                stats["flush alls"] += 1
        await bench.maintain(ctx, MaintOp.FLUSH_ALL)
        bench.memory_matches_reference(lines)

    bench.run(testbench)
    print(f"{ways} ways x {sets} sets: {dict(stats)}, events {dict(bench.events)}")
    assert stats["reads"] > 200 and stats["writes"] > 200
    assert bench.events["hit"] > 100 and bench.events["alias_eviction"] > 20
    assert bench.events["line_flushed"] > 0 and bench.events["write_back"] > 50


def test_alias_is_written_back_and_refilled_under_the_new_keyid():
    bench = CacheBench(2, 4, stall=0.0)

    async def testbench(ctx, bench):
        data = bytes(range(16))
        await bench.access(ctx, 0x1040, 3, True, 0xFFFF, data)    # miss, fill under 3
        await bench.access(ctx, 0x1040, 3)                         # hit
        assert bench.memory.write_backs == 0
        value = await bench.access(ctx, 0x1040, 7)                 # alias: write back, refill
        assert bench.memory.write_backs == 1
        assert value.to_bytes(16, "little") != data                # D_7(E_3(data))
        await bench.access(ctx, 0x1040, 3)                         # alias again (clean)
        assert bench.memory.write_backs == 1

    bench.run(testbench)
    assert bench.events["alias_eviction"] == 2
    assert bench.events["miss"] == 3 and bench.events["hit"] == 1


def test_retire_writes_back_and_invalidates_only_that_keyid():
    bench = CacheBench(4, 4, stall=0.2, seed=3)

    async def testbench(ctx, bench):
        for line in range(8):
            await bench.access(ctx, line * LINE_BYTES, 2 if line % 2 else 9, True, 0x00FF,
                               bytes([line] * 16))
        written = bench.memory.write_backs
        await bench.retire(ctx, 2)
        assert bench.memory.write_backs == written + 4            # the four lines of KeyID 2
        bench.memory_matches_reference(range(1, 8, 2))
        misses = bench.events["miss"]
        for line in range(1, 8, 2):
            await bench.access(ctx, line * LINE_BYTES, 2)           # gone: each one misses
        assert bench.events["miss"] == misses + 4
        hits = bench.events["hit"]
        for line in range(0, 8, 2):
            await bench.access(ctx, line * LINE_BYTES, 9)           # KeyID 9 untouched
        assert bench.events["hit"] == hits + 4
        await bench.retire(ctx, 0, every=True)
        bench.memory_matches_reference(range(8))

    bench.run(testbench)


def test_range_flush_and_empty_range():
    bench = CacheBench(2, 8, stall=0.0)

    async def testbench(ctx, bench):
        for line in range(16):
            await bench.access(ctx, line * LINE_BYTES, line % 3, True, 0xFFFF, bytes([line] * 16))
        assert await bench.maintain(ctx, MaintOp.FLUSH_RANGE, start=4, end=4) == 0
        flushed = await bench.maintain(ctx, MaintOp.FLUSH_RANGE, start=2, end=6)
        assert flushed == 4
        bench.memory_matches_reference(range(2, 6))
        assert await bench.maintain(ctx, MaintOp.FLUSH_RANGE, start=2, end=6) == 0
        assert await bench.maintain(ctx, MaintOp.RETIRE_KEYID, keyid=1) == 4
        assert await bench.maintain(ctx, MaintOp.FLUSH_ALL) == 16 - 4 - 4

    bench.run(testbench)


@pytest.mark.parametrize("kwargs, message", [
    (dict(ways=0), "ways must be an integer from 1 to 8"),
    (dict(ways=9), "ways must be an integer from 1 to 8"),
    (dict(sets=3), "sets must be a power of two"),
    (dict(sets=0), "sets must be a power of two"),
    (dict(sets=1 << 15), "exceed the 16384 lines"),
])
def test_bad_geometry_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeyTaggedCache(CONFIG, **kwargs)


class _ControlWithCache(Elaboratable):
    """The key table's retire handshake and performance events wired to the cache, as the
    controller wires them."""

    def __init__(self, control, cache):
        self.control, self.cache = control, cache

    def elaborate(self, platform):
        m = Module()
        m.submodules.control, m.submodules.cache = self.control, self.cache
        wiring.connect(m, self.control.retire, self.cache.retire)
        wiring.connect(m, self.cache.events, self.control.events.cache)
        return m


def test_programming_a_key_retires_its_lines_through_the_cache():
    """SET_KEY_DIRECT on KeyID 3 makes the cache write back and drop KeyID 3's lines
    before the table changes; STATUS reads DEVICE_BUSY until then. The cache's events
    reach the control block's performance counters, read back through the driver."""
    config = MemcryptConfig(phys_addr_bits=24, keyid_bits=4, num_keys=16, mem_bytes=1 << 20,
                            key_sizes=(128,))
    bench = CacheBench(2, 4, stall=0.2, seed=9, config=config)
    control = KeyControl(config)
    top = _ControlWithCache(control, bench.dut)
    rng = random.Random(4)

    async def entropy(ctx):
        ctx.set(control.entropy.valid, 1)
        while True:
            ctx.set(control.entropy.data, rng.getrandbits(32))
            await ctx.tick()

    async def testbench(ctx, bench):
        manager = AXI4LiteManager(control, stall_probability=0.2, seed=2)

        async def read(offset):
            return (await manager.read(ctx, offset))[0]

        async def write(offset, value):
            assert await manager.write(ctx, offset, value) == 0

        driver = AsyncDriver(read, write, config=config)
        await driver.wait_ready()
        for line in range(6):
            await bench.access(ctx, line * LINE_BYTES, 3 if line < 4 else 8, True, 0xFFFF,
                               bytes([line + 1] * 16))
        written = bench.memory.write_backs
        flushed = bench.events["line_flushed"]
        assert await driver.set_key_direct(3, bytes(16), bytes(16)) == Status.PROG_SUCCESS
        # KeyID 3's lines still cached (2 ways x 4 sets hold all six) were written back.
        assert bench.events["line_flushed"] - flushed == 4
        assert bench.memory.write_backs - written == 4
        bench.memory_matches_reference(range(4))
        hits = bench.events["hit"]
        await bench.access(ctx, 4 * LINE_BYTES, 8)       # KeyID 8 untouched
        assert bench.events["hit"] == hits + 1
        counters = await driver.perf_counters()
        for strobe, event in CACHE_EVENT_COUNTERS.items():
            assert counters[event] == bench.events[strobe], (event, counters)
        assert counters["cache_misses"] == 6 and counters["lines_flushed"] == 4
        assert counters["keys_programmed"] == 1

    bench.run(testbench, root=top, background=(entropy,))


class _ResettableCache(Elaboratable):
    """The cache in a ``sync`` domain whose reset the testbench drives through ``reset``."""

    def __init__(self, cache):
        self.cache = cache
        self.reset = Signal()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = domain = ClockDomain("sync")
        m.d.comb += domain.rst.eq(self.reset)
        m.submodules.cache = self.cache
        return m


def test_reset_sweep_invalidates_every_line():
    """A reset in the middle of traffic leaves no line valid, whatever the memories hold:
    ``ready`` is low for one cycle per set, then every read misses and returns what memory
    holds (the dirty data cached before the reset is gone, as with any reset), and nothing
    cached before the reset is ever written back."""
    bench = CacheBench(2, 4, stall=0.0)

    async def testbench(ctx, bench):
        dut = bench.dut
        while not ctx.get(dut.ready):
            await ctx.tick()
        addresses = [line * LINE_BYTES for line in range(8)]    # fills the 2 x 4 cache
        for address in addresses:
            await bench.access(ctx, address, 1 + address % 3, True, 0xFFFF, bytes([7] * 16))
        write_backs = bench.memory.write_backs
        ctx.set(top.reset, 1)
        await ctx.tick()
        ctx.set(top.reset, 0)
        cycles = 0
        while not ctx.get(dut.ready):
            await ctx.tick()
            cycles += 1
        assert cycles == 4
        bench.reference = Reference()                          # memory's view, all lost
        bench.reference.memory.lines = dict(bench.memory.lines)
        misses, hits = bench.events["miss"], bench.events["hit"]
        for address in addresses:
            await bench.access(ctx, address, 1 + address % 3)
        assert bench.events["miss"] - misses == len(addresses)
        assert bench.events["hit"] == hits
        assert await bench.maintain(ctx, MaintOp.FLUSH_ALL) == len(addresses)
        assert bench.memory.write_backs == write_backs         # only clean lines, refilled

    top = _ResettableCache(bench.dut)
    bench.run(testbench, root=top)


EXPECTED_TRANSITIONS = {
    ("INIT", "IDLE"),
    ("IDLE", "TAG_READ"), ("TAG_READ", "LOOKUP"), ("LOOKUP", "RESPOND"), ("RESPOND", "IDLE"),
    ("LOOKUP", "FILL"), ("LOOKUP", "EVICT"), ("LOOKUP", "WAIT_WB"), ("WAIT_WB", "EVICT"),
    ("EVICT", "FILL"), ("FILL", "FILL_WAIT"), ("FILL_WAIT", "REFILL"), ("REFILL", "REPLAY"),
    ("REPLAY", "TAG_READ"),
    ("IDLE", "SCAN_READ"), ("SCAN_READ", "SCAN_TAG"), ("SCAN_TAG", "SCAN_CHECK"),
    ("SCAN_CHECK", "SCAN_READ"),
    ("SCAN_CHECK", "SCAN_EVICT"), ("SCAN_CHECK", "SCAN_WAIT_WB"), ("SCAN_WAIT_WB", "SCAN_EVICT"),
    ("SCAN_EVICT", "SCAN_READ"), ("SCAN_CHECK", "SCAN_DRAIN"), ("SCAN_DRAIN", "SCAN_DONE"),
    ("SCAN_DONE", "IDLE"), ("IDLE", "SCAN_DONE"),
}


def test_directed_scenarios_take_every_transition():
    """Each scenario below drives one path of the state diagram; together they take every
    transition, including the waits for a memory that is slow to take a write-back."""
    bench = CacheBench(1, 2, stall=0.0)
    seen = set()

    async def watch(ctx):
        fsm = bench.dut.fsm
        previous = None
        while True:
            _, _, state = await ctx.tick().sample(fsm.state)
            name = fsm.decoding[state]
            if previous is not None and name != previous:
                seen.add((previous, name))
            previous = name

    async def testbench(ctx, bench):
        dirty = bytes(range(16))
        await bench.access(ctx, 0x000, 1)                         # clean miss: fill
        await bench.access(ctx, 0x000, 1, True, 0x0001, dirty)    # write hit
        await bench.access(ctx, 0x080, 1)                         # dirty victim: evict
        await bench.access(ctx, 0x080, 2, True, 0xFFFF, dirty)    # alias (clean): fill
        # A dirty victim while memory still holds back the previous write-back.
        bench.hold_write_backs = 80
        await bench.access(ctx, 0x000, 2, True, 0xFFFF, dirty)    # evicts 0x080 (held)
        await bench.access(ctx, 0x080, 2)                         # victim 0x000 dirty: waits
        await bench.maintain(ctx, MaintOp.FLUSH_RANGE, start=5, end=5)    # empty range
        await bench.access(ctx, 0x040, 3, True, 0xFFFF, dirty)    # set 1, dirty
        await bench.access(ctx, 0x080, 3, True, 0xFFFF, dirty)    # set 0, dirty
        bench.hold_write_backs = 40                               # the scan waits on it
        assert await bench.maintain(ctx, MaintOp.FLUSH_ALL) == 2
        await bench.access(ctx, 0x000, 4, True, 0xFFFF, dirty)
        await bench.retire(ctx, 4)
        bench.memory_matches_reference(range(4))

    bench.run(testbench, background=(watch,))
    assert EXPECTED_TRANSITIONS <= seen, sorted(EXPECTED_TRANSITIONS - seen)
    assert seen <= EXPECTED_TRANSITIONS, sorted(seen - EXPECTED_TRANSITIONS)
