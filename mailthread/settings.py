"""What every command starts from: the database it was given (``Settings``: --db, --timeout,
$MAILTHREAD_DB, opened as ``Settings.store``), the message or id it looks up (``read_stdin``,
``message_facts``), and the one-line error they raise (``Failure``), with the exit status
the README documents. The commands themselves are in ``cli``."""

from __future__ import annotations

import os
from contextlib import contextmanager

import click

from mailthread import filter
from mailthread.database import PathError, StoreError, default_path
from mailthread.filter import printable
from mailthread.message import Facts, Header
from mailthread.msgid import is_msgid, typed_id
from mailthread.store import Store

EX_TEMPFAIL = 75  # sysexits.h: try again later (the MDA keeps the mail)


class Failure(click.ClickException):
    """A one-line error; ``exit_code`` says which kind."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(printable(f"mailthread: {self.format_message()}"), err=True)


class Settings:
    """The database a command uses: ``db`` (--db; None: $MAILTHREAD_DB or the default) and
    ``timeout``, the seconds to wait for another mailthread holding it. The group's options
    set it; a command's own --db and --timeout override it."""

    def __init__(self, db: str | None, timeout: float) -> None:
        self.db = db
        self.timeout = timeout

    @property
    def path(self) -> str:
        try:
            return self.db or default_path(os.environ)
        except PathError as e:
            raise Failure(str(e), 2) from None

    @property
    def source(self) -> str:
        """How the database path was chosen, in words."""
        if self.db:
            return "from --db"
        return "from $MAILTHREAD_DB" if os.environ.get("MAILTHREAD_DB") else "the default"

    @contextmanager
    def store(self, create: bool = True):
        """The open store; a path it cannot use is bad usage (2), its other errors 75. Not
        ``create``: a database that does not exist is an error (1) naming its path and how
        it was chosen, and nothing is created (the commands that only read or remove)."""
        path = self.path
        if not create and not os.path.lexists(path):
            raise Failure(
                f"no database at {path} ({self.source}): nothing was recorded there yet"
                " (a mistyped --db or $MAILTHREAD_DB?)"
            )
        try:
            store = Store.open(path, self.timeout)
        except PathError as e:
            raise Failure(str(e), 2) from None
        except StoreError as e:
            raise Failure(str(e), EX_TEMPFAIL) from None
        try:
            yield store
        except StoreError as e:
            raise Failure(str(e), EX_TEMPFAIL) from None
        finally:
            store.close()


def read_stdin(lists: tuple[str, ...] = ()) -> bytes:
    """The bytes on stdin. When stdin is a terminal, a LIST argument that names a file is
    taken for a message given as an argument (a usage error that says to use ``< FILE``),
    and one stderr line says what is awaited. Failure (75) when it cannot be read (closed
    before we started: ``add muted <&-``)."""
    stdin = filter.standard_streams()[0]
    if filter.on_a_terminal(stdin):
        command = click.get_current_context().command_path
        for name in lists:
            if os.path.isfile(name):
                raise click.UsageError(
                    f"LIST {printable(name)!r} is a file: the message comes on stdin"
                    f" ({command} ... < {printable(name)})"
                )
        click.echo(f"mailthread: {filter.reading_notice(command)}", err=True)
    try:
        return stdin.read()
    except OSError as e:
        raise Failure(f"cannot read the message: {e.strerror or e}", EX_TEMPFAIL) from None


def message_facts(
    message_id: str | None, lists: tuple[str, ...] = (), nothing_status: int = 2
) -> tuple[Facts, Header | None]:
    """What to look up: the given id, or the message on stdin (``read_stdin``).
    A message with nothing to look up is a ``Failure`` with exit status ``nothing_status``."""
    if message_id is not None:
        # The bytes typed (a shell hands over bytes that are no UTF-8 as lone surrogates),
        # read as a header's ids are read, so that it is the id stored for the message.
        msgid = typed_id(os.fsencode(message_id))
        if msgid is None:
            raise click.BadParameter("empty message id", param_hint="--message-id")
        # Only message ids are looked up (`yes` may be in a database from before the rule).
        return Facts(msgid, [], [msgid] if is_msgid(msgid) else [], None, None, False, None), None
    header = Header(read_stdin(lists))
    facts = header.facts()
    if not (facts.ids or facts.thread_index or facts.reply):
        raise Failure(
            "no Message-ID, In-Reply-To, References, Thread-Index or reply subject in the"
            " message on stdin",
            nothing_status,
        )
    return facts, header
