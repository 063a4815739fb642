"""An AXI4-Lite manager for Amaranth-simulator testbenches (ARM IHI 0022E, Part B).

Drives a target's AXI4-Lite interface (its member ``bus``, ``s_axil`` by default, of
:class:`~memcrypt.gateware.interfaces.AXI4LiteSignature`): VALID never waits for READY,
payloads hold until the handshake, the address and data channels are raised independently
(with random delays from a :class:`streams.StallPattern`), and the response ready may be
late.
"""

from streams import StallPattern

from memcrypt.gateware.interfaces import Response

__all__ = ["AXI4LiteManager"]


class AXI4LiteManager:
    def __init__(self, dut, bus="s_axil", stall_probability=0.0, seed=0):
        self._bus = getattr(dut, bus)
        self._stall = StallPattern(stall_probability, seed)

    def _port(self, name):
        return getattr(self._bus, name)

    async def _delay(self, ctx):
        while self._stall.stall():
            await ctx.tick()

    async def write(self, ctx, address, value, strb=0xF):
        """One write; returns BRESP (as an integer)."""
        p = self._port
        aw_delay = self._stall.stall()
        ctx.set(p("awaddr"), address)
        ctx.set(p("wdata"), value)
        ctx.set(p("wstrb"), strb)
        ctx.set(p("wvalid"), 1)
        if not aw_delay:
            ctx.set(p("awvalid"), 1)
        aw_done = w_done = False
        while not (aw_done and w_done):
            _, _, awvalid, awready, wvalid, wready = await ctx.tick().sample(
                p("awvalid"), p("awready"), p("wvalid"), p("wready"))
            if awvalid and awready:
                aw_done = True
                ctx.set(p("awvalid"), 0)
            if wvalid and wready:
                w_done = True
                ctx.set(p("wvalid"), 0)
            if not aw_done and not awvalid:
                ctx.set(p("awvalid"), 1)
        await self._delay(ctx)
        ctx.set(p("bready"), 1)
        while True:
            _, _, bvalid, bresp = await ctx.tick().sample(p("bvalid"), p("bresp"))
            if bvalid:
                break
        ctx.set(p("bready"), 0)
        return Response(bresp).value

    async def read(self, ctx, address):
        """One read; returns (RDATA, RRESP) (as integers)."""
        p = self._port
        await self._delay(ctx)
        ctx.set(p("araddr"), address)
        ctx.set(p("arvalid"), 1)
        await ctx.tick().until(p("arready"))
        ctx.set(p("arvalid"), 0)
        await self._delay(ctx)
        ctx.set(p("rready"), 1)
        while True:
            _, _, rvalid, rdata, rresp = await ctx.tick().sample(
                p("rvalid"), p("rdata"), p("rresp"))
            if rvalid:
                break
        ctx.set(p("rready"), 0)
        return rdata, Response(rresp).value
