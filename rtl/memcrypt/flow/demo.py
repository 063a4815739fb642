"""``memcrypt demo``: a few lines through the AES-XTS engine in the Amaranth simulator.

Prints each plaintext line, the ciphertext the gateware makes for it (tweak = the line's
address), the golden model's ciphertext and whether they agree, then decrypts the
ciphertext back through the same engine.
"""

import random

from ..gateware.xts import XTSEngine
from ..model import golden
from .simulation import run_testbenches

__all__ = ["run_demo", "simulate_lines"]


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
