"""``memcrypt demo``: the controller, or the AES-XTS engine alone, in the Amaranth simulator.

:func:`run_controller_demo` (``memcrypt demo``) writes lines through the controller's host
port under keyed and NO_ENCRYPT KeyIDs and shows what lands in memory, what comes back,
what a read under the wrong KeyID returns and a page reused under a new KeyID, each
checked against the golden model. :func:`run_demo` (``memcrypt demo --engine``) prints
plaintext lines, the ciphertext the engine makes for each (tweak = the line's address)
and the golden model's verdict, then decrypts them back through the engine.
"""

import random

from ..gateware.xts import XTSEngine
from ..model import golden
from .simulation import run_testbenches

__all__ = ["run_demo", "run_controller_demo", "simulate_lines"]


def simulate_lines(engine, requests):
    """Run ``requests`` (dicts of payload fields) through ``engine``; returns output ints."""
    results = []

    async def producer(ctx):
        for request in requests:
            for name, value in request.items():
                ctx.set(getattr(engine.i_stream.payload, name), value)
            ctx.set(engine.i_stream.valid, 1)
            await ctx.tick().until(engine.i_stream.ready)
        ctx.set(engine.i_stream.valid, 0)

    async def consumer(ctx):
        ctx.set(engine.o_stream.ready, 1)
        for _ in requests:
            (line,) = await ctx.tick().sample(engine.o_stream.payload.data).until(
                engine.o_stream.valid)
            results.append(line)

    run_testbenches(engine, producer, consumer)
    return results


def _hex_lines(data: bytes):
    return [data[i:i + 16].hex(" ") for i in range(0, len(data), 16)]


def run_demo(*, lines=2, key_bits=128, architecture="pipelined", seed=2026, echo=print) -> bool:
    """Encrypt and decrypt ``lines`` random lines; True when all match the golden model."""
    if lines < 1:
        raise ValueError(f"Number of lines must be at least 1, not {lines!r}")
    rng = random.Random(seed)
    key1, key2 = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)
    echo(f"AES-XTS-{key_bits}, {architecture} engine; key1 (data) {key1.hex()}")
    echo(f"{'':{len(str(key_bits)) + 20}}key2 (tweak) {key2.hex()}")
    addresses = [rng.randrange(1 << 30) * golden.LINE_BYTES for _ in range(lines)]
    plaintexts = [rng.randbytes(golden.LINE_BYTES) for _ in range(lines)]
    engine = XTSEngine(key_bits=key_bits, architecture=architecture, direction="both",
                       tag_width=4)
    encrypt = [dict(data=golden.to_bus(p), data_key=golden.to_bus(key1),
                    tweak_key=golden.to_bus(key2), tweak=golden.line_tweak(a), decrypt=0,
                    tag=i % 16)
               for i, (a, p) in enumerate(zip(addresses, plaintexts, strict=True))]
    ciphertexts = [golden.from_bus(v, golden.LINE_BYTES) for v in simulate_lines(engine, encrypt)]
    decrypt = [dict(request, data=golden.to_bus(c),
                    data_key=golden.to_bus(golden.decryption_key(key1)), decrypt=1)
               for request, c in zip(encrypt, ciphertexts, strict=True)]
    engine = XTSEngine(key_bits=key_bits, architecture=architecture, direction="both",
                       tag_width=4)
    recovered = [golden.from_bus(v, golden.LINE_BYTES) for v in simulate_lines(engine, decrypt)]
    all_good = True
    for address, plain, cipher, back in zip(addresses, plaintexts, ciphertexts, recovered,
                                            strict=True):
        expected = golden.encrypt_line(key1, key2, address, plain)
        good = cipher == expected and back == plain
        all_good &= good
        echo(f"\nline at 0x{address:010x} (tweak = address)")
        for label, text in (("plaintext ", plain), ("ciphertext", cipher)):
            for row, chunk in enumerate(_hex_lines(text)):
                echo(f"  {label if row == 0 else '':10}  {chunk}")
        echo(f"  golden model: {'ciphertext matches' if cipher == expected else 'MISMATCH'}; "
             f"decrypted back by the engine: {'matches' if back == plain else 'MISMATCH'}")
    echo(f"\n{lines} line(s): {'all match the golden model' if all_good else 'MISMATCHES'}")
    return all_good


# -- the whole controller -----------------------------------------------------------------------

DEMO_KEYIDS = {1: 128, 2: 256}
DEMO_PLAINTEXT_KEYID = 3


def run_controller_demo(*, preset_name="intel", seed=2026, echo=print) -> bool:
    """The controller in the Amaranth simulator, between a host on ``s_axi``, a memory on
    ``m_axi`` and software on ``s_axil``: lines written under two keyed KeyIDs and a
    NO_ENCRYPT KeyID, the ciphertext that lands in memory, the plaintext that comes back, a
    read under the wrong KeyID, and a page reused under a new KeyID without a software
    flush; every figure checked against the golden model. True when all agree."""
    from ..config import preset  # noqa: PLC0415
    from ..gateware.controller import Controller  # noqa: PLC0415
    from ..host.driver import AsyncDriver  # noqa: PLC0415
    from .controller_sim import SimControl, SimHost, SimMemory  # noqa: PLC0415

    config = preset(preset_name)
    rng = random.Random(seed)
    keys = {keyid: (rng.randbytes(bits // 8), rng.randbytes(bits // 8))
            for keyid, bits in DEMO_KEYIDS.items()}
    dut = Controller(config)
    memory = SimMemory(dut.m_axi, latency=4)
    host = SimHost(dut)
    checks = []

    def check(label, good):
        checks.append(good)
        echo(f"  {label}: {'agrees with the golden model' if good else 'MISMATCH'}")

    def expected(keyid, stripped, plaintext):
        if keyid == DEMO_PLAINTEXT_KEYID:
            return plaintext
        return golden.encrypt_line(*keys[keyid], stripped, plaintext)

    def show(label, data):
        for row, chunk in enumerate(_hex_lines(data)):
            echo(f"    {label if row == 0 else '':24} {chunk}")

    async def entropy(ctx):
        ctx.set(dut.entropy.valid, 1)
        while True:
            ctx.set(dut.entropy.data, rng.getrandbits(32))
            await ctx.tick()

    async def testbench(ctx):
        await ctx.tick().until(dut.ready)
        control = SimControl(dut, ctx)
        driver = AsyncDriver(control.read, control.write, config=config)
        echo(f"memcrypt controller, configuration {config.name}: KeyID in physical address "
             f"bits [{config.phys_addr_bits - 1}:{config.stripped_bits}], "
             f"{config.cache_ways * config.cache_sets * golden.LINE_BYTES // 1024} KiB "
             f"key-tagged cache, {config.engine} AES-XTS engines")
        for keyid, (data_key, tweak_key) in keys.items():
            status = await driver.set_key_direct(keyid, data_key, tweak_key)
            echo(f"KeyID {keyid}: SET_KEY_DIRECT AES-XTS-{8 * len(data_key)} -> "
                 f"{status.name}; key1 {data_key.hex()}")
        status = await driver.no_encrypt(DEMO_PLAINTEXT_KEYID)
        echo(f"KeyID {DEMO_PLAINTEXT_KEYID}: NO_ENCRYPT -> {status.name}")

        echo("\n1. One line written through s_axi under each KeyID, then FLUSH_CTRL.ALL:")
        lines = {}
        for index, keyid in enumerate((*DEMO_KEYIDS, DEMO_PLAINTEXT_KEYID)):
            stripped = 0x10000 + 0x1000 * index
            text = f"KeyID {keyid} wrote this line at {stripped:#x}. ".encode()
            plaintext = (text * 4)[:golden.LINE_BYTES]
            lines[keyid] = stripped, plaintext
            await host.write_line(ctx, host.address(keyid, stripped), plaintext)
        flushed = await driver.flush_all()
        echo(f"   ({flushed} lines written back)")
        for keyid, (stripped, plaintext) in lines.items():
            echo(f"\n  KeyID {keyid}, physical address {host.address(keyid, stripped):#x}, "
                 f"memory address {config.memory_base + stripped:#x}:")
            show("written (plaintext)", plaintext)
            in_memory = memory.line(config.memory_base + stripped)
            show("in memory", in_memory)
            check("memory holds E_k(plaintext), tweak = the stripped address"
                  if keyid != DEMO_PLAINTEXT_KEYID else "memory holds the plaintext",
                  in_memory == expected(keyid, stripped, plaintext))
            back, response = await host.read_line(ctx, host.address(keyid, stripped))
            check(f"read back under KeyID {keyid} ({response.name})",
                  back == plaintext and response.name == "OKAY")

        echo("\n2. The KeyID 1 line read under KeyID 2 (the wrong key):")
        stripped, plaintext = lines[1]
        wrong, _ = await host.read_line(ctx, host.address(2, stripped))
        show("read under KeyID 2", wrong)
        check("the read returns D_k2(E_k1(plaintext)), as uncached encrypted memory would",
              wrong == golden.decrypt_line(*keys[2], stripped,
                                           expected(1, stripped, plaintext)))

        echo("\n3. A dirty 4 KiB page of KeyID 1 reused under KeyID 2, with no software "
             "flush:")
        page = 0x40000
        page_lines = range(page, page + 4096, golden.LINE_BYTES)
        for address in page_lines:
            await host.write_line(ctx, host.address(1, address), bytes([0xA5]) * 64)
        before = (await driver.perf_counters())["alias_evictions"]
        new = {address: rng.randbytes(golden.LINE_BYTES) for address in page_lines}
        for address, data in new.items():
            await host.write_line(ctx, host.address(2, address), data)
        aliases = (await driver.perf_counters())["alias_evictions"] - before
        echo(f"   64 lines written under KeyID 2; the cache evicted {aliases} aliases "
             f"(dirty KeyID 1 copies, written back under KeyID 1's key first)")
        reads = [await host.read_line(ctx, host.address(2, a)) for a in page_lines]
        check("every line reads back under KeyID 2",
              all(back == new[a] for (back, _), a in zip(reads, page_lines, strict=True)))
        await driver.flush_all()
        check("after a flush, memory holds every line encrypted under KeyID 2's key",
              all(memory.line(config.memory_base + a) == expected(2, a, new[a])
                  for a in page_lines))

    run_testbenches(dut, testbench, background=(entropy, memory.run))
    good = all(checks)
    echo(f"\n{len(checks)} checks: {'all agree with the golden model' if good else 'MISMATCHES'}")
    return good
