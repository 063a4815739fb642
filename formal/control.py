"""Formal specification of :class:`memcrypt.gateware.control.KeyControl` (the control interface).

All tasks use :data:`CONFIG`, a small build (4 KeyIDs, AES-128 only, entropy timeout 4,
two fault records) so that the state stays small; the properties do not depend on the
sizes. The environment is free: an AXI4-Lite manager that keeps the bus rules
(:class:`.axil.FreeManager`), and ``AnySeq`` entropy (valid and data), retire answers,
faults, performance events and key-table lookups. Reset is asserted in the first cycle only.
No proof looks at a key's value, so yosys drops the key datapath (key-schedule unit, key
registers, table key bits) from those problems by itself. The miter's covers do look at
keys; there the key-schedule unit's S-box word (``ks_g``) is cut to a free value, as in
:mod:`.aes_key_schedule` (an over-approximation: the real values are one choice of the free
ones).

``control_prove`` -- **unbounded** (k-induction), one copy of the design:

* **bus** -- the AXI4-Lite target rules of :mod:`.axil` on KeyControl's own port;
* **key fields read as zero** -- every read response for an offset in KEY_FIELD_1/2
  (0x040..0x07F) is OKAY with RDATA zero (a statement on the read data bus);
* **retire handshake** -- once ``retire.valid`` is high it stays high, with the same
  ``retire.keyid`` and ``retire.all``, until ``retire.done``;
* **DEVICE_BUSY until retirement completes** -- every STATUS read that begins (AR
  handshake) after the doorbell's write response and is answered (RVALID) by the cycle
  after ``retire.done`` returns BUSY=1, CODE=DEVICE_BUSY. Stated black-box: the
  specification notes the doorbell (a write of GO=1 to DOORBELL, from the moment its AW and
  W are both in), marks reads that begin after its B handshake, and checks, in every cycle
  a retirement is pending and in the cycle after it completes, that no such read has
  returned anything but DEVICE_BUSY. For the whole command (white-box, through the
  command FSM, asserted as invariants): in every state from CHECK to FINISH, STATUS holds
  BUSY=1 and CODE=DEVICE_BUSY, no marked read has returned anything else, and a marked read
  in flight holds DEVICE_BUSY;
* **keys change only after retirement** -- for a KeyID ``k`` chosen by the solver
  (``AnyConst``): once the interface is ready, the key table's memory write port writes
  entry ``k`` only after a retirement covering ``k`` (``retire.keyid == k`` or
  ``retire.all``) has completed, with no other retirement started since and no other write
  of ``k`` since (one write per retirement); the platform key register is written only after
  a completed ``retire.all``; and nothing in the table changes while a retirement is
  pending. (Writes before ``ready`` are the reset sweep and the reset-time platform key.)

``control_pdr`` -- the same specification without the white-box invariants, proven by
ABC's PDR, which finds its own: **unbounded**, and independent of the invariants below.
(PDR does not close the miter below within minutes; it is proven by k-induction.)

``control_noninterference`` -- key material never reaches the read data bus, as
*noninterference*, **unbounded** (k-induction): two copies of KeyControl (a miter) see
identical inputs except the key material -- the write data of every write to a key field
and every entropy word are independent free values in each copy -- and every output (the
whole AXI4-Lite port: RDATA, RRESP, RVALID and the rest; ``irq``, ``ready``, the retire and
entropy handshakes, ``fault_ready``; the lookup port's valid, KeyID and invalid flag, and
the mode and key size of a valid result) must be equal in both copies in every cycle, as
must STATUS. So nothing software can observe depends on a key. The manager marks each W
beat secret or not (a free bit held with the payload); a secret beat carries different data
in the two copies and is assumed to belong to a write whose address is a key field
(software writes secrets only there; whatever it writes elsewhere is readable by design).
Induction depth 4: the key table's lookup pipeline is three registers deep.

``control_cover_errors``, ``control_cover_commands`` -- **bounded** covers: each error status
(INVALID_PROG_CMD, ENTROPY_ERROR, INVALID_KEYID, INVALID_ENC_ALG), a DEVICE_BUSY STATUS read
begun during a retirement, a SLVERR read and write, a read of a key field; then each command
completing with PROG_SUCCESS (SET_KEY_DIRECT, SET_KEY_RANDOM, CLEAR_KEY, NO_ENCRYPT). The
commands need depth: the reset-time platform key takes 8 entropy words and a key schedule
(~22 cycles) before any register write takes effect, each register write takes 3 cycles,
a key schedule 12, the random key 8 more entropy words. ``control_noninterference_cover``
(**bounded**): the miter is not vacuous -- a secret W beat reaches the two copies' bus
targets, the copies hold different key fields after reset (a secret write taken) and
different platform keys, while reads complete.

``control_key_residue`` -- **unbounded** (k-induction, the key-schedule unit's S-box word cut
as in the covers: an over-approximation), one copy of the design
(:class:`KeyResidueSpec`): **no key material outside the key table** while no command is in
progress. In every cycle the command engine is IDLE, the decryption start key and the
key-schedule unit's key register are zero, and so are both key fields unless software has
written one since the last command (or the reset-time platform key draw) finished; whenever
the bus target holds no W beat, its write-data register is zero. Its invariants: the bus
target's (:func:`.axil.target_invariants`), the FSM state valid, the key-schedule unit
never busy and done at once, its key zero while it is neither, and the command engine's
``sent`` flag set exactly while the unit holds a key, which happens only in the schedule
states. ``control_key_residue_cover`` (**bounded**): keys pass through each of those
registers, the platform key is drawn and none of it is left, and a SET_KEY_DIRECT of a key
that is not zero finishes with PROG_SUCCESS and leaves none of it.

Negative tasks (must FAIL; :mod:`.control_mutants`): ``control_mutant_leak``, the miter
around a KeyControl whose read path leaks bit 0 of KEY_FIELD_1 into bit 31 of every read
response (``outputs_agree``); ``control_mutant_key_residue``, a KeyControl that keeps the
data key in KEY_FIELD_1 after a command (``key_fields_cleared``).

Inductive invariants (white-box, asserted, never assumed; :class:`.whitebox.Probe`): the AXI
target's holding registers match the manager model (:func:`.axil.target_invariants`); the
command FSM's state is valid, ``initialised`` is low exactly in the reset-time states,
``busy`` is high exactly outside IDLE, STATUS.CODE is DEVICE_BUSY while busy, the key table's
reset sweep is over once initialised; during a command the specification's "bad read" flag
is clear and any marked STATUS read in flight holds DEVICE_BUSY; in the WRITE state the
KeyID (or platform key) being written has its retirement permission. For the miter: every
register of the two copies that holds no key material is equal (found by walking both
elaborated designs in step: the command engine's registers, the bus target's (its write
data register whenever the last W beat was not secret), the counters, the fault log, the
key-schedule unit's control), the key table's entries, lookup pipeline and platform key
agree in their mode and key size, and the manager's bookkeeping matches the bus target.
Registered memory read ports have no initial value, so the lookup pipeline's stages are
related from the cycle they have been filled, and the fault log's output register while it
holds a record (:data:`RELATIONS`).
"""

from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import (
    Assert,
    Assume,
    C,
    Cat,
    ClockDomain,
    Cover,
    Elaboratable,
    Fragment,
    Module,
    Mux,
    ResetSignal,
    Shape,
    Signal,
    Value,
)
from amaranth.lib import data, wiring
from amaranth.utils import ceil_log2

from memcrypt.amaranth_private import (
    add_read_port,
    assigned_signals,
    is_memory,
    memory_depth,
    memory_is_written,
    memory_read_data,
    memory_width,
)
from memcrypt.config import MemcryptConfig
from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.control import KeyControl
from memcrypt.gateware.interfaces import KeyEntry, Response
from memcrypt.regmap import (
    KEY_FIELD_1_BASE,
    KEY_FIELD_2_BASE,
    KEY_FIELD_WORDS,
    Command,
    Status,
    register_map,
)

from .axil import FreeManager, hold, target_invariants
from .whitebox import Probe, ProbeError

__all__ = ["CONFIG", "cut", "ControlSpec", "NoninterferenceSpec", "KeyResidueSpec",
           "free_inputs", "port", "tasks"]

CONFIG = MemcryptConfig(phys_addr_bits=16, keyid_bits=2, num_keys=4, mem_bytes=1 << 9,
                        key_sizes=(128,), entropy_timeout=4, fault_log_depth=2,
                        name="formal")
REGMAP = register_map(CONFIG)
KEY_FIELD_WORDS_RANGE = (KEY_FIELD_1_BASE >> 2, (KEY_FIELD_2_BASE >> 2) + KEY_FIELD_WORDS)


def free_inputs(design):
    """``[(path, value)]`` of every input port of ``design`` but the bus and the entropy
    data: free in every task (shared by both copies of the miter)."""
    return [(path, value) for path, member, value in design.signature.flatten(design)
            if member.flow == wiring.In and path[0] != "s_axil"
            and path != ("entropy", "data")]


def port(design, path):
    """The port of ``design`` at ``path`` (a tuple of member names)."""
    for name in path:
        design = getattr(design, name)
    return design


def cut(*instances):
    """Yosys commands replacing the key-schedule unit's S-box word with a free value in each
    instance (only needed where a key value is in the cone of a property, i.e. covers)."""
    wires = " ".join(f"w:{name}.key_schedule_128.ks_g" for name in instances)
    return (f"select -assert-count {len(instances)} {wires}", f"cutpoint {wires}",
            "opt_clean")


def _bits(value):
    return value.as_value() if isinstance(value, data.View) else Value.cast(value)


def is_key_field(address):
    """The byte address lies in KEY_FIELD_1 or KEY_FIELD_2 (the low two bits are ignored
    by the register decoder)."""
    word = address[2:]
    return (word >= KEY_FIELD_WORDS_RANGE[0]) & (word < KEY_FIELD_WORDS_RANGE[1])


def is_register(address, name):
    return address[2:] == REGMAP.offset(name) >> 2


def fsm_states(state):
    """``{name: value}`` of an Amaranth FSM state signal, from its decoder."""
    if state.decoder is None:
        raise ValueError(f"{state.name} is not an FSM state signal")
    states = {}
    for value in range(1 << len(state)):
        try:
            name, _, number = state.decoder(value).rpartition("/")
        except KeyError:      # not a state
            continue
        states[name] = int(number)
    return states


def _free_inputs(m, design):
    """Drive every input of ``design`` but the bus with free values."""
    for _path, value in (*free_inputs(design), (("entropy", "data"), design.entropy.data)):
        signal = _bits(value)
        m.d.comb += signal.eq(AnySeq(len(signal)))


class _Spec(Elaboratable):
    def __init__(self):
        self.sync = ClockDomain("sync")

    @property
    def ports(self):
        return [self.sync.clk]

    def _module(self):
        m = Module()
        m.domains.sync = self.sync
        m.d.comb += ResetSignal("sync").eq(Initial())
        return m


class ControlSpec(_Spec):
    """One KeyControl with a free environment: bus rules, key fields read as zero, retire
    handshake, DEVICE_BUSY until retirement completes, table writes only after retirement.

    Parameters
    ----------
    invariants : bool
        Add the white-box invariants (k-induction).
    covers : str or None
        ``"errors"`` or ``"commands"``: add that group of covers.
    """

    def __init__(self, *, config=CONFIG, invariants=True, covers=None):
        super().__init__()
        if covers not in (None, "errors", "commands"):
            raise ValueError(f"Unknown cover group {covers!r}")
        self.config = config
        self.design = KeyControl(config)
        self.manager = FreeManager()
        self.invariants = invariants
        self.covers = covers

    def elaborate(self, platform):
        m = self._module()
        design, config, bus = self.design, self.config, self.manager
        fragment = Fragment.get(design, platform)
        m.submodules.dut = fragment
        probe = Probe(fragment)
        port = design.s_axil
        retire = design.retire
        bus.add(m, port)
        _free_inputs(m, design)

        state = probe.signal("command_state")
        states = fsm_states(state)

        def in_state(*names):
            return Cat(*[state == states[name] for name in names]).any()

        # -- key fields read as zero --------------------------------------------------------
        with m.If(port.rvalid & is_key_field(bus.ar_addr)):
            m.d.comb += [Assert(port.rdata == 0), Assert(port.rresp == Response.OKAY)]

        # -- the retire handshake ----------------------------------------------------------
        hold(m, retire.valid, retire.done, (retire.keyid, retire.all), Assert,
             "retire_stalled")

        # -- STATUS reads DEVICE_BUSY from the doorbell until retirement completes -----------
        doorbell = Signal()     # the open write is a doorbell (GO written to DOORBELL)
        m.d.comb += doorbell.eq(bus.write_pair_open & is_register(bus.aw_addr, "DOORBELL") &
                                bus.w_strb[0] & bus.w_data[0])
        answered = Signal()     # the last doorbell's write response has been taken
        fresh = Signal()        # the read in progress began after that
        bad = Signal()          # such a read returned a STATUS other than DEVICE_BUSY
        status_busy = Signal()
        status_read = Signal()
        m.d.comb += [
            status_busy.eq((port.rdata[:8] == Status.DEVICE_BUSY) & port.rdata[8]),
            status_read.eq(port.rvalid & is_register(bus.ar_addr, "STATUS")),
        ]
        returned_bad = Signal()
        bad_now = Signal()
        m.d.comb += [
            returned_bad.eq(status_read & fresh & ~doorbell & ~status_busy),
            bad_now.eq((bad & ~doorbell) | returned_bad),
        ]
        m.d.sync += bad.eq(bad_now)
        with m.If(doorbell):
            m.d.sync += [answered.eq(bus.b_hs), fresh.eq(0)]
        with m.If(bus.ar_hs):
            m.d.sync += fresh.eq((answered & ~doorbell) | (doorbell & bus.b_hs))
        retire_done_last = Signal()
        m.d.sync += retire_done_last.eq(retire.valid & retire.done)
        with m.If(retire.valid | retire_done_last):
            m.d.comb += Assert(~bad_now)

        # -- the key table changes only after retirement -----------------------------------
        table = probe.sub("table")
        write_en = table.signal("write__en", 1)
        write_addr = table.signal("write__addr", config.keyid_bits)
        platform_write = table.signal("platform_write_en", 1)
        k = Signal(config.keyid_bits)
        m.d.comb += k.eq(AnyConst(config.keyid_bits))
        may_write_k = Signal()      # a retirement covering k completed, none started since
        may_write_platform = Signal()
        with m.If(retire.valid):
            m.d.sync += [
                may_write_k.eq(retire.done & (retire.all | (retire.keyid == k))),
                may_write_platform.eq(retire.done & retire.all),
            ]
        writes_k = Signal()
        m.d.comb += writes_k.eq(write_en & (write_addr == k))
        with m.If(writes_k):
            m.d.sync += may_write_k.eq(0)
        with m.If(platform_write):
            m.d.sync += may_write_platform.eq(0)
        with m.If(design.ready):
            with m.If(writes_k):
                m.d.comb += Assert(may_write_k)
            with m.If(platform_write):
                m.d.comb += Assert(may_write_platform)
        with m.If(retire.valid & ~retire.done):
            m.d.comb += Assert(~write_en & ~platform_write)

        if self.invariants:
            target_invariants(m, bus, probe.sub("bus"))
            busy = probe.signal("busy", 1)
            initialised = probe.signal("initialised", 1)
            status_code = probe.signal("status_code", 8)
            sweep = table.signal("sweep")
            m.d.comb += [
                Assert(state < len(states)),
                Assert(initialised == ~in_state("INIT_ENTROPY", "INIT_SCHEDULE",
                                                "INIT_STORE")),
                Assert(busy == ~in_state("IDLE")),
                Assert(~busy | (status_code == Status.DEVICE_BUSY)),
                Assert(sweep <= config.num_keys),
                Assert(~initialised | (sweep == config.num_keys)),
            ]
            with m.If(in_state("CHECK", "ENTROPY", "SCHEDULE", "RETIRE", "WRITE", "FINISH")):
                m.d.comb += Assert(~bad)
                with m.If(status_read & fresh):
                    m.d.comb += Assert(status_busy)
            with m.If(in_state("WRITE")):
                keyid = probe.signal("keyid", 32)
                with m.If(probe.signal("is_platform", 1)):
                    m.d.comb += Assert(may_write_platform)
                with m.Elif(keyid[:config.keyid_bits] == k):
                    m.d.comb += Assert(may_write_k)

        if self.covers:
            status_code = probe.signal("status_code", 8)
            command = probe.signal("keyid_ctrl")[:8]
            finished = Signal()       # the command FSM left FINISH: STATUS has the result
            m.d.sync += finished.eq(in_state("FINISH"))
            if self.covers == "commands":
                for cmd in (Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM, Command.CLEAR_KEY,
                            Command.NO_ENCRYPT):
                    m.d.comb += Cover(finished & (status_code == Status.PROG_SUCCESS) &
                                      (command == cmd))
            else:
                for code in (Status.INVALID_PROG_CMD, Status.ENTROPY_ERROR,
                             Status.INVALID_KEYID, Status.INVALID_ENC_ALG):
                    m.d.comb += Cover(finished & (status_code == code))
                during_retire = Signal()   # the read in progress began during a retirement
                with m.If(bus.ar_hs):
                    m.d.sync += during_retire.eq(retire.valid)
                m.d.comb += [
                    Cover(bus.r_hs & status_read & status_busy & during_retire),
                    Cover(bus.r_hs & (port.rresp == Response.SLVERR)),
                    Cover(bus.b_hs & (port.bresp == Response.SLVERR)),
                    Cover(bus.r_hs & is_key_field(bus.ar_addr)),
                ]
        return m


# -- noninterference ---------------------------------------------------------------------------

def _entry_mask():
    """Bits of a key-table entry that are not key material: the mode and the key size."""
    layout = KeyEntry(CONFIG)
    mask = 0
    for name in ("mode", "aes256"):
        field = layout[name]
        mask |= ((1 << Shape.cast(field.shape).width) - 1) << field.offset
    return mask


# How the two copies' registers relate, by path in the design and name: "skip" (not at all:
# key material), "entry" (a key-table entry: the mode and key size agree), "wdata" (agree
# unless the last W beat was secret), "equal"; and a guard: the relation holds while the
# signal (path, name) is high, or from the cycle ("age", n) on. Registered memory read ports
# have no initial value: the key table's lookup pipeline (which reads every cycle) agrees
# from its n-th stage on, the fault log's output register while it holds a record. Any
# register not named here must be equal in both copies.
RELATIONS = {
    ("", "field1"): ("skip", None),
    ("", "field2"): ("skip", None),
    ("", "decrypt_key"): ("skip", None),
    ("key_schedule_128", "key"): ("skip", None),
    ("bus", "wdata"): ("wdata", None),
    ("table", "platform_key"): ("entry", None),
    ("table.entries", "read__data"): ("entry", ("age", 1)),
    ("table", "stored"): ("entry", ("age", 2)),
    ("table", "lookup__result"): ("entry", ("age", 3)),
    ("fault_log.storage", "r_port__data"): ("equal", ("fault_log", "r_rdy")),
}
KEY_MEMORIES = {"table.entries": "entry"}


def _walk(fragment, path=""):
    """``(kind, path, item)`` for every register of an elaborated design, in a fixed order:
    ``("reg", path, signal)`` for each signal assigned in a clocked domain, ``("mem", path,
    instance)`` for each writable memory, ``("rdport", path, signal)`` for each registered
    memory read port's data."""
    if is_memory(fragment):
        if memory_is_written(fragment):
            yield "mem", path, fragment
        for data in memory_read_data(fragment, registered=True):
            yield "rdport", path, data
        return
    for domain, statements in fragment.statements.items():
        if domain == "comb":
            continue
        seen = {}
        for statement in statements:
            for signal in sorted(assigned_signals(statement), key=lambda s: s.name):
                seen.setdefault(id(signal), signal)
        for signal in seen.values():
            yield "reg", path, signal
    for subfragment, name, _ in fragment.subfragments:
        yield from _walk(subfragment, f"{path}.{name}" if path else name)


def equal_registers(m, frag_a, frag_b, *, wdata_secret, age):
    """Assert that the two copies' registers agree, except for key material (see
    :data:`RELATIONS`): the inductive invariant of the noninterference proof. Returns
    how many registers and memory words are related."""
    items_a, items_b = list(_walk(frag_a)), list(_walk(frag_b))
    if len(items_a) != len(items_b):
        raise ValueError("The two copies elaborated differently")
    mask = _entry_mask()
    count = 0
    related = set()
    for (kind, path, a), (kind_b, path_b, b) in zip(items_a, items_b, strict=True):
        if kind == "mem":
            if (kind_b, path_b) != (kind, path) or memory_depth(a) != memory_depth(b):
                raise ValueError(f"Memories {path} and {path_b} do not match")
            which = KEY_MEMORIES.get(path)
            for address in range(memory_depth(a)):
                word_a = _memory_word(a, address, f"a_{path}_{address}")
                word_b = _memory_word(b, address, f"b_{path}_{address}")
                if which == "entry":
                    m.d.comb += Assert((word_a & mask) == (word_b & mask))
                else:
                    m.d.comb += Assert(word_a == word_b)
                count += 1
            continue
        name = a.name
        if (kind_b, path_b, b.name, len(b)) != (kind, path, name, len(a)):
            raise ValueError(f"Registers {path}.{name} and {path_b}.{b.name} do not match")
        which, guard = RELATIONS.get((path, name), ("equal", None))
        related.add((path, name))
        if which == "skip":
            continue
        if guard is None:
            enable = C(1, 1)
        elif guard[0] == "age":
            enable = age >= guard[1]
        else:
            guard_path, guard_name = guard
            probe = Probe(frag_a, "a")
            for part in guard_path.split("."):
                probe = probe.sub(part)
            enable = probe.signal(guard_name, 1)
        if which == "wdata":
            enable = enable & ~wdata_secret
        with m.If(enable):
            if which == "entry":
                m.d.comb += Assert((a & mask) == (b & mask))
            else:
                m.d.comb += Assert(a == b)
        count += 1
    stale = sorted(set(RELATIONS) - related)
    if stale:
        raise ProbeError(f"RELATIONS names registers the design does not have: {stale} "
                         f"(was the RTL changed?)")
    return count


def _memory_word(memory, address, label):
    word = Signal(memory_width(memory), name=label)
    add_read_port(memory, C(address, ceil_log2(memory_depth(memory))), word)
    return word


class NoninterferenceSpec(_Spec):
    """Two copies of the control interface, identical but for the key material they are
    given; everything observable must be equal.

    Parameters
    ----------
    design : callable
        ``design(config)`` builds one copy (:class:`~memcrypt.gateware.control.KeyControl`, or a
        mutant).
    invariants : bool
        Add the inductive invariants (register equality; needs the real KeyControl).
    """

    def __init__(self, *, config=CONFIG, design=KeyControl, invariants=True, covers=False):
        super().__init__()
        self.config = config
        self.a = design(config)
        self.b = design(config)
        self.manager = FreeManager()
        self.invariants = invariants
        self.covers = covers

    def elaborate(self, platform):
        m = self._module()
        a, b, bus = self.a, self.b, self.manager
        frag_a, frag_b = Fragment.get(a, platform), Fragment.get(b, platform)
        m.submodules.a = frag_a
        m.submodules.b = frag_b
        port_a, port_b = a.s_axil, b.s_axil

        # One free manager drives both copies; only the secret write data differs.
        bus.add(m, port_a)
        bus.connect(m, port_b, exclude=("wdata",))
        secret = Signal()           # this W beat carries key material
        wdata_b = Signal(32)        # ... and copy b sees this instead
        m.d.comb += [secret.eq(AnySeq(1)), wdata_b.eq(AnySeq(32)),
                     port_b.wdata.eq(Mux(secret, wdata_b, bus.wdata))]
        hold(m, bus.wvalid, port_a.wready, (secret, wdata_b), Assume, "secret_stalled")
        w_secret = Signal()         # the last W beat taken was secret
        with m.If(bus.w_hs):
            m.d.sync += w_secret.eq(secret)
        # A secret beat belongs to a write to a key field. The next write pairs the open AW
        # (or W) if only one is open, else the ones on the bus now.
        aw_alone = (bus.aw_open == 1) & (bus.w_open == 0)
        w_alone = (bus.w_open == 1) & (bus.aw_open == 0)
        next_address = Mux(aw_alone, bus.aw_addr, bus.awaddr)
        next_secret = Mux(w_alone, w_secret, secret)
        with m.If((aw_alone | bus.awvalid) & (w_alone | bus.wvalid) & next_secret):
            m.d.comb += Assume(is_key_field(next_address))

        # Everything else is the same for both, but the entropy (key material too).
        for path, value in free_inputs(a):
            in_a, in_b = _bits(value), _bits(port(b, path))
            m.d.comb += [in_a.eq(AnySeq(len(in_a))), in_b.eq(in_a)]
        m.d.comb += [a.entropy.data.eq(AnySeq(32)), b.entropy.data.eq(AnySeq(32))]

        # Every output agrees (a valid lookup result in what is not key material).
        for path, member, out_a in a.signature.flatten(a):
            if member.flow != wiring.Out:
                continue
            out_b = port(b, path)
            if path == ("lookup", "result"):
                with m.If(a.lookup.result_valid):
                    m.d.comb += [Assert(out_a.mode == out_b.mode),
                                 Assert(out_a.aes256 == out_b.aes256)]
            else:
                m.d.comb += Assert(_bits(out_a) == _bits(out_b), "outputs_agree")

        if self.invariants:
            probe_a, probe_b = Probe(frag_a, "a"), Probe(frag_b, "b")
            # STATUS agrees (so does every register without key material, below).
            for name in ("status_code", "busy", "initialised", "ignored"):
                m.d.comb += Assert(probe_a.signal(name) == probe_b.signal(name))
            target_invariants(m, bus, probe_a.sub("bus"))
            with m.If(bus.write_pair_open & w_secret):
                m.d.comb += Assert(is_key_field(bus.aw_addr))
            age = Signal(range(4))      # cycles since reset, up to 3
            with m.If(age != 3):
                m.d.sync += age.eq(age + 1)
            self.related = equal_registers(m, frag_a, frag_b, wdata_secret=w_secret, age=age)
        if self.covers:
            # Not vacuous: the copies do hold different keys while software reads.
            probe_a, probe_b = Probe(frag_a, "a"), Probe(frag_b, "b")
            fields_differ = ((probe_a.signal("field1") != probe_b.signal("field1")) |
                             (probe_a.signal("field2") != probe_b.signal("field2")))
            data_key = KeyEntry(self.config)["data_key"]
            keys = slice(data_key.offset, data_key.offset + self.config.key_bits)
            platform_a = probe_a.sub("table").signal("platform_key")[keys]
            platform_b = probe_b.sub("table").signal("platform_key")[keys]
            wdata_a = probe_a.sub("bus").signal("wdata")
            wdata_b = probe_b.sub("bus").signal("wdata")
            m.d.comb += [
                Cover(bus.b_hs & w_secret & (wdata_a != wdata_b)),
                # a secret taken into a key field after reset (the fields are cleared then)
                Cover(bus.r_hs & a.ready & fields_differ),
                Cover(bus.r_hs & (platform_a != platform_b)),
            ]
        return m


# -- key residue --------------------------------------------------------------------------------

class KeyResidueSpec(_Spec):
    """One control interface with a free environment: no key material is left in its
    registers, outside the key table and its platform-key register, while no command is in
    progress.

    In every cycle the command engine is IDLE: the decryption start key and the key-schedule
    unit's key register are zero, and so are both key fields unless a key field has been
    written since the last command (or the reset-time platform key draw) finished -- software
    loading the next command's key. In every cycle the bus target holds no W beat, its write
    data register is zero. (The key table's lookup pipeline carries entries of the table and
    is part of it.)

    Parameters
    ----------
    design : callable
        ``design(config)`` builds the control interface (:class:`KeyControl`, or a mutant).
    invariants : bool
        Add the white-box invariants that make the property inductive.
    covers : bool
        Add the covers (the property is not vacuous).
    """

    def __init__(self, *, config=CONFIG, design=KeyControl, invariants=True, covers=False):
        super().__init__()
        if len(config.key_sizes) != 1:
            raise ValueError("The key-residue specification is written for one key size")
        self.config = config
        self.design = design(config)
        self.manager = FreeManager()
        self.invariants = invariants
        self.covers = covers

    def elaborate(self, platform):
        m = self._module()
        design, config, bus = self.design, self.config, self.manager
        fragment = Fragment.get(design, platform)
        m.submodules.dut = fragment
        probe = Probe(fragment)
        bus.add(m, design.s_axil)
        _free_inputs(m, design)

        state = probe.signal("command_state")
        states = fsm_states(state)

        def in_state(*names):
            return Cat(*[state == states[name] for name in names]).any()

        target = probe.sub("bus")
        unit = probe.sub(f"key_schedule_{config.key_sizes[0]}")
        field1, field2 = probe.signal("field1"), probe.signal("field2")
        decrypt_key = probe.signal("decrypt_key")
        schedule_key = unit.signal("key")
        w_full, wdata = target.signal("w_full", 1), target.signal("wdata")

        key_field_written = Signal()    # a key-field register write is performed
        m.d.comb += key_field_written.eq(target.signal("reg__w_en", 1) &
                                         is_key_field(target.signal("reg__w_addr")))
        clean = Signal()    # no key field written since the last command finished
        with m.If(in_state("FINISH", "INIT_STORE")):
            m.d.sync += clean.eq(1)
        with m.If(key_field_written):
            m.d.sync += clean.eq(0)

        idle = Signal()
        m.d.comb += idle.eq(in_state("IDLE"))
        with m.If(idle):
            m.d.comb += [
                Assert(decrypt_key == 0, "decrypt_key_cleared"),
                Assert(schedule_key == 0, "schedule_key_cleared"),
            ]
            with m.If(clean):
                m.d.comb += Assert((field1 == 0) & (field2 == 0), "key_fields_cleared")
        with m.If(~w_full):
            m.d.comb += Assert(wdata == 0, "bus_keeps_no_write_data")

        if self.invariants:
            target_invariants(m, bus, target)
            unit_busy, unit_done = unit.signal("busy", 1), unit.signal("done", 1)
            sent = probe.signal("sent", 1)
            m.d.comb += [
                Assert(state < len(states)),
                Assert(~(unit_busy & unit_done)),
                Assert(sent == (unit_busy | unit_done)),
            ]
            with m.If(~unit_busy & ~unit_done):
                m.d.comb += Assert(schedule_key == 0)
            with m.If(~in_state("SCHEDULE", "INIT_SCHEDULE")):
                m.d.comb += Assert(~sent)

        if self.covers:
            status_code = probe.signal("status_code", 8)
            keyed = Signal()    # the key scheduled in this command was not zero
            with m.If(in_state("CHECK")):
                m.d.sync += keyed.eq(0)
            with m.If(in_state("SCHEDULE") & (field1 != 0)):
                m.d.sync += keyed.eq(1)
            m.d.comb += [
                # the reset-time platform key is drawn, and nothing of it is left
                Cover(idle & clean & design.ready & (field1 == 0) &
                      (probe.sub("table").signal("platform_key") != 0)),
                # key material passes through each register the property clears
                Cover(w_full & (wdata != 0) & is_key_field(bus.aw_addr)),
                Cover(unit.signal("done", 1) & (schedule_key != 0)),
                Cover(in_state("RETIRE") & (decrypt_key != 0) & (field1 != 0)),
                # a command programs a key that is not zero and leaves nothing of it
                Cover(idle & clean & keyed & (status_code == Status.PROG_SUCCESS)),
            ]
        return m


def tasks():
    return [
        FormalTask(
            name="control_prove", block="KeyControl", mode="prove",
            engine="smtbmc yices", depth=2, unbounded=True,
            description="AXI4-Lite rules on KeyControl; key fields read as zero; retire "
                        "handshake; STATUS DEVICE_BUSY from doorbell until retirement "
                        "completes; table/platform key written only after retirement",
            spec=lambda: ControlSpec(invariants=True)),
        FormalTask(
            name="control_pdr", block="KeyControl", mode="prove",
            engine="abc pdr", depth=None, unbounded=True,
            description="the same properties, black box (no white-box invariants), proven "
                        "by ABC's PDR",
            spec=lambda: ControlSpec(invariants=False)),
        FormalTask(
            name="control_noninterference", block="KeyControl", mode="prove",
            engine="smtbmc yices", depth=4, unbounded=True,
            description="noninterference: two copies given different key-field write data "
                        "and entropy agree on every bus output (RDATA, RRESP, RVALID, ...), "
                        "irq, STATUS and the rest",
            spec=lambda: NoninterferenceSpec(invariants=True)),
        FormalTask(
            name="control_noninterference_cover", block="KeyControl", mode="cover",
            engine="smtbmc yices", depth=26, unbounded=False,
            description="covers of the miter: the copies hold different key fields (a "
                        "secret written after reset) and different platform keys while "
                        "reads complete",
            spec=lambda: NoninterferenceSpec(invariants=False, covers=True),
            script=cut("a", "b")),
        FormalTask(
            name="control_cover_errors", block="KeyControl", mode="cover",
            engine="smtbmc yices", depth=38, unbounded=False,
            description="covers: INVALID_PROG_CMD, ENTROPY_ERROR, INVALID_KEYID, "
                        "INVALID_ENC_ALG; DEVICE_BUSY read during retirement; SLVERR read "
                        "and write; key-field read",
            spec=lambda: ControlSpec(invariants=False, covers="errors")),
        FormalTask(
            name="control_cover_commands", block="KeyControl", mode="cover",
            engine="smtbmc yices", depth=56, unbounded=False,
            description="covers: SET_KEY_DIRECT, SET_KEY_RANDOM, CLEAR_KEY, NO_ENCRYPT "
                        "each finish with PROG_SUCCESS",
            spec=lambda: ControlSpec(invariants=False, covers="commands")),
        FormalTask(
            name="control_key_residue", block="KeyControl", mode="prove",
            engine="smtbmc yices", depth=2, unbounded=True,
            description="no key material in the control block's registers (key fields, "
                        "decryption start key, key-schedule unit, bus write data) while no "
                        "command is in progress, the key table apart",
            spec=lambda: KeyResidueSpec(invariants=True), script=cut("dut")),
        FormalTask(
            name="control_key_residue_cover", block="KeyControl", mode="cover",
            engine="smtbmc yices", depth=56, unbounded=False,
            description="covers: keys pass through the key fields, the bus write data, the "
                        "key-schedule unit and the decryption start key, and a command "
                        "programming a key (and the platform key draw) leaves none behind",
            spec=lambda: KeyResidueSpec(invariants=False, covers=True), script=cut("dut")),
    ]

