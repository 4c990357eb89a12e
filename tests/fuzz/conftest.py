"""schemathesis needs Python >= 3.11: on 3.10 the dev extra leaves it out and the fuzz tests cannot run."""

from __future__ import annotations

import sys

collect_ignore_glob = ["test_*.py"] if sys.version_info < (3, 11) else []
