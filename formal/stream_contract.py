"""The stream contract of a core with one input and one output stream, as a specification.

The cores (:class:`~memcrypt.gateware.aes.AESPipeline`,
:class:`~memcrypt.gateware.aes.AESIterative`,
:class:`~memcrypt.gateware.aes.KeyScheduleUnit`) take ``i_stream`` and give ``o_stream``, both
``amaranth.lib.stream`` streams. :class:`StreamContractSpec` places a core between a free
producer and a free consumer and states:

* **handshake** -- once ``o_stream.valid`` is high it stays high, with the payload unchanged,
  until ``o_stream.ready`` takes it;
* **nothing from nothing** -- ``o_stream.valid`` only while the core holds a block it
  accepted and has not delivered;
* **capacity** -- the core never holds more than ``capacity`` blocks (its input backpressure
  works: for the pipeline, the credit counter keeps its output FIFO from overflowing);
* **order** (cores with a ``tag``) -- no block is lost, duplicated or reordered, and each tag
  stays with its block. Wolper's marked-item argument: the producer may send, once, a
  *marked* block (tag all ones; no other block carries that tag) at any time. The
  specification counts the blocks ahead of it, and the consumer must see the mark on exactly
  the output that follows those blocks -- never before, never after, never twice. Since the
  producer chooses freely when to mark, the check covers every position of every stream:
  for each ``n``, the ``n``-th output is the ``n``-th input.

The producer is unconstrained (``AnySeq``) except that it keeps to the stream rules: once
``i_stream.valid`` is high, valid and payload stay put until ``i_stream.ready``. The consumer's
``ready`` is free. Reset is asserted in the first cycle only (``ResetSignal() == Initial()``).

Why the order check proves "no loss, duplication or reordering": the cores never look at a
tag, they only carry it (data independence), so tags of value "marked" and "unmarked" are
enough (Wolper, POPL 1986). Marking the ``n``-th input, the ``n``-th output and only it must
be marked; over all ``n``, output ``n`` *is* input ``n``.

Reference: the pattern follows Amaranth's own FIFO contract specification
(``tests/test_lib_fifo.py``: entries chosen by the solver, checked on the way out).
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
    ResetSignal,
    Signal,
)
from amaranth.lib import data

from .whitebox import Probe

__all__ = ["StreamContractSpec"]


def _bits(value):
    return value.as_value() if isinstance(value, data.View) else value


class StreamContractSpec(Elaboratable):
    """A core between a free, rule-abiding producer and a free consumer.

    Parameters
    ----------
    design : wiring.Component
        Has ``i_stream`` (``In(stream.Signature(...))``) and ``o_stream``
        (``Out(stream.Signature(...))``). If both payloads have a ``tag`` field, the order
        property is checked with a marked block.
    capacity : int
        The most blocks the core may hold at once (accepted and not yet delivered).
    invariants : callable or None
        ``invariants(m, spec, probe)`` adds inductive invariants (assertions on the core's
        internal registers, through a :class:`~whitebox.Probe` of the elaborated core) so
        that k-induction closes. ``None`` for a purely black-box (bounded) check.

    Members (for invariants)
    ------------------------
    held : Signal
        Blocks accepted and not yet delivered, as counted by the specification.
    pending : Signal
        The marked block has been accepted and not yet delivered.
    ahead : Signal
        While ``pending``: how many blocks the core must deliver before the marked one.
    mark : int
        The marked tag value (all ones), or ``None`` for an untagged core.
    """

    def __init__(self, design, *, capacity, invariants=None, order=True):
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"Capacity must be a positive integer, not {capacity!r}")
        self.design = design
        self.capacity = capacity
        self.invariants = invariants
        self.sync = ClockDomain("sync")
        self.held = Signal(range(capacity + 2))
        self.pending = Signal()
        self.ahead = Signal(range(capacity + 1))
        tagged = all(_has_tag(s.payload) for s in (design.i_stream, design.o_stream))
        self.mark = (1 << len(design.o_stream.payload.tag)) - 1 if tagged and order else None

    @property
    def ports(self):
        """Top-level ports for ``rtlil.convert``: the clock only (everything else is free)."""
        return [self.sync.clk]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.d.comb += ResetSignal("sync").eq(Initial())

        fragment = Fragment.get(self.design, platform)
        m.submodules.dut = fragment
        i, o = self.design.i_stream, self.design.o_stream
        in_bits, out_bits = _bits(i.payload), _bits(o.payload)

        # The free environment.
        m.d.comb += [
            i.valid.eq(AnySeq(1)),
            in_bits.eq(AnySeq(len(in_bits))),
            o.ready.eq(AnySeq(1)),
        ]
        accept = Signal()
        deliver = Signal()
        m.d.comb += [accept.eq(i.valid & i.ready), deliver.eq(o.valid & o.ready)]

        # The producer keeps to the stream rules: valid and payload hold until ready.
        in_stalled = Signal()
        in_last = Signal(len(in_bits))
        m.d.sync += [in_stalled.eq(i.valid & ~i.ready), in_last.eq(in_bits)]
        with m.If(in_stalled):
            m.d.comb += Assume(i.valid & (in_bits == in_last))

        # Handshake: so must the core.
        out_stalled = Signal()
        out_last = Signal(len(out_bits))
        m.d.sync += [out_stalled.eq(o.valid & ~o.ready), out_last.eq(out_bits)]
        with m.If(out_stalled):
            m.d.comb += Assert(o.valid, "output_valid_holds")
            m.d.comb += Assert(out_bits == out_last, "output_payload_holds")

        # Nothing from nothing, and capacity.
        held = self.held
        m.d.sync += held.eq(held + accept - deliver)
        m.d.comb += Assert(held <= self.capacity, "within_capacity")
        with m.If(o.valid):
            m.d.comb += Assert(held != 0, "nothing_from_nothing")

        m.d.comb += [
            Cover(deliver),
            Cover(out_stalled & o.valid),
            Cover(accept & deliver),
            Cover(i.valid & ~i.ready & (held == self.capacity)),
        ]

        if self.mark is not None:
            self._order(m, accept, deliver)
        if self.invariants is not None:
            self.invariants(m, self, Probe(fragment))
        return m

    def _order(self, m, accept, deliver):
        i, o = self.design.i_stream, self.design.o_stream
        held, pending, ahead = self.held, self.pending, self.ahead
        in_marked = Signal()
        out_marked = Signal()
        m.d.comb += [in_marked.eq(i.payload.tag == self.mark),
                     out_marked.eq(o.payload.tag == self.mark)]
        sent = Signal()      # the marked block has been accepted
        received = Signal()  # ... and delivered
        m.d.comb += pending.eq(sent & ~received)

        # The producer marks at most one block.
        with m.If(i.valid & in_marked):
            m.d.comb += Assume(~sent)
        with m.If(accept & in_marked):
            m.d.sync += [sent.eq(1), ahead.eq(held - deliver)]
        with m.If(pending & deliver):
            with m.If(ahead == 0):
                m.d.sync += received.eq(1)
            with m.Else():
                m.d.sync += ahead.eq(ahead - 1)

        # The mark shows at the output exactly when the blocks ahead of it are gone.
        with m.If(o.valid):
            m.d.comb += Assert(out_marked == (pending & (ahead == 0)), "mark_in_order")
        # Bookkeeping invariant of the specification itself (helps induction).
        with m.If(pending):
            m.d.comb += Assert(ahead < held)
        with m.If(received):
            m.d.comb += Assert(sent)

        had_company = Signal()   # blocks were ahead of the marked one when it went in
        with m.If(accept & in_marked & (held - deliver != 0)):
            m.d.sync += had_company.eq(1)
        m.d.comb += Cover(deliver & out_marked)
        if self.capacity > 1:
            m.d.comb += Cover(deliver & out_marked & had_company)


def _has_tag(payload):
    return isinstance(payload, data.View) and "tag" in payload.shape().members
