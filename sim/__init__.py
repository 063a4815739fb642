"""cocotb testbenches for memcrypt, run from pytest (tests/test_cocotb.py)."""
