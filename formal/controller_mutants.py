"""Deliberately broken memory sides: the specifications of :mod:`.controller` must FAIL on each.

Each is :class:`~memcrypt.gateware.memory_port.MemorySide` with one of its two ordering rules
turned off by its class switch:

* ``StaleFillMemorySide`` (``_fill_waits_for_write_backs = False``): a fill of a line is not
  held back while a write-back of that line is unanswered, so memory may be read before it
  has taken the newer data: ``no_stale_fill`` fails;
* ``UnboundKeysMemorySide`` (``_keys_bound_after_lookup = False``): ``keys_bound`` stays high
  while a write-back handed over has not read its keys, so the key table may change in
  between and the line is written under the new key: ``write_back_key`` fails. Checked with
  write-backs only (no fills), so that nothing but the key binding can break the data.

Both are checked black-box by bounded model checking.
"""

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.memory_port import MemorySide

from .controller import MAP, MemorySideSpec

__all__ = ["StaleFillMemorySide", "UnboundKeysMemorySide", "negative_tasks"]


class StaleFillMemorySide(MemorySide):
    """A memory side whose fills do not wait for the write-backs of their line."""

    _fill_waits_for_write_backs = False


class UnboundKeysMemorySide(MemorySide):
    """A memory side whose ``keys_bound`` does not wait for a write-back's key lookup."""

    _keys_bound_after_lookup = False


def negative_tasks():
    return [
        FormalTask(
            name="memory_side_mutant_stale_fill", block="StaleFillMemorySide", mode="bmc",
            engine="abc bmc3", depth=16, unbounded=False,
            description="fills not held back by write-backs of their line read stale memory",
            spec=lambda: MemorySideSpec(design=StaleFillMemorySide, properties=("order",)),
            script=MAP, breaks="no_stale_fill"),
        FormalTask(
            name="memory_side_mutant_unbound_keys", block="UnboundKeysMemorySide", mode="bmc",
            engine="abc bmc3", depth=16, unbounded=False,
            description="keys_bound high before a write-back's lookup: the key table changes "
                        "under it",
            spec=lambda: MemorySideSpec(design=UnboundKeysMemorySide, properties=("keys",),
                                        fills=False),
            script=MAP, breaks="write_back_key"),
    ]
