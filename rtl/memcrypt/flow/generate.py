"""Named top-level designs and their conversion to Verilog and RTLIL.

``memcrypt generate`` and the cocotb benches both go through :func:`build_top` and
:func:`write_outputs`, so the Verilog that is simulated is the Verilog users get.
"""

from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..config import MemcryptConfig, preset
from ..gateware.aes import AESIterative, AESPipeline, KeyScheduleUnit
from ..gateware.cache import KeyTaggedCache
from ..gateware.control import KeyControl
from ..gateware.controller import Controller
from ..gateware.interfaces import flat_names, flat_ports
from ..gateware.keyed import KeyedEngine
from ..gateware.xts import XTSEngine

#: Parameters of a :class:`~memcrypt.config.MemcryptConfig`, accepted by the tops built from
#: one (over the named ``config`` preset).
CONFIG_PARAMETERS = tuple(f.name for f in fields(MemcryptConfig) if f.name != "name")

__all__ = ["TOPS", "TopSpec", "build_top", "write_outputs", "packed_ports"]


@dataclass(frozen=True)
class TopSpec:
    """A top that ``memcrypt generate`` knows: how to build it and its parameters."""
    summary: str
    defaults: dict
    configured: bool = False     # also takes a ``config`` preset and its parameters

    def build(self, **params):
        accepted = set(self.defaults) | (set(CONFIG_PARAMETERS) if self.configured else set())
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; "
                             f"this top takes {', '.join(sorted(self.defaults)) or 'none'}")
        merged = {**self.defaults, **params}
        return self._factory(**merged), merged


def _aes(architecture, **params):
    if architecture == "pipelined":
        return AESPipeline(**params)
    if architecture == "iterative":
        params.pop("sbox")
        return AESIterative(**params)
    raise ValueError(f"Architecture must be 'pipelined' or 'iterative', not {architecture!r}")


class _Top(TopSpec):
    def __init__(self, summary, defaults, factory, configured=False):
        super().__init__(summary, defaults, configured)
        object.__setattr__(self, "_factory", factory)


def _configured(factory):
    """A factory taking ``config`` (a preset name) and configuration overrides."""
    def build(config, **params):
        overrides = {name: params.pop(name) for name in CONFIG_PARAMETERS if name in params}
        base = preset(config)
        if overrides:
            base = replace(base, **overrides, name=f"{base.name} (modified)")
        return factory(base, **params)
    return build


TOPS = {
    "controller": _Top(
        "The memory-encryption controller: AXI4 host port s_axi, key-tagged cache, AES-XTS "
        "engines keyed from the key table, AXI4 memory port m_axi, AXI4-Lite control s_axil "
        "(memcrypt.gateware.controller.Controller); configuration parameters override the "
        "preset",
        {"config": "intel"},
        _configured(Controller), configured=True),
    "engine": _Top(
        "AES-XTS line engine: tweak core + data core, 64-byte lines "
        "(memcrypt.gateware.xts.XTSEngine)",
        {"key_bits": 128, "architecture": "pipelined", "direction": "both", "tag_width": 8,
         "sbox": "bram"},
        XTSEngine),
    "aes": _Top(
        "AES block core, pipelined or iterative (memcrypt.gateware.aes.AESPipeline / AESIterative)",
        {"key_bits": 128, "architecture": "pipelined", "direction": "both", "tag_width": 8,
         "sbox": "bram"},
        _aes),
    "control": _Top(
        "Control interface: AXI4-Lite registers, PCONFIG-style key programming, key table "
        "(memcrypt.gateware.control.KeyControl); configuration parameters override the preset",
        {"config": "intel"},
        _configured(KeyControl), configured=True),
    "keyed-engine": _Top(
        "Key table feeding the AES-XTS engine: KeyControl + XTSEngine "
        "(memcrypt.gateware.keyed.KeyedEngine)",
        {"config": "intel", "key_bits": 128, "architecture": "iterative", "sbox": "bram"},
        _configured(KeyedEngine), configured=True),
    "cache": _Top(
        "Key-tagged cache: plaintext lines tagged by line address and KeyID, coherent "
        "across KeyIDs (memcrypt.gateware.cache.KeyTaggedCache)",
        {"config": "intel", "ways": 4, "sets": 64},
        _configured(KeyTaggedCache), configured=True),
    "keyschedule": _Top(
        "Decryption-start-key unit (memcrypt.gateware.aes.KeyScheduleUnit)",
        {"key_bits": 128},
        KeyScheduleUnit),
}


def build_top(name: str, **params):
    """Construct the named top with ``params`` over its defaults; returns (component, params)."""
    if name not in TOPS:
        raise ValueError(f"unknown top {name!r}; choose from {', '.join(TOPS)}")
    return TOPS[name].build(**params)


def write_outputs(component, out_dir, name, formats=("v", "il")) -> dict:
    """Write ``name.v`` and/or ``name.il`` for ``component`` into ``out_dir``, its ports
    named by :func:`memcrypt.gateware.interfaces.flat_ports`.

    Returns a mapping from format to the written path.
    """
    from amaranth.back import rtlil, verilog  # noqa: PLC0415  (slow import, only when used)

    from .toolchain import setup_environment  # noqa: PLC0415

    setup_environment()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ports = flat_ports(component)
    written = {}
    for fmt in formats:
        if fmt == "v":
            text = verilog.convert(component, name=name, ports=ports, emit_src=False)
        elif fmt == "il":
            text = rtlil.convert(component, name=name, ports=ports, emit_src=False)
        else:
            raise ValueError(f"unknown output format {fmt!r}; choose 'v' or 'il'")
        path = out_dir / f"{name}.{fmt}"
        path.write_text(text)
        written[fmt] = path
    return written


def _fields(layout, offset=0, prefix=""):
    """(name, msb, lsb) of every leaf field of a layout, LSB first; nested layouts dotted."""
    from amaranth.lib import data  # noqa: PLC0415

    leaves = []
    for name, field in layout:
        start = offset + field.offset
        if isinstance(field.shape, data.Layout):
            leaves += _fields(field.shape, start, f"{prefix}{name}.")
        else:
            width = field.width
            leaves.append((f"{prefix}{name}", start + width - 1, start))
    return leaves


def packed_ports(component) -> list[tuple[str, int, list[tuple[str, int, int]]]]:
    """The ports of ``component``'s generated top whose Verilog is one vector packing several
    fields (stream payloads and records with a struct layout): ``(verilog name, width,
    [(field, msb, lsb), ...])``, in the order of the signature; the field bit ranges are
    those of the vector."""
    from amaranth.lib import data  # noqa: PLC0415

    packed = []
    for name, _path, _flow, member in flat_names(component.signature):
        shape = member.shape
        layout = data.Layout.cast(shape) if isinstance(shape, data.Layout) else None
        if isinstance(layout, data.StructLayout):
            packed.append((name, layout.size, _fields(layout)))
    return packed
