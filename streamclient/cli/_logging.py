"""Logging for the command line: the library itself only installs a ``NullHandler`` (see ``streamclient``).

The level comes from ``--debug`` / ``-v`` (``-vv``) / ``--verbose``, else from ``STREAMCLIENT_LOG`` (``debug``,
``info``, ``warning``, ``error``), else ``warning``. Records go to stderr, one line each, so they never mix with
the output that scripts read (stdout).
"""

from __future__ import annotations

import logging
import os
import sys

from streamclient.cli._visible import VisibleFormatter

__all__ = ("LOG_ENV", "LOG_LEVELS", "configure_logging")

#: The environment variable that sets the log level of the command line.
LOG_ENV = "STREAMCLIENT_LOG"
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "streamclient-cli"


def level_for(*, verbose: int, debug: bool) -> int | None:
    """The log level the options and the environment ask for (``None``: nothing was asked).

    Raises:
        ValueError: ``STREAMCLIENT_LOG`` holds an unknown level (the message names the variable).
    """
    if debug or verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    value = os.environ.get(LOG_ENV, "").strip().lower()
    if not value:
        return None
    if value not in LOG_LEVELS:
        raise ValueError(f"{LOG_ENV} must be one of {', '.join(LOG_LEVELS)}; got {value!r}")
    return LOG_LEVELS[value]


def configure_logging(level: int | None) -> None:
    """Send streamclient's log records at ``level`` and above to stderr (idempotent).

    ``None`` (no option, no variable) means ``warning``, unless the process configured logging itself before
    calling the CLI's ``main()`` (the root logger has handlers): then its configuration stays as it is.
    """
    if level is None:
        if logging.getLogger().handlers:
            return
        level = logging.WARNING
    logger = logging.getLogger("streamclient")
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(VisibleFormatter(_FORMAT, datefmt="%H:%M:%S"))  # records can quote remote text
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # one line per record, even where the root logger has a handler too
