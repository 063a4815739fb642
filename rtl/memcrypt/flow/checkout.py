"""Where the parts of a memcrypt checkout that are not installed live: ``formal/`` (the
SymbiYosys specifications) and ``tests/`` (the test suite ``memcrypt regress`` runs).

``pip install .`` installs the package ``memcrypt`` only. A checkout is found, in this
order, at ``$MEMCRYPT_CHECKOUT``, beside the package (an editable install,
``pip install -e .``, or ``rtl/`` on the path) or in the current directory.
"""

import os
from pathlib import Path

__all__ = ["CHECKOUT_VARIABLE", "CheckoutNotFound", "checkout_folder"]

CHECKOUT_VARIABLE = "MEMCRYPT_CHECKOUT"
_BESIDE_PACKAGE = Path(__file__).resolve().parents[3]


class CheckoutNotFound(FileNotFoundError):
    """No checkout holds the folder asked for; the message says what to do, in one line."""


def checkout_folder(name: str, marker: str, command: str) -> Path:
    """The folder ``name`` (``"formal"`` or ``"tests"``) of a memcrypt checkout.

    Parameters
    ----------
    name : str
        The folder, relative to the checkout's root.
    marker : str
        A file inside it that identifies it (``"__init__.py"``, ``"conftest.py"``).
    command : str
        The command that needs it, for the message (``"memcrypt formal"``).

    Raises
    ------
    CheckoutNotFound
        If ``$MEMCRYPT_CHECKOUT`` is set and has no such folder, or neither the package's
        checkout nor the current directory has one.
    """
    explicit = os.environ.get(CHECKOUT_VARIABLE)
    if explicit:
        folder = Path(explicit).resolve() / name
        if not (folder / marker).is_file():
            raise CheckoutNotFound(f"{command}: {CHECKOUT_VARIABLE}={explicit} has no "
                                   f"{name}/{marker}; point it at a memcrypt checkout")
        return folder
    for root in (_BESIDE_PACKAGE, Path.cwd()):
        folder = root / name
        if (folder / marker).is_file():
            return folder
    raise CheckoutNotFound(f"{command} runs from a memcrypt checkout (it needs {name}/, which "
                           f"pip does not install): run it in the checkout or set "
                           f"{CHECKOUT_VARIABLE} to it")
