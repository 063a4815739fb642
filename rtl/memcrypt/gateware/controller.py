"""The memcrypt controller: a host port, a key-tagged cache, AES-XTS engines keyed from the
key table, and a memory port, behind three AXI ports.

::

    s_axi (AXI4) --> host port --> key-tagged cache --fills, write-backs--> memory side --> m_axi
                     (bursts,      (plaintext, tagged by        (key lookup, AES-XTS,   (AXI4)
                      KeyID split,  line and KeyID)              write tracker)
                      checks)         ^ retire, flush                ^ key lookup
    s_axil (AXI4-Lite) --> key control (registers, key table, fault log, counters)

Every line the controller writes to memory is encrypted under the keys of the KeyID it was
written under (the KeyID in the top bits of the host address), with the line's stripped
address as the XTS tweak; reads decrypt. See :mod:`memcrypt.gateware.host_port`,
:mod:`memcrypt.gateware.cache`, :mod:`memcrypt.gateware.memory_port` and
:mod:`memcrypt.gateware.control` for each block.

The controller adds two joins the blocks alone do not make:

* a retirement (the key control's ``retire``, before a KeyID's key changes) completes only
  when the cache has written back the KeyID's lines *and* the memory side has read the
  keys of every write-back it was handed (``keys_bound``): the key table is rewritten only
  after every such line is bound to its old key (ordering rule 2); and no host request
  enters the cache from the retirement's start until the table is written, so no line is
  filled with the keys being replaced;
* a flush (FLUSH_CTRL) completes only when memory has answered every write-back
  (``writes_idle``), so software that sees FLUSH_STATUS.DONE finds memory up to date.

Faults from the host port and the memory side share the key control's fault input (the
host port's first when both have one).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..amaranth_private import reject_construction
from ..config import MemcryptConfig, require_config
from ..geometry import WORD_BITS
from ..regmap import ADDR_WIDTH, Block
from .cache import CacheGeometry, KeyTaggedCache
from .control import KeyControl
from .host_port import AXI4HostPort
from .interfaces import AXI4LiteSignature, AXI4Signature, EntropySignature
from .memory_port import MemorySide

__all__ = ["Controller", "CONTROLLER_BLOCKS"]

#: The blocks a controller contains beside the key control (CAP_BLOCKS).
CONTROLLER_BLOCKS = Block.CACHE | Block.ENGINE | Block.HOST_PORT | Block.MEMORY_PORT

#: The narrowest address an AXI4 port carries (IHI 0022E: a 4 KiB burst boundary).
MIN_AXI_ADDRESS_BITS = 12


class Controller(wiring.Component):
    """The memory-encryption controller.

    Parameters
    ----------
    config : MemcryptConfig
        Everything: address split, keys, cache geometry, engine, AXI ID widths, memory
        base. ``phys_addr_bits`` must be at least 12 (an AXI4 address).

    Members
    -------
    s_axi : In(AXI4Signature(addr_width=phys_addr_bits, data_width=128, id_width=host_id_width))
        The host port (:class:`~memcrypt.gateware.host_port.AXI4HostPort`).
    m_axi : Out(AXI4Signature(addr_width=phys_addr_bits, data_width=128,
                              id_width=memory_id_width))
        Memory (:class:`~memcrypt.gateware.memory_port.MemorySide`).
    s_axil : In(AXI4LiteSignature(addr_width=12, data_width=32))
        The registers (:mod:`memcrypt.regmap`; CAP_BLOCKS reads cache, engine, host port and
        memory port).
    entropy : In(EntropySignature())
        Hardware entropy for the platform key and SET_KEY_RANDOM.
    irq : Out(1)
        The key control's interrupt.
    ready : Out(1)
        The key table, the platform key and the cache are initialised; the host port takes
        no request before.
    """

    def __init__(self, config: MemcryptConfig):
        self._config = require_config(self, config)
        if config.phys_addr_bits < MIN_AXI_ADDRESS_BITS:
            reject_construction(self)
            raise ValueError(f"the controller's AXI4 ports need phys_addr_bits of at least "
                             f"{MIN_AXI_ADDRESS_BITS}, not {config.phys_addr_bits}")
        try:
            CacheGeometry(config, config.cache_ways, config.cache_sets)
        except ValueError:
            reject_construction(self)
            raise
        self._control = KeyControl(config, blocks=CONTROLLER_BLOCKS)
        self._cache = KeyTaggedCache(config, ways=config.cache_ways, sets=config.cache_sets)
        self._host = AXI4HostPort(config)
        self._memory = MemorySide(config)
        super().__init__({
            "s_axi": In(AXI4Signature(addr_width=config.phys_addr_bits, data_width=WORD_BITS,
                                      id_width=config.host_id_width)),
            "m_axi": Out(AXI4Signature(addr_width=config.phys_addr_bits, data_width=WORD_BITS,
                                       id_width=config.memory_id_width)),
            "s_axil": In(AXI4LiteSignature(addr_width=ADDR_WIDTH, data_width=32)),
            "entropy": In(EntropySignature()),
            "irq": Out(1),
            "ready": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        m.submodules.control = control = self._control
        m.submodules.cache = cache = self._cache
        m.submodules.host = host = self._host
        m.submodules.memory = memory = self._memory

        wiring.connect(m, wiring.flipped(self.s_axi), host.s_axi)
        wiring.connect(m, memory.m_axi, wiring.flipped(self.m_axi))
        wiring.connect(m, wiring.flipped(self.s_axil), control.s_axil)
        wiring.connect(m, wiring.flipped(self.entropy), control.entropy)
        wiring.connect(m, cache.resp, host.resp)
        wiring.connect(m, cache.fill_req, memory.fill_req)
        wiring.connect(m, memory.fill_resp, cache.fill_resp)
        wiring.connect(m, cache.wb, memory.wb)
        wiring.connect(m, memory.lookup, control.lookup)
        wiring.connect(m, cache.events, control.events.cache)
        m.d.comb += [
            control.events.host_reads.eq(host.reads),
            control.events.host_writes.eq(host.writes),
            control.events.lines_encrypted.eq(memory.encrypted),
            control.events.lines_decrypted.eq(memory.decrypted),
            self.irq.eq(control.irq),
            self.ready.eq(control.ready & cache.ready),
            host.enable.eq(self.ready),
        ]
        self._retirement(m, control, cache, memory, host)
        self._flushes(m, control, cache, memory)
        self._faults(m, control, host, memory)
        return m

    @staticmethod
    def _retirement(m, control, cache, memory, host):
        """The key control's retirement goes to the cache; its completion comes back once
        the cache is done and every write-back handed over holds its keys. From the
        request until the key table is written (the cycle after the completion), the host
        port's requests wait, so that no line is filled with the keys being replaced."""
        table_write = Signal(name="retire_table_write")
        hold = Signal(name="retire_hold")
        m.d.sync += table_write.eq(control.retire.done)
        m.d.comb += [
            hold.eq(control.retire.valid | table_write),
            cache.req.payload.eq(host.req.payload),
            cache.req.valid.eq(host.req.valid & ~hold),
            host.req.ready.eq(cache.req.ready & ~hold),
        ]
        cache_done = Signal(name="retire_cache_done")
        m.d.comb += [
            cache.retire.valid.eq(control.retire.valid & ~cache_done),
            cache.retire.keyid.eq(control.retire.keyid),
            cache.retire.all.eq(control.retire.all),
            control.retire.done.eq(cache_done & memory.keys_bound),
        ]
        with m.If(cache.retire.done):
            m.d.sync += cache_done.eq(1)
        with m.If(control.retire.done):
            m.d.sync += cache_done.eq(0)

    @staticmethod
    def _flushes(m, control, cache, memory):
        """Flushes go to the cache; a completion waits until memory has answered every
        write-back."""
        wiring.connect(m, control.maint, cache.maint)
        m.d.comb += [
            control.maint_done.valid.eq(cache.maint_done.valid & memory.writes_idle),
            control.maint_done.payload.eq(cache.maint_done.payload),
            cache.maint_done.ready.eq(control.maint_done.ready & memory.writes_idle),
        ]

    @staticmethod
    def _faults(m, control, host, memory):
        """Both sources into the one fault input; a record offered stays offered, and the
        same, until the log takes it."""
        sources = (host.fault, memory.fault)
        held = Signal(name="fault_held")             # a record is offered and not taken
        owner = Signal(name="fault_owner")           # 0: the host port, 1: the memory side
        chosen = Signal(name="fault_chosen")
        merged = control.fault
        m.d.comb += chosen.eq(Mux(held, owner, ~sources[0].valid))
        m.d.comb += [
            merged.valid.eq(Mux(chosen, sources[1].valid, sources[0].valid)),
            merged.record.eq(Mux(chosen, sources[1].record, sources[0].record)),
            sources[0].ready.eq(merged.ready & ~chosen),
            sources[1].ready.eq(merged.ready & chosen),
        ]
        m.d.sync += [held.eq(merged.valid & ~merged.ready), owner.eq(chosen)]
