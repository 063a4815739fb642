"""memcrypt: a multi-key memory-encryption controller in Amaranth HDL.

The gateware (``aes``, ``xts``), the plain-Python golden model (``golden``), the
published test vectors (``vectors``) and the command line (``cli``) live here.
"""

__version__ = "0.1.0"
