"""The key table: per KeyID, its mode and keys, looked up once per clock.

Modelled on Intel TME-MK (see ``docs/references.md``): a KeyID never programmed, or
cleared, uses the platform key; the platform key itself is drawn at reset (by
:class:`memcrypt.gateware.control.KeyControl`) and lives in registers beside the table, so that
``CLEAR_KEY`` is a single write of the mode. Software never reads a key back: the table has
no path to the control interface's read data.

Each entry (:class:`~memcrypt.gateware.interfaces.KeyEntry`) holds the mode
(:class:`memcrypt.regmap.KeyMode`), the key size, the data key (key 1), the tweak key (key 2)
and the data key's decryption start key (derived with
:class:`memcrypt.gateware.aes.KeyScheduleUnit` when the key is programmed), so the AES-XTS
engine can start a decryption at once. Keys narrower than the table's key fields are
zero-extended. Entries live in an ``amaranth.lib.memory.Memory``, so a 1,024-key table
maps to block RAM.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..config import MemcryptConfig, require_config
from ..regmap import KeyMode
from .interfaces import KeyEntry, KeyLookupSignature

__all__ = ["KeyTable", "LOOKUP_LATENCY"]

LOOKUP_LATENCY = 3


class KeyTable(wiring.Component):
    """KeyID -> (mode, keys), one lookup per clock, latency :data:`LOOKUP_LATENCY` (3):
    the block RAM read, a register beside the RAM (ECP5 block RAM is slow from clock to
    data), and the substitution of the platform key.

    After reset the table sweeps every entry back to the platform key (``num_keys``
    cycles; with ``keyid0="plaintext"`` entry 0 becomes NO_ENCRYPT) and then raises
    ``ready``: keys never survive a reset. Until ``ready``, writes are ignored and lookups
    return the platform key.

    A lookup of a KeyID at or above ``num_keys`` returns ``invalid`` with zero keys. A
    lookup in the same cycle as a write to the same KeyID returns the old entry (the
    control interface only writes an entry after the KeyID's retirement, see
    :class:`memcrypt.gateware.control.KeyControl`).

    Parameters
    ----------
    config : MemcryptConfig

    Members
    -------
    lookup : In(KeyLookupSignature(config))
        Lookups (``lookup.valid``, ``lookup.keyid``) and their answers ``LOOKUP_LATENCY``
        cycles later (``lookup.result_valid``, ``result_keyid``, ``result``,
        ``result_invalid``: the KeyID has no key storage). For a PLATFORM entry,
        ``result`` carries the platform key (``mode`` stays PLATFORM).
    write_en : In(1), write_keyid : In(keyid_bits), write_entry : In(KeyEntry(config))
        Replace an entry (after ``ready``).
    platform_write_en : In(1), platform_entry : In(KeyEntry(config))
        Load the platform key (its ``mode`` is ignored).
    ready : Out(1)
        The reset sweep is done.
    """

    def __init__(self, config: MemcryptConfig):
        self._config = require_config(self, config)
        layout = KeyEntry(config)
        super().__init__({
            "lookup": In(KeyLookupSignature(config)),
            "write_en": In(1),
            "write_keyid": In(config.keyid_bits),
            "write_entry": In(layout),
            "platform_write_en": In(1),
            "platform_entry": In(layout),
            "ready": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config
        lookup = self.lookup
        layout = KeyEntry(config)
        m.submodules.entries = entries = memory.Memory(
            shape=layout, depth=config.num_keys, init=[], attrs={"ram_style": "block"})
        write = entries.write_port()
        read = entries.read_port(domain="sync", transparent_for=())

        # Reset sweep.
        sweep = Signal(range(config.num_keys + 1))
        sweep_entry = Signal(layout)
        m.d.comb += self.ready.eq(sweep == config.num_keys)
        if config.keyid0 == "plaintext":
            m.d.comb += sweep_entry.mode.eq(Mux(sweep == 0, KeyMode.NO_ENCRYPT,
                                                KeyMode.PLATFORM))
        else:
            m.d.comb += sweep_entry.mode.eq(KeyMode.PLATFORM)
        with m.If(~self.ready):
            m.d.sync += sweep.eq(sweep + 1)
            m.d.comb += [
                write.en.eq(1),
                write.addr.eq(sweep),
                write.data.eq(sweep_entry),
            ]
        with m.Else():
            m.d.comb += [
                write.en.eq(self.write_en),
                write.addr.eq(self.write_keyid),
                write.data.eq(self.write_entry),
            ]

        platform_key = Signal(layout)
        with m.If(self.platform_write_en):
            m.d.sync += platform_key.eq(self.platform_entry)

        # Lookup: stage 1 reads the memory, stage 2 registers its output next to the RAM,
        # stage 3 substitutes the platform key.
        lookup_invalid = Signal()
        if config.num_keys < 1 << config.keyid_bits:
            m.d.comb += lookup_invalid.eq(lookup.keyid >= config.num_keys)
        m.d.comb += read.addr.eq(lookup.keyid)
        valid1, keyid1, invalid1 = Signal(), Signal(config.keyid_bits), Signal()
        m.d.sync += [
            valid1.eq(lookup.valid),
            keyid1.eq(lookup.keyid),
            invalid1.eq(lookup_invalid),
        ]
        valid2, keyid2, invalid2 = Signal(), Signal(config.keyid_bits), Signal()
        stored = Signal(layout)
        m.d.sync += [
            valid2.eq(valid1),
            keyid2.eq(keyid1),
            invalid2.eq(invalid1),
            stored.eq(read.data),
        ]
        answer = Signal(layout)
        with m.If(invalid2):
            m.d.comb += answer.mode.eq(KeyMode.NO_ENCRYPT)
        with m.Elif(~self.ready | (stored.mode == KeyMode.PLATFORM)):
            m.d.comb += [
                answer.eq(platform_key),
                answer.mode.eq(KeyMode.PLATFORM),
            ]
        with m.Else():
            m.d.comb += answer.eq(stored)
        m.d.sync += [
            lookup.result_valid.eq(valid2),
            lookup.result_keyid.eq(keyid2),
            lookup.result_invalid.eq(invalid2),
            lookup.result.eq(answer),
        ]
        return m
