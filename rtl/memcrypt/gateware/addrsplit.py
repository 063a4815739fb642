"""The KeyID address split: physical address -> (KeyID, stripped address), with checks.

As on Intel TME-MK, the KeyID is the top ``keyid_bits`` of the physical address and is
removed from it before the address goes to memory; everything downstream sees the stripped
address with the KeyID beside it. See :class:`memcrypt.config.MemcryptConfig`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import MemcryptConfig, require_config

__all__ = ["AddressSplit"]


class AddressSplit(wiring.Component):
    """Splits a physical address; combinational (no latency).

    Parameters
    ----------
    config : MemcryptConfig

    Members
    -------
    address : In(phys_addr_bits)
        The physical address, KeyID bits included.
    keyid : Out(keyid_bits)
        Its top ``keyid_bits``.
    stripped : Out(stripped_bits)
        The address without them.
    invalid_keyid : Out(1)
        The KeyID is at or above ``num_keys`` (no key storage: Intel's ``MK_TME_MAX_KEYS``).
    out_of_range : Out(1)
        The stripped address is at or above ``mem_bytes``.
    fault : Out(1)
        Either of the two: the access must be refused.
    """

    def __init__(self, config: MemcryptConfig):
        self._config = require_config(self, config)
        super().__init__({
            "address": In(config.phys_addr_bits),
            "keyid": Out(config.keyid_bits),
            "stripped": Out(config.stripped_bits),
            "invalid_keyid": Out(1),
            "out_of_range": Out(1),
            "fault": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config
        m.d.comb += [
            self.keyid.eq(self.address[config.stripped_bits:]),
            self.stripped.eq(self.address[:config.stripped_bits]),
        ]
        if config.num_keys < 1 << config.keyid_bits:
            m.d.comb += self.invalid_keyid.eq(self.keyid >= config.num_keys)
        if config.mem_bytes < 1 << config.stripped_bits:
            m.d.comb += self.out_of_range.eq(self.stripped >= config.mem_bytes)
        m.d.comb += self.fault.eq(self.invalid_keyid | self.out_of_range)
        return m
