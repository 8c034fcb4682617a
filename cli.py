"""The ``bigan`` command, run from a checkout: ``python cli.py ARGS`` is ``bigan ARGS``.

The command lives in the package (``bigan_repr/cli.py``), so that an install puts one name,
``bigan_repr``, into site-packages.
"""

from bigan_repr.cli import main

if __name__ == "__main__":
    main()
