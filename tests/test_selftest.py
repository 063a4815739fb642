"""The board self-test top (``memcrypt.gateware.selftest.SelfTest``) in the Amaranth
simulator: it lights "passed" on a clean run and "failed" when an answer is corrupted."""

import pytest
from amaranth.sim import Simulator

from memcrypt.gateware.selftest import SelfTest


@pytest.mark.parametrize("corrupt", [False, True], ids=["clean", "corrupted-answer"])
def test_self_test_top_detects_pass_and_fail(corrupt):
    dut = SelfTest(corrupt=corrupt)
    seen = {}

    async def bench(ctx):
        await ctx.tick().until(dut.passes == 2)
        seen["passed"], seen["failed"] = ctx.get(dut.passed), ctx.get(dut.failed)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == ({"passed": 0, "failed": 1} if corrupt else {"passed": 1, "failed": 0})
