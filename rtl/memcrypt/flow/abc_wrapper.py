"""Make Debian's ``berkeley-abc`` usable as SymbiYosys's ``abc`` (``ABC=`` points here).

SymbiYosys expects the ``yosys-abc`` it ships with, which the WebAssembly Yosys from PyPI
does not include. Debian's ``berkeley-abc`` (2022) differs in two ways that break the
``abc pdr`` engine:

* SBY runs ``pdr -v -l``; this ABC has no ``-l`` and prints its usage instead of proving.
  The wrapper drops ``-l`` from ``pdr`` commands (it only asks for a log of the proof).
* ``write_cex -a`` writes the latch and input lines of the AIGER witness but not its header
  (the status ``1`` and the property ``b<n>``), and glues ``# DONE`` to the last input line.
  ``yosys-witness aiw2yw`` then rejects the trace. The wrapper adds the header (with the
  output ABC reported as failing) and ends the file with ``.``.

Usage, as SymbiYosys calls it: ``python abc_wrapper.py -c '<abc script>'``. The ABC binary is
``$MEMCRYPT_ABC`` if set, else ``berkeley-abc``, else ``yosys-abc`` on ``PATH``.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["find_abc", "fix_script", "fix_witness", "main"]

_FAILED_OUTPUT = re.compile(r"Output (\d+) of miter .* was asserted in frame")


def find_abc() -> str | None:
    """The ABC executable to run, or ``None`` if there is none."""
    if os.environ.get("MEMCRYPT_ABC"):
        return os.environ["MEMCRYPT_ABC"]
    for name in ("berkeley-abc", "yosys-abc"):
        if path := shutil.which(name):
            return path
    return None


def fix_script(script: str) -> str:
    """Drop the ``-l`` option of ``pdr`` commands in an ABC command string."""
    commands = []
    for command in script.split(";"):
        words = command.split()
        if words[:1] == ["pdr"]:
            indent = command[:len(command) - len(command.lstrip())]
            command = indent + " ".join(w for w in words if w != "-l")
        commands.append(command)
    return ";".join(commands)


def witness_files(script: str) -> list[Path]:
    """The files that ``write_cex -a`` commands in ``script`` write."""
    return [Path(match) for match in re.findall(r"write_cex\s+-a\s+([^\s;']+)", script)]


def fix_witness(path: Path, output: int = 0) -> bool:
    """Add the AIGER witness header to a trace written without one; ``True`` if changed.

    Line structure matters: a design without latches has an empty initial-state line.
    """
    if not path.exists():
        return False
    lines = path.read_text().replace("# DONE", "\n.").split("\n")
    if not any(line.strip() for line in lines):
        return False
    if len(lines) >= 2 and lines[1][:1] in ("b", "j", "c"):
        return False      # already a complete witness
    body = lines[:lines.index(".")] if "." in lines else lines
    path.write_text("\n".join(["1", f"b{output}", *(line.strip() for line in body), "."])
                    + "\n")
    return True


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    abc = find_abc()
    if abc is None:
        print("abc_wrapper: no ABC found (install Debian's berkeley-abc)", file=sys.stderr)
        return 127
    script = ""
    if "-c" in args:
        index = args.index("-c") + 1
        script = args[index] = fix_script(args[index])
    process = subprocess.Popen([abc, *args], stdout=subprocess.PIPE, text=True)
    failed_output = 0
    for line in process.stdout:
        if match := _FAILED_OUTPUT.search(line):
            failed_output = int(match[1])
        sys.stdout.write(line)
        sys.stdout.flush()
    returncode = process.wait()
    for path in witness_files(script):
        fix_witness(path, failed_output)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
