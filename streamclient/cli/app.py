"""Assembles the ``streamclient`` Typer application from one module per command group, with the global options."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from streamclient import __version__
from streamclient.cli import demo, emulator, examples, frames, resources, sweep, view
from streamclient.cli._logging import LOG_ENV, configure_logging, level_for

__all__ = ("app", "command", "global_options_first")

app = typer.Typer(
    name="streamclient",
    help=(
        "Drive AKOOL streaming avatars: REST API, v2 frames, a local emulator, and live sessions.\n\n"
        "Credentials come from the environment: AKOOL_API_KEY (or AKOOL_CLIENT_ID + AKOOL_CLIENT_SECRET). "
        f"Logging: -v, -vv, --debug, or {LOG_ENV}=debug|info|warning|error (default: warning), on stderr."
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"streamclient {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more on stderr: -v info, -vv debug.")
    ] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Log everything (debug level) on stderr.")] = False,
) -> None:
    """Drive AKOOL streaming avatars: REST API, v2 frames, a local emulator, and live sessions."""
    del version  # handled by its callback
    try:
        level = level_for(verbose=verbose, debug=debug)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(level)


for _group in (frames, view, resources, sweep, emulator, demo, examples):
    _group.register(app)


_GLOBAL_FLAGS = re.compile(r"--debug|--verbose|-v+")


def global_options_first(argv: list[str]) -> list[str]:
    """``say --debug hi`` -> ``--debug say hi``: the logging options work after the subcommand too.

    Only the flags ``-v``/``-vv``/``--verbose``/``--debug`` move, and only before a ``--`` separator (after it, every
    word is an argument: ``streamclient say -- -v`` says "-v").
    """
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [word for word in argv[:end] if _GLOBAL_FLAGS.fullmatch(word)]
    rest = [word for word in argv[:end] if not _GLOBAL_FLAGS.fullmatch(word)]
    return [*flags, *rest, *argv[end:]]


def command() -> Any:
    """The click command behind ``app``, with flags shown as flags in ``-h`` (not as ``--json <bool>``)."""
    built = typer.main.get_command(app)
    _hide_flag_types(built)
    return built


def _hide_flag_types(cmd: Any) -> None:  # a click command (typer ships its own copy of click)
    for param in cmd.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""  # typer's help shows the metavar (or else the type) next to each option
    built_help = cmd.get_help_option  # -h/--help is made when help is asked for, not listed in params

    def get_help_option(ctx: Any) -> Any:
        option = built_help(ctx)
        if option is not None:
            option.metavar = ""
        return option

    cmd.get_help_option = get_help_option
    for sub in getattr(cmd, "commands", {}).values():
        _hide_flag_types(sub)
