"""pipecat-ai needs Python >= 3.11: on 3.10 the ``pipecat`` extra installs nothing and these tests cannot run."""

from __future__ import annotations

import sys

collect_ignore_glob = ["*pipecat*"] if sys.version_info < (3, 11) else []
