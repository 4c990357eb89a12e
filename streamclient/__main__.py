"""``python -m streamclient``: the same command line as the ``streamclient`` script."""

from __future__ import annotations

from streamclient.cli import main

if __name__ == "__main__":
    main()
