"""The ``mailthread`` commands: the click group, each command's options and help text, and
``main``. Each opens the store, calls the core, and turns the core's errors into one
``mailthread: ...`` line and a documented exit status. Where the rest lives: ``settings``
(the database a command uses, stdin, ``Failure``), ``options`` (shared options and their
checks), ``output`` (how threads are shown), ``explain`` (explain's reasons), ``recording``
(add and its imports); ``filter`` runs ``match`` before click is loaded."""

from __future__ import annotations

import os
import sys

import click

from mailthread import __version__, arguments, filter
from mailthread.database import DEFAULT_TIMEOUT
from mailthread.explain import explanation
from mailthread.filter import printable
from mailthread.options import (
    DB_HELP,
    TIMEOUT_HELP,
    Commands,
    MatchCommand,
    check_db,
    check_duration,
    check_lifetime,
    check_list,
    check_timeout,
    subject_options,
)
from mailthread.output import (
    describe,
    format_duration,
    json_text,
    none_recorded,
    thread_rows,
    thread_table,
    write_out,
    write_table,
)
from mailthread.recording import import_threads, message_to_record, record_message
from mailthread.settings import EX_TEMPFAIL, Failure, Settings, message_facts, read_stdin


def say(line: str) -> None:
    """One line of output: data from mail or the database cannot drive the terminal."""
    click.echo(printable(line))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH", callback=check_db, help=DB_HELP)
@click.option(
    "--timeout",
    default=str(DEFAULT_TIMEOUT),
    show_default=True,
    metavar="SECONDS",
    callback=check_timeout,
    help=TIMEOUT_HELP,
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


@cli.command(cls=MatchCommand, short_help="Mark a message of a recorded thread (procmail filter).")
@click.pass_context
def match(ctx: click.Context) -> None:
    """Mark a message that belongs to a recorded thread (a procmail filter).

    Reads one message, or only its header, on stdin and writes it to stdout. It belongs to
    a thread -- on one of LISTs, when given -- when its Message-ID, In-Reply-To or
    References (nearest first) names the thread; else when the message index links one of
    its ids, or its Outlook Thread-Index, to a message of the thread; else, for a reply
    ("Re:" and the like) that nothing links to another conversation, when its subject is
    that of the thread and it is dated within --subject-window after the thread's last
    message. A reply under a new topic -- its subject, reply prefixes, list tags, case,
    punctuation, a trailing [tag] and a "(was: ...)" suffix aside, is none of the thread's
    -- is a fork, a new conversation (--follow-forks). A list digest belongs to no thread,
    and a reply to one is linked by its own subject. Then the header line (default
    `X-Mailthread: LIST`) is inserted as the first line of the header (after a `From `
    line), and the message's own id joins the thread.
    Existing fields of that name are renamed Old-NAME, database or not, so senders cannot
    forge the mark. Every other byte is written exactly as it came. Every message with ids
    goes into the message index.

    \b
    Exit status:
      0   the message was written out, marked or not; when the database cannot
          be used (locked, corrupt, read-only, full) unmarked, and one line on
          stderr says why
      75  a bad option, a wrong database path, unreadable input, a signal: the
          message was written out unchanged (if at all) and one line on stderr
          says why

    \b
    procmail (test the mark with ^^, after the filter succeeded: see
    contrib/procmailrc.example):
      :0 fhW
      | mailthread match
    """
    settings = ctx.find_object(Settings)
    argv = ["--timeout", str(settings.timeout), "match", *ctx.args]
    if settings.db:
        argv[:0] = ["--db", settings.db]
    sys.exit(filter.main(argv))


@cli.command(short_help="Record the thread of a message on LIST (muted, watched).")
@click.argument("list_name", metavar="LIST", callback=check_list)
@click.argument("more_mailboxes", nargs=-1, metavar="[PATH]...", type=click.Path())
@click.option(
    "--subthread",
    is_flag=True,
    help="Record only the message itself, so that its replies follow LIST while the "
    "rest of its thread keeps its list.",
)
@click.option(
    "--for",
    "lifetime",
    metavar="DURATION",
    callback=check_lifetime,
    help="Let the thread lapse after this long without a match (12h, 7d, 12w).",
)
@click.option(
    "--mailbox",
    "mailboxes",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Import every conversation of this mbox, Maildir or MH folder instead of "
    "reading stdin (repeatable; more PATHs may follow).",
)
@click.option(
    "--refs-file",
    "refs_files",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Import the threads of an old match-thread.sh refs file (one thread a line).",
)
@subject_options(
    "As for match: a reply that nothing else links brings the conversation its "
    "subject names within this window."
)
@click.pass_obj
def add(
    settings: Settings,
    list_name: str,
    more_mailboxes: tuple[str, ...],
    subthread: bool,
    lifetime: int | None,
    mailboxes: tuple[str, ...],
    refs_files: tuple[str, ...],
    window: int,
    no_subject: bool,
) -> None:
    """Record the thread of the message on stdin on LIST (e.g. muted, watched).

    Stdin is one message, whatever its body holds: a "From " line or a header in it (a
    pasted git format-patch, a bounce, a digest) starts nothing, and only the message's own
    header is read. By default all of its ids (Message-ID, In-Reply-To, References) become one
    thread on LIST, with every id of the conversation match would link it to (the message
    index, and for a reply that nothing else links, such as an Outlook "RE:" without
    References, the one conversation of its subject within --subject-window); recorded
    threads that share an id are merged into it and move to LIST. Tokens without an "@"
    between other characters (<yes>, <1>, <a@>) are no message ids: never recorded.
    Several messages: tag them in mutt (the example macros pipe each on its own), or
    import a mailbox with --mailbox.

    With --mailbox, reads mailboxes instead and records each conversation in them (messages
    linked by their ids) as one thread; with --refs-file, the lines of an old refs file.
    An mbox message starts at a "From " line dated as mutt's postmark test wants, after
    an empty line (a body line "From my point of view..." starts none).
    A summary line counts the threads added, the stored threads merged (extended, merged
    or moved to LIST), those already stored as they are, and messages skipped. Importing
    the same thing twice changes nothing.

    From mutt, use the M and W macros of contrib/muttrc.example: they unset
    pipe_decode, which would strip the ids from the piped message.

    \b
    Exit status:
      0   everything was recorded
      1   the message had no ids (nothing recorded), stdin was empty, or a
          mailbox or refs file cannot be read (nothing recorded from it)
      2   bad usage (unknown option, invalid LIST or DURATION)
      75  the database cannot be used now (locked, unreadable, corrupt)
    """
    mailboxes += more_mailboxes
    if more_mailboxes and not mailboxes[: -len(more_mailboxes)]:
        raise click.UsageError("PATH arguments go with --mailbox")
    if subthread and (mailboxes or refs_files):
        raise click.UsageError("--subthread records one message; it cannot import")
    if mailboxes or refs_files:
        say(import_threads(settings, list_name, lifetime, mailboxes, refs_files))
        return
    header, facts = message_to_record(read_stdin((list_name,)), subthread)
    window = None if no_subject else window
    say(record_message(settings, header, facts, list_name, lifetime, subthread, window))


@cli.command(name="list", short_help="List the recorded threads, newest activity first.")
@click.argument("lists", nargs=-1, metavar="[LIST]...", callback=check_list)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for scripts.")
@click.option("--nl", "as_nl", is_flag=True, help="One JSON object a line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option("--tsv", "as_tsv", is_flag=True, help="Tab-separated, with a header row.")
@click.pass_obj
def list_threads(
    settings: Settings,
    lists: tuple[str, ...],
    as_json: bool,
    as_nl: bool,
    as_csv: bool,
    as_tsv: bool,
) -> None:
    """List the recorded threads (on LISTs), newest activity first.

    Activity is the last match, or when the thread was recorded if it never matched.
    --json prints an array of objects with the keys id, list, subject, ids (how many
    message ids), created, last_match (UTC, YYYY-MM-DDTHH:MM:SSZ, or null), hits and
    expires_after (the lifetime as add --for was given it, like "1w", or null); --nl
    the same objects one a line, --csv and --tsv the same columns, as sqlite-utils
    prints them (control characters replaced, as in the table: --json and --nl keep
    them exact, escaped).

    \b
    Exit status: 0 listed (also when there is nothing to list), 1 no database
    at that path, 2 bad usage, 75 the database cannot be used now.
    """
    if as_json + as_nl + as_csv + as_tsv > 1:
        raise click.UsageError("give one of --json, --nl, --csv and --tsv")
    terminal = sys.stdout.isatty()
    with settings.store(create=False) as store:
        threads = store.threads(lists)
        # An empty listing on a terminal names the lists there are.
        names = sorted(store.list_names()) if terminal and lists and not threads else []
    if as_json or as_nl or as_csv or as_tsv:
        rows = thread_rows(threads)
        if as_json:
            write_out(json_text(rows) + "\n")
        elif as_nl:
            write_out("".join(json_text(row, indent=None) + "\n" for row in rows))
        else:
            write_table(rows, "\t" if as_tsv else ",")
        return
    if not threads:
        if terminal:  # a script reading the table gets no rows, as before
            on = f" on {', '.join(lists)}" if lists else ""
            known = f"; the lists: {', '.join(names)}" if names else ""
            say(f"no threads{on} in {settings.path} ({settings.source}){known}")
        return
    for line in thread_table(threads):
        say(line)


@cli.command(short_help="Say which thread a message belongs to, and why.")
@click.argument("lists", nargs=-1, metavar="[LIST]...", callback=check_list)
@click.option("--message-id", metavar="ID", help="Explain this id instead of a message on stdin.")
@subject_options("As for match.")
@click.option(
    "--follow-forks",
    is_flag=True,
    help="As for match (also $MAILTHREAD_FOLLOW_FORKS=1).",
)
@click.pass_obj
def explain(
    settings: Settings,
    lists: tuple[str, ...],
    message_id: str | None,
    window: int,
    no_subject: bool,
    follow_forks: bool,
) -> None:
    """Say which thread a message on stdin belongs to, and why.

    The message is looked up as `match` does -- its own Message-ID, In-Reply-To, then
    References from last to first, the first one stored deciding; then the message index
    and Outlook's Thread-Index; then a reply's subject (only threads on LISTs, when given)
    -- but nothing is learned, counted or indexed.

    \b
    Exit status:
      0   it belongs to a thread
      1   it belongs to none, or there is no database
      2   bad usage, or a message with nothing to look up
      75  the database cannot be used now
    """
    facts, header = message_facts(message_id, lists)
    if facts.digest:
        say("in no thread: the message is a list digest, many conversations in one")
        sys.exit(1)
    with settings.store(create=False) as store:
        follow_forks = follow_forks or arguments.follows_forks(os.environ)
        window = None if no_subject else window
        belongs, lines = explanation(store, facts, header, lists, window, follow_forks)
    for line in lines:
        say(line)
    if not belongs:
        sys.exit(1)


@cli.command(short_help="Remove the thread a message belongs to.")
@click.option("--message-id", metavar="ID", help="Remove the thread of this id.")
@click.option(
    "--thread",
    "thread_id",
    type=click.IntRange(min=1, max=2**63 - 1),
    metavar="N",
    help="Remove thread N (see list).",
)
@click.pass_obj
def remove(settings: Settings, message_id: str | None, thread_id: int | None) -> None:
    """Remove the thread a message on stdin belongs to: the one `match` would pick.

    \b
    Exit status:
      0   the thread was removed (one line says which)
      1   there is no such thread, the message has nothing to look up (no ids,
          Thread-Index or reply subject), or there is no database: nothing removed
      2   bad usage
      75  the database cannot be used now
    """
    if message_id is not None and thread_id is not None:
        raise click.UsageError("give --message-id or --thread, not both")
    # A message with nothing to look up is in no thread, as for `add` (exit 1): a program
    # that unmutes what lands in a folder (contrib/mailthread-folder) takes 1 as done, and
    # 2 as its own mistake.
    facts = None if thread_id is not None else message_facts(message_id, nothing_status=1)[0]
    with settings.store(create=False) as store:
        if facts is not None:
            # The thread `match` would pick: forks followed as $MAILTHREAD_FOLLOW_FORKS says.
            facts = store.without_digests(facts)
            hit = store.decide(facts, follow_forks=arguments.follows_forks(os.environ))
            if hit is not None and hit.rule == "fork":
                raise Failure(
                    f"a reply to thread {hit.thread} under a new subject, in no thread:"
                    f" nothing removed (`remove --thread {hit.thread}` removes that thread)"
                )
            if hit is None:
                raise Failure(
                    f"in no thread: {none_recorded(len(facts.ids))},"
                    " and nothing else links it to a thread"
                )
            thread_id = hit.thread
        removed = store.remove(thread_id)
    if removed is None:
        raise Failure(f"there is no thread {thread_id}")
    say(f"removed {describe(removed)}")


@cli.command(short_help="Remove idle threads and old message index entries.")
@click.option(
    "--idle",
    default="90d",
    show_default=True,
    metavar="DURATION",
    callback=check_duration,
    help="Remove threads with no match for this long (12h, 7d, 12w).",
)
@click.option(
    "--index-age",
    default="180d",
    show_default=True,
    metavar="DURATION",
    callback=check_duration,
    help="Drop message index entries of messages dated longer ago than this.",
)
@click.option("--dry-run", is_flag=True, help="Say what would go, remove nothing.")
@click.pass_obj
def expire(settings: Settings, idle: int, index_age: int, dry_run: bool) -> None:
    """Remove threads that have not matched for a while, and old message index entries.

    A thread goes when it has had no match (or, if it never matched, was recorded) longer
    ago than --idle, or when its own lifetime (add --for) has passed. The message index
    (what match and add saw of each message, to follow conversations) keeps the messages
    of the last --index-age. Run it from cron:

    \b
      17 4 * * *  mailthread expire --idle 90d

    \b
    Exit status: 0 done (also when nothing expired), 1 no database at that
    path, 2 bad usage, 75 the database cannot be used now.
    """
    verb = "would remove" if dry_run else "removed"
    expired = 0
    with settings.store(create=False) as store:
        for thread in store.expire(idle, dry_run):  # batch by batch: never all in memory
            say(f"{verb} {describe(thread)}; last active {thread.last_match or thread.created}")
            expired += 1
        dropped = store.expire_index(index_age, dry_run)
    count = f"{expired} thread{'s' * (expired != 1)}"
    entries = f"{dropped} message index entr{'ies' if dropped != 1 else 'y'}"
    say(
        f"{verb} {count}: idle over {format_duration(idle)} or past their own lifetime;"
        f" {entries} of messages dated over {format_duration(index_age)} ago"
    )


# click 8.2 and later raise this for a group run without a command (older ones exit 0).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    """Run a command; errors become one ``mailthread: ...`` line and their exit status,
    which stands even when that line cannot be written (stderr on a full disk).
    (``__main__`` has already let Ctrl-C end it at once.)"""
    if sys.stdout is None:  # started with it closed: `mailthread list >&-`
        return _failed("mailthread: standard output is closed; nothing done", EX_TEMPFAIL)
    try:
        result = cli.main(args=argv, prog_name="mailthread", standalone_mode=False)
        sys.stdout.flush()  # a full disk shows here, not in the flush at exit
    except _NO_ARGS_IS_HELP as e:  # plain `mailthread`: the help text, as click shows it
        return _failed(e.show, e.exit_code)
    except click.UsageError as e:
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
        return _failed(f"mailthread: {e.format_message().rstrip('.')}{where}", e.exit_code)
    except click.ClickException as e:
        return _failed(e.show, e.exit_code)
    except click.Abort:
        return _failed("mailthread: aborted", 1)
    except OSError as e:
        # Writing the output failed (a full disk, a closed pipe other than EPIPE, which
        # click silences): what the command did to the database stands. (Reading stdin
        # fails as a Failure of its own: settings.read_stdin.)
        _to_devnull(sys.stdout, EX_TEMPFAIL)
        return _failed(f"mailthread: cannot write the output: {e.strerror or e}", EX_TEMPFAIL)
    except MemoryError:
        # A mailbox message or refs file bigger than the memory it may use (RLIMIT_AS):
        # nothing was recorded, as for any failed transaction.
        return _failed("mailthread: not enough memory; nothing was recorded", EX_TEMPFAIL)
    return result if isinstance(result, int) else 0


def _failed(line, status: int) -> int:
    """Write the error ``line`` (or call it: an exception's ``show``) on stderr, made
    printable; ``status`` whether or not stderr takes it."""
    try:
        if callable(line):
            line()
        else:
            click.echo(printable(line), err=True)
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        _to_devnull(sys.stderr, status)
    return status


def _to_devnull(stream, status: int) -> None:
    """After a failed write: what is left in ``stream``'s buffer goes nowhere, so that the
    flush at exit cannot fail again (an "Exception ignored" and exit status 120); as match
    does it (``filter.to_devnull``)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # closed, or not a file (a test's stand-in)
        return
    filter.to_devnull(fd, status)
