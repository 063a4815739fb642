"""Formal specification of :class:`memcrypt.gateware.aes.KeyScheduleUnit` (iterative key expansion).

``key_schedule_stream`` -- the stream contract of :mod:`.stream_contract` without the order
part (the payload is a bare key; there is no tag to mark): the output holds valid and the
key until taken, never shows a key it was not given, and holds at most one key. With one
key inside at a time, order and duplication reduce to "one out per one in", which the count
of held keys checks. **Unbounded** (k-induction, smtbmc + yices, depth 2).

``key_schedule_stream_cover`` -- **bounded** (depth 14): a key goes in and comes out, the
output stalls with valid high, the input waits while the unit expands, a key goes in as the
previous one leaves.

The key expansion's S-box word (``ks_g``) is cut to a free value, as the AES datapaths are in
:mod:`.aes_iterative`; the key register and its hold logic are kept.

Inductive invariants (white-box, asserted): never both ``busy`` and ``done``; the count of
held keys is ``busy + done``; a busy unit's step index is in ``1..steps``.
"""

from amaranth.hdl import Assert

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.aes import KeyScheduleUnit

from .stream_contract import StreamContractSpec

__all__ = ["design", "invariants", "spec", "CUT", "tasks"]

CUT = (
    "select -assert-count 1 w:dut.ks_g",
    "cutpoint w:dut.ks_g",
    "opt_clean",
)


def design():
    return KeyScheduleUnit(key_bits=128)


def invariants(m, spec, probe):
    unit = spec.design
    busy = probe.signal("busy", 1)
    done = probe.signal("done", 1)
    index = probe.signal("index")
    m.d.comb += [
        Assert(~(busy & done)),
        Assert(spec.held == busy + done),
    ]
    with m.If(busy):
        m.d.comb += Assert((index >= 1) & (index <= unit.steps))


def spec():
    return StreamContractSpec(design(), capacity=1, invariants=invariants)


def tasks():
    return [
        FormalTask(
            name="key_schedule_stream", block="KeyScheduleUnit", mode="prove",
            engine="smtbmc yices", depth=2, unbounded=True,
            description="stream contract: handshake, capacity 1, one key out per key in "
                        "(S-box word cut)",
            spec=spec, script=CUT),
        FormalTask(
            name="key_schedule_stream_cover", block="KeyScheduleUnit", mode="cover",
            engine="smtbmc yices", depth=14, unbounded=False,
            description="covers: key through, output stall, busy stall, back-to-back",
            spec=spec, script=CUT),
    ]
