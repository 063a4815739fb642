"""Running Amaranth-simulator testbenches: the one place the demo, the bench and the tests
set up a simulation."""

from amaranth.sim import Simulator

__all__ = ["run_testbenches"]


def run_testbenches(dut, *testbenches, background=(), period=1e-8, vcd=None):
    """Simulate ``dut`` with a clock of ``period`` seconds until every testbench returns.

    ``testbenches`` and ``background`` are async functions of the simulator context; the
    background ones may run forever (they are dropped when the others are done)."""
    sim = Simulator(dut)
    sim.add_clock(period)
    for testbench in background:
        sim.add_testbench(testbench, background=True)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
