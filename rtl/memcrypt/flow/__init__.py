"""The flows behind the ``memcrypt`` command (:mod:`.cli`): Verilog generation
(:mod:`.generate`), benches (:mod:`.bench`), formal proofs (:mod:`.formal`), board builds
(:mod:`.boards`), the simulation demo (:mod:`.demo`), toolchain set-up (:mod:`.toolchain`),
finding the checkout's ``formal/`` and ``tests/`` (:mod:`.checkout`) and the plain-text
tables they print (:mod:`.table`)."""
