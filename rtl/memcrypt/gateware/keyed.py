"""The AES-XTS engine keyed from the key table: control interface + table + engine.

This is the key half of the controller wired to the data half's engine, without the cache
and the memory port (built in later issues): select a KeyID, and every line sent to the
engine is transformed with that KeyID's keys as the table holds them. It is what the cocotb
bench of the control interface programs through AXI4-Lite and checks against the golden
model, and what a board bring-up can drive.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..amaranth_private import reject_construction
from ..config import MemcryptConfig, require_config
from ..geometry import LINE_BITS
from ..regmap import ADDR_WIDTH, Block, KeyMode
from .control import KeyControl
from .interfaces import (
    AXI4LiteSignature,
    EntropySignature,
    FaultSignature,
    PerfEventsSignature,
    RetireSignature,
)
from .xts import XTSEngine, xts_response_layout

__all__ = ["KeyedEngine"]

#: Width of the user tag carried with each line.
TAG_WIDTH = 8


class KeyedEngine(wiring.Component):
    """:class:`~memcrypt.gateware.control.KeyControl` feeding an
    :class:`~memcrypt.gateware.xts.XTSEngine`.

    Parameters
    ----------
    config : MemcryptConfig
    key_bits : int
        The engine's key size; one of ``config.key_sizes``. Lines under a KeyID whose key
        has another size are refused (``selected_usable`` low).
    architecture : str
        ``"pipelined"`` or ``"iterative"`` (the engine's AES cores).
    sbox : str
        Pipelined cores: ``"bram"`` or ``"lut"``.

    Members
    -------
    s_axil, entropy, retire, fault, events, irq, ready :
        :class:`~memcrypt.gateware.control.KeyControl`'s, joined to it (its CAP_BLOCKS
        reads ENGINE).
    select_valid : In(1), select_keyid : In(keyid_bits)
        Look up a KeyID; its entry is held for the lines that follow.
    selected : Out(1)
        The entry is loaded (:data:`~memcrypt.gateware.keytable.LOOKUP_LATENCY` cycles after
        ``select_valid``; low from ``select_valid`` until then). Lines are taken only
        while it is high. Select a new KeyID only while no line is offered; lines already
        taken keep their keys.
    selected_mode : Out(KeyMode), selected_invalid : Out(1), selected_usable : Out(1)
        The entry's mode (:class:`~memcrypt.regmap.KeyMode`), whether the KeyID has no
        storage, and whether its key fits the engine (PLATFORM or KEYED with ``key_bits``).
    i_line : In(stream: data 512, tweak 128, decrypt 1, tag 8)
        Lines to transform with the selected KeyID's keys (``decrypt`` picks the table's
        decryption start key). Taken only while ``selected & selected_usable``.
    o_line : Out(stream: data 512, tag 8)
        The transformed lines, in order.
    """

    def __init__(self, config: MemcryptConfig, *, key_bits=128, architecture="iterative",
                 sbox="bram"):
        self._config = require_config(self, config)
        if key_bits not in config.key_sizes:
            reject_construction(self)
            raise ValueError(f"key_bits {key_bits!r} is not among the build's key sizes "
                             f"{config.key_sizes}")
        self._key_bits = key_bits
        self._engine = XTSEngine(key_bits=key_bits, architecture=architecture,
                                 direction="both", tag_width=TAG_WIDTH, sbox=sbox)
        self._control = KeyControl(config, blocks=Block.ENGINE)
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_width=ADDR_WIDTH, data_width=32)),
            "entropy": In(EntropySignature()),
            "retire": Out(RetireSignature(keyid_bits=config.keyid_bits)),
            "fault": In(FaultSignature(config)),
            "events": In(PerfEventsSignature()),
            "irq": Out(1),
            "ready": Out(1),
            "select_valid": In(1),
            "select_keyid": In(config.keyid_bits),
            "selected": Out(1),
            "selected_mode": Out(KeyMode),
            "selected_invalid": Out(1),
            "selected_usable": Out(1),
            "i_line": In(stream.Signature(data.StructLayout(
                {"data": LINE_BITS, "tweak": 128, "decrypt": 1, "tag": TAG_WIDTH}))),
            "o_line": Out(stream.Signature(xts_response_layout(TAG_WIDTH))),
        })

    @property
    def config(self):
        return self._config

    @property
    def key_bits(self):
        return self._key_bits

    def elaborate(self, platform):
        m = Module()
        m.submodules.control = control = self._control
        m.submodules.engine = engine = self._engine
        wiring.connect(m, wiring.flipped(self.s_axil), control.s_axil)
        wiring.connect(m, wiring.flipped(self.entropy), control.entropy)
        wiring.connect(m, wiring.flipped(self.retire), control.retire)
        wiring.connect(m, wiring.flipped(self.fault), control.fault)
        wiring.connect(m, wiring.flipped(self.events), control.events)
        m.d.comb += [self.irq.eq(control.irq), self.ready.eq(control.ready)]

        # Select: look the KeyID up and hold its entry.
        lookup = control.lookup
        m.d.comb += [
            lookup.valid.eq(self.select_valid),
            lookup.keyid.eq(self.select_keyid),
        ]
        entry = Signal.like(lookup.result)
        fits = lookup.result.aes256 == (self._key_bits == 256)
        with m.If(self.select_valid):
            m.d.sync += self.selected.eq(0)
        with m.Elif(lookup.result_valid):
            m.d.sync += [
                entry.eq(lookup.result),
                self.selected.eq(1),
                self.selected_mode.eq(lookup.result.mode),
                self.selected_invalid.eq(lookup.result_invalid),
                self.selected_usable.eq(~lookup.result_invalid & fits &
                                        (lookup.result.mode != KeyMode.NO_ENCRYPT)),
            ]

        bits = self._key_bits
        request = engine.i_stream.payload
        m.d.comb += [
            request.data.eq(self.i_line.payload.data),
            request.tweak.eq(self.i_line.payload.tweak),
            request.decrypt.eq(self.i_line.payload.decrypt),
            request.tag.eq(self.i_line.payload.tag),
            request.data_key.eq(Mux(self.i_line.payload.decrypt, entry.decrypt_key[:bits],
                                    entry.data_key[:bits])),
            request.tweak_key.eq(entry.tweak_key[:bits]),
            engine.i_stream.valid.eq(self.i_line.valid & self.selected & self.selected_usable),
            self.i_line.ready.eq(engine.i_stream.ready & self.selected & self.selected_usable),
        ]
        wiring.connect(m, engine.o_stream, wiring.flipped(self.o_line))
        return m
