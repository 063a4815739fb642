"""Plain-Python models: the AES-XTS golden model (:mod:`.golden`), the published vectors it
is checked against (:mod:`.vectors`), and the memories behind and in front of the cache
(:mod:`.memory`). Nothing here imports the gateware."""
