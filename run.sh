#!/usr/bin/env bash
# memcrypt quick start. Installs whatever is missing, then runs one job:
#   ./run.sh demo   generate the controller's Verilog and run the controller in simulation
#   ./run.sh test   run the whole test suite (ruff + pytest)
# Idempotent: on a machine that already has everything it only checks and runs.
set -euo pipefail
cd "$(dirname "$0")"

job="${1:-demo}"; shift || true
case "$job" in demo|test|setup) ;; *) echo "usage: ./run.sh demo|test|setup [pytest args]" >&2; exit 2;; esac

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: Icarus Verilog (cocotb simulator), berkeley-abc (PDR engine for SBY),
#    g++/make/perl (Verilator's C++ build of the cocotb harness).
missing=()
command -v iverilog >/dev/null || missing+=(iverilog)
command -v berkeley-abc >/dev/null || missing+=(berkeley-abc)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v perl >/dev/null || missing+=(perl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. Python virtual environment with the package and its test dependencies.
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.memcrypt-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "== installing memcrypt and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    # 3. One-time warm-up of the WebAssembly tools (compiles them into ~/.cache).
    echo "== warming up the WebAssembly tools (about a minute, once)"
    .venv/bin/memcrypt tools --warm-up
    touch "$stamp"
fi

case "$job" in
    setup) ;;
    demo)
        .venv/bin/memcrypt generate --top controller -o build/generate
        .venv/bin/memcrypt demo
        ;;
    test)
        .venv/bin/ruff check rtl sim tests formal
        .venv/bin/python -m pytest -n 2 "$@"
        ;;
esac
