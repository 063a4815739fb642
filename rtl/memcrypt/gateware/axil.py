"""AXI4-Lite target (slave) front end: the bus protocol, apart from the registers behind it.

Follows the AMBA AXI and ACE Protocol Specification (ARM IHI 0022E), Part B, AXI4-Lite:

* five independent channels (AW, W, B, AR, R) with VALID/READY handshakes (A3.2.1); a
  VALID, once raised, stays high with its payload unchanged until the handshake (A3.2.2),
  and never waits for READY; this target's READYs may wait for VALID;
* the write address and write data may arrive in either order or together (A3.3.1); the
  write response follows both (B after AW and W handshakes);
* all transactions are single 32-bit beats; WSTRB selects the byte lanes written (A3.4.3);
  AWPROT/ARPROT are accepted and ignored;
* responses: OKAY (0b00) or SLVERR (0b10) (A3.4.4); a read answered with SLVERR returns
  zero data.

The registers sit behind a register port
(:class:`~memcrypt.gateware.interfaces.RegisterPortSignature`): in the cycle a write is
performed the target raises ``reg.w_en`` with address, data and strobes, and the register
file answers ``reg.w_error`` combinationally in that cycle; likewise ``reg.r_en`` with
``reg.r_addr`` and the answers ``reg.r_data``/``reg.r_error`` (a read may have a side effect
in that cycle, such as latching a counter's upper half).

One write and one read may be in progress at once. A write is performed in the cycle after
both its address and data have been taken; its response is offered in the next cycle. A
read is performed in the cycle after its address handshake; its data is offered in the
next cycle. Once a write is answered the target holds no write data (its data register
is zero), so key material written to a register does not linger in the bus front end. Each
channel takes a new transaction in the cycle after its previous response
handshake, so back-to-back transactions run at one per three cycles per direction (the
``axil_cover`` task shows that spacing, and ``formal/axil.py`` proves nothing is lost).

The bus is one member, ``s_axil`` (:class:`~memcrypt.gateware.interfaces.AXI4LiteSignature`);
a generated top names its ports ``s_axil_awaddr`` and so on
(:func:`~memcrypt.gateware.interfaces.flat_ports`), so that cocotbext-axi
(``AxiLiteBus.from_prefix(dut, "s_axil")``) and Vivado recognise the bus.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interfaces import AXI4LiteSignature, RegisterPortSignature, Response

__all__ = ["AXI4LiteTarget"]


class AXI4LiteTarget(wiring.Component):
    """AXI4-Lite target: turns bus transactions into register-port accesses.

    Parameters
    ----------
    addr_width : int
        Byte address width of the register window, 2 to 64.
    data_width : int
        32 or 64.

    Members
    -------
    s_axil : In(AXI4LiteSignature(addr_width=addr_width, data_width=data_width))
        The bus.
    reg : Out(RegisterPortSignature(addr_width=addr_width, data_width=data_width))
        The register file's port: one write and one read per cycle at most.
    """

    def __init__(self, *, addr_width=12, data_width=32):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int) \
                or not 2 <= addr_width <= 64:
            raise ValueError(f"Address width must be an integer from 2 to 64, "
                             f"not {addr_width!r}")
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_width=addr_width, data_width=data_width)),
            "reg": Out(RegisterPortSignature(addr_width=addr_width, data_width=data_width)),
        })

    def elaborate(self, platform):
        m = Module()
        bus, reg = self.s_axil, self.reg

        # Write: hold the address and the data until both are here, then write, then answer.
        aw_full = Signal()
        w_full = Signal()
        awaddr = Signal.like(bus.awaddr)
        wdata = Signal.like(bus.wdata)
        wstrb = Signal.like(bus.wstrb)
        m.d.comb += [
            bus.awready.eq(~aw_full),
            bus.wready.eq(~w_full),
        ]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += [aw_full.eq(1), awaddr.eq(bus.awaddr)]
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_full.eq(1), wdata.eq(bus.wdata), wstrb.eq(bus.wstrb)]
        perform_write = Signal()
        m.d.comb += [
            perform_write.eq(aw_full & w_full & ~bus.bvalid),
            reg.w_en.eq(perform_write),
            reg.w_addr.eq(awaddr),
            reg.w_data.eq(wdata),
            reg.w_strb.eq(wstrb),
        ]
        with m.If(perform_write):
            m.d.sync += bus.bvalid.eq(1)
            with m.If(reg.w_error):
                m.d.sync += bus.bresp.eq(Response.SLVERR)
            with m.Else():
                m.d.sync += bus.bresp.eq(Response.OKAY)
        with m.If(bus.bvalid & bus.bready):
            # The write data is not kept once answered: it may be key material.
            m.d.sync += [bus.bvalid.eq(0), aw_full.eq(0), w_full.eq(0), wdata.eq(0)]

        # Read: take the address, read in the next cycle, hold the data until taken.
        ar_full = Signal()
        araddr = Signal.like(bus.araddr)
        m.d.comb += bus.arready.eq(~ar_full)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [ar_full.eq(1), araddr.eq(bus.araddr)]
        perform_read = Signal()
        m.d.comb += [
            perform_read.eq(ar_full & ~bus.rvalid),
            reg.r_en.eq(perform_read),
            reg.r_addr.eq(araddr),
        ]
        with m.If(perform_read):
            m.d.sync += bus.rvalid.eq(1)
            with m.If(reg.r_error):
                m.d.sync += [bus.rresp.eq(Response.SLVERR), bus.rdata.eq(0)]
            with m.Else():
                m.d.sync += [bus.rresp.eq(Response.OKAY), bus.rdata.eq(reg.r_data)]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += [bus.rvalid.eq(0), ar_full.eq(0)]
        return m
