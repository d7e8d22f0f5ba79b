"""The command line of ``match``, read without click (it runs once per mail, before click
could load): its options, declared once in ``MATCH_OPTIONS`` (click's ``match`` command
builds its help, the man page and completion from them), the parser, and the checks of
list names, ``--header``, ``--timeout``, durations and ``--me`` that every command shares.
"""

import os

from mailthread.database import DEFAULT_TIMEOUT, check_path
from mailthread.linking import SUBJECT_WINDOW
from mailthread.message import Record, field_name

DEFAULT_HEADER = "X-Mailthread: {list}"
_LIST_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_LIST_CHARS = _LIST_FIRST | frozenset("._+-")
_GROUP_OPTIONS = ("--db", "--timeout")


class UsageError(Exception):
    pass


# me: the user's addresses (lower-cased); window: how long after a thread's last message a
# reply may be linked by its subject alone (None: never); follow_forks: a reply under a new
# subject stays in its thread (--follow-forks, $MAILTHREAD_FOLLOW_FORKS=1; linking.Linking.decide).
class MatchArgs(Record):
    __slots__ = ()
    _fields = ("db", "timeout", "lists", "header", "me", "window", "follow_forks")


# match's own options, declared here once: (name, metavar -- None for a flag --, default as
# --help shows it, help). parse_args reads them, on the fast path that runs before click is
# loaded; click's `match` command shows them (--help, the man page, completion) from here.
MATCH_OPTIONS = (
    (
        "--header",
        "'NAME: VALUE'",
        DEFAULT_HEADER,
        "The line to insert on a match; {list} becomes the list's name.",
    ),
    (
        "--me",
        "ADDRESS",
        None,
        "Your address (repeatable; also $MAILTHREAD_ME, blank- or comma-separated): a "
        "message of a thread addressed to you alone, or newly to you, gets '; to-me' "
        "after the header's value.",
    ),
    (
        "--subject-window",
        "DURATION",
        f"{SUBJECT_WINDOW // 86400}d",
        "How long after a thread's last message a reply may be linked by its subject.",
    ),
    ("--no-subject", None, None, "Never link a reply by its subject alone."),
    (
        "--follow-forks",
        None,
        None,
        "A reply under a new subject stays in its thread, as in mutt's thread view (also "
        "$MAILTHREAD_FOLLOW_FORKS=1). Without it, such a fork of a thread starts a new "
        "conversation, as in Gmail, unless the thread is on the list 'watched' or the reply "
        "is a patch of the thread's [PATCH n/m] series.",
    ),
)
_WITH_VALUE = tuple(name for name, metavar, _, _ in MATCH_OPTIONS if metavar)
_FLAGS = tuple(name for name, metavar, _, _ in MATCH_OPTIONS if not metavar)
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
# SQLite's date functions stop at year 0, and its integers at 2**63 - 1: a century is
# "for good" for a mail thread, and keeps every date the store computes in range.
LONGEST = 36500 * 86400


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
        template.encode("utf-8")  # bytes that are no UTF-8 came as lone surrogates
    except ValueError as e:  # UnicodeEncodeError is one
        raise UsageError(f"invalid --header: {e}") from None
    if "{list}" in name:
        raise UsageError("invalid --header: {list} can stand only in the value, after the colon")
    return template


# The longest wait SQLite takes: its busy timeout is an int of milliseconds (24.8 days).
MAX_TIMEOUT = (2**31 - 1) // 1000


def check_timeout(value: str) -> float:
    """--timeout SECONDS: a number from 0 to ``MAX_TIMEOUT`` (not "nan" or "inf", which
    SQLite would take for no wait at all); UsageError otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_TIMEOUT:
        raise UsageError(
            f"invalid --timeout {value!r}: a number of seconds from 0 to {MAX_TIMEOUT} is needed"
        )
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


def follows_forks(environ) -> bool:
    """Whether ``$MAILTHREAD_FOLLOW_FORKS`` asks to follow forks: set to 1 (blanks around it
    allowed); any other value does not. Every command reads it here."""
    return environ.get("MAILTHREAD_FOLLOW_FORKS", "").strip() == "1"


def parse_args(argv: list[str], environ) -> MatchArgs:
    """Parse ``[--db PATH] [--timeout S] match [LIST]... [--header LINE] [--me ADDRESS]...
    [--no-subject | --subject-window DURATION] [--follow-forks] [--db PATH] [--timeout S]``
    (the last given wins); ``$MAILTHREAD_FOLLOW_FORKS`` set to 1 is --follow-forks."""
    db = None
    timeout = DEFAULT_TIMEOUT
    lists: list[str] = []
    header = DEFAULT_HEADER
    me = [environ.get("MAILTHREAD_ME", "")]
    window: int | None = SUBJECT_WINDOW
    follow_forks = follows_forks(environ)
    args = iter(argv)
    seen_command = False
    only_positionals = False
    for arg in args:
        name, equals, value = arg.partition("=")
        if not only_positionals and arg.startswith("-"):
            if arg == "--":
                only_positionals = True
                continue
            # --db and --timeout go before the command name or after it.
            allowed = _GROUP_OPTIONS + (_WITH_VALUE + _FLAGS if seen_command else ())
            if name not in allowed:
                raise UsageError(f"no such option: {name}")
            if name in _FLAGS:
                if equals:
                    raise UsageError(f"option {name} does not take a value")
                if name == "--follow-forks":
                    follow_forks = True
                else:
                    window = None
                continue
            if not equals:
                value = next(args, None)
                if value is None:
                    raise UsageError(f"option {name} requires an argument")
            if name == "--db":
                db = check_path(value)  # "" would fall back to the default database
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
    return MatchArgs(db, timeout, tuple(lists), header, my_addresses(me), window, follow_forks)


def file_named(argv: list[str]) -> str | None:
    """A sentence when a LIST argument of ``match`` names an existing file: the message
    given as an argument instead of on stdin (``mailthread match reply.eml``)."""
    args = iter(argv)
    command = False
    for arg in args:
        if arg in _GROUP_OPTIONS or arg in _WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-") and not command:
            command = True  # "match"
        elif not arg.startswith("-") and os.path.isfile(arg):
            return f"LIST {arg!r} is a file: the message comes on stdin (mailthread match < {arg})"
    return None
