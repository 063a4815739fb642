"""The ``memcrypt`` command line: generate, demo, vectors, formal, build, bench, regmap,
regress.

Every subcommand explains itself with ``--help``. Bad user input (a wrong argument, an
unknown name, a parameter a top refuses) raises :class:`UserError` and ends the command with
one readable line on stderr and exit status 2; so does a command that needs a checkout run
outside one. A failing tool or a missing file ends it with one line and exit status 1. Any
other exception is an internal error and shows its traceback.
"""

import argparse
import ast
import contextlib
import subprocess
import sys
from pathlib import Path

from .checkout import CheckoutNotFound, checkout_folder
from .toolchain import ToolError

__all__ = ["main", "UserError"]


class UserError(Exception):
    """Bad user input: printed as one line, exit status 2."""


@contextlib.contextmanager
def _user_input():
    """Report a ``ValueError`` or ``TypeError`` raised in the block (parameter validation of
    something built from the user's arguments) as a :class:`UserError`."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise UserError(str(error)) from error


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _at_least_one(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _parse_params(pairs):
    params = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UserError(f"parameter {pair!r} is not NAME=VALUE")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        params[name.replace("-", "_")] = value
    return params


# -- generate ---------------------------------------------------------------------------------

def _cmd_generate(args):
    from .generate import TOPS, build_top, packed_ports, write_outputs

    if args.list:
        for name, spec in TOPS.items():
            defaults = " ".join(f"{k}={v}" for k, v in spec.defaults.items())
            print(f"{name:12} {spec.summary}\n{'':12} defaults: {defaults}")
        return 0
    params = _parse_params(args.param)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in ("v", "il")] or ([] if formats else [""])
    if unknown:
        raise UserError(f"unknown output format(s) {', '.join(map(repr, unknown))}; "
                        f"choose from v, il")
    with _user_input():
        component, merged = build_top(args.top, **params)
    name = args.name or f"memcrypt_{args.top.replace('-', '_')}"
    written = write_outputs(component, args.output, name, formats=formats)
    print(f"top: {args.top} ({TOPS[args.top].summary})")
    for key, value in merged.items():
        print(f"  {key:12} = {value}")
    config = getattr(component, "config", None)
    if config is not None:
        for line in config.describe():
            print(f"  {line}")
    for figure, value in _derived_figures(component).items():
        print(f"  {figure:12} = {value}")
    packed = packed_ports(component)
    if packed:
        print("packed ports (field msb:lsb of the Verilog vector, LSB first):")
        for port, width, leaves in packed:
            bits = ", ".join(f"{name} {msb}:{lsb}" if msb != lsb else f"{name} {lsb}"
                             for name, msb, lsb in leaves)
            print(f"  {port}[{width - 1}:0]: {bits}")
    for fmt, path in written.items():
        print(f"wrote {path} ({fmt})")
    return 0


def _derived_figures(component):
    figures = {}
    for attribute in ("rounds", "latency", "fifo_depth", "steps"):
        value = getattr(component, attribute, None)
        if value is None:
            for core in ("_data_core", "_tweak_core"):
                inner = getattr(component, core, None)
                if inner is not None and getattr(inner, attribute, None) is not None:
                    value = getattr(inner, attribute)
                    break
        if value is not None:
            figures[attribute] = value
    return figures


# -- demo -------------------------------------------------------------------------------------

def _cmd_demo(args):
    from .demo import run_controller_demo, run_demo

    if args.engine:
        return 0 if run_demo(lines=args.lines, key_bits=args.key_bits,
                             architecture=args.architecture, echo=print) else 1
    if (args.lines, args.key_bits, args.architecture) != (2, 128, "pipelined"):
        raise UserError("--lines, --key-bits and --architecture apply to --engine only")
    return 0 if run_controller_demo(echo=print) else 1


# -- vectors ----------------------------------------------------------------------------------

def _cmd_vectors(args):
    from ..model import vectors

    failures = 0
    total = 0
    for source, loader in (("FIPS-197", vectors.fips197_block_vectors),):
        for vector in loader():
            total += 1
            errors = vectors.block_vector_errors(vector) + vectors.block_vector_errors(
                vector, reference=True)
            failures += bool(errors)
        print(f"{source:28} block vectors checked")
    for vector in vectors.all_xts_vectors():
        total += 1
        errors = vectors.xts_vector_errors(vector)
        if errors:
            failures += 1
            print(f"FAIL {vector.source} {vector.name}: {errors[0]}")
    for count in vectors.vector_counts():
        print(count)
    print(f"golden model: {total - failures} of {total} vectors pass, {failures} fail")
    return 0 if failures == 0 else 1


# -- formal -----------------------------------------------------------------------------------

def _cmd_formal(args):
    from . import formal

    if args.list:
        listed = [(task, "") for task in formal.tasks()]
        listed += [(task, f"must FAIL ({task.breaks}): ") for task in formal.negative_tasks()]
        for task, note in listed:
            slow = "(slow) " if task.slow else ""
            print(f"{task.name:32} {task.mode:6} {task.engine:14} {formal.depth_label(task):10} "
                  f"{slow}{note}{task.description}")
        return 0
    if args.task and (args.all or args.negative):
        raise UserError("name tasks, or give --all or --negative, not both")
    known = {task.name for task in formal.tasks() + formal.negative_tasks()}
    unknown = [name for name in args.task or () if name not in known]
    if unknown:
        raise UserError(f"unknown formal task(s) {', '.join(unknown)}; "
                           f"see memcrypt formal --list")
    results = formal.run(args.task or None, workdir=Path(args.workdir), echo=print,
                         quick=not args.all, negative=args.negative)
    print(formal.format_table(results))
    return 0 if all(r.passed for r in results) else 1


# -- build ------------------------------------------------------------------------------------

def _cmd_build(args):
    from .boards import BOARDS, build_board

    if args.board not in BOARDS:
        raise UserError(f"unknown board {args.board!r}; choose from {', '.join(BOARDS)}")
    bitstream = build_board(args.board, Path(args.output), echo=print)
    print(f"bitstream: {bitstream}")
    return 0


# -- bench ------------------------------------------------------------------------------------

def _cmd_bench(args):
    from .bench import AREA_BENCH_CONFIGS, BENCH_CONFIGS, run_aes_bench, run_area_bench

    if args.target in ("control", "cache", "controller"):
        configs = [c for c in AREA_BENCH_CONFIGS if c.target == args.target]
    elif args.target == "aes":
        configs = BENCH_CONFIGS
    else:
        raise UserError(f"unknown bench target {args.target!r}; "
                           f"choose from aes, control, cache, controller")
    names = args.config or [c.name for c in configs if getattr(c, "default", True)]
    known = {c.name for c in configs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown bench configuration(s) {', '.join(unknown)}; "
                           f"choose from {', '.join(sorted(known))}")
    if args.seeds < 1:
        raise UserError("--seeds must be at least 1")
    if args.latency and args.target != "controller":
        raise UserError("--latency applies to the controller bench only")
    if any(latency < 0 for latency in args.latency or ()):
        raise UserError("--latency must be at least 0")
    if args.target == "controller":
        from .bench_controller import DEFAULT_LATENCIES, run_controller_bench
        for config in [c for c in configs if c.name in names]:
            run_controller_bench(config.preset, latencies=args.latency or DEFAULT_LATENCIES,
                                 workdir=Path(args.workdir), echo=print)
        if not args.no_pnr:
            run_area_bench(names, seeds=args.seeds, workdir=Path(args.workdir),
                           jobs=args.jobs, echo=print)
        return 0
    if args.target in ("control", "cache"):
        run_area_bench(names, seeds=args.seeds, pnr=not args.no_pnr, workdir=Path(args.workdir),
                       jobs=args.jobs, echo=print)
        return 0
    run_aes_bench(names, seeds=args.seeds, pnr=not args.no_pnr, workdir=Path(args.workdir),
                  jobs=args.jobs, echo=print)
    return 0


# -- regmap -----------------------------------------------------------------------------------

def _cmd_regmap(args):
    from ..config import MemcryptConfig, preset
    from ..host.regmap_docs import stale_files, write_regmap

    with _user_input():
        config = preset(args.config) if args.config is not None else MemcryptConfig()
    if args.check:
        stale = stale_files(config, Path(args.out))
        if stale:
            print(f"memcrypt: regmap: stale or missing: {', '.join(str(p) for p in stale)} "
                  f"(run memcrypt regmap to regenerate)", file=sys.stderr)
            return 1
        print(f"up to date: {Path(args.out)}")
        return 0
    for path in write_regmap(config, Path(args.out)).values():
        print(f"wrote {path}")
    return 0


# -- regress / tools --------------------------------------------------------------------------

def _cmd_regress(args):
    tests = checkout_folder("tests", "conftest.py", "memcrypt regress")
    command = [sys.executable, "-m", "pytest", "--slow", "-n", "2", str(tests)]
    return subprocess.call(command, cwd=tests.parent)


def _cmd_tools(args):
    from .toolchain import setup_environment, warm_up

    setup_environment()
    if args.warm_up:
        warm_up(echo=print)
    import os
    for variable in ("YOSYS", "SBY", "SMTBMC", "NEXTPNR_ECP5", "ECPPACK", "PATH"):
        print(f"{variable}={os.environ.get(variable, '')}" if variable != "PATH"
              else f"PATH starts {os.environ['PATH'].split(os.pathsep)[0]}")
    return 0


def _build_parser():
    parser = _Parser(prog="memcrypt",
                     description="memcrypt: multi-key memory encryption (AES-XTS) in Amaranth.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("generate", help="write Verilog and RTLIL for a named top",
                       description="Write Verilog (.v) and RTLIL (.il) for a named top and "
                                   "print its parameters and derived figures.")
    p.add_argument("--top", default="engine", help="top to generate (default: engine); "
                                                    "--list shows them")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="override a parameter, e.g. -p key_bits=256 -p architecture=iterative")
    p.add_argument("-o", "--output", default="build/generate", help="output folder")
    p.add_argument("--name", help="module name (default memcrypt_TOP)")
    p.add_argument("--format", default="v,il", help="comma-separated: v, il (default both)")
    p.add_argument("--list", action="store_true", help="list the tops and their parameters")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("demo", help="simulate the controller (or the XTS engine) and show "
                                    "what lands in memory",
                       description="Run the controller in the Amaranth simulator: lines "
                                   "written under two keyed KeyIDs and a NO_ENCRYPT KeyID, "
                                   "the ciphertext in memory, the plaintext read back, a "
                                   "read under the wrong KeyID and a page reused under a new "
                                   "KeyID, checked against the golden model. With --engine: "
                                   "the AES-XTS engine alone on a few lines.")
    p.add_argument("--engine", action="store_true",
                   help="the AES-XTS engine alone instead of the controller")
    p.add_argument("--lines", type=_at_least_one, default=2,
                   help="--engine: lines to encrypt (default 2)")
    p.add_argument("--key-bits", type=int, default=128, choices=(128, 256))
    p.add_argument("--architecture", default="pipelined", choices=("pipelined", "iterative"))
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("vectors", help="check the golden model against published vectors",
                       description="Run FIPS-197, NIST CAVP XTS, Wycheproof and IEEE 1619 "
                                   "vectors through the golden model and print the counts.")
    p.set_defaults(func=_cmd_vectors)

    p = sub.add_parser("formal", help="run the SymbiYosys proofs and print a table",
                       description="Run the formal tasks (SymbiYosys) and print task, mode, "
                                   "engine, depth or 'unbounded', result and seconds.")
    p.add_argument("task", nargs="*", help="tasks to run (default: all quick ones)")
    p.add_argument("--all", action="store_true", help="include the long tasks")
    p.add_argument("--negative", action="store_true",
                   help="run the deliberately broken designs instead, each of which must FAIL")
    p.add_argument("--list", action="store_true", help="list the tasks (slow and must-FAIL "
                                                        "ones marked)")
    p.add_argument("--workdir", default="build/formal", help="working folder")
    p.set_defaults(func=_cmd_formal)

    p = sub.add_parser("build", help="build a bitstream for a board",
                       description="Build the self-test top (AES engine fed by an on-chip "
                                   "pattern generator, checked against precomputed answers, "
                                   "LED on pass) with the open toolchain from PyPI.")
    p.add_argument("--board", required=True, help="board name, e.g. ulx3s-85f")
    p.add_argument("-o", "--output", default="build/board", help="output folder")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("bench", help="performance report (cycles, LUTs, Fmax)",
                       description="Measure cycles per block, latency and rekey penalty in "
                                   "simulation, then LUT4/FF/BRAM and Fmax from synth_ecp5 "
                                   "and nextpnr-ecp5 (LFE5U-85F, speed 6, out of context).")
    p.add_argument("target", choices=("aes", "control", "cache", "controller"),
                   help="what to measure: aes (AES and XTS cores), control (control "
                        "interface and key table), cache (key-tagged cache): area and Fmax "
                        "only; controller (the whole top: latencies, bandwidths and page "
                        "reuse in simulation against memory latency, a PNG plot, then area "
                        "and Fmax)")
    p.add_argument("--latency", type=int, action="append",
                   help="controller: a memory latency in clock cycles (repeatable; default "
                        "4, 16, 64)")
    p.add_argument("--config", action="append", help="configuration (repeatable)")
    p.add_argument("--seeds", type=int, default=3, help="place-and-route seeds (median)")
    p.add_argument("--no-pnr", action="store_true", help="skip synthesis and place and route")
    p.add_argument("--jobs", type=int, default=1, help="place-and-route runs in parallel")
    p.add_argument("--workdir", default="build/bench", help="working folder")
    p.set_defaults(func=_cmd_bench)

    from ..config import PRESETS

    p = sub.add_parser("regmap", help="write the register map: Markdown, C header, JSON",
                       description="Write the control registers of a configuration as "
                                   "registers.md (Markdown), memcrypt_regs.h (C header) and "
                                   "memcrypt_regs.json into a folder, from memcrypt.regmap. "
                                   "With --check, write nothing: exit 1 naming the files that "
                                   "are missing or differ, exit 0 if all are current.")
    p.add_argument("--config", metavar="PRESET",
                   help=f"a preset configuration ({', '.join(PRESETS)}); "
                        f"default: the default build, MemcryptConfig()")
    p.add_argument("--out", default="docs", metavar="DIR",
                   help="output folder (default: docs, in the current directory)")
    p.add_argument("--check", action="store_true",
                   help="compare instead of writing; exit 1 if a file is stale or missing")
    p.set_defaults(func=_cmd_regmap)

    p = sub.add_parser("regress", help="run the whole test suite including long regressions")
    p.set_defaults(func=_cmd_regress)

    p = sub.add_parser("tools", help="show or warm up the toolchain wiring")
    p.add_argument("--warm-up", action="store_true", help="compile the WebAssembly tools once")
    p.set_defaults(func=_cmd_tools)
    return parser


def main(argv=None):
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except (UserError, CheckoutNotFound) as error:
        print(f"memcrypt: error: {error}", file=sys.stderr)
        return 2
    except (ToolError, OSError, subprocess.CalledProcessError) as error:
        print(f"memcrypt: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("memcrypt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
