"""Deliberately broken control interfaces: the specifications of :mod:`.control` must FAIL on
each.

They show that those specifications and the runner can fail -- a proof that passed every
design would be indistinguishable from one that checks nothing. Each is a correct
:class:`~memcrypt.gateware.control.KeyControl` with one rule broken:

* ``LeakyKeyControl`` carries bit 0 of KEY_FIELD_1 in RDATA bit 31 of every read response
  (latched when the read is performed, so the bus rules still hold): the noninterference
  miter fails on ``outputs_agree``;
* ``KeyKeepingControl`` does not clear KEY_FIELD_1 (the data key) when a command, or the
  reset-time platform key draw, finishes: the key-residue specification fails on
  ``key_fields_cleared`` as soon as the platform key is drawn.

Both are checked black-box (no invariants) by bounded model checking.
"""

from amaranth.hdl import Fragment, Module, Signal
from amaranth.lib import wiring

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.control import KeyControl

from .control import KeyResidueSpec, NoninterferenceSpec, cut, port
from .whitebox import Probe

__all__ = ["LeakyKeyControl", "KeyKeepingControl", "negative_tasks"]


class LeakyKeyControl(wiring.Component):
    """A broken control interface: each read response carries bit 0 of KEY_FIELD_1 in
    RDATA bit 31 (latched when the read is performed, so the bus rules still hold)."""

    def __init__(self, config):
        self._inner = KeyControl(config)
        super().__init__(dict(self._inner.signature.members))

    def elaborate(self, platform):
        m = Module()
        inner = self._inner
        fragment = Fragment.get(inner, platform)
        m.submodules.inner = fragment
        probe = Probe(fragment, "inner")
        leak = Signal()
        with m.If(probe.sub("bus").signal("reg__r_en", 1)):
            m.d.sync += leak.eq(probe.signal("field1")[0])
        for path, member, ours in self.signature.flatten(self):
            theirs = port(inner, path)
            if member.flow == wiring.In:
                m.d.comb += theirs.eq(ours)
            elif path == ("s_axil", "rdata"):
                m.d.comb += ours.eq(theirs ^ (leak << 31))
            else:
                m.d.comb += ours.eq(theirs)
        return m


class KeyKeepingControl(KeyControl):
    """A broken control interface: KEY_FIELD_1 keeps the data key after a command."""

    def key_material_cleared(self, program):
        return [program.field2.eq(0), program.decrypt_key.eq(0)]


def negative_tasks():
    return [
        FormalTask(
            name="control_mutant_leak", block="LeakyKeyControl", mode="bmc",
            engine="smtbmc yices", depth=8, unbounded=False,
            description="a read path leaking a key-field bit into RDATA",
            spec=lambda: NoninterferenceSpec(design=LeakyKeyControl, invariants=False),
            breaks="outputs_agree"),
        FormalTask(
            name="control_mutant_key_residue", block="KeyKeepingControl", mode="bmc",
            engine="smtbmc yices", depth=32, unbounded=False,
            description="a control interface keeping the data key in KEY_FIELD_1 after a "
                        "command",
            spec=lambda: KeyResidueSpec(design=KeyKeepingControl, invariants=False),
            script=cut("dut"), breaks="key_fields_cleared"),
    ]
