"""Formal specification of :class:`memcrypt.gateware.xts.AlphaMultiplier` (IEEE 1619-2007 §5.2).

Model equivalence: the multiplier beside an independent reference, a generic GF(2^128)
multiplication written as schoolbook polynomial arithmetic -- a carry-less product
followed by long division by the full modulus ``x^128 + x^7 + x^2 + x + 1`` -- rather than
the shift-and-conditional-XOR of :func:`memcrypt.gateware.xts.mul_alpha`. The reference is pinned to
the golden model (:func:`memcrypt.model.golden.mul_alpha`) at a few constant points, so that a
reference with a wrong modulus cannot agree with a wrong multiplier.

Properties, all over every 128-bit tweak:

* ``product == tweak * x``, and, chaining the multiplier as the XTS engine does for the
  line's blocks 1..3, ``alpha^j(tweak) == tweak * x^j`` for ``j = 2, 3``;

``alpha_prove`` proves them with k-induction (smtbmc + yices) and ``alpha_pdr`` with ABC's
PDR. The design is combinational, so either proof is **unbounded**: there is no state for a
longer trace to reach. ``alpha_cover`` (**bounded**, depth 1) shows the two cases the
reduction distinguishes -- bit 127 set (the 0x87 feedback) and clear -- and the wrap of
``x^127`` to ``x^7 + x^2 + x + 1``.

Negative tasks: the same specification around a multiplier with the wrong feedback constant
(0x85) must FAIL, with both engines.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, C, Cat, Cover, Elaboratable, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.xts import AlphaMultiplier
from memcrypt.model import golden

__all__ = ["MODULUS", "gf128_multiply", "AlphaSpec", "MutantAlphaMultiplier", "tasks",
           "negative_tasks"]

MODULUS = (1 << 128) | 0x87      # x^128 + x^7 + x^2 + x + 1
ANCHORS = (1, 1 << 127, (1 << 128) - 1, 0x0123456789ABCDEF_FEDCBA9876543210)


def gf128_multiply(a, b: int):
    """``a * b`` in GF(2^128) for a 128-bit value ``a`` and a constant ``b``.

    Carry-less product (XOR of shifted copies of ``a``, one per set bit of ``b``), then
    polynomial long division by :data:`MODULUS` from the top bit down.
    """
    width = 128 + b.bit_length()
    product = C(0, width)
    for i in range(b.bit_length()):
        if (b >> i) & 1:
            product = product ^ Cat(C(0, i), a, C(0, width - 128 - i))[:width]
    for bit in reversed(range(128, width)):
        reducer = C(MODULUS << (bit - 128), width)
        product = Mux(product[bit], product ^ reducer, product)
    return product[:128]


class MutantAlphaMultiplier(wiring.Component):
    """A deliberately wrong multiplier: feedback 0x85 instead of 0x87."""

    tweak: In(128)
    product: Out(128)

    def elaborate(self, platform):
        m = Module()
        shifted = Cat(C(0, 1), self.tweak[:127])
        m.d.comb += self.product.eq(shifted ^ Mux(self.tweak[127], C(0x85, 128), C(0, 128)))
        return m


class AlphaSpec(Elaboratable):
    """Multiplier under test (``multiplier()`` makes one) beside :func:`gf128_multiply`."""

    def __init__(self, multiplier=AlphaMultiplier):
        self.multiplier = multiplier
        self.ports = []

    def elaborate(self, platform):
        m = Module()
        tweak = Signal(128)
        m.d.comb += tweak.eq(AnySeq(128))

        # Three multipliers in a chain, as the XTS engine derives T1, T2, T3 from T0.
        chain = []
        value = tweak
        for j in range(1, 4):
            m.submodules[f"alpha{j}"] = stage = self.multiplier()
            m.d.comb += stage.tweak.eq(value)
            value = stage.product
            chain.append(value)
        product = chain[0]

        for j, result in enumerate(chain, start=1):
            m.d.comb += Assert(result == gf128_multiply(tweak, 1 << j),
                               "product_is_reference")
        # The reference agrees with the golden model where it matters.
        for anchor in ANCHORS:
            m.d.comb += Assert(gf128_multiply(C(anchor, 128), 2) == golden.mul_alpha(anchor))

        m.d.comb += [
            Cover(tweak[127] & (product[:8] == (Cat(C(0, 1), tweak[:7]) ^ 0x87))),
            Cover(~tweak[127] & (tweak != 0)),
            Cover(product == 0x87),
        ]
        return m


def tasks():
    return [
        FormalTask(
            name="alpha_prove", block="AlphaMultiplier", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description="product == tweak*x and alpha^j == tweak*x^j (j<=3) vs polynomial "
                        "reference (combinational)",
            spec=AlphaSpec),
        FormalTask(
            name="alpha_pdr", block="AlphaMultiplier", mode="prove",
            engine="abc pdr", depth=None, unbounded=True,
            description="the same properties, proven by ABC's PDR",
            spec=AlphaSpec),
        FormalTask(
            name="alpha_cover", block="AlphaMultiplier", mode="cover",
            engine="smtbmc yices", depth=1, unbounded=False,
            description="covers: bit 127 set (feedback), clear, x^127 wraps to 0x87",
            spec=AlphaSpec),
    ]


def negative_tasks():
    def mutant():
        return AlphaSpec(MutantAlphaMultiplier)

    return [
        FormalTask(
            name="alpha_mutant_prove", block="MutantAlphaMultiplier", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description="feedback 0x85", spec=mutant,
            breaks="product_is_reference"),
        FormalTask(
            name="alpha_mutant_pdr", block="MutantAlphaMultiplier", mode="prove",
            engine="abc pdr", depth=None, unbounded=True,
            description="feedback 0x85 (ABC PDR, witness through the wrapper)",
            spec=mutant, breaks="product_is_reference"),
    ]
