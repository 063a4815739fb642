"""Formal specification of :class:`memcrypt.gateware.axil.AXI4LiteTarget`: the AXI4-Lite rules.

:class:`FreeManager` is an AXI4-Lite manager whose every output is free (``AnySeq``) except
that it keeps the manager's rules (ARM IHI 0022E): its AWVALID, WVALID and ARVALID are low
during reset (A3.1.2), and once a VALID is high it stays high, with its payload unchanged,
until the matching READY (A3.2.1, A3.2.2). Nothing else is assumed: the address and data may
come in either order or together (A3.3.1), BREADY and RREADY are free. It asserts the
target's rules on the same port:

* **reset** -- BVALID and RVALID are low during reset and in the first cycle after it
  (A3.1.2);
* **handshake** -- once BVALID (RVALID) is high it stays high, with BRESP (RDATA, RRESP)
  unchanged, until BREADY (RREADY) (A3.2.1, A3.2.2);
* **responses** -- BRESP and RRESP are OKAY or SLVERR (A3.4.4; AXI4-Lite has no exclusive
  accesses, so no EXOKAY (Part B), and this target never answers DECERR);
* **no response from nothing, none lost** -- the manager model counts address and data
  handshakes not yet answered. The target holds at most one of each (its capacity); BVALID
  only while both an AW and a W handshake are unanswered, RVALID only while an AR is; each
  B (R) handshake answers one pair (one AR), so responses never outnumber transactions; and
  no transaction is lost: the response is offered in the cycle after the pair (the AR) is
  complete, as :mod:`memcrypt.gateware.axil` documents;
* **progress** -- AWREADY (WREADY, ARREADY) is high whenever no AW (W, AR) is unanswered:
  the target never refuses a transaction it has room for (this target's documented
  behaviour; AXI would allow it to wait).

:class:`AXI4LiteTargetSpec` puts :class:`~memcrypt.gateware.axil.AXI4LiteTarget` behind the free
manager, with a free register block (``reg.w_error``, ``reg.r_data``, ``reg.r_error`` are
``AnySeq``), and adds the **register-port contract**: each write pair is performed on the
register port exactly once, before its response, with the address, data and strobes of its
own AW and W handshakes, and BRESP is SLVERR exactly when the register block refused it;
each read likewise, RDATA and RRESP being what the register block answered when the read
was performed (RDATA zero for SLVERR). Because the register block is free, these properties
hold for :class:`~memcrypt.gateware.control.KeyControl`'s bus (whose register block is one choice of
it); :mod:`.control` also checks the bus rules on :class:`~memcrypt.gateware.control.KeyControl`
itself.

Tasks: ``axil_target`` (k-induction with white-box invariants, **unbounded**), ``axil_pdr``
(the same specification black-box, proven by ABC's PDR, **unbounded**), ``axil_cover``
(**bounded**).

Inductive invariants (asserted, never assumed): ``aw_full``/``w_full``/``ar_full`` are set
exactly while the model counts an unanswered AW/W/AR, and the held address, data and strobes
are those of that handshake; while no W is held, the data register is zero (the target keeps
no write data once a write is answered: it may be key material).
"""

from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import (
    Assert,
    Assume,
    ClockDomain,
    Cover,
    Elaboratable,
    Fragment,
    Module,
    Mux,
    ResetSignal,
    Signal,
    Value,
)

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.axil import AXI4LiteTarget
from memcrypt.gateware.interfaces import Response

from .whitebox import Probe

__all__ = ["MANAGER_OUTPUTS", "TARGET_OUTPUTS", "FreeManager", "hold", "target_invariants",
           "AXI4LiteTargetSpec", "tasks"]

MANAGER_OUTPUTS = ("awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
                   "araddr", "arprot", "arvalid", "rready")
TARGET_OUTPUTS = ("awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp",
                  "rvalid")


class FreeManager:
    """A free, rule-abiding AXI4-Lite manager, and the target's rules as assertions.

    :meth:`add` drives a target port (the target's ``s_axil`` interface, of
    :class:`~memcrypt.gateware.interfaces.AXI4LiteSignature`) and adds the assumptions, the
    bookkeeping and the assertions to a module.

    Members (for specifications built on it)
    -----------------------------------------
    awaddr, awprot, awvalid, wdata, wstrb, wvalid, bready, araddr, arprot, arvalid, rready :
        What the manager drives (free, within the rules).
    aw_hs, w_hs, b_hs, ar_hs, r_hs : Signal
        Handshakes in this cycle.
    aw_open, w_open, ar_open : Signal(range(4))
        Address, data and read-address handshakes not yet answered by a response.
    aw_addr, w_data, w_strb, ar_addr : Signal
        Payload of the last AW, W and AR handshake (that of the open one while one is open).
    """

    def __init__(self, *, addr_width=12, data_width=32, prefix="mgr"):
        self.addr_width, self.data_width = addr_width, data_width
        strobes = data_width // 8
        for name, width in (("awaddr", addr_width), ("awprot", 3), ("awvalid", 1),
                            ("wdata", data_width), ("wstrb", strobes), ("wvalid", 1),
                            ("bready", 1), ("araddr", addr_width), ("arprot", 3),
                            ("arvalid", 1), ("rready", 1)):
            setattr(self, name, Signal(width, name=f"{prefix}_{name}"))
        for name in ("aw_hs", "w_hs", "b_hs", "ar_hs", "r_hs"):
            setattr(self, name, Signal(name=f"{prefix}_{name}"))
        self.aw_open = Signal(range(4), name=f"{prefix}_aw_open")
        self.w_open = Signal(range(4), name=f"{prefix}_w_open")
        self.ar_open = Signal(range(4), name=f"{prefix}_ar_open")
        self.aw_addr = Signal(addr_width, name=f"{prefix}_aw_addr")
        self.w_data = Signal(data_width, name=f"{prefix}_w_data")
        self.w_strb = Signal(strobes, name=f"{prefix}_w_strb")
        self.ar_addr = Signal(addr_width, name=f"{prefix}_ar_addr")
        self.prefix = prefix
        self.port = None

    @property
    def write_pair_open(self):
        """An AW and a W have been taken and not yet answered (the write is in the target)."""
        return (self.aw_open == 1) & (self.w_open == 1)

    def connect(self, m, port, *, exclude=()):
        """Drive ``port``'s manager-side inputs from this manager (all but ``exclude``)."""
        for name in MANAGER_OUTPUTS:
            if name not in exclude:
                m.d.comb += getattr(port, name).eq(getattr(self, name))

    def add(self, m, port, *, free=True):
        """Drive ``port``, assume the manager's rules, assert the target's.

        With ``free``, the manager's outputs are ``AnySeq`` (a specification may instead
        drive some of them itself, e.g. a miter's write data).
        """
        self.port = port
        if free:
            for name in MANAGER_OUTPUTS:
                signal = getattr(self, name)
                m.d.comb += signal.eq(AnySeq(len(signal)))
        self.connect(m, port)
        reset = Initial()

        # -- the manager's rules (assumed) -------------------------------------------------
        m.d.comb += Assume(~(reset & (self.awvalid | self.wvalid | self.arvalid)))
        for valid, ready, payload in (
                (self.awvalid, port.awready, (self.awaddr, self.awprot)),
                (self.wvalid, port.wready, (self.wdata, self.wstrb)),
                (self.arvalid, port.arready, (self.araddr, self.arprot))):
            hold(m, valid, ready, payload, Assume, f"{valid.name}_stalled")

        # -- bookkeeping -------------------------------------------------------------------
        m.d.comb += [
            self.aw_hs.eq(self.awvalid & port.awready),
            self.w_hs.eq(self.wvalid & port.wready),
            self.b_hs.eq(port.bvalid & self.bready),
            self.ar_hs.eq(self.arvalid & port.arready),
            self.r_hs.eq(port.rvalid & self.rready),
        ]
        m.d.sync += [
            self.aw_open.eq(self.aw_open + self.aw_hs - self.b_hs),
            self.w_open.eq(self.w_open + self.w_hs - self.b_hs),
            self.ar_open.eq(self.ar_open + self.ar_hs - self.r_hs),
        ]
        with m.If(self.aw_hs):
            m.d.sync += self.aw_addr.eq(self.awaddr)
        with m.If(self.w_hs):
            m.d.sync += [self.w_data.eq(self.wdata), self.w_strb.eq(self.wstrb)]
        with m.If(self.ar_hs):
            m.d.sync += self.ar_addr.eq(self.araddr)

        # -- the target's rules (asserted) ---------------------------------------------------
        after_reset = Signal(init=1, name=f"{self.prefix}_after_reset")
        m.d.sync += after_reset.eq(0)
        with m.If(reset | after_reset):
            m.d.comb += Assert(~port.bvalid & ~port.rvalid)
        hold(m, port.bvalid, self.bready, (port.bresp,), Assert, f"{self.prefix}_b_stalled")
        hold(m, port.rvalid, self.rready, (port.rdata, port.rresp), Assert,
              f"{self.prefix}_r_stalled")
        with m.If(port.bvalid):
            m.d.comb += Assert((port.bresp == Response.OKAY) | (port.bresp == Response.SLVERR))
        with m.If(port.rvalid):
            m.d.comb += Assert((port.rresp == Response.OKAY) | (port.rresp == Response.SLVERR))
        m.d.comb += [
            Assert(self.aw_open <= 1),
            Assert(self.w_open <= 1),
            Assert(self.ar_open <= 1),
        ]
        with m.If(port.bvalid):
            m.d.comb += Assert(self.write_pair_open)
        with m.If(port.rvalid):
            m.d.comb += Assert(self.ar_open == 1)
        # No transaction lost: the response comes the cycle after the request is complete.
        b_due = Signal(name=f"{self.prefix}_b_due")
        r_due = Signal(name=f"{self.prefix}_r_due")
        m.d.sync += [
            b_due.eq(self.write_pair_open & ~port.bvalid),
            r_due.eq((self.ar_open == 1) & ~port.rvalid),
        ]
        with m.If(b_due):
            m.d.comb += Assert(port.bvalid)
        with m.If(r_due):
            m.d.comb += Assert(port.rvalid)
        # Progress: a free channel takes the next transaction.
        with m.If(~reset & (self.aw_open == 0)):
            m.d.comb += Assert(port.awready)
        with m.If(~reset & (self.w_open == 0)):
            m.d.comb += Assert(port.wready)
        with m.If(~reset & (self.ar_open == 0)):
            m.d.comb += Assert(port.arready)

    def covers(self, m):
        """Covers of the bus alone: each order of AW and W, stalls, SLVERR, both at once."""
        port = self.port
        aw_first = Signal(name="aw_first")   # the open AW came before its W
        w_first = Signal(name="w_first")
        with m.If(self.aw_hs & (self.w_open == 0) & ~self.w_hs):
            m.d.sync += [aw_first.eq(1), w_first.eq(0)]
        with m.If(self.w_hs & (self.aw_open == 0) & ~self.aw_hs):
            m.d.sync += [w_first.eq(1), aw_first.eq(0)]
        with m.If(self.aw_hs & self.w_hs):
            m.d.sync += [aw_first.eq(0), w_first.eq(0)]
        # Cycles since the last AW handshake (7: long ago, or never).
        since_aw = Signal(range(8), init=7, name="since_aw")
        with m.If(self.aw_hs):
            m.d.sync += since_aw.eq(1)
        with m.Elif(since_aw != 7):
            m.d.sync += since_aw.eq(since_aw + 1)
        b_stall = Signal(name="b_stall_seen")
        m.d.sync += b_stall.eq(port.bvalid & ~self.bready)
        r_stall = Signal(name="r_stall_seen")
        m.d.sync += r_stall.eq(port.rvalid & ~self.rready)
        m.d.comb += [
            Cover(self.b_hs & aw_first),
            Cover(self.b_hs & w_first),
            Cover(self.b_hs & ~aw_first & ~w_first),
            Cover(self.b_hs & b_stall),
            Cover(self.r_hs & r_stall),
            Cover(self.b_hs & (port.bresp == Response.SLVERR)),
            Cover(self.r_hs & (port.rresp == Response.SLVERR)),
            Cover(self.r_hs & (port.rresp == Response.OKAY) & (port.rdata != 0)),
            Cover(self.b_hs & self.r_hs),
            # Back to back at the target's rate: a new AW three cycles after the last.
            Cover(self.aw_hs & (since_aw == 3)),
        ]


def hold(m, valid, ready, payload, check, name):
    """``check`` (Assume or Assert) that ``valid`` and ``payload`` hold until ``ready``."""
    payload = [Value.cast(p) for p in payload]
    stalled = Signal(name=name)
    last = [Signal(len(p), name=f"{name}_last{i}") for i, p in enumerate(payload)]
    m.d.sync += stalled.eq(valid & ~ready)
    m.d.sync += [old.eq(p) for old, p in zip(last, payload, strict=True)]
    with m.If(stalled):
        m.d.comb += check(valid)
        m.d.comb += [check(p == old) for old, p in zip(last, payload, strict=True)]


def target_invariants(m, manager, probe):
    """White-box facts about an :class:`~memcrypt.gateware.axil.AXI4LiteTarget` (``probe``) that
    make the bus rules inductive: its holding registers are full exactly while the manager
    model counts an open transaction, and hold that transaction's payload."""
    aw_full = probe.signal("aw_full", 1)
    w_full = probe.signal("w_full", 1)
    ar_full = probe.signal("ar_full", 1)
    m.d.comb += [
        Assert(aw_full == (manager.aw_open == 1)),
        Assert(w_full == (manager.w_open == 1)),
        Assert(ar_full == (manager.ar_open == 1)),
    ]
    with m.If(aw_full):
        m.d.comb += Assert(probe.signal("awaddr") == manager.aw_addr)
    with m.If(w_full):
        m.d.comb += [
            Assert(probe.signal("wdata") == manager.w_data),
            Assert(probe.signal("wstrb") == manager.w_strb),
        ]
    with m.Else():
        m.d.comb += Assert(probe.signal("wdata") == 0)     # no write data kept
    with m.If(ar_full):
        m.d.comb += Assert(probe.signal("araddr") == manager.ar_addr)


class AXI4LiteTargetSpec(Elaboratable):
    """:class:`~memcrypt.gateware.axil.AXI4LiteTarget` between a free manager and a free register
    block: the bus rules and the register-port contract.

    Parameters
    ----------
    invariants : bool
        Add the white-box invariants (for k-induction); ``False`` for a black-box check
        (PDR, bounded model checking, covers).
    covers : bool
        Add the covers.
    """

    def __init__(self, *, invariants=True, covers=False):
        self.design = AXI4LiteTarget(addr_width=12, data_width=32)
        self.manager = FreeManager(addr_width=12, data_width=32)
        self.invariants = invariants
        self.covers = covers
        self.sync = ClockDomain("sync")

    @property
    def ports(self):
        return [self.sync.clk]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.d.comb += ResetSignal("sync").eq(Initial())
        target = self.design
        fragment = Fragment.get(target, platform)
        m.submodules.dut = fragment
        port, reg = target.s_axil, target.reg
        manager = self.manager
        manager.add(m, port)

        # The register block is free.
        m.d.comb += [
            reg.w_error.eq(AnySeq(1)),
            reg.r_data.eq(AnySeq(32)),
            reg.r_error.eq(AnySeq(1)),
        ]

        # Each write is performed once, before its response, with its own payload; the
        # response says whether the register block took it.
        w_done = Signal()        # the open pair has been performed
        w_error = Signal()       # ... and refused
        with m.If(reg.w_en):
            m.d.sync += [w_done.eq(1), w_error.eq(reg.w_error)]
            m.d.comb += [
                Assert(manager.write_pair_open & ~w_done),
                Assert(reg.w_addr == manager.aw_addr),
                Assert(reg.w_data == manager.w_data),
                Assert(reg.w_strb == manager.w_strb),
            ]
        with m.If(manager.b_hs):
            m.d.sync += w_done.eq(0)
        with m.If(port.bvalid):
            m.d.comb += [
                Assert(w_done),
                Assert(Mux(w_error, port.bresp == Response.SLVERR,
                           port.bresp == Response.OKAY)),
            ]
        # Each read likewise; the data is what the register block answered.
        r_done = Signal()
        r_error = Signal()
        r_data = Signal(32)
        with m.If(reg.r_en):
            m.d.sync += [r_done.eq(1), r_error.eq(reg.r_error), r_data.eq(reg.r_data)]
            m.d.comb += [
                Assert((manager.ar_open == 1) & ~r_done),
                Assert(reg.r_addr == manager.ar_addr),
            ]
        with m.If(manager.r_hs):
            m.d.sync += r_done.eq(0)
        with m.If(port.rvalid):
            m.d.comb += [
                Assert(r_done),
                Assert(Mux(r_error, port.rresp == Response.SLVERR,
                           port.rresp == Response.OKAY)),
                Assert(port.rdata == Mux(r_error, 0, r_data)),
            ]

        if self.invariants:
            target_invariants(m, manager, Probe(fragment))
            # The target's response registers are set exactly once per transaction.
            m.d.comb += [
                Assert(w_done == port.bvalid),
                Assert(r_done == port.rvalid),
            ]
        if self.covers:
            manager.covers(m)
            m.d.comb += [
                Cover(reg.w_en & reg.w_error),
                Cover(reg.r_en & reg.r_error),
            ]
        return m


def tasks():
    return [
        FormalTask(
            name="axil_target", block="AXI4LiteTarget", mode="prove",
            engine="smtbmc yices", depth=2, unbounded=True,
            description="AXI4-Lite rules (reset, VALID/payload hold, OKAY/SLVERR, one "
                        "response per AW+W pair / AR, none lost, capacity 1) and the "
                        "register-port contract, free manager and register block",
            spec=lambda: AXI4LiteTargetSpec(invariants=True)),
        FormalTask(
            name="axil_pdr", block="AXI4LiteTarget", mode="prove",
            engine="abc pdr", depth=None, unbounded=True,
            description="the same properties, black box, proven by ABC's PDR",
            spec=lambda: AXI4LiteTargetSpec(invariants=False)),
        FormalTask(
            name="axil_cover", block="AXI4LiteTarget", mode="cover",
            engine="smtbmc yices", depth=12, unbounded=False,
            description="covers: AW before W, W before AW, together; B and R stalls; "
                        "SLVERR write and read; read and write at once; back-to-back AW",
            spec=lambda: AXI4LiteTargetSpec(invariants=False, covers=True)),
    ]
