"""``mailthread match``: the per-mail filter procmail runs for every incoming message.

It starts without click (the console script comes here first): its cost is paid once per
mail, so it loads only ``sqlite3`` and the two core modules; not even ``re``.

Whatever goes wrong, the message goes out exactly as it came in, one ``mailthread: ...``
line goes to stderr, and the exit status is 75 (EX_TEMPFAIL), which procmail's ``W`` flag
treats as a failed filter: it keeps the original text.
"""

from __future__ import annotations

import os
import sys
from collections import namedtuple
from io import BufferedIOBase  # already loaded by the interpreter, unlike typing

from mailthread.message import Header, field_name
from mailthread.store import DEFAULT_TIMEOUT, SUBJECT_WINDOW, Store, StoreError, default_path

EX_OK = 0
EX_TEMPFAIL = 75
DEFAULT_HEADER = "X-Mailthread: {list}"
_LIST_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_LIST_CHARS = _LIST_FIRST | frozenset("._+-")
_GROUP_OPTIONS = ("--db", "--timeout")


class UsageError(Exception):
    pass


# me: the user's addresses (lower-cased); window: how long after a thread's last message a
# reply may be linked by its subject alone (None: never).
MatchArgs = namedtuple("MatchArgs", "db timeout lists header me window")
_MATCH_OPTIONS = ("--header", "--me", "--subject-window")
_FLAGS = ("--no-subject",)
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
# SQLite's date functions stop at year 0, and its integers at 2**63 - 1: a century is
# "for good" for a mail thread, and keeps every date the store computes in range.
LONGEST = 36500 * 86400
TO_ME = "; to-me"


def check_list_name(name: str) -> str:
    if not name or name[0] not in _LIST_FIRST or not _LIST_CHARS.issuperset(name):
        raise UsageError(
            f"invalid list name {name!r}: use letters, digits and . _ + - "
            "(starting with a letter or digit)"
        )
    return name


def check_header(template: str) -> str:
    try:
        name = field_name(template)
    except ValueError as e:
        raise UsageError(f"invalid --header: {e}") from None
    if "{list}" in name:
        raise UsageError("invalid --header: {list} can stand only in the value, after the colon")
    return template


def check_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise UsageError(f"invalid --timeout {value!r}: a number of seconds is needed")
    return seconds


def parse_duration(value: str) -> int:
    """ "12h", "7d", "12w" -> seconds; UsageError (without the option's name) otherwise."""
    number, unit = value[:-1], value[-1:]
    if not (number.isascii() and number.isdigit() and unit in _UNITS and int(number) > 0):
        raise UsageError(
            f"{value!r}: use a positive whole number of hours, days or weeks, like 12h, 7d, 12w"
        )
    seconds = int(number) * _UNITS[unit]
    if seconds > LONGEST:
        raise UsageError(f"{value!r}: at most {LONGEST // 86400}d (100 years)")
    return seconds


def my_addresses(values) -> frozenset[str]:
    """The addresses of --me options and $MAILTHREAD_ME (separated by blanks or commas)."""
    found = set()
    for value in values:
        for address in value.replace(",", " ").split():
            if "@" not in address.strip("@"):
                raise UsageError(f"invalid --me {address!r}: an address like you@example.com")
            found.add(address.strip("<>").lower())
    return frozenset(found)


def is_match_command(argv: list[str]) -> bool:
    """Whether ``argv`` (without the program name) runs ``match``, so that this module, not
    click, must handle it. ``--help`` anywhere goes to click, which prints the help text."""
    if "--help" in argv or "-h" in argv or "--version" in argv:
        return False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GROUP_OPTIONS:
            i += 2
        elif arg.startswith(tuple(f"{option}=" for option in _GROUP_OPTIONS)):
            i += 1
        elif arg.startswith("-"):
            # A mistyped option before the command: if it is meant for `match`, the message
            # must still come out.
            return "match" in argv[i:]
        else:
            return arg == "match"
    return False


def parse_args(argv: list[str], environ) -> MatchArgs:
    """Parse ``[--db PATH] [--timeout S] match [LIST]... [--header LINE] [--me ADDRESS]...
    [--no-subject | --subject-window DURATION]``."""
    db = None
    timeout = DEFAULT_TIMEOUT
    lists: list[str] = []
    header = DEFAULT_HEADER
    me = [environ.get("MAILTHREAD_ME", "")]
    window: int | None = SUBJECT_WINDOW
    args = iter(argv)
    seen_command = False
    only_positionals = False
    for arg in args:
        name, equals, value = arg.partition("=")
        if not only_positionals and arg.startswith("-"):
            if arg == "--":
                only_positionals = True
                continue
            allowed = _MATCH_OPTIONS + _FLAGS if seen_command else _GROUP_OPTIONS
            if name not in allowed:
                raise UsageError(f"no such option: {name}")
            if name in _FLAGS:
                if equals:
                    raise UsageError(f"option {name} does not take a value")
                window = None
                continue
            if not equals:
                value = next(args, None)
                if value is None:
                    raise UsageError(f"option {name} requires an argument")
            if name == "--db":
                db = value
            elif name == "--timeout":
                timeout = check_timeout(value)
            elif name == "--me":
                me.append(value)
            elif name == "--subject-window":
                try:
                    window = parse_duration(value)
                except UsageError as e:
                    raise UsageError(f"invalid --subject-window {e}") from None
            else:
                header = check_header(value)
        elif not seen_command:
            seen_command = True  # is_match_command() saw to it that this is "match"
        else:
            lists.append(check_list_name(arg))
    return MatchArgs(db, timeout, tuple(lists), header, my_addresses(me), window)


def filter_message(raw: bytes, args: MatchArgs, environ) -> list:
    """The pieces of the message to write out, after looking it up and learning from it."""
    header = Header(raw)
    injected = field_name(args.header)
    facts = header.facts()
    line = None
    if facts.ids or facts.thread_index or (facts.reply and facts.subject is not None):
        # Losing the last index entries on a power cut costs nothing that matters: do not
        # wait for the disk on every mail.
        path = args.db or default_path(environ)
        # One write transaction: what is recorded follows from what was looked up.
        with Store.open(path, args.timeout, durable=False) as store, store.delivery():
            hit = store.lookup(facts, args.lists, args.window)
            to_me = mine = None
            if args.me:
                to, cc = header.recipients()
                mine = (to | cc) & args.me
                to_me = bool(mine)
            if hit is not None:
                value = args.header.replace("{list}", hit.list)
                if mine and ((to and to <= args.me) or store.parent_to_me(facts) is False):
                    value += TO_ME  # addressed to me alone, or newly to me
                line = value.encode("utf-8")
                if b"\n" in line or b"\r" in line:  # only a hand-edited database has such names
                    raise StoreError(f"list name {hit.list!r} contains a line break")
            store.record(facts, hit, to_me, args.window)
    return header.rewrite(line, injected.encode("ascii"))


def write(stdout: BufferedIOBase, pieces) -> None:
    for piece in pieces:
        # A buffered write into a pipe whose reader has gone can return a short count
        # instead of raising: write the rest, which then raises (EPIPE).
        view = memoryview(piece)
        while view:
            written = stdout.write(view)
            if not written:
                raise OSError("short write")
            view = view[written:]
    stdout.flush()


def complain(stderr, problem: str) -> None:
    # With stderr closed, print(file=None) would write to stdout, into the message.
    if stderr is not None:
        print(f"mailthread: {problem}", file=stderr)


def run(argv: list[str], stdin: BufferedIOBase, stdout: BufferedIOBase, stderr, environ) -> int:
    """Filter one message from ``stdin`` to ``stdout``; return the exit status."""
    raw = b""
    try:
        raw = stdin.read()
        args = parse_args(argv, environ)
        pieces = filter_message(raw, args, environ)
        status = EX_OK
    except (UsageError, StoreError) as e:
        problem = str(e)
    except Exception as e:  # never a traceback, never a lost message
        problem = f"internal error: {type(e).__name__}: {e}"
    else:
        problem = None
    if problem is not None:
        pieces = [raw]
        status = EX_TEMPFAIL
        complain(stderr, f"{problem}; message passed through unchanged")
    try:
        write(stdout, pieces)
    except OSError as e:
        complain(stderr, f"cannot write the message: {e.strerror or e}")
        return EX_TEMPFAIL
    return status


class _Closed:
    """Stands for a standard stream that was closed before we started (sys.stdout is None)."""

    def read(self) -> bytes:
        return b""

    def write(self, data) -> int:
        raise OSError("standard output is closed")

    flush = write


def standard_streams():
    """stdin and stdout as bytes streams, standing in for one closed before we started."""
    stdin = sys.stdin.buffer if sys.stdin is not None else _Closed()
    stdout = sys.stdout.buffer if sys.stdout is not None else _Closed()
    return stdin, stdout


def main(argv: list[str]) -> int:
    stdin, stdout = standard_streams()
    status = run(argv, stdin, stdout, sys.stderr, os.environ)
    if sys.stdout is not None:
        try:
            sys.stdout.flush()
        except OSError:
            pass
        # A stdout closed by the reader would make the interpreter complain again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status
