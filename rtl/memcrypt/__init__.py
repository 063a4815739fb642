"""memcrypt: a multi-key memory-encryption controller in Amaranth HDL.

The package is split by role:

* :mod:`memcrypt.gateware`: the hardware, one concept per module, and the interface
  signatures that join the blocks (:mod:`memcrypt.gateware.interfaces`);
* :mod:`memcrypt.model`: plain-Python models the hardware is checked against (the AES-XTS
  golden model, published vectors, reference memories); they never import the gateware;
* :mod:`memcrypt.host`: software that runs on the host: the register map's document
  generators and the driver;
* :mod:`memcrypt.flow`: the command line and the flows it runs (Verilog generation,
  benches, formal proofs, board builds, toolchain set-up).

:mod:`memcrypt.config` (the build's parameters), :mod:`memcrypt.geometry` (the line and
word sizes) and :mod:`memcrypt.regmap` (the register map) are the definitions every role
shares, so they sit at the top.
"""

__version__ = "0.1.0"
