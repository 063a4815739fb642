"""The controller in the Amaranth simulator: a memory, a host and software around it.

:class:`SimMemory` answers the ``m_axi`` port, :class:`SimHost` drives ``s_axi`` with
bursts, :class:`SimControl` gives :class:`memcrypt.host.driver.AsyncDriver` its register
accesses on ``s_axil``. ``memcrypt bench controller``, ``memcrypt demo`` and the tests use
them; the cocotb benches (``sim/controller_bench.py``) use cocotbext-axi instead.
"""

from collections import deque

from ..gateware.interfaces import Response
from ..geometry import WORD_BYTES

__all__ = ["SimMemory", "SimHost", "SimControl", "HOST_OUTSTANDING"]

#: Bursts :class:`SimHost` keeps in flight.
HOST_OUTSTANDING = 4


class SimMemory:
    """An AXI4 memory for the simulator: every beat accepted at once, a read burst answered
    ``latency`` cycles after its AR, a write burst's B ``latency`` cycles after its last W
    beat, each kind in order. ``words`` maps the address of each 16-byte word written to
    its value (bytes never written read zero). A burst at an address in ``read_errors``
    (``write_errors``) is answered SLVERR, and a failed write changes nothing."""

    def __init__(self, port, latency=1):
        self.port = port
        self.latency = latency
        self.words = {}
        self.read_errors = set()
        self.write_errors = set()

    def line(self, address):
        """The 64 bytes at ``address`` (line-aligned)."""
        return b"".join(self.words.get(address + WORD_BYTES * i, 0).to_bytes(WORD_BYTES,
                                                                            "little")
                        for i in range(4))

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
                ctx.set(port.rresp, Response.SLVERR if beat[0] in self.read_errors
                        else Response.OKAY)
            else:
                ctx.set(port.rvalid, 0)
            ctx.set(port.bvalid, bool(responses) and responses[0][0] <= cycle)
            if responses:
                ctx.set(port.bresp, responses[0][1])
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
                if address not in self.write_errors:
                    self.words[address + WORD_BYTES * writing[1]] = wdata
                writing[1] += 1
                if wlast:
                    writing = None
                    responses.append((cycle + self.latency,
                                      Response.SLVERR if address in self.write_errors
                                      else Response.OKAY))
            if beat is not None and rready:
                beat[1] += 1
                if beat[1] == 4:
                    beat = None
            if responses and responses[0][0] < cycle and bready:
                responses.popleft()


class SimHost:
    """Whole-line (or one-beat) bursts on ``s_axi``, up to ``HOST_OUTSTANDING`` in flight;
    returns the cycles a batch takes."""

    def __init__(self, dut):
        self.dut = dut
        self.port = dut.s_axi
        self.cycle = 0

    async def count_cycles(self, ctx):
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


    async def read_line(self, ctx, address):
        """One four-beat read burst at ``address``: (its 64 bytes, its worst RRESP)."""
        port = self.port
        ctx.set(port.araddr, address)
        ctx.set(port.arlen, 3)
        ctx.set(port.arsize, 4)
        ctx.set(port.arburst, 1)
        ctx.set(port.arvalid, 1)
        await ctx.tick().until(port.arready)
        ctx.set(port.arvalid, 0)
        ctx.set(port.rready, 1)
        data, worst = b"", Response.OKAY
        for _ in range(4):
            word, response = await ctx.tick().sample(port.rdata, port.rresp).until(
                port.rvalid)
            data += word.to_bytes(WORD_BYTES, "little")
            worst = max(worst, Response(response), key=lambda r: r.value)
        ctx.set(port.rready, 0)
        return data, worst

    async def write_line(self, ctx, address, data):
        """One four-beat write burst of the 64 bytes ``data`` at ``address``: its BRESP."""
        port = self.port
        ctx.set(port.awaddr, address)
        ctx.set(port.awlen, 3)
        ctx.set(port.awsize, 4)
        ctx.set(port.awburst, 1)
        ctx.set(port.awvalid, 1)
        await ctx.tick().until(port.awready)
        ctx.set(port.awvalid, 0)
        ctx.set(port.wstrb, 0xFFFF)
        ctx.set(port.wvalid, 1)
        for beat in range(4):
            ctx.set(port.wdata, int.from_bytes(data[16 * beat:16 * beat + 16], "little"))
            ctx.set(port.wlast, beat == 3)
            await ctx.tick().until(port.wready)
        ctx.set(port.wvalid, 0)
        ctx.set(port.bready, 1)
        response, = await ctx.tick().sample(port.bresp).until(port.bvalid)
        ctx.set(port.bready, 0)
        return Response(response)


class SimControl:
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
