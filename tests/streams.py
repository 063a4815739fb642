"""Stream helpers for Amaranth-simulator testbenches (``amaranth.lib.stream`` rules)."""

import random

__all__ = ["stream_put", "stream_get", "StallPattern"]


class StallPattern:
    """Decides, cycle by cycle, whether a producer or consumer pauses.

    ``probability`` 0 never stalls; a seeded generator keeps runs reproducible.
    """

    def __init__(self, probability=0.0, seed=0):
        self.probability = probability
        self._random = random.Random(seed)

    def stall(self):
        return self.probability > 0 and self._random.random() < self.probability


async def stream_put(ctx, stream, payload, stall=None):
    """Offer ``payload`` (a dict of field values, or an int) until the consumer takes it.

    Valid never waits for ready; payload and valid stay put until the handshake.
    """
    while stall is not None and stall.stall():
        await ctx.tick()
    if isinstance(payload, dict):
        for name, value in payload.items():
            ctx.set(getattr(stream.payload, name), value)
    else:
        ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, fields=None, stall=None):
    """Take one payload; returns the named ``fields`` as a tuple, or the raw payload."""
    while True:
        ready = not (stall is not None and stall.stall())
        ctx.set(stream.ready, ready)
        if fields is None:
            _, _, valid, value = await ctx.tick().sample(stream.valid, stream.payload)
            values = (value,)
        else:
            sampled = await ctx.tick().sample(
                stream.valid, *(getattr(stream.payload, f) for f in fields))
            valid, values = sampled[2], sampled[3:]
        if valid and ready:
            ctx.set(stream.ready, 0)
            return values if fields is not None else values[0]
