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

The registers sit behind a simple synchronous register port: in the cycle a write is
performed the target raises ``reg_w_en`` with address, data and strobes, and the register
block answers ``reg_w_error`` combinationally in that cycle; likewise ``reg_r_en`` with
``reg_r_addr`` and the answers ``reg_r_data``/``reg_r_error`` (a read may have a side effect
in that cycle, such as latching a counter's upper half).

One write and one read may be in progress at once. A write is performed in the cycle after
both its address and data have been taken; its response is offered in the next cycle. A
read is performed in the cycle after its address handshake; its data is offered in the
next cycle. Each channel takes a new transaction in the cycle after its previous response
handshake, so back-to-back transactions run at one per three cycles per direction (the
``axil_cover`` task shows that spacing, and ``formal/axil.py`` proves nothing is lost).

Port names are the flat AMBA names with a prefix (``s_axil_awaddr``, ...), so that
cocotbext-axi (``AxiLiteBus.from_prefix(dut, "s_axil")``) and Vivado recognise the bus.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OKAY", "SLVERR", "axi4_lite_members", "AXI4LitePort", "AXI4LiteTarget"]

OKAY = 0b00
SLVERR = 0b10


def axi4_lite_members(prefix="s_axil", addr_width=12, data_width=32):
    """Signature members of an AXI4-Lite target port, with flat AMBA names."""
    if data_width not in (32, 64):
        raise ValueError(f"AXI4-Lite data width must be 32 or 64, not {data_width}")
    return {
        f"{prefix}_awaddr": In(addr_width),
        f"{prefix}_awprot": In(3),
        f"{prefix}_awvalid": In(1),
        f"{prefix}_awready": Out(1),
        f"{prefix}_wdata": In(data_width),
        f"{prefix}_wstrb": In(data_width // 8),
        f"{prefix}_wvalid": In(1),
        f"{prefix}_wready": Out(1),
        f"{prefix}_bresp": Out(2),
        f"{prefix}_bvalid": Out(1),
        f"{prefix}_bready": In(1),
        f"{prefix}_araddr": In(addr_width),
        f"{prefix}_arprot": In(3),
        f"{prefix}_arvalid": In(1),
        f"{prefix}_arready": Out(1),
        f"{prefix}_rdata": Out(data_width),
        f"{prefix}_rresp": Out(2),
        f"{prefix}_rvalid": Out(1),
        f"{prefix}_rready": In(1),
    }


class AXI4LitePort:
    """Attribute access to a component's flat AXI4-Lite members: ``port.awaddr`` is
    ``component.s_axil_awaddr``."""

    def __init__(self, component, prefix="s_axil"):
        self._component, self._prefix = component, prefix

    def __getattr__(self, name):
        return getattr(self._component, f"{self._prefix}_{name}")


class AXI4LiteTarget(wiring.Component):
    """AXI4-Lite target: turns bus transactions into register-port accesses.

    Parameters
    ----------
    addr_width : int
        Byte address width of the register window.
    data_width : int
        32 or 64.
    prefix : str
        Name prefix of the bus ports.

    Members
    -------
    <prefix>_aw*, _w*, _b*, _ar*, _r* :
        The AXI4-Lite target port (see :func:`axi4_lite_members`).
    reg_w_en, reg_w_addr, reg_w_data, reg_w_strb : Out
        A write, for one cycle.
    reg_w_error : In(1)
        The register block refuses that write (answered SLVERR).
    reg_r_en, reg_r_addr : Out
        A read, for one cycle.
    reg_r_data, reg_r_error : In
        Its data and whether it is refused (SLVERR; the data is then forced to zero).
    """

    def __init__(self, *, addr_width=12, data_width=32, prefix="s_axil"):
        if not isinstance(addr_width, int) or not 2 <= addr_width <= 64:
            raise ValueError(f"Address width must be an integer from 2 to 64, "
                             f"not {addr_width!r}")
        self._prefix = prefix
        super().__init__({
            **axi4_lite_members(prefix, addr_width, data_width),
            "reg_w_en": Out(1),
            "reg_w_addr": Out(addr_width),
            "reg_w_data": Out(data_width),
            "reg_w_strb": Out(data_width // 8),
            "reg_w_error": In(1),
            "reg_r_en": Out(1),
            "reg_r_addr": Out(addr_width),
            "reg_r_data": In(data_width),
            "reg_r_error": In(1),
        })
        self.bus = AXI4LitePort(self, prefix)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

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
            self.reg_w_en.eq(perform_write),
            self.reg_w_addr.eq(awaddr),
            self.reg_w_data.eq(wdata),
            self.reg_w_strb.eq(wstrb),
        ]
        with m.If(perform_write):
            m.d.sync += bus.bvalid.eq(1)
            with m.If(self.reg_w_error):
                m.d.sync += bus.bresp.eq(SLVERR)
            with m.Else():
                m.d.sync += bus.bresp.eq(OKAY)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += [bus.bvalid.eq(0), aw_full.eq(0), w_full.eq(0)]

        # Read: take the address, read in the next cycle, hold the data until taken.
        ar_full = Signal()
        araddr = Signal.like(bus.araddr)
        m.d.comb += bus.arready.eq(~ar_full)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [ar_full.eq(1), araddr.eq(bus.araddr)]
        perform_read = Signal()
        m.d.comb += [
            perform_read.eq(ar_full & ~bus.rvalid),
            self.reg_r_en.eq(perform_read),
            self.reg_r_addr.eq(araddr),
        ]
        with m.If(perform_read):
            m.d.sync += bus.rvalid.eq(1)
            with m.If(self.reg_r_error):
                m.d.sync += [bus.rresp.eq(SLVERR), bus.rdata.eq(0)]
            with m.Else():
                m.d.sync += [bus.rresp.eq(OKAY), bus.rdata.eq(self.reg_r_data)]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += [bus.rvalid.eq(0), ar_full.eq(0)]
        return m
