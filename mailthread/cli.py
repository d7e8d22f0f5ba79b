"""The ``mailthread`` commands. Each opens the store, calls the core, and turns the core's
errors into one ``mailthread: ...`` line and a documented exit status."""

from __future__ import annotations

import os
import sys

import click

from mailthread import __version__, filter
from mailthread.message import Header, split_concatenated
from mailthread.store import DEFAULT_TIMEOUT, Store, StoreError, default_path

EX_TEMPFAIL = 75


class Failure(click.ClickException):
    """A one-line error; ``exit_code`` says which kind."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"mailthread: {self.format_message()}", err=True)


class Settings:
    def __init__(self, db: str | None, timeout: float) -> None:
        self.db = db
        self.timeout = timeout

    @property
    def path(self) -> str:
        return self.db or default_path(os.environ)

    def open(self) -> Store:
        try:
            return Store.open(self.path, self.timeout)
        except StoreError as e:
            raise Failure(str(e), EX_TEMPFAIL) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH",
    help="The thread database. Default: $MAILTHREAD_DB, else "
    "$XDG_DATA_HOME/mailthread/threads.db (~/.local/share/mailthread/threads.db).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another mailthread holding the database.",
)
@click.version_option(__version__, prog_name="mailthread")
@click.pass_context
def cli(ctx: click.Context, db: str | None, timeout: float) -> None:
    """Mute and watch mail threads, for procmail and mutt.

    procmail pipes each incoming message through `mailthread match`, which marks
    messages of recorded threads with a header; mutt's macros pipe a message to
    `mailthread add muted` or `mailthread add watched` to record its thread.
    """
    ctx.obj = Settings(db, timeout)


@cli.command()
@click.argument("lists", nargs=-1, metavar="[LIST]...")
@click.option(
    "--header",
    default=filter.DEFAULT_HEADER,
    show_default=True,
    metavar="'NAME: VALUE'",
    help="The line to insert on a match; {list} becomes the list's name.",
)
@click.pass_obj
def match(settings: Settings, lists: tuple[str, ...], header: str) -> None:
    """Mark a message that belongs to a recorded thread (a procmail filter).

    Reads one message, or only its header, on stdin and writes it to stdout. When its
    Message-ID, In-Reply-To or References (nearest first) names a recorded thread -- on one
    of LISTs, when given -- the header line (default `X-Mailthread: LIST`) is inserted as
    the last line of the header, and the message's own id joins the thread. Existing fields
    of that name are renamed Old-NAME, so senders cannot forge the mark. Every other byte is
    written exactly as it came.

    \b
    Exit status:
      0   the message was written out, marked or not
      75  something went wrong (bad option, database unusable): the message was
          written out unchanged and one line on stderr says why

    \b
    procmail:
      :0 fhW
      | mailthread match
    """
    argv = ["--timeout", str(settings.timeout), "match", *lists, "--header", header]
    if settings.db:
        argv[:0] = ["--db", settings.db]
    stdout = click.get_binary_stream("stdout")
    status = filter.run(argv, click.get_binary_stream("stdin"), stdout, sys.stderr, os.environ)
    sys.exit(status)


@cli.command()
@click.argument("list_name", metavar="LIST")
@click.option(
    "--subthread",
    is_flag=True,
    help="Record only the message itself, so that its replies follow LIST while the "
    "rest of its thread keeps its list.",
)
@click.pass_obj
def add(settings: Settings, list_name: str, subthread: bool) -> None:
    """Record the thread of each message on stdin on LIST (e.g. muted, watched).

    Reads one message, or several one after another as mutt pipes tagged messages. By
    default all of a message's ids (Message-ID, In-Reply-To, References) become one thread
    on LIST; recorded threads that share an id are merged into it and move to LIST.

    \b
    Exit status:
      0   every message was recorded
      1   a message had no ids (nothing recorded for it), or stdin was empty
      2   bad usage (unknown option, invalid LIST)
      75  the database cannot be used now (locked, unreadable, corrupt)

    From mutt, use the M and W macros of contrib/muttrc.example: they unset
    pipe_decode, which would strip the ids from the piped message.
    """
    try:
        filter.check_list_name(list_name)
    except filter.UsageError as e:
        raise click.BadParameter(str(e).split(": ", 1)[-1], param_hint="LIST") from None
    raw = click.get_binary_stream("stdin").read()
    messages = split_concatenated(raw)
    if not messages:
        raise Failure("no message on stdin")
    store = settings.open()
    missing = 0
    try:
        for message in messages:
            header = Header(message)
            ids = header.ids_nearest_first()
            own = header.own_id()
            if not (own if subthread else ids):
                missing += 1
                continue
            subject = decode_subject(header)
            if subthread:
                added = store.add_subthread(own, list_name, subject)
            else:
                added = store.add_thread(ids, list_name, subject)
            merged = f", merged {added.merged} other thread(s)" if added.merged else ""
            click.echo(
                f"{added.list}: thread {added.thread} ({subject or 'no subject'}):"
                f" {added.new_ids} new id(s){merged}"
            )
    except StoreError as e:
        raise Failure(str(e), EX_TEMPFAIL) from None
    finally:
        store.close()
    if missing:
        what = "Message-ID" if subthread else "Message-ID, In-Reply-To or References"
        which = "the message" if len(messages) == 1 else f"{missing} of {len(messages)} messages"
        raise Failure(
            f"no {what} in {which}, nothing recorded for it; if it came from mutt, "
            "unset pipe_decode, which drops these headers (contrib/muttrc.example does)"
        )


def decode_subject(header: Header) -> str | None:
    values = header.field_values(b"subject")
    if not values:
        return None
    import email.header

    text = values[0].decode("utf-8", "replace")
    try:
        return str(email.header.make_header(email.header.decode_header(text))) or None
    except (LookupError, ValueError, UnicodeError):
        return text or None


# click 8.2 and later raise this for a group run without a command (older ones exit 0).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    """Run a command; errors become one ``mailthread: ...`` line and their exit status."""
    try:
        result = cli.main(args=argv, prog_name="mailthread", standalone_mode=False)
    except _NO_ARGS_IS_HELP as e:  # plain `mailthread`: the help text, as click shows it
        e.show()
        return e.exit_code
    except click.UsageError as e:
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
        click.echo(f"mailthread: {e.format_message().rstrip('.')}{where}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.Abort:
        click.echo("mailthread: aborted", err=True)
        return 1
    return result if isinstance(result, int) else 0
