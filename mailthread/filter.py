"""``mailthread match``: the per-mail filter procmail runs for every incoming message.

It starts without click (the console script comes here first): its cost is paid once per
mail, so it loads only SQLite's C module and the modules it uses (its command line in
``arguments``, the message's header, the store's ``delivery.Matcher``); not even ``re``.

Whatever goes wrong, the message goes out and one ``mailthread: ...`` line on stderr says
why. When the database cannot be used, the message goes out unmarked but with a sender's
own mark fields renamed, and the exit status is 0, so that the MDA delivers what was
renamed; when even that cannot be done (a usage error, an unreadable input) it goes out
exactly as it came with exit status 75 (EX_TEMPFAIL), which procmail's ``W`` flag treats as
a failed filter: it keeps the original text, and the recipes in contrib/ then trust no
mark (docs/threat-model.md).
"""

import os
import sys
from io import BufferedIOBase  # already loaded by the interpreter, unlike typing

from mailthread.arguments import MatchArgs, UsageError, file_named, parse_args
from mailthread.database import PathError, StoreError, default_path
from mailthread.delivery import Matcher
from mailthread.message import FACT_BYTES, Header, field_name

EX_OK = 0
EX_TEMPFAIL = 75
TO_ME = "; to-me"


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
        store = Matcher.open(path, args.timeout, durable=False)
        # Left open: closing would checkpoint the WAL into the database and delete it, for
        # the next mail to make anew. match ends with os._exit; bound_wal, below, empties
        # the WAL once it holds more than WAL_LIMIT bytes.
        # One write transaction: what is recorded follows from what was looked up.
        with store.transaction():
            facts = store.without_digests(facts)
            hit = store.lookup(facts, args.lists, args.window, args.follow_forks)
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
            by = None
            if hit is not None and hit.rule == "id" and hit.msgid != facts.own:
                # Which field named the id, for `explain` to tell later (only on a hit).
                by = (
                    "In-Reply-To"
                    if hit.msgid in header.threading_ids(FACT_BYTES)[1]
                    else "References"
                )
            store.record(facts, hit, to_me, args.window, by)
        store.bound_wal()
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
    if stderr is None:
        return
    try:
        print(f"mailthread: {problem}", file=stderr, flush=True)
    except (OSError, ValueError):
        # A full log file (procmail's LOGFILE is the filter's stderr), a closed stream: the
        # message must still go out.
        pass


def defang(raw: bytes, args: MatchArgs) -> list:
    """The message with a sender's own mark fields renamed and nothing inserted: what goes
    out when the database cannot be used. It needs no database, so no failure of the store
    lets a forged mark through."""
    return Header(raw).rewrite(None, field_name(args.header).encode("ascii"))


def run(argv: list[str], stdin: BufferedIOBase, stdout: BufferedIOBase, stderr, environ) -> int:
    """Filter one message from ``stdin`` to ``stdout``; return the exit status.

    0: the message was written, marked or not, with a sender's own mark fields renamed;
    when the database could not be used, one stderr line says why ("passed through
    unmarked"). 75 (EX_TEMPFAIL): the message was written unchanged, or could not be written
    at all -- a usage error or a database path that is wrong (``PathError``), or a fault
    before even the renaming could be done; the MDA then keeps the original, and the
    recipes in contrib/ trust no mark after a failed filter.
    """
    raw = b""
    pieces = None
    status = EX_TEMPFAIL
    try:
        raw = stdin.read()
        args = parse_args(argv, environ)
    except UsageError as e:
        problem = f"{e}; message passed through unchanged"
    except OSError as e:
        problem = f"cannot read the message: {e.strerror or e}"
    except Exception as e:  # never a traceback, never a lost message
        problem = f"{internal_error(e)}; message passed through unchanged"
    else:
        try:
            pieces = filter_message(raw, args, environ)
            status, problem = EX_OK, None
        except PathError as e:
            # Where the database should be is wrong (no home folder, not a file path, a
            # folder anyone may write to): a setup error, told as such, like a bad option.
            problem = f"{e}; message passed through unchanged"
        except Exception as e:
            problem = str(e) if isinstance(e, StoreError) else internal_error(e)
            try:
                pieces = defang(raw, args)
                status, problem = EX_OK, f"{problem}; message passed through unmarked"
            except Exception as e:
                problem = f"{problem}; {internal_error(e)}; message passed through unchanged"
    if status != EX_OK:
        pieces = [raw]
    elif not raw and (problem := file_named(argv)):
        # Empty in, empty out; but `mailthread match reply.eml < /dev/null` says why.
        problem += "; nothing written"
    if problem is not None:
        complain(stderr, problem)
    try:
        write(stdout, pieces)
    except OSError as e:
        complain(stderr, f"cannot write the message: {e.strerror or e}")
        return EX_TEMPFAIL
    return status


def on_a_terminal(stdin) -> bool:
    """Whether ``stdin`` (a stream, or None when closed) is a terminal, where a command
    reading a message says what it waits for (``reading_notice``)."""
    try:
        return os.isatty(stdin.fileno())
    except (OSError, ValueError, AttributeError):  # closed, or no file at all
        return False


def reading_notice(command: str) -> str:
    """What ``command`` (``mailthread match``, ``mailthread add``...) reading a terminal
    says it waits for."""
    return f"reading one message on stdin, to the end (Ctrl-D); a file: {command} ... < FILE"


def internal_error(e: BaseException) -> str:
    return f"internal error: {type(e).__name__}: {e}"


class _Closed:
    """Stands for a standard stream that was closed before we started (sys.stdout is None)."""

    def read(self) -> bytes:
        # Not b"": that is an empty message, which procmail would take for the header.
        raise OSError("standard input is closed")

    def write(self, data) -> int:
        raise OSError("standard output is closed")

    flush = write


def standard_streams():
    """stdin and stdout as bytes streams, standing in for one closed before we started."""
    stdin = sys.stdin.buffer if sys.stdin is not None else _Closed()
    stdout = sys.stdout.buffer if sys.stdout is not None else _Closed()
    return stdin, stdout


_UNSAFE: dict[int, str] = {}


def printable(text: str) -> str:
    """``text`` as it may go to a terminal: what a terminal would act on instead of showing
    it becomes U+FFFD, one character for one (so table columns stay aligned) -- C0 controls
    (ESC starts the sequences that retitle a window or clear the screen), DEL, C1 controls
    (U+0080-U+009F; U+009B is a CSI to some terminals), the bidi embeddings, overrides and
    isolates that reorder the rest of a line (U+202A-U+202E, U+2066-U+2069: the "Trojan
    Source" characters), the bidi marks (U+061C, U+200E, U+200F) and lone surrogates;
    tab, line breaks and NEL become a blank, so that one line stays one line. Printable
    Unicode is kept."""
    if text.isprintable():
        return text
    if not _UNSAFE:
        controls = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F)]
        marks = [0x061C, 0x200E, 0x200F]  # the bidi marks: ALM, LRM, RLM
        _UNSAFE.update(dict.fromkeys([*controls, *range(0x2066, 0x206A), *marks], "\ufffd"))
        _UNSAFE.update(dict.fromkeys(map(ord, "\t\n\v\f\r\x85"), " "))
    text = text.translate(_UNSAFE)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (U+D800-U+DFFF)
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


class _PrintableText:
    """A text stream that writes only printable text (a lone line end goes as it is)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text if text == "\n" else printable(text))

    def flush(self) -> None:
        self.stream.flush()


class _Stopped(BaseException):
    """SIGINT, SIGTERM or SIGHUP came before the message was being written out."""


class _Unread(BaseException):
    """Not enough memory to read the message: what was read of it is gone."""


_STOP_SIGNALS = {2: "SIGINT", 15: "SIGTERM", 1: "SIGHUP"}


class _Guarded:
    """stdin and stdout of one ``match``, and the signals that ask it to stop.

    The first stop signal before the message is being written raises _Stopped out of run();
    main() then writes the message unchanged if it was read. Once writing has begun, and
    after that first one, a signal only is noted: the message is finished, and the exit
    status is 75 all the same. (While SQLite waits for a lock, Python runs no handler: the
    signal acts when the wait ends, within --timeout.)"""

    def __init__(self, stdin, stdout) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.raw: bytes | None = None
        self.deferred = False  # True once writing has begun, or a signal has been raised
        self.signal: int | None = None

    def stop(self, signum: int, frame) -> None:
        self.signal = signum
        if not self.deferred:
            self.deferred = True
            raise _Stopped()

    def read(self) -> bytes:
        try:
            self.raw = self.stdin.read()
        except MemoryError:
            # RLIMIT_AS, or a message bigger than memory: readall() dropped what it had
            # read, so nothing can go out unchanged. (run() would pass b"" through.)
            raise _Unread() from None
        return self.raw

    def write(self, data) -> int:
        self.deferred = True
        return self.stdout.write(data)

    def flush(self) -> None:
        self.stdout.flush()


def main(argv: list[str]) -> int:
    """Run ``match`` on the standard streams, whatever stops it; return the exit status."""
    import _signal  # the C module, loaded by every interpreter (signal imports enum)

    stdin, stdout = standard_streams()
    guarded = _Guarded(stdin, stdout)
    stderr = _PrintableText(sys.stderr) if sys.stderr is not None else None
    if on_a_terminal(stdin):
        file = file_named(argv)
        if file is not None:
            complain(stderr, f"{file}; nothing read")
            return EX_TEMPFAIL
        complain(stderr, reading_notice("mailthread match"))
    handlers = {signum: _signal.signal(signum, guarded.stop) for signum in _STOP_SIGNALS}
    try:
        status = run(argv, guarded, guarded, stderr, os.environ)
    except _Stopped:
        status = _stopped(guarded, stderr)
    except _Unread:
        complain(stderr, "not enough memory to read the message; nothing written")
        status = EX_TEMPFAIL
    else:
        if guarded.signal is not None:
            name = _STOP_SIGNALS[guarded.signal]
            complain(stderr, f"stopped by {name} while writing the message")
            status = EX_TEMPFAIL
    for signum, handler in handlers.items():
        _signal.signal(signum, handler)
    # The interpreter flushes both streams again at exit, and a failure there turns the
    # exit status into 120 (procmail would then throw away the message written and keep
    # the original): a line stderr could not take (procmail's LOGFILE on a full disk), a
    # stdout closed by its reader. Flush them now, and point a failed one at /dev/null.
    if sys.stderr is not None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            to_devnull(2, status)
    if sys.stdout is not None:
        try:
            sys.stdout.flush()
        except OSError:
            pass
        try:
            fd = sys.stdout.fileno()
        except (OSError, ValueError):  # not a file (a test's stand-in)
            return status
        to_devnull(fd, status)
    return status


def to_devnull(fd: int, status: int) -> None:
    """Point ``fd`` at /dev/null; with no file descriptor left for it (RLIMIT_NOFILE), end
    the process here with ``status``, skipping the flush at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        os._exit(status)
    os.dup2(devnull, fd)
    os.close(devnull)


def _stopped(guarded: _Guarded, stderr) -> int:
    name = _STOP_SIGNALS[guarded.signal]
    if guarded.raw is None:
        complain(stderr, f"stopped by {name} while reading the message; nothing written")
        return EX_TEMPFAIL
    try:
        write(guarded, [guarded.raw])
    except OSError as e:
        complain(stderr, f"stopped by {name}; cannot write the message: {e.strerror or e}")
    else:
        complain(stderr, f"stopped by {name}; message passed through unchanged")
    return EX_TEMPFAIL
