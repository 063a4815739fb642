"""AES block cipher gateware, after FIPS-197 (Advanced Encryption Standard, 2001/2023).

The cipher (§5.1), the inverse cipher (§5.3) and the key expansion (§5.2) are written as
functions that build Amaranth expressions, then assembled into three components:

* :class:`AESPipeline` -- fully pipelined, one block per clock, two register stages per
  round (a registered S-box stage, then ShiftRows/MixColumns/AddRoundKey);
* :class:`AESIterative` -- one round per clock, one round's worth of logic;
* :class:`KeyScheduleUnit` -- iterative key expansion that derives the key decryption
  starts from (the final round key, or the last two for AES-256).

Round keys are computed on the fly and travel with the data through the pipeline, so every
block may carry its own key and a key change costs no cycle. A block to be decrypted carries
the *decryption start key* instead of the cipher key: the final round key for AES-128, and
the last two round keys (round key 13 in bits 127:0, round key 14 in bits 255:128) for
AES-256; the inverse key expansion walks backwards from there.

Bit order: byte ``k`` of a block or key (FIPS-197 ``in[k]``, ``key[k]``) is bits
``[8k+7:8k]`` of the signal, so that byte ``k`` of a 128-bit bus beat is byte ``k`` of its
AES block.
"""

import contextlib

from amaranth.hdl import Array, Assert, C, Cat, Module, Mux, Signal
from amaranth.lib import data, enum, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..amaranth_private import reject_construction

__all__ = [
    "Direction", "SBoxStyle", "AESPipeline", "AESIterative", "KeyScheduleUnit",
    "block_input_layout", "block_output_layout", "make_sbox_tables", "rejecting_parameters",
]


# -- FIPS-197 §5.1.1: the S-box, derived from its definition ----------------------------------

def _gf_mul(a: int, b: int) -> int:
    product = 0
    for _ in range(8):
        if b & 1:
            product ^= a
        carry = a & 0x80
        a = (a << 1) & 0xFF
        if carry:
            a ^= 0x1B
        b >>= 1
    return product


def make_sbox_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Build the S-box and its inverse from GF(2^8) inversion and the affine map (§5.1.1)."""
    inverse = [0] * 256
    for x in range(1, 256):
        for y in range(1, 256):
            if _gf_mul(x, y) == 1:
                inverse[x] = y
                break
    sbox = []
    for x in range(256):
        b = inverse[x]
        s = b
        for shift in range(1, 5):
            s ^= ((b << shift) | (b >> (8 - shift))) & 0xFF
        sbox.append(s ^ 0x63)
    inv_sbox = [0] * 256
    for x, s in enumerate(sbox):
        inv_sbox[s] = x
    return tuple(sbox), tuple(inv_sbox)


SBOX, INV_SBOX = make_sbox_tables()
RCON = (0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36)


class Direction(enum.Enum):
    """Which transforms a core implements."""
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    BOTH = "both"


class SBoxStyle(enum.Enum):
    """How the pipelined core builds its registered S-box stage.

    ``BRAM``: read-only memories with a synchronous read port, two lookups per memory, which
    Yosys maps to block RAM. ``LUT``: combinational lookup tables followed by registers.
    """
    BRAM = "bram"
    LUT = "lut"


# -- Byte-level round functions (§5.1.2, §5.1.3, §5.3.1, §5.3.3) ------------------------------

def _wire(m, value, name):
    """Give an intermediate result a name, so that its uses share one copy of the logic
    (in the simulator as in the netlist) and it shows up in waveforms."""
    wire = Signal(len(value), name=name)
    m.d.comb += wire.eq(value)
    return wire


def _wire_bytes(m, values, name):
    return [_wire(m, v, f"{name}{i}") for i, v in enumerate(values)]


def _bytes(value, count):
    return [value[8 * i:8 * i + 8] for i in range(count)]


def _words(value, count):
    return [value[32 * i:32 * i + 32] for i in range(count)]


def xtime(b):
    """Multiply a byte by x (i.e. {02}) in GF(2^8) (§4.2.1)."""
    return (b << 1)[:8] ^ Mux(b[7], C(0x1B, 8), C(0, 8))


def shift_rows(state):
    """ShiftRows (§5.1.2): row ``r`` of column ``c`` comes from column ``c + r``."""
    return [state[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]


def inv_shift_rows(state):
    """InvShiftRows (§5.3.1): row ``r`` of column ``c`` comes from column ``c - r``."""
    return [state[r + 4 * ((c - r) % 4)] for c in range(4) for r in range(4)]


def mix_columns(state):
    """MixColumns (§5.1.3), as ``b_i = a_i ^ (a_0^a_1^a_2^a_3) ^ xtime(a_i ^ a_{i+1})``."""
    out = []
    for c in range(4):
        a = state[4 * c:4 * c + 4]
        total = a[0] ^ a[1] ^ a[2] ^ a[3]
        out += [a[i] ^ total ^ xtime(a[i] ^ a[(i + 1) % 4]) for i in range(4)]
    return out


def inv_mix_columns_prefix(state):
    """The map ``P`` with InvMixColumns = MixColumns o P (§5.3.3 matrix factorised).

    ``[0e 0b 0d 09] = [02 03 01 01] x [05 00 04 00; 00 05 00 04; 04 00 05 00; 00 04 00 05]``,
    so a core that has MixColumns gets InvMixColumns for a few XOR gates.
    """
    out = []
    for c in range(4):
        a = state[4 * c:4 * c + 4]
        even = xtime(xtime(a[0] ^ a[2]))
        odd = xtime(xtime(a[1] ^ a[3]))
        out += [a[0] ^ even, a[1] ^ odd, a[2] ^ even, a[3] ^ odd]
    return out


def _xor_bytes(a, b):
    return [x ^ y for x, y in zip(a, b, strict=True)]


def _mux_bytes(sel, if_true, if_false):
    return [Mux(sel, t, f) for t, f in zip(if_true, if_false, strict=True)]


# -- Key expansion one step at a time (§5.2), forwards and backwards ---------------------------

class _KeyStep:
    """One round's step of the on-the-fly key expansion for one key size and direction.

    The key register ``K`` holds, entering round ``r`` (1-based) of a block:

    ================  ==========================  ==========================
    key size          encrypt                     decrypt
    ================  ==========================  ==========================
    AES-128           round key ``r-1``           round key ``Nr-r+1``
    AES-256           round keys ``r-1``, ``r``   round keys ``Nr-r``, ``Nr-r+1``
    ================  ==========================  ==========================

    :meth:`sbox_input` is the word whose S-box lookup the step needs; :meth:`advance` takes
    that lookup and returns ``(next K, round key of round r)``.
    """

    def __init__(self, key_bits):
        self.key_bits = key_bits
        self.rounds = 10 if key_bits == 128 else 14

    def sbox_input(self, key, decrypt: bool):
        w = _words(key, self.key_bits // 32)
        if self.key_bits == 128:
            return w[2] ^ w[3] if decrypt else w[3]
        return w[3] if decrypt else w[7]

    def schedule(self, round_index: int, decrypt: bool) -> tuple[bool, int]:
        """(RotWord applied?, Rcon byte) of round ``round_index``'s key step."""
        nr = self.rounds
        if self.key_bits == 128:
            return True, RCON[nr - round_index + 1 if decrypt else round_index]
        # The step computes the four key words from word 4p on (§5.2: RotWord and Rcon when
        # 4p is a multiple of Nk = 8, SubWord alone otherwise); decrypting walks backwards,
        # recovering round key p - 2 from words 4p - 1 .. 4p + 3.
        produced = nr - round_index + 1 if decrypt else round_index + 1
        rotate = produced % 2 == 0
        return rotate, RCON[produced // 2] if rotate else 0

    @staticmethod
    def g(substituted, rotate, rcon):
        """SubWord already applied; RotWord and Rcon (they commute with SubWord)."""
        rotated = Cat(substituted[8:32], substituted[0:8])
        return Mux(rotate, rotated ^ rcon, substituted)

    def advance(self, m, name, key, substituted, rotate, rcon, decrypt: bool):
        g = _wire(m, self.g(substituted, rotate, C(0, 32) | rcon), f"{name}_g")
        w = _words(key, self.key_bits // 32)
        if self.key_bits == 128:
            if decrypt:
                n3 = w[3] ^ w[2]
                n2 = w[2] ^ w[1]
                n1 = w[1] ^ w[0]
                n0 = w[0] ^ g
            else:
                n0 = _wire(m, w[0] ^ g, f"{name}_w0")
                n1 = _wire(m, w[1] ^ n0, f"{name}_w1")
                n2 = _wire(m, w[2] ^ n1, f"{name}_w2")
                n3 = w[3] ^ n2
            new = Cat(n0, n1, n2, n3)
            return new, new
        low, high = key[:128], key[128:]
        if decrypt:
            p0 = w[4] ^ g
            p1 = w[5] ^ w[4]
            p2 = w[6] ^ w[5]
            p3 = w[7] ^ w[6]
            return Cat(p0, p1, p2, p3, low), low
        n0 = _wire(m, w[0] ^ g, f"{name}_w0")
        n1 = _wire(m, w[1] ^ n0, f"{name}_w1")
        n2 = _wire(m, w[2] ^ n1, f"{name}_w2")
        n3 = w[3] ^ n2
        return Cat(high, n0, n1, n2, n3), high

    def initial_round_key(self, key, decrypt: bool):
        """The key of the initial AddRoundKey: round key 0, or ``Nr`` when decrypting."""
        if decrypt and self.key_bits == 256:
            return key[128:]
        return key[:128]


# -- Stream payloads ---------------------------------------------------------------------------

def block_input_layout(key_bits: int, direction: Direction, tag_width: int) -> data.StructLayout:
    """Payload of a core's input: block, key, ``decrypt`` (``BOTH`` only), tag."""
    fields = {"block": 128, "key": key_bits}
    if direction == Direction.BOTH:
        fields["decrypt"] = 1
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


def block_output_layout(tag_width: int) -> data.StructLayout:
    """Payload of a core's output: the transformed block and the tag it came in with.

    A core built with ``tag_width=0`` has no ``tag`` field at all.
    """
    fields = {"block": 128}
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


@contextlib.contextmanager
def rejecting_parameters(elaboratable):
    """Construct ``elaboratable`` inside this block; if a parameter check raises, the
    half-built object is marked so that Amaranth does not also warn it was never used."""
    try:
        yield
    except Exception:
        reject_construction(elaboratable)
        raise


def _check_parameters(key_bits, direction, tag_width):
    if not isinstance(key_bits, int) or isinstance(key_bits, bool):
        raise TypeError(f"Key size must be an integer, not {key_bits!r}")
    if key_bits not in (128, 256):
        raise ValueError(f"Key size must be 128 or 256, not {key_bits!r}")
    try:
        direction = Direction(direction)
    except ValueError:
        raise ValueError(f"Direction must be one of 'encrypt', 'decrypt', 'both', "
                         f"not {direction!r}") from None
    if not isinstance(tag_width, int) or isinstance(tag_width, bool):
        raise TypeError(f"Tag width must be an integer, not {tag_width!r}")
    if tag_width < 0:
        raise ValueError(f"Tag width must be a non-negative integer, not {tag_width!r}")
    return key_bits, direction, tag_width


class CoreParameters:
    """The parameters every AES and XTS core exposes (set ``_key_bits``, ``_direction``,
    ``_tag_width`` in the constructor)."""

    @property
    def key_bits(self):
        return self._key_bits

    @property
    def direction(self):
        return self._direction

    @property
    def tag_width(self):
        return self._tag_width


class _AESCore(CoreParameters, wiring.Component):
    def __init__(self, *, key_bits, direction, tag_width):
        with rejecting_parameters(self):
            self._key_bits, self._direction, self._tag_width = _check_parameters(
                key_bits, direction, tag_width)
        self._rounds = 10 if self._key_bits == 128 else 14
        super().__init__({
            "i_stream": In(stream.Signature(
                block_input_layout(self._key_bits, self._direction, self._tag_width))),
            "o_stream": Out(stream.Signature(block_output_layout(self._tag_width))),
        })

    @property
    def rounds(self):
        return self._rounds

    def _decrypt_flag(self, payload):
        if self._direction == Direction.BOTH:
            return payload.decrypt
        return C(self._direction == Direction.DECRYPT, 1)

    def _directions(self):
        """The directions built in hardware: ``[False]``, ``[True]`` or both."""
        return {Direction.ENCRYPT: [False], Direction.DECRYPT: [True],
                Direction.BOTH: [False, True]}[self._direction]


def _select(decrypt, directions, build):
    """Build ``build(False)`` and/or ``build(True)``; mux on ``decrypt`` if both exist."""
    if len(directions) == 1:
        return build(directions[0])
    enc, dec = build(False), build(True)
    if isinstance(enc, list):
        return _mux_bytes(decrypt, dec, enc)
    if isinstance(enc, tuple):
        return tuple(Mux(decrypt, d, e) for d, e in zip(dec, enc, strict=True))
    return Mux(decrypt, dec, enc)


def _linear_layer(m, name, t, round_key, decrypt, directions, last):
    """The part of a round after SubBytes (enc) / InvSubBytes o InvShiftRows (dec).

    Encrypt: ``MixColumns(ShiftRows(t)) ^ k``; decrypt: ``InvMixColumns(t ^ k)``. The last
    round drops (Inv)MixColumns. One MixColumns serves both directions.
    """
    rk = _bytes(_wire(m, round_key, f"{name}_round_key"), 16)
    if last:
        return _select(decrypt, directions,
                       lambda dec: _xor_bytes(t, rk) if dec else _xor_bytes(shift_rows(t), rk))
    if len(directions) == 1:
        if directions[0]:
            keyed = _wire_bytes(m, _xor_bytes(t, rk), f"{name}_keyed")
            return mix_columns(_wire_bytes(m, inv_mix_columns_prefix(keyed), f"{name}_pre"))
        return _xor_bytes(mix_columns(shift_rows(t)), rk)
    keyed = _wire_bytes(m, _xor_bytes(t, rk), f"{name}_keyed")
    mixed_in = _wire_bytes(m, _mux_bytes(decrypt, inv_mix_columns_prefix(keyed), shift_rows(t)),
                           f"{name}_mix_in")
    after_key = [Mux(decrypt, C(0, 8), k) for k in rk]
    return _xor_bytes(mix_columns(mixed_in), after_key)


class _SBoxBank:
    """S-box lookups for one pipeline stage: ``lookup(m, address, inverse)`` returns the
    substituted byte one clock later (``registered``) or in the same cycle."""

    def __init__(self, m, name, directions, style, registered, retime=0):
        self._m, self._name = m, name
        self._both = len(directions) == 2
        self._only_inverse = directions == [True]
        self._style, self._registered = style, registered
        self._retime = retime
        self._pending = None
        self._count = 0

    def _table(self, forward_only):
        if forward_only:
            return list(SBOX)
        if self._both:
            return list(SBOX) + list(INV_SBOX)
        return list(INV_SBOX) if self._only_inverse else list(SBOX)

    def lookup(self, address, inverse, forward_only=False):
        """``inverse`` selects InvSubBytes (ignored if ``forward_only``)."""
        table = self._table(forward_only)
        if len(table) == 512:
            address = Cat(address, inverse)
        m = self._m
        result = Signal(8, name=f"{self._name}_sb{self._count}")
        if self._registered and self._style == SBoxStyle.BRAM:
            # Two lookups share one dual-port ROM (one block RAM on ECP5).
            key = len(table), forward_only
            if self._pending is not None and self._pending[0] == key:
                rom = self._pending[1]
                self._pending = None
            else:
                # Yosys would map a 2 Kbit ROM to logic unless asked for block RAM.
                rom = memory.Memory(shape=8, depth=len(table), init=table,
                                    attrs={"ram_style": "block"})
                m.submodules[f"{self._name}_rom{self._count}"] = rom
                self._pending = (key, rom)
            port = rom.read_port(domain="sync", transparent_for=())
            m.d.comb += port.addr.eq(address)
            # ECP5 block RAM is slow from clock to data (5.8 ns without its own output
            # register, which Yosys does not infer), and the placer puts a register that
            # feeds MixColumns near MixColumns, not near the RAM: ``retime`` fabric
            # registers split that route.
            data = port.data
            for stage in range(self._retime):
                retimed = Signal(8, name=f"{self._name}_sb{self._count}_t{stage}",
                                 reset_less=True)
                m.d.sync += retimed.eq(data)
                data = retimed
            m.d.comb += result.eq(data)
        else:
            # Kept in logic: Yosys would otherwise fold the register that follows into a
            # synchronous read port and move the 512-entry tables into block RAM.
            rom = memory.Memory(shape=8, depth=len(table), init=table,
                                attrs={"ram_style": "logic"})
            m.submodules[f"{self._name}_rom{self._count}"] = rom
            port = rom.read_port(domain="comb")
            m.d.comb += port.addr.eq(address)
            if self._registered:
                m.d.sync += result.eq(port.data)
            else:
                m.d.comb += result.eq(port.data)
        self._count += 1
        return result


def _sub_word(bank, word):
    return Cat(*[bank.lookup(b, C(0, 1), forward_only=True) for b in _bytes(word, 4)])


class AESPipeline(_AESCore):
    """Fully pipelined AES core: one block per clock, any key on any block.

    Each round takes two register stages: the S-box stage (SubBytes, or InvSubBytes after
    the InvShiftRows wiring, plus the S-box of the key expansion) and the linear stage
    (ShiftRows, MixColumns, AddRoundKey, and the rest of the key expansion). With block-RAM
    S-boxes, one (default) or two more register stages follow each RAM in the fabric
    (``stages_per_round`` 3 or 4): ECP5 block RAM is slow from clock to data, and a second
    register lets the placer split the route from the RAM to the linear logic (on the
    LFE5U-85F the encrypt + decrypt AES-128 core goes from about 100 MHz to 111 MHz). An input
    stage does the initial AddRoundKey. The pipeline never stalls: it writes into an output
    FIFO, and the input is ready only while the blocks in flight plus those in the FIFO
    leave room (a credit counter), so backpressure costs no enable on the datapath.

    Parameters
    ----------
    key_bits : int
        128 or 256.
    direction : Direction or str
        ``"encrypt"``, ``"decrypt"`` or ``"both"`` (a ``decrypt`` bit per block).
    tag_width : int
        Width of the user tag carried with each block.
    sbox : SBoxStyle or str
        ``"bram"`` (default) or ``"lut"``.
    stages_per_round : int or None
        2 (LUT S-boxes' default), 3 (block-RAM default) or 4 (block RAM only).

    Members
    -------
    i_stream : In(stream.Signature(block_input_layout(...)))
        Blocks to transform: ``block``, ``key`` (the cipher key, or the decryption start key
        for a block to decrypt), ``decrypt`` (``BOTH`` only), ``tag``.
    o_stream : Out(stream.Signature(block_output_layout(tag_width)))
        Results, in input order, each with its tag.

    Raises
    ------
    ValueError, TypeError
        On a bad parameter.
    """

    def __init__(self, *, key_bits=128, direction="both", tag_width=8, sbox="bram",
                 stages_per_round=None):
        try:
            self._sbox = SBoxStyle(sbox)
        except ValueError:
            reject_construction(self)
            raise ValueError(f"S-box style must be 'bram' or 'lut', not {sbox!r}") from None
        if stages_per_round is None:
            stages_per_round = 3 if self._sbox == SBoxStyle.BRAM else 2
        if stages_per_round not in (2, 3, 4) or isinstance(stages_per_round, bool):
            reject_construction(self)
            raise ValueError(f"Stages per round must be 2, 3 or 4, not {stages_per_round!r}")
        if stages_per_round > 2 and self._sbox != SBoxStyle.BRAM:
            reject_construction(self)
            raise ValueError(f"{stages_per_round} stages per round need block-RAM S-boxes "
                             f"(sbox='bram')")
        self._stages_per_round = stages_per_round
        super().__init__(key_bits=key_bits, direction=direction, tag_width=tag_width)

    @property
    def stages_per_round(self):
        """2 (S-box, linear layer), 3 or 4 (block-RAM S-box, one or two fabric registers
        after it, linear layer)."""
        return self._stages_per_round

    @property
    def sbox(self):
        return self._sbox

    @property
    def latency(self):
        """Clock edges from a block's input handshake to its output handshake (output ready):
        the input stage, the round stages, and two through the output FIFO."""
        return 1 + self._stages_per_round * self.rounds + 2

    @property
    def fifo_depth(self):
        """Blocks the core can hold (in flight plus buffered): the input's credit."""
        return 1 << (self.latency + 2 - 1).bit_length()

    def elaborate(self, platform):
        m = Module()
        directions = self._directions()
        step = _KeyStep(self.key_bits)
        payload = self.i_stream.payload

        accept = Signal()
        m.d.comb += accept.eq(self.i_stream.valid & self.i_stream.ready)

        # Input stage: initial AddRoundKey.
        decrypt = self._decrypt_flag(payload)
        # Only the valid bits are reset: the datapath registers need none, which keeps the
        # reset net off 20,000 flip-flops.
        state = Signal(128, name="s0_state", reset_less=True)
        key = Signal(self.key_bits, name="s0_key", reset_less=True)
        # What travels beside the data: decrypt and the tag.
        sideband_fields = {"decrypt": 1}
        if self.tag_width:
            sideband_fields["tag"] = self.tag_width
        sideband_layout = data.StructLayout(sideband_fields)
        side = Signal(sideband_layout, name="s0_side", reset_less=True)
        valid = Signal(name="s0_valid")
        stage_valids = [valid]
        first_key = _select(decrypt, directions,
                            lambda d: step.initial_round_key(payload.key, d))
        m.d.sync += [
            state.eq(payload.block ^ first_key),
            key.eq(payload.key),
            valid.eq(accept),
            side.decrypt.eq(decrypt),
        ]
        if self.tag_width:
            m.d.sync += side.tag.eq(payload.tag)

        for r in range(1, self.rounds + 1):
            last = r == self.rounds
            bank = _SBoxBank(m, f"r{r}", directions, self._sbox, registered=True,
                             retime=self._stages_per_round - 2)
            # S-box stage.
            s_bytes = _bytes(state, 16)
            dec = side.decrypt
            address = _select(dec, directions,
                              lambda d, s=s_bytes: inv_shift_rows(s) if d else s)
            t = [bank.lookup(a, dec) for a in address]
            need_key_sbox = not (last and self.key_bits == 256)
            if need_key_sbox:
                key_word = _wire(m, _select(dec, directions,
                                        lambda d, k=key: step.sbox_input(k, d)),
                             f"r{r}_key_sbox_in")
                key_sub = _sub_word(bank, key_word)
            for stage in "abc"[:self._stages_per_round - 1]:
                t_key = Signal(self.key_bits, name=f"r{r}{stage}_key", reset_less=True)
                t_side = Signal(sideband_layout, name=f"r{r}{stage}_side", reset_less=True)
                t_valid = Signal(name=f"r{r}{stage}_valid")
                m.d.sync += [t_key.eq(key), t_side.eq(side), t_valid.eq(valid)]
                stage_valids.append(t_valid)
                key, side, valid = t_key, t_side, t_valid
            t_dec = t_side.decrypt

            # Linear stage.
            if need_key_sbox:
                def advance(d, k=t_key, sub=key_sub, r=r):
                    rotate, rcon = step.schedule(r, d)
                    return step.advance(m, f"r{r}{'d' if d else 'e'}", k, sub,
                                        C(rotate, 1), C(rcon, 8), d)
                next_key, round_key = _select(t_dec, directions, advance)
                next_key = _wire(m, next_key, f"r{r}_next_key")
            else:
                next_key = t_key
                round_key = _select(t_dec, directions,
                                    lambda d, k=t_key: k[:128] if d else k[128:])
            result = _linear_layer(m, f"r{r}", t, round_key, t_dec, directions, last)
            state = Signal(128, name=f"r{r}_state", reset_less=True)
            new_key = Signal(self.key_bits, name=f"r{r}_key", reset_less=True)
            new_side = Signal(sideband_layout, name=f"r{r}_side", reset_less=True)
            new_valid = Signal(name=f"r{r}_valid")
            m.d.sync += [state.eq(Cat(*result)), new_side.eq(t_side), new_valid.eq(t_valid)]
            if not last:
                m.d.sync += new_key.eq(next_key)
            stage_valids.append(new_valid)
            key, side, valid, dec = new_key, new_side, new_valid, new_side.decrypt

        # Output FIFO and the credit counter that keeps it from overflowing.
        out_layout = block_output_layout(self.tag_width)
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=out_layout.size, depth=self.fifo_depth)
        out_word = Signal(out_layout)
        m.d.comb += [
            out_word.block.eq(state),
            out_fifo.w_data.eq(out_word.as_value()),
            out_fifo.w_en.eq(valid),
            self.o_stream.payload.eq(out_fifo.r_data),
            self.o_stream.valid.eq(out_fifo.r_rdy),
            out_fifo.r_en.eq(self.o_stream.ready),
        ]
        outstanding = Signal(range(self.fifo_depth + 1))
        delivered = Signal()
        if self.tag_width:
            m.d.comb += out_word.tag.eq(side.tag)
        m.d.comb += [
            delivered.eq(self.o_stream.valid & self.o_stream.ready),
            self.i_stream.ready.eq(outstanding < self.fifo_depth),
        ]
        m.d.sync += outstanding.eq(outstanding + accept - delivered)
        if platform == "formal":
            # Inductive invariant: the credit counter counts exactly the valid stages and
            # the FIFO's contents.
            in_flight = Signal(range(len(stage_valids) + 1))
            m.d.comb += in_flight.eq(sum(stage_valids))
            m.d.comb += Assert(outstanding == in_flight + out_fifo.level)
        return m


class AESIterative(_AESCore):
    """Iterative AES core: one round per clock, ``Nr + 1`` cycles per block.

    A block is loaded (initial AddRoundKey) in the cycle it is accepted, goes through one
    round per clock with its round key computed on the fly, and is then held at the output
    until taken; a new block is accepted in the same cycle its predecessor leaves.

    Parameters
    ----------
    key_bits : int
        128 or 256.
    direction : Direction or str
        ``"encrypt"``, ``"decrypt"`` or ``"both"``.
    tag_width : int
        Width of the user tag carried with each block.

    Members
    -------
    i_stream : In(stream.Signature(block_input_layout(...)))
        As for :class:`AESPipeline`.
    o_stream : Out(stream.Signature(block_output_layout(tag_width)))
        Results, in input order, each with its tag.
    """

    def __init__(self, *, key_bits=128, direction="both", tag_width=8):
        super().__init__(key_bits=key_bits, direction=direction, tag_width=tag_width)

    @property
    def latency(self):
        """Clock edges from a block's input handshake to its output handshake (output ready)."""
        return self.rounds + 1

    def elaborate(self, platform):
        m = Module()
        directions = self._directions()
        step = _KeyStep(self.key_bits)
        payload = self.i_stream.payload

        state = Signal(128, reset_less=True)
        key = Signal(self.key_bits, reset_less=True)
        tag = Signal(self.tag_width) if self.tag_width else None
        dec = Signal()
        round_index = Signal(range(self.rounds + 2))
        busy = Signal()
        done = Signal()

        bank = _SBoxBank(m, "round", directions, SBoxStyle.LUT, registered=False)
        s_bytes = _bytes(state, 16)
        address = _select(dec, directions, lambda d: inv_shift_rows(s_bytes) if d else s_bytes)
        t = [bank.lookup(a, dec) for a in address]
        key_sub = _sub_word(bank, _wire(m, _select(dec, directions,
                                                   lambda d: step.sbox_input(key, d)),
                                        "key_sbox_in"))

        # Rotate flag and Rcon of each round, by direction, as small lookup tables.
        def schedule_table(d):
            rows = [step.schedule(r, d) if 1 <= r <= self.rounds else (False, 0)
                    for r in range(1 << len(round_index))]
            return (Array(C(rot, 1) for rot, _ in rows)[round_index],
                    Array(C(rcon, 8) for _, rcon in rows)[round_index])

        def advance(d):
            rotate, rcon = schedule_table(d)
            return step.advance(m, "dec" if d else "enc", key, key_sub, rotate, rcon, d)

        next_key, round_key = _select(dec, directions, advance)
        next_key = _wire(m, next_key, "next_key")
        last = round_index == self.rounds
        middle_round = _wire(m, Cat(*_linear_layer(m, "middle", t, round_key, dec, directions,
                                                   last=False)), "middle_round")
        last_round = _wire(m, Cat(*_linear_layer(m, "last", t, round_key, dec, directions,
                                                 last=True)), "last_round")

        accept = Signal()
        leave = Signal()
        m.d.comb += [
            leave.eq(done & self.o_stream.ready),
            self.i_stream.ready.eq(~busy & (~done | self.o_stream.ready)),
            accept.eq(self.i_stream.valid & self.i_stream.ready),
            self.o_stream.valid.eq(done),
            self.o_stream.payload.block.eq(state),
        ]
        if self.tag_width:
            m.d.comb += self.o_stream.payload.tag.eq(tag)
        with m.If(leave):
            m.d.sync += done.eq(0)
        with m.If(accept):
            decrypt = self._decrypt_flag(payload)
            m.d.sync += [
                state.eq(payload.block ^ _select(
                    decrypt, directions, lambda d: step.initial_round_key(payload.key, d))),
                key.eq(payload.key),
                dec.eq(decrypt),
                round_index.eq(1),
                busy.eq(1),
            ]
            if self.tag_width:
                m.d.sync += tag.eq(payload.tag)
        with m.Elif(busy):
            m.d.sync += [
                state.eq(Mux(last, last_round, middle_round)),
                key.eq(next_key),
                round_index.eq(round_index + 1),
            ]
            with m.If(last):
                m.d.sync += [busy.eq(0), done.eq(1)]
        return m


class KeyScheduleUnit(wiring.Component):
    """Derives the decryption start key from a cipher key, one expansion step per clock.

    AES-128 takes 10 steps and yields round key 10; AES-256 takes 13 steps and yields round
    keys 13 (bits 127:0) and 14 (bits 255:128). The key table runs this once when a key is
    programmed, so that decryption can start from the end of the schedule.

    Parameters
    ----------
    key_bits : int
        128 or 256.

    Members
    -------
    i_stream : In(stream.Signature(key_bits))
        Cipher keys.
    o_stream : Out(stream.Signature(key_bits))
        The matching decryption start keys, in order. Once one is taken the unit holds
        no key (its key register is zero) until the next key comes in.
    """

    def __init__(self, *, key_bits=128):
        with rejecting_parameters(self):
            key_bits, _, _ = _check_parameters(key_bits, "encrypt", 0)
        self._key_bits = key_bits
        super().__init__({
            "i_stream": In(stream.Signature(key_bits)),
            "o_stream": Out(stream.Signature(key_bits)),
        })

    @property
    def key_bits(self):
        return self._key_bits

    @property
    def steps(self):
        """Clock cycles spent expanding one key."""
        return 10 if self._key_bits == 128 else 13

    def elaborate(self, platform):
        m = Module()
        step = _KeyStep(self._key_bits)
        key = Signal(self._key_bits)
        index = Signal(range(self.steps + 2))
        busy = Signal()
        done = Signal()
        bank = _SBoxBank(m, "ks", [False], SBoxStyle.LUT, registered=False)
        key_sub = _sub_word(bank, step.sbox_input(key, False))
        rows = [step.schedule(r, False) if 1 <= r <= self.steps else (False, 0)
                for r in range(1 << len(index))]
        rotate = Array(C(rot, 1) for rot, _ in rows)[index]
        rcon = Array(C(rc, 8) for _, rc in rows)[index]
        next_key, _ = step.advance(m, "ks", key, key_sub, rotate, rcon, False)
        m.d.comb += [
            self.i_stream.ready.eq(~busy & (~done | self.o_stream.ready)),
            self.o_stream.valid.eq(done),
            self.o_stream.payload.eq(key),
        ]
        with m.If(done & self.o_stream.ready):
            # The key taken is not kept: the unit holds no key material between keys.
            m.d.sync += [done.eq(0), key.eq(0)]
        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [key.eq(self.i_stream.payload), index.eq(1), busy.eq(1)]
        with m.Elif(busy):
            m.d.sync += [key.eq(next_key), index.eq(index + 1)]
            with m.If(index == self.steps):
                m.d.sync += [busy.eq(0), done.eq(1)]
        return m

