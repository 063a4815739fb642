"""memcrypt's formal specifications, one module per block, run by :mod:`memcrypt.flow.formal`.

A specification module defines ``tasks()`` (the proofs and covers that must pass) and may
define ``negative_tasks()`` (deliberately broken designs that must FAIL, showing that the
harness can fail). See ``formal/README.md`` for what each property states.
"""
