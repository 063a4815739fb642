"""Named top-level designs and their conversion to Verilog and RTLIL.

``memcrypt generate`` and the cocotb benches both go through :func:`build_top` and
:func:`write_outputs`, so the Verilog that is simulated is the Verilog users get.
"""

from dataclasses import dataclass
from pathlib import Path

from .aes import AESIterative, AESPipeline, KeyScheduleUnit
from .xts import XTSEngine

__all__ = ["TOPS", "TopSpec", "build_top", "write_outputs"]


@dataclass(frozen=True)
class TopSpec:
    """A top that ``memcrypt generate`` knows: how to build it and its parameters."""
    summary: str
    defaults: dict

    def build(self, **params):
        unknown = sorted(set(params) - set(self.defaults))
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
    def __init__(self, summary, defaults, factory):
        super().__init__(summary, defaults)
        object.__setattr__(self, "_factory", factory)


TOPS = {
    "engine": _Top(
        "AES-XTS line engine: tweak core + data core, 64-byte lines (memcrypt.xts.XTSEngine)",
        {"key_bits": 128, "architecture": "pipelined", "direction": "both", "tag_width": 8,
         "sbox": "bram"},
        XTSEngine),
    "aes": _Top(
        "AES block core, pipelined or iterative (memcrypt.aes.AESPipeline / AESIterative)",
        {"key_bits": 128, "architecture": "pipelined", "direction": "both", "tag_width": 8,
         "sbox": "bram"},
        _aes),
    "keyschedule": _Top(
        "Decryption-start-key unit (memcrypt.aes.KeyScheduleUnit)",
        {"key_bits": 128},
        KeyScheduleUnit),
}


def build_top(name: str, **params):
    """Construct the named top with ``params`` over its defaults; returns (component, params)."""
    if name not in TOPS:
        raise ValueError(f"unknown top {name!r}; choose from {', '.join(TOPS)}")
    return TOPS[name].build(**params)


def write_outputs(component, out_dir, name, formats=("v", "il")) -> dict:
    """Write ``name.v`` and/or ``name.il`` for ``component`` into ``out_dir``.

    Returns a mapping from format to the written path.
    """
    from amaranth.back import rtlil, verilog  # noqa: PLC0415  (slow import, only when used)

    from .toolchain import setup_environment  # noqa: PLC0415

    setup_environment()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in formats:
        if fmt == "v":
            text = verilog.convert(component, name=name, emit_src=False)
        elif fmt == "il":
            text = rtlil.convert(component, name=name, emit_src=False)
        else:
            raise ValueError(f"unknown output format {fmt!r}; choose 'v' or 'il'")
        path = out_dir / f"{name}.{fmt}"
        path.write_text(text)
        written[fmt] = path
    return written
