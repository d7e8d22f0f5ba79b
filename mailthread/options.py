"""The click options and arguments the commands share, and how their values are checked:
--db and --timeout (before or after a command's name: ``Commands``), ``match``'s options as
``arguments.MATCH_OPTIONS`` declares them (``MatchCommand``), LIST names, DURATIONs
(--subject-window, --idle, add --for). A bad value is a usage error (exit status 2)."""

from __future__ import annotations

import os

import click

from mailthread import arguments
from mailthread.database import DEFAULT_TIMEOUT, PathError, check_path
from mailthread.linking import SUBJECT_WINDOW
from mailthread.settings import Settings


def check_timeout(ctx, param, value: str | None) -> float | None:
    """--timeout SECONDS -> seconds (``arguments.check_timeout``: the rule match uses)."""
    if value is None:
        return None
    try:
        return arguments.check_timeout(value)
    except arguments.UsageError as e:
        raise click.BadParameter(str(e).split(": ", 1)[-1]) from None


def check_db(ctx, param, value: str | None) -> str | None:
    """--db PATH, as given, when ``database.check_path`` accepts it."""
    if value is not None:
        try:
            check_path(value)
        except PathError as e:
            raise click.BadParameter(str(e)) from None
    return value


DB_HELP = (
    "The thread database. Default: $MAILTHREAD_DB, else "
    "$XDG_DATA_HOME/mailthread/threads.db (~/.local/share/mailthread/threads.db)."
)


TIMEOUT_HELP = "How long to wait for another mailthread holding the database."


def command_database_options() -> list[click.Option]:
    """``--db`` and ``--timeout`` for a command, after its name (``mailthread list --db
    PATH``); given there, they override the same options before the name."""

    def set_db(ctx, param, value):
        if value is not None:
            ctx.find_object(Settings).db = check_db(ctx, param, value)

    def set_timeout(ctx, param, value):
        if value is not None:
            ctx.find_object(Settings).timeout = check_timeout(ctx, param, value)

    return [
        click.Option(["--db"], metavar="PATH", expose_value=False, callback=set_db, help=DB_HELP),
        click.Option(
            ["--timeout"],
            metavar="SECONDS",
            expose_value=False,
            callback=set_timeout,
            help=f"{TIMEOUT_HELP}  [default: {DEFAULT_TIMEOUT:g}]",
        ),
    ]


class Commands(click.Group):
    """The group of commands: each takes ``--db`` and ``--timeout`` after its name as well
    as before it, where users type them."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(command_database_options())
        super().add_command(cmd, name)


class MatchCommand(click.Command):
    """``match``, whose options only ``arguments.parse_args`` parses: on the fast path, before
    click is loaded (``__main__``), or from here when click was asked to run it. click
    shows them (--help, the man page, completion) from ``arguments.MATCH_OPTIONS``, the one
    declaration of them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, metavar, default, help in arguments.MATCH_OPTIONS:
            self.params.append(
                click.Option(
                    [name],
                    metavar=metavar,
                    is_flag=metavar is None,
                    multiple=name == "--me",
                    default=default,
                    show_default=default is not None,
                    expose_value=False,
                    help=help,
                )
            )
        self.params.append(
            click.Argument(["lists"], nargs=-1, metavar="[LIST]...", expose_value=False)
        )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing or any(arg in ctx.help_option_names for arg in args):
            return super().parse_args(ctx, args)  # --help, and shell completion
        ctx.args = list(args)  # for arguments.parse_args, unread
        return ctx.args


def check_list(ctx, param, value):
    names = value if isinstance(value, tuple) else (value,)
    for name in names:
        try:
            arguments.check_list_name(name)
        except arguments.UsageError as e:
            problem = str(e).split(": ", 1)[-1]
            if os.path.isfile(name):  # `mailthread explain ~/reply.eml`
                problem += f"; it is a file: the message comes on stdin (< {name})"
            raise click.BadParameter(problem) from None
    return value


def subject_options(window_help: str):
    """``--subject-window DURATION`` (as ``window``, in seconds) and ``--no-subject``, as
    match has them, for the commands that link by subject too (add, explain)."""

    def decorate(command):
        command = click.option("--no-subject", is_flag=True, help="As for match.")(command)
        return click.option(
            "--subject-window",
            "window",
            metavar="DURATION",
            default=f"{SUBJECT_WINDOW // 86400}d",  # as match's
            show_default=True,
            callback=check_duration,
            help=window_help,
        )(command)

    return decorate


def check_duration(ctx, param, value: str | None) -> int | None:
    """ "12h", "7d", "12w" -> seconds."""
    if value is None:
        return None
    try:
        return arguments.parse_duration(value)
    except arguments.UsageError as e:
        raise click.BadParameter(str(e)) from None


def check_lifetime(ctx, param, value: str | None) -> int | None:
    """As ``check_duration``; the text as given is kept for ``name_lifetime``."""
    seconds = check_duration(ctx, param, value)
    if seconds is not None:
        ctx.meta["mailthread.lifetime"] = value.strip()
    return seconds


def name_lifetime(store, threads, lifetime: int | None) -> None:
    """Let ``list`` show the threads' new lifetime as ``add --for`` was given it ("1w")."""
    if lifetime is not None:
        given = click.get_current_context().meta["mailthread.lifetime"]
        store.name_lifetime([t for t in threads if t is not None], lifetime, given)
