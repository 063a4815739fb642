"""cocotb bench of the key-tagged cache's generated Verilog (``memcrypt generate --top
cache``), under Icarus Verilog and Verilator.

The Verilog top ``top`` is a :class:`memcrypt.gateware.cache.KeyTaggedCache`. The bench drives its
``req`` and ``maint`` streams and the key table's retire handshake, and models the memory
side: ``fill_req`` is answered on ``fill_resp`` with D_k(stored line), ``wb`` stores
E_k(line), both with random stalls (:mod:`memcrypt.model.memory`: an invertible
per-KeyID, per-line cipher stands in for AES-XTS). Every read is scored against an uncached
encrypted memory (:class:`~memcrypt.model.memory.Reference`), so the cache must be invisible
across KeyIDs: a read under k2 of a line written under k1 returns D_k2(E_k1(data)). At the
end a FLUSH_ALL must leave memory byte for byte equal to the reference.

Payloads are packed from the documented field order (``memcrypt generate`` prints it; see
:class:`memcrypt.gateware.interfaces.WordRequest` and the port table in the README), not from
the RTL; the event strobes are the top's ``events_*`` ports.

Parameters (``MEMCRYPT_BENCH_*``, set by ``tests/test_cocotb.py``): ``CONFIG`` and
``CONFIG_OVERRIDES`` (the :class:`~memcrypt.config.MemcryptConfig`), ``WAYS``, ``SETS``,
``COUNT`` (operations), ``SEED``, ``RESULTS``.
"""

import json
import os
from collections import Counter, deque
from dataclasses import replace

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from memcrypt.config import preset
from memcrypt.geometry import (
    LINE_BITS,
    LINE_BYTES,
    LINE_OFFSET_BITS,
    WORD_BITS,
    WORD_BYTES,
    WORD_OFFSET_BITS,
    WORDS_PER_LINE,
)
from memcrypt.model.memory import EncryptedMemory, Reference
from sim.bench_common import (
    CLOCK_PERIOD_NS,
    TRAFFIC,
    BenchConfig,
    PauseGenerator,
    StreamSink,
    StreamSource,
    StructPacker,
    record_results,
)

CONFIG = BenchConfig.from_env()
WAYS = int(os.environ.get("MEMCRYPT_BENCH_WAYS", "2"))
SETS = int(os.environ.get("MEMCRYPT_BENCH_SETS", "4"))
#: Cycles any one operation may take before the bench calls the cache stuck.
STUCK_CYCLES = 20_000
#: The event strobes, each a top-level port ``events_<name>``.
EVENTS = ("hit", "miss", "write_back", "alias_eviction", "line_flushed")
#: The documented encoding of the maintenance ``op`` field.
RETIRE_KEYID, FLUSH_ALL, FLUSH_RANGE = 0, 1, 2


def _memory_config():
    overrides = json.loads(os.environ.get("MEMCRYPT_BENCH_CONFIG_OVERRIDES", "{}"))
    base = preset(os.environ.get("MEMCRYPT_BENCH_CONFIG", "small"))
    return replace(base, **overrides) if overrides else base


MEMORY = _memory_config()
LINE_ADDRESS_BITS = MEMORY.line_address_bits
KEYID_BITS = MEMORY.keyid_bits
REQUEST = StructPacker([("address", MEMORY.stripped_bits), ("keyid", KEYID_BITS),
                        ("write", 1), ("strobe", WORD_BYTES), ("data", WORD_BITS)])
RESPONSE = StructPacker([("data", WORD_BITS), ("write", 1)])
FILL_REQUEST = StructPacker([("line", LINE_ADDRESS_BITS), ("keyid", KEYID_BITS)])
FILL_RESPONSE = StructPacker([("data", LINE_BITS)])
WRITE_BACK = StructPacker([("line", LINE_ADDRESS_BITS), ("keyid", KEYID_BITS),
                           ("data", LINE_BITS)])
MAINTENANCE = StructPacker([("op", 2), ("keyid", KEYID_BITS), ("start", LINE_ADDRESS_BITS),
                            ("end", LINE_ADDRESS_BITS + 1)])
DONE = StructPacker([("lines", (WAYS * SETS).bit_length())])


class CacheHarness:
    """The cache's ports, an encrypted memory behind it and the reference beside it."""

    def __init__(self, dut, rng):
        self.dut = dut
        self.rng = rng
        self.reference = Reference()
        self.memory = EncryptedMemory()        # what the memory behind the cache holds
        self.events = Counter()
        self.cycle = 0
        self.responses = deque()
        self.done = deque()
        source, sink = TRAFFIC["stalls"]
        self.req = StreamSource(dut, "req", dut.clk, rng.random())
        self.maint = StreamSource(dut, "maint", dut.clk, rng.random())
        self.fill_resp = StreamSource(dut, "fill_resp", dut.clk, rng.random())
        self.resp = StreamSink(dut, "resp", dut.clk, self.responses.append)
        self.maint_done = StreamSink(dut, "maint_done", dut.clk, self.done.append)
        self.fill_req = StreamSink(dut, "fill_req", dut.clk, self._fill)
        self.wb = StreamSink(dut, "wb", dut.clk, self._write_back)
        for port, probabilities in ((self.req, source), (self.maint, source),
                                    (self.fill_resp, source), (self.resp, sink),
                                    (self.maint_done, sink), (self.fill_req, sink),
                                    (self.wb, sink)):
            port.set_pause_generator(PauseGenerator(probabilities, rng.random()))

    def _fill(self, payload):
        fields = FILL_REQUEST.unpack(payload)
        plaintext = self.memory.fill(fields["line"], fields["keyid"])
        self.fill_resp.send(FILL_RESPONSE.pack(data=int.from_bytes(plaintext, "little")))

    def _write_back(self, payload):
        fields = WRITE_BACK.unpack(payload)
        self.memory.write_back(fields["line"], fields["keyid"],
                               fields["data"].to_bytes(LINE_BYTES, "little"))

    async def count_events(self):
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            self.cycle += 1
            for event in EVENTS:
                self.events[event] += int(getattr(self.dut, f"events_{event}").value)

    def start(self):
        for port in (self.req, self.maint, self.fill_resp, self.resp, self.maint_done,
                     self.fill_req, self.wb):
            cocotb.start_soon(port.run())
        cocotb.start_soon(self.count_events())

    async def reset(self):
        dut = self.dut
        dut.rst.value = 1
        dut.retire_valid.value = 0
        dut.retire_keyid.value = 0
        dut.retire_all.value = 0
        for _ in range(4):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await self.wait_for(lambda: int(dut.ready.value), "ready after reset")

    async def wait_for(self, condition, what):
        for _ in range(STUCK_CYCLES):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if condition():
                return
        raise AssertionError(f"cache stuck: no {what} within {STUCK_CYCLES} cycles")

    async def access(self, address, keyid, write=False, strobe=0xFFFF, data=bytes(WORD_BYTES)):
        self.req.send(REQUEST.pack(address=address, keyid=keyid, write=int(write),
                                   strobe=strobe, data=int.from_bytes(data, "little")))
        await self.wait_for(lambda: self.responses, f"response to {address:#x}")
        answer = RESPONSE.unpack(self.responses.popleft())
        assert answer["write"] == int(write), f"write bit of the response to {address:#x}"
        if write:
            self.reference.write(address, keyid, strobe, data)
            return True
        expected = self.reference.read(address, keyid)
        got = answer["data"].to_bytes(WORD_BYTES, "little")
        if got != expected:
            cocotb.log.error("read %#x under KeyID %d: %s, expected %s", address, keyid,
                             got.hex(), expected.hex())
        return got == expected

    async def maintain(self, op, keyid=0, start=0, end=0):
        self.maint.send(MAINTENANCE.pack(op=op, keyid=keyid, start=start, end=end))
        await self.wait_for(lambda: self.done, f"maint_done of op {op}")
        return DONE.unpack(self.done.popleft())["lines"]

    async def retire(self, keyid, every):
        dut = self.dut
        await RisingEdge(dut.clk)
        dut.retire_keyid.value = keyid
        dut.retire_all.value = int(every)
        dut.retire_valid.value = 1
        await self.wait_for(lambda: int(dut.retire_done.value), "retire_done")
        await RisingEdge(dut.clk)
        dut.retire_valid.value = 0


@cocotb.test()
async def random_aliased_traffic(dut):
    """Word reads and writes over three times as many lines as the cache holds, under four
    KeyIDs, with range flushes, flush-alls and retirements interleaved and random stalls on
    every handshake; every read against the reference, memory against it at the end."""
    rng = CONFIG.rng("cache", WAYS, SETS)
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())
    bench = CacheHarness(dut, rng)
    bench.start()
    await bench.reset()
    lines = list(range(3 * WAYS * SETS))
    keyids = list(range(1, 5))
    counts = Counter()
    mismatches = 0
    for _ in range(CONFIG.count):
        choice = rng.random()
        if choice < 0.9:
            address = (rng.choice(lines) << LINE_OFFSET_BITS
                       | rng.randrange(WORDS_PER_LINE) << WORD_OFFSET_BITS)
            keyid = rng.choice(keyids)
            write = rng.random() < 0.45
            strobe = rng.getrandbits(WORD_BYTES) if rng.random() < 0.3 else 0xFFFF
            ok = await bench.access(address, keyid, write, strobe, rng.randbytes(WORD_BYTES))
            mismatches += not ok
            counts["writes" if write else "reads"] += 1
        elif choice < 0.94:
            start = rng.choice(lines)
            end = start + rng.randrange(0, 4)
            await bench.maintain(FLUSH_RANGE, start=start, end=end)
            counts["range flushes"] += 1
        elif choice < 0.96:
            await bench.maintain(FLUSH_ALL)
            counts["flush-alls"] += 1
        else:
            await bench.retire(rng.choice(keyids), every=rng.random() < 0.2)
            counts["retirements"] += 1
    flushed = await bench.maintain(FLUSH_ALL)
    memory_mismatches = sum(bench.memory.ciphertext(line) !=
                            bench.reference.memory.ciphertext(line) for line in lines)
    protocol = (bench.resp.protocol_errors + bench.maint_done.protocol_errors +
                bench.fill_req.protocol_errors + bench.wb.protocol_errors)
    accesses = counts["reads"] + counts["writes"]
    summary = (f"cache {WAYS}x{SETS}: {accesses} accesses ({counts['reads']} reads, "
               f"{counts['writes']} writes), {bench.events['alias_eviction']} alias "
               f"evictions, {bench.events['write_back']} write-backs, "
               f"{bench.events['line_flushed']} lines flushed by "
               f"{counts['range flushes'] + counts['flush-alls'] + counts['retirements']} "
               f"maintenance operations and retirements; {mismatches} read mismatches, "
               f"{memory_mismatches} memory mismatches, {len(protocol)} protocol errors, "
               f"{bench.cycle} cycles")
    record_results(CONFIG, "random_aliased_traffic", summary, accesses=accesses,
                   reads=counts["reads"], writes=counts["writes"],
                   range_flushes=counts["range flushes"], flush_alls=counts["flush-alls"],
                   retirements=counts["retirements"], final_flush_lines=flushed,
                   mismatches=mismatches, memory_mismatches=memory_mismatches,
                   protocol_errors=len(protocol), stalled_responses=bench.resp.held_back,
                   stalled_fill_requests=bench.fill_req.held_back,
                   stalled_write_backs=bench.wb.held_back, cycles=bench.cycle,
                   **{event: bench.events[event] for event in EVENTS})
    assert not protocol, protocol[:5]
    assert mismatches == 0 and memory_mismatches == 0
