"""The flows behind the ``memcrypt`` command: Verilog generation (:mod:`.generate`),
benches (:mod:`.bench`), formal proofs (:mod:`.formal`), board builds (:mod:`.boards`),
the simulation demo (:mod:`.demo`) and toolchain set-up (:mod:`.toolchain`)."""
