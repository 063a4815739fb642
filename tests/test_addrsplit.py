"""The KeyID address split (memcrypt.gateware.addrsplit) against MemcryptConfig.split, in the
Amaranth simulator: corner addresses and random ones, for the presets and an odd configuration."""

import random

import pytest
from amaranth.sim import Simulator

from memcrypt.config import PRESETS, MemcryptConfig
from memcrypt.gateware.addrsplit import AddressSplit

ODD = MemcryptConfig(phys_addr_bits=30, keyid_bits=3, num_keys=5, mem_bytes=0x0123_4540,
                     key_sizes=(256,))


def _addresses(config, rng):
    top = 1 << config.phys_addr_bits
    corners = []
    for keyid in {0, 1, config.num_keys - 1, min(config.num_keys, (1 << config.keyid_bits) - 1),
                  (1 << config.keyid_bits) - 1}:
        for stripped in {0, 0x40, config.mem_bytes - 1, config.mem_bytes,
                         (1 << config.stripped_bits) - 1}:
            if stripped < 1 << config.stripped_bits:
                corners.append(config.join(keyid, stripped))
    return corners + [rng.randrange(top) for _ in range(300)]


@pytest.mark.parametrize("config", [*PRESETS.values(), ODD], ids=[*PRESETS, "odd"])
def test_split_matches_the_configuration(config):
    dut = AddressSplit(config)
    rng = random.Random(config.phys_addr_bits)
    checked = []

    async def testbench(ctx):
        for address in _addresses(config, rng):
            ctx.set(dut.address, address)
            keyid, stripped = config.split(address)
            invalid = keyid >= config.num_keys
            out_of_range = stripped >= config.mem_bytes
            assert ctx.get(dut.keyid) == keyid
            assert ctx.get(dut.stripped) == stripped
            assert ctx.get(dut.invalid_keyid) == invalid, hex(address)
            assert ctx.get(dut.out_of_range) == out_of_range, hex(address)
            assert ctx.get(dut.fault) == (invalid or out_of_range)
            checked.append((invalid, out_of_range))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    kinds = set(checked)
    assert (False, False) in kinds
    if config.mem_bytes < 1 << config.stripped_bits:
        assert (False, True) in kinds
    if config.num_keys < 1 << config.keyid_bits:
        assert (True, False) in kinds


def test_split_and_join_are_inverse():
    config = PRESETS["intel"]
    assert config.split(config.join(63, 0x12345)) == (63, 0x12345)
    assert config.stripped_bits == 40
    with pytest.raises(ValueError, match="does not fit in 6 bits"):
        config.join(64, 0)
    with pytest.raises(ValueError, match="wider than 46 bits"):
        config.split(1 << 46)
