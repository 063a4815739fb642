"""AES-XTS over one 64-byte line, after IEEE 1619-2007 §5 (XTS-AES) and NIST SP 800-38E.

memcrypt's convention, fixed for the whole project: the data unit is one 64-byte line;
its tweak is the line's stripped physical byte address as a 128-bit little-endian
integer; byte ``k`` of the line is bits ``[8k+7:8k]`` of the 512-bit line; key 1 is the
data key and key 2 the tweak key.

For a line ``P_0..P_3`` (four 16-byte blocks) with tweak ``i``::

    T_0 = E_key2(i)                 (always the encrypt direction, even when decrypting)
    T_j = T_{j-1} * alpha           (GF(2^128), combinational)
    C_j = E_key1(P_j ^ T_j) ^ T_j   (decrypt: P_j = D_key1(C_j ^ T_j) ^ T_j)
"""

from amaranth.hdl import Array, C, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import BLOCK_BITS, BLOCKS_PER_LINE, LINE_BITS
from .aes import (
    AESIterative,
    AESPipeline,
    CoreParameters,
    Direction,
    _check_parameters,
    rejecting_parameters,
)

__all__ = ["mul_alpha", "AlphaMultiplier", "XTSEngine", "xts_request_layout",
           "xts_tweak_layout", "xts_response_layout", "ARCHITECTURES"]

ARCHITECTURES = ("pipelined", "iterative")


def mul_alpha(tweak):
    """Multiply a 128-bit tweak by alpha (the polynomial x) modulo x^128 + x^7 + x^2 + x + 1.

    IEEE 1619-2007 §5.2: shift the little-endian 128-bit value left by one; if bit 127
    falls out, XOR 0x87 into byte 0. Pure wiring and four XOR gates.
    """
    shifted = Cat(C(0, 1), tweak[:127])
    return shifted ^ Mux(tweak[127], C(0x87, 128), C(0, 128))


class AlphaMultiplier(wiring.Component):
    """:func:`mul_alpha` as a component (for the formal specification and for reuse).

    Members
    -------
    tweak : In(128)
    product : Out(128)
        ``tweak * alpha``, combinationally.
    """

    tweak: In(BLOCK_BITS)
    product: Out(BLOCK_BITS)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.product.eq(mul_alpha(self.tweak))
        return m


def xts_request_layout(key_bits: int, direction: Direction, tag_width: int):
    """A line to transform: ``data`` (512), ``data_key``, ``tweak_key``, ``tweak`` (128),
    ``decrypt`` (``BOTH`` only), ``tag``.

    ``data_key`` is key 1 when encrypting and key 1's decryption start key (see
    :class:`memcrypt.gateware.aes.KeyScheduleUnit`) when decrypting; ``tweak_key`` is key 2.
    """
    fields = {"data": LINE_BITS, "data_key": key_bits, "tweak_key": key_bits,
              "tweak": BLOCK_BITS}
    if direction == Direction.BOTH:
        fields["decrypt"] = 1
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


def xts_tweak_layout(key_bits: int, direction: Direction, tag_width: int):
    """The first part of a line for an engine with ``early_tweak``: every field of
    :func:`xts_request_layout` but ``data``."""
    fields = dict(xts_request_layout(key_bits, direction, tag_width).members)
    del fields["data"]
    return data.StructLayout(fields)


def xts_response_layout(tag_width: int):
    """The transformed line and its request's tag (no ``tag`` field when ``tag_width`` is 0)."""
    fields = {"data": LINE_BITS}
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


class XTSEngine(CoreParameters, wiring.Component):
    """AES-XTS engine for 64-byte lines: a tweak core beside a data core.

    The tweak core (encrypt only) computes ``T_0 = E_key2(tweak)`` while the line waits in
    a request FIFO; the sequencer then feeds the line's four blocks, masked with
    ``T_0 .. T_3``, into the data core, one per clock, and keeps each mask in a FIFO until
    its block comes out. Lines leave in the order they came in. A pipelined engine sustains
    one line every four clocks.

    Parameters
    ----------
    key_bits : int
        128 (XTS-AES-128) or 256 (XTS-AES-256): the size of *each* of the two keys.
    architecture : str
        ``"pipelined"`` or ``"iterative"`` (both AES cores).
    direction : Direction or str
        ``"encrypt"``, ``"decrypt"`` or ``"both"``.
    tag_width : int
        Width of the user tag carried with each line.
    sbox : str
        S-box style of the pipelined data core (``"bram"`` or ``"lut"``).
    tweak_sbox : str or None
        S-box style of the pipelined tweak core; ``None`` (default) takes ``sbox``. Two
        block-RAM pipelines need 212 of the LFE5U-85F's 208 block RAMs: ``tweak_sbox="lut"``
        puts the encrypt-only tweak core in logic instead.
    early_tweak : bool
        Take each line in two parts on two streams: its tweak and keys on ``i_tweak``
        (:func:`xts_tweak_layout`), its data later on ``i_stream`` (a ``data`` field only),
        so that the tweak is encrypted while the data is still on its way (a fill's tweak
        while memory is being read). The n-th data pairs with the n-th tweak; the two
        streams are independent handshakes.

    Members
    -------
    i_stream : In(stream.Signature(xts_request_layout(...)))
        The lines (only their ``data`` with ``early_tweak``).
    i_tweak : In(stream.Signature(xts_tweak_layout(...)))
        ``early_tweak`` only: the lines' tweaks, keys, directions and tags.
    o_stream : Out(stream.Signature(xts_response_layout(tag_width)))
    """

    def __init__(self, *, key_bits=128, architecture="pipelined", direction="both",
                 tag_width=8, sbox="bram", tweak_sbox=None, early_tweak=False):
        with rejecting_parameters(self):
            key_bits, direction, tag_width = _check_parameters(key_bits, direction, tag_width)
            if architecture not in ARCHITECTURES:
                raise ValueError(f"Architecture must be 'pipelined' or 'iterative', "
                                 f"not {architecture!r}")
        self._key_bits, self._direction, self._tag_width = key_bits, direction, tag_width
        self._architecture = architecture
        self._early_tweak = bool(early_tweak)
        if architecture == "pipelined":
            self._tweak_core = AESPipeline(key_bits=key_bits, direction="encrypt",
                                           tag_width=0,
                                           sbox=sbox if tweak_sbox is None else tweak_sbox)
            self._data_core = AESPipeline(key_bits=key_bits, direction=direction,
                                          tag_width=0, sbox=sbox)
        else:
            self._tweak_core = AESIterative(key_bits=key_bits, direction="encrypt", tag_width=0)
            self._data_core = AESIterative(key_bits=key_bits, direction=direction, tag_width=0)
        if self._early_tweak:
            members = {
                "i_tweak": In(stream.Signature(xts_tweak_layout(key_bits, direction,
                                                                tag_width))),
                "i_stream": In(stream.Signature(data.StructLayout({"data": LINE_BITS}))),
            }
        else:
            members = {"i_stream": In(stream.Signature(
                xts_request_layout(key_bits, direction, tag_width)))}
        super().__init__({
            **members,
            "o_stream": Out(stream.Signature(xts_response_layout(tag_width))),
        })

    @property
    def architecture(self):
        return self._architecture

    def elaborate(self, platform):
        m = Module()
        m.submodules.tweak_core = tweak_core = self._tweak_core
        m.submodules.data_core = data_core = self._data_core
        both = self._direction == Direction.BOTH

        # Lines wait here while their tweak is encrypted.
        pending_fields = {"data": LINE_BITS, "data_key": self._key_bits, "decrypt": 1,
                          "tag": max(1, self._tag_width)}
        pending_layout = data.StructLayout(pending_fields)
        # (SyncFIFOBuffered of depth n is an n-1 deep memory plus an output register.)
        # To sustain a line every four clocks, as many lines must wait as arrive while one
        # tweak goes through the tweak core.
        if self._architecture == "pipelined":
            pending_depth = (tweak_core.latency + BLOCKS_PER_LINE) // BLOCKS_PER_LINE + 3
        else:
            pending_depth = 3
        if self._early_tweak:
            line, pending_ready, pending_take = self._early_tweak_input(
                m, tweak_core, pending_layout, pending_depth, both)
        else:
            line, pending_ready, pending_take = self._line_input(
                m, tweak_core, pending_layout, pending_depth, both)

        # Sequencer: four masked blocks per line into the data core.
        mask_layout = data.StructLayout({"mask": BLOCK_BITS, "tag": max(1, self._tag_width)})
        capacity = (data_core.fifo_depth if isinstance(data_core, AESPipeline) else 2) + 1
        m.submodules.masks = masks = fifo.SyncFIFOBuffered(
            width=mask_layout.size, depth=capacity)
        beat = Signal(range(BLOCKS_PER_LINE))
        next_tweak = Signal(128, reset_less=True)
        mask = Signal(BLOCK_BITS)
        mask_in = Signal(mask_layout)
        feed = Signal()
        plaintext_blocks = Array(line.data.word_select(i, BLOCK_BITS)
                                 for i in range(BLOCKS_PER_LINE))
        last_beat = beat == BLOCKS_PER_LINE - 1
        m.d.comb += [
            mask.eq(Mux(beat.any(), next_tweak, tweak_core.o_stream.payload.block)),
            data_core.i_stream.payload.block.eq(plaintext_blocks[beat] ^ mask),
            data_core.i_stream.payload.key.eq(line.data_key),
            data_core.i_stream.valid.eq(tweak_core.o_stream.valid & pending_ready & masks.w_rdy),
            feed.eq(data_core.i_stream.valid & data_core.i_stream.ready),
            mask_in.mask.eq(mask),
            mask_in.tag.eq(line.tag),
            masks.w_data.eq(mask_in.as_value()),
            masks.w_en.eq(feed),
            tweak_core.o_stream.ready.eq(feed & last_beat),
            pending_take.eq(feed & last_beat),
        ]
        if both:
            m.d.comb += data_core.i_stream.payload.decrypt.eq(line.decrypt)
        with m.If(feed):
            m.d.sync += [next_tweak.eq(mul_alpha(mask)), beat.eq(beat + 1)]

        # Unmasking and line assembly. Blocks leave the data core in order, four per line, so
        # a counter says which is a line's last: the handshake logic does not wait for the
        # mask FIFO's block-RAM output.
        head = data.View(mask_layout, masks.r_data)
        out_beat = Signal(range(BLOCKS_PER_LINE))
        head_last = Signal()
        m.d.comb += head_last.eq(out_beat == BLOCKS_PER_LINE - 1)
        result = Signal(BLOCK_BITS)
        collected = Signal(BLOCK_BITS * (BLOCKS_PER_LINE - 1), reset_less=True)
        out_valid = Signal()
        out_data = Signal(LINE_BITS, reset_less=True)
        out_tag = Signal(max(1, self._tag_width), reset_less=True)
        take = Signal()
        blocked = Signal()
        m.d.comb += [
            result.eq(data_core.o_stream.payload.block ^ head.mask),
            blocked.eq(head_last & out_valid & ~self.o_stream.ready),
            data_core.o_stream.ready.eq(masks.r_rdy & ~blocked),
            take.eq(data_core.o_stream.valid & data_core.o_stream.ready),
            masks.r_en.eq(take),
            self.o_stream.valid.eq(out_valid),
            self.o_stream.payload.data.eq(out_data),
        ]
        if self._tag_width:
            m.d.comb += self.o_stream.payload.tag.eq(out_tag)
        with m.If(self.o_stream.valid & self.o_stream.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(take):
            m.d.sync += out_beat.eq(out_beat + 1)
            # The first three blocks shift in from the top; the last completes the line.
            with m.If(head_last):
                m.d.sync += [out_data.eq(Cat(collected, result)), out_tag.eq(head.tag),
                             out_valid.eq(1)]
            with m.Else():
                m.d.sync += collected.eq(Cat(collected[128:], result))
        return m

    def _line_input(self, m, tweak_core, pending_layout, pending_depth, both):
        """Whole lines on ``i_stream``: the tweak enters the tweak core as the rest of the
        line enters the pending FIFO, in one handshake. Returns the pending line (a view),
        its ready signal and the signal that takes it."""
        m.submodules.pending = pending = fifo.SyncFIFOBuffered(
            width=pending_layout.size, depth=pending_depth)
        request = self.i_stream.payload
        pending_in = Signal(pending_layout)
        m.d.comb += [
            pending_in.data.eq(request.data),
            pending_in.data_key.eq(request.data_key),
            pending_in.decrypt.eq(request.decrypt if both else
                                  int(self._direction == Direction.DECRYPT)),
            pending_in.tag.eq(request.tag if self._tag_width else 0),
            pending.w_data.eq(pending_in.as_value()),
            tweak_core.i_stream.payload.block.eq(request.tweak),
            tweak_core.i_stream.payload.key.eq(request.tweak_key),
            tweak_core.i_stream.valid.eq(self.i_stream.valid & pending.w_rdy),
            pending.w_en.eq(self.i_stream.valid & tweak_core.i_stream.ready),
            self.i_stream.ready.eq(tweak_core.i_stream.ready & pending.w_rdy),
        ]
        take = Signal()
        m.d.comb += pending.r_en.eq(take)
        return data.View(pending_layout, pending.r_data), pending.r_rdy, take

    def _early_tweak_input(self, m, tweak_core, pending_layout, pending_depth, both):
        """Lines in two parts: ``i_tweak`` (tweak and keys) enters the tweak core and a
        FIFO of keys, ``i_stream`` (the data) a FIFO of data; a line is pending when both
        FIFOs hold their part."""
        keys_fields = dict(pending_layout.members)
        del keys_fields["data"]
        keys_layout = data.StructLayout(keys_fields)
        # Tweaks may run ahead of their data by what the tweak core holds.
        keys_depth = pending_depth + (tweak_core.fifo_depth
                                      if self._architecture == "pipelined" else 2)
        m.submodules.pending_keys = keys = fifo.SyncFIFOBuffered(
            width=keys_layout.size, depth=keys_depth)
        m.submodules.pending_data = datas = fifo.SyncFIFOBuffered(
            width=LINE_BITS, depth=pending_depth)
        request = self.i_tweak.payload
        keys_in = Signal(keys_layout)
        m.d.comb += [
            keys_in.data_key.eq(request.data_key),
            keys_in.decrypt.eq(request.decrypt if both else
                               int(self._direction == Direction.DECRYPT)),
            keys_in.tag.eq(request.tag if self._tag_width else 0),
            keys.w_data.eq(keys_in.as_value()),
            tweak_core.i_stream.payload.block.eq(request.tweak),
            tweak_core.i_stream.payload.key.eq(request.tweak_key),
            tweak_core.i_stream.valid.eq(self.i_tweak.valid & keys.w_rdy),
            keys.w_en.eq(self.i_tweak.valid & tweak_core.i_stream.ready),
            self.i_tweak.ready.eq(tweak_core.i_stream.ready & keys.w_rdy),
            datas.w_data.eq(self.i_stream.payload.data),
            datas.w_en.eq(self.i_stream.valid),
            self.i_stream.ready.eq(datas.w_rdy),
        ]
        line = Signal(pending_layout)
        head = data.View(keys_layout, keys.r_data)
        take = Signal()
        m.d.comb += [
            line.data.eq(datas.r_data),
            line.data_key.eq(head.data_key),
            line.decrypt.eq(head.decrypt),
            line.tag.eq(head.tag),
            keys.r_en.eq(take),
            datas.r_en.eq(take),
        ]
        return line, keys.r_rdy & datas.r_rdy, take
