"""pytest set-up shared by every test: tool wiring and the ``--slow`` option."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "rtl"))
sys.path.insert(0, str(ROOT))

from memcrypt.flow.toolchain import setup_environment  # noqa: E402

setup_environment()


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the long regressions (marked slow)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip_slow = pytest.mark.skip(reason="long regression: run with --slow or `memcrypt regress`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
