"""The gateware: Amaranth components, one concept per module.

Data path: :mod:`.addrsplit` (KeyID split), :mod:`.cache` (key-tagged cache),
:mod:`.xts` and :mod:`.aes` (the AES-XTS engine), :mod:`.keytable` (key storage),
:mod:`.control` (the PCONFIG-style control interface behind :mod:`.axil`, the AXI4-Lite
target), :mod:`.keyed` (control + engine), :mod:`.selftest` (the board self-test).
:mod:`.interfaces` holds the signatures the blocks are joined by.
"""
