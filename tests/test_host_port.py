# amaranth: UnusedElaboratable=no
"""The host port alone (:class:`memcrypt.gateware.host_port.AXI4HostPort`) in the Amaranth
simulator: every beat of random INCR, WRAP and FIXED bursts, narrow and unaligned, reaches
the cache side at the address and with the byte lanes AMBA gives it (ARM IHI 0022E A3.4,
computed here independently), and refused bursts never reach it."""

import random
from dataclasses import replace

import pytest

from memcrypt.config import preset
from memcrypt.flow.simulation import run_testbenches
from memcrypt.gateware.host_port import AXI4HostPort
from memcrypt.gateware.interfaces import Burst, Response
from memcrypt.regmap import FaultKind

CONFIG = replace(preset("small"), mem_bytes=1 << 16)
FIXED, INCR, WRAP = Burst.FIXED.value, Burst.INCR.value, Burst.WRAP.value


def beats(address, length, size, burst):
    """(address, lanes) of each beat: IHI 0022E A3.4.1 and A3.4.2."""
    number = 1 << size
    aligned = address // number * number
    wrap_bytes = number * length
    lower = address // wrap_bytes * wrap_bytes
    result = []
    current = address
    for _ in range(length):
        start = current % 16
        end = (current // number * number) % 16 + number
        result.append((current, sum(1 << lane for lane in range(start, end))))
        if burst == INCR:
            current = current // number * number + number
        elif burst == WRAP:
            current = current // number * number + number
            if current >= lower + wrap_bytes:
                current = lower
    assert burst != FIXED or all(a == address for a, _ in result)
    assert aligned <= address
    return result


def random_burst(rng):
    burst = rng.choice((FIXED, INCR, INCR, WRAP))
    size = rng.randrange(5)
    if burst == WRAP:
        length = rng.choice((2, 4, 8, 16))
        address = rng.randrange(0, 1 << 15) // (1 << size) * (1 << size)
    else:
        length = rng.randrange(1, 17 if burst == FIXED else 40)
        address = rng.randrange(0, 1 << 15)
        if burst == INCR:      # stay inside a 4 KiB page
            last = address // (1 << size) * (1 << size) + length * (1 << size) - 1
            if last // 4096 != address // 4096:
                address = address // 4096 * 4096
    return burst, size, length, address


def run_bursts(bursts, config=CONFIG):
    """Drive ``bursts`` ((write, address, length, size, burst, keyid)) through a host port
    whose cache side answers every request at once; returns (requests seen, responses,
    faults)."""
    dut = AXI4HostPort(config)
    seen, responses, faults = [], [], []

    async def cache(ctx):
        ctx.set(dut.req.ready, 1)
        while True:
            _, _, valid, payload = await ctx.tick().sample(dut.req.valid, dut.req.payload)
            if valid:
                seen.append((payload.address, payload.keyid, payload.write, payload.strobe))
                ctx.set(dut.resp.valid, 1)
                ctx.set(dut.resp.payload.data, payload.address)
                ctx.set(dut.resp.payload.write, payload.write)
                await ctx.tick().until(dut.resp.ready)
                ctx.set(dut.resp.valid, 0)

    async def fault_log(ctx):
        ctx.set(dut.fault.ready, 1)
        while True:
            _, _, valid, record = await ctx.tick().sample(dut.fault.valid, dut.fault.record)
            if valid:
                faults.append((record.address, record.keyid, record.kind, record.write))

    async def host(ctx):
        axi = dut.s_axi
        ctx.set(dut.enable, 1)
        for write, address, length, size, burst, keyid in bursts:
            physical = config.join(keyid, address)
            prefix = "aw" if write else "ar"
            for name, value in (("addr", physical), ("len", length - 1), ("size", size),
                                ("id", 5), ("valid", 1)):
                ctx.set(getattr(axi, prefix + name), value)
            # As a raw value: AxBURST 0b11 is reserved, no member of Burst.
            ctx.set(getattr(axi, prefix + "burst").as_value(), burst)
            await ctx.tick().until(getattr(axi, prefix + "ready"))
            ctx.set(getattr(axi, prefix + "valid"), 0)
            if write:
                for beat in range(length):
                    ctx.set(axi.wdata, beat)
                    ctx.set(axi.wstrb, 0xFFFF)
                    ctx.set(axi.wlast, beat == length - 1)
                    ctx.set(axi.wvalid, 1)
                    await ctx.tick().until(axi.wready)
                ctx.set(axi.wvalid, 0)
                ctx.set(axi.bready, 1)
                bid, bresp = await ctx.tick().sample(axi.bid, axi.bresp).until(axi.bvalid)
                ctx.set(axi.bready, 0)
                responses.append([(bid, Response(bresp))])
            else:
                ctx.set(axi.rready, 1)
                answer = []
                for beat in range(length):
                    rid, rresp, rlast = await ctx.tick().sample(
                        axi.rid, axi.rresp, axi.rlast).until(axi.rvalid)
                    answer.append((rid, Response(rresp)))
                    assert rlast == (beat == length - 1)
                ctx.set(axi.rready, 0)
                responses.append(answer)

    run_testbenches(dut, host, background=(cache, fault_log))
    return seen, responses, faults


def test_random_bursts_reach_the_cache_beat_by_beat():
    rng = random.Random(7)
    bursts = []
    for _ in range(60):
        burst, size, length, address = random_burst(rng)
        bursts.append((rng.random() < 0.5, address, length, size, burst, rng.randrange(16)))
    seen, responses, faults = run_bursts(bursts)
    expected = []
    for write, address, length, size, burst, keyid in bursts:
        for beat_address, lanes in beats(address, length, size, burst):
            expected.append((beat_address, keyid, int(write), lanes if write else 0xFFFF))
    # A read's strobes are not used; compare them only for writes.
    assert [(a, k, w, s if w else 0xFFFF) for a, k, w, s in seen] == expected
    assert faults == []
    for answer in responses:
        assert all(response == (5, Response.OKAY) for response in answer)


@pytest.mark.parametrize("burst, kind, response", [
    ((True, 0x10, 3, 4, WRAP, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((False, 0x08, 4, 4, WRAP, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((True, 0xFF0, 2, 4, INCR, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((False, 0x100, 17, 4, FIXED, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((False, 0x100, 1, 5, INCR, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((False, 0x100, 1, 4, 3, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((True, 0xFFC0, 5, 4, INCR, 1), FaultKind.PROTOCOL_ERROR, Response.SLVERR),
    ((True, 0x10000, 2, 4, INCR, 1), FaultKind.OUT_OF_RANGE, Response.DECERR),
    ((False, 0xFFF0, 1, 4, FIXED, 2), None, Response.OKAY),
    ((False, 0x100, 2, 4, INCR, 0), None, Response.OKAY),
])
def test_refused_bursts_never_reach_the_cache(burst, kind, response):
    seen, responses, faults = run_bursts([burst])
    write, address, length = burst[:3]
    assert all(r == (5, response) for r in responses[0])
    assert len(responses[0]) == (1 if write else length)
    if kind is None:
        assert len(seen) == length and faults == []
    else:
        assert seen == []
        assert faults == [(CONFIG.join(burst[5], address), burst[5], kind, int(write))]


def test_an_invalid_keyid_is_refused():
    config = replace(CONFIG, num_keys=8)
    seen, responses, faults = run_bursts([(True, 0x40, 2, 4, INCR, 9)], config)
    assert seen == [] and responses == [[(5, Response.DECERR)]]
    assert faults == [(config.join(9, 0x40), 9, FaultKind.INVALID_KEYID, 1)]
