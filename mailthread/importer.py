"""Reading threads from mailboxes (mbox, Maildir, MH) and from the old scripts' refs files.

Everything here returns plain data (lists of ids and subjects); ``Store.add_threads``
records it. Not on the per-mail path.
"""

from __future__ import annotations

import mailbox
import os
import re
from collections import Counter
from collections.abc import Iterator

from mailthread.linking import topics_of
from mailthread.message import Header, without_ids
from mailthread.msgid import is_msgid, parse_ids


class SourceError(Exception):
    """A path that cannot be imported: unreadable, not a mailbox, a malformed refs file."""


def mailbox_kind(path: str) -> str:
    """ "maildir", "mh" or "mbox", from what is at ``path``; SourceError when it is none."""
    if os.path.isdir(path):
        # Git keeps no empty folders: a copied Maildir may lack new/ and tmp/.
        if os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new")):
            return "maildir"
        try:
            names = os.listdir(path)
        except OSError as e:
            raise SourceError(f"cannot read {path}: {e.strerror}") from None
        numbered = (n for n in names if n.isdigit() and os.path.isfile(os.path.join(path, n)))
        if ".mh_sequences" in names or any(numbered):
            return "mh"
        raise SourceError(
            f"{path} is not a mailbox: a folder with neither cur/ and new/ (Maildir)"
            " nor numbered message files (MH)"
        )
    with _open_regular(path) as f:
        start = f.read(5)
    if start not in (b"", b"From "):
        raise SourceError(f"{path} is not a mailbox: an mbox file starts with a 'From ' line")
    return "mbox"


def mailbox_messages(path: str) -> tuple[int, Iterator[bytes | None]]:
    """How many messages the mailbox at ``path`` holds, and their raw bytes one by one
    (None for a message that cannot be read)."""
    kind = mailbox_kind(path)
    if kind in ("maildir", "mh"):
        # Each message is a file of its own; read here rather than by mailbox.MH, so that a
        # FIFO or a device among them (a link to /dev/zero) is an unreadable message, not a
        # read that blocks or never ends.
        files = []
        try:
            if kind == "maildir":
                for sub in ("new", "cur"):
                    folder = os.path.join(path, sub)
                    if os.path.isdir(folder):
                        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
                        files += [os.path.join(folder, name) for name in names]
            else:
                names = sorted((n for n in os.listdir(path) if n.isdigit()), key=int)
                files = [
                    os.path.join(path, n) for n in names if not os.path.isdir(os.path.join(path, n))
                ]
        except OSError as e:
            raise SourceError(f"cannot read {path}: {e.strerror}") from None
        return len(files), (_read(file) for file in files)
    try:
        box = _Mbox(path, create=False)
        keys = list(box.keys())
    except (OSError, mailbox.Error) as e:
        raise SourceError(f"cannot read {path}: {e}") from None

    def messages() -> Iterator[bytes | None]:
        for key in keys:
            try:
                yield box.get_bytes(key, from_=True)
            except (OSError, KeyError, mailbox.Error):
                yield None

    return len(keys), messages()


class _Mbox(mailbox.mbox):
    """``mailbox.mbox`` whose messages start where mutt's do: at a ``From `` line that is a
    postmark (``is_postmark``), not at any line starting ``From ``, as ``mailbox.mbox``
    splits (cpython gh-93376). A new message also needs an empty line before its postmark
    (RFC 4155 mbox writers all leave one; mutt does not ask for it, but a postmark glued to
    the line above is a pasted `git format-patch`, not a message). The first message starts
    at the first byte, dated or not (mutt hides it). Only the table of contents differs:
    reading a message is ``mailbox.mbox``'s, and the file is read line by line, never whole.
    """

    def _generate_toc(self) -> None:
        starts: list[int] = []
        stops: list[int] = []
        empty_before = 0  # length of the empty line just read, 0 after any other line
        self._file.seek(0)
        readline = self._file.readline
        line_pos = 0
        while True:
            line = readline()
            if not line:
                if starts:
                    stops.append(line_pos - empty_before)
                break
            if line.startswith(b"From ") and (not starts or (empty_before and is_postmark(line))):
                if starts:
                    stops.append(line_pos - empty_before)
                starts.append(line_pos)
            empty_before = len(line) if line in (b"\n", b"\r\n") else 0
            line_pos += len(line)  # tell() at every line took 30% of the time
        self._toc = dict(enumerate(zip(starts, stops, strict=True)))
        self._next_key = len(self._toc)
        self._file_length = self._file.tell()


_DAYS = frozenset([b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"])
_MONTHS = (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct")
_MONTHS += (b"nov", b"dec")
_NUMBER = re.compile(rb"[+-]?\d+")  # as C's sscanf("%d") reads one
_TIME = re.compile(rb"([+-]?\d+):([+-]?\d+)(?::([+-]?\d+))?")


def is_postmark(line: bytes) -> bool:
    """Whether ``line`` is an mbox postmark as mutt's ``is_from()`` (from.c) reads one:
    ``From [return-path] weekday month day HH:MM[:SS] [zone [zone]] year``. The return path
    may be quoted, or pipermail's ``user at host``; the weekday, month and zone are words,
    the year 0 to 9999 (two digits too). ``From my point of view`` is not one."""
    if not line.startswith(b"From "):
        return False
    rest = line[5:].lstrip()
    words = rest.split()
    if not words:
        return False
    if words[0].lower() not in _DAYS:  # a return path: up to a blank outside quotes
        end, quoted = 0, False
        while end < len(rest) and (quoted or not rest[end : end + 1].isspace()):
            if rest[end] == 92:  # a backslash escapes the next byte
                end += 1
            elif rest[end] == 34:
                quoted = not quoted
            end += 1
        if quoted or end >= len(rest):
            return False
        after = rest[end:]
        if after[:4].lower() == b" at ":  # pipermail: "From user at host Mon ..."
            end = after.find(b" ", 4)
            if end < 0:
                return False
            after = after[end:]
        words = after[1:].split()
        if not words or words[0].lower() not in _DAYS:
            return False
    words = words[1:]
    if words and words[0].lower() in _DAYS:  # a login name that is a day's name
        words = words[1:]
    if len(words) < 4 or words[0][:3].lower() not in _MONTHS:
        return False
    day = _NUMBER.match(words[1])
    time = _TIME.match(words[2])
    if not day or not 1 <= _int(day[0]) <= 31 or not time:
        return False
    hour, minute, second = (_int(n or b"0") for n in time.groups())
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60):
        return False
    words = words[3:]
    if words[0][:1].isalpha() or words[0][:1] in (b"+", b"-"):  # a zone, maybe "MET DST"
        words = words[1:]
        if words and words[0][:1].isalpha():
            words = words[1:]
    year = _NUMBER.match(words[0]) if words else None
    return bool(year) and 0 <= _int(year[0]) <= 9999


def _int(number: bytes) -> int:
    """The value of a ``_NUMBER``; 10**10 for more than ten digits, where C's sscanf would
    overflow (and int() refuses more than 4,300 digits: a body line of them stopped a whole
    import with a traceback)."""
    return int(number) if len(number.lstrip(b"+-")) <= 10 else 10**10


def _open_regular(path: str):
    """``path`` opened for reading, if it is a regular file (symbolic links followed);
    SourceError otherwise. Opened without blocking, so a FIFO cannot stall the import,
    and checked, so a device (/dev/zero) cannot fill memory."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(f"cannot read {path}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read(file: str) -> bytes | None:
    try:
        with _open_regular(file) as f:
            return f.read()
    except (OSError, SourceError, MemoryError):  # MemoryError: bigger than it may use
        return None


class Conversations:
    """Groups messages into conversations: every set of messages linked by their ids,
    transitively. Each conversation keeps its member list; joining two relabels the
    smaller one, so no id is relabelled more than log2(n) times."""

    def __init__(self) -> None:
        self._root_of: dict[str, str] = {}  # msgid -> the id naming its conversation
        self._members: dict[str, list[str]] = {}  # root -> ids, in the order first seen
        self._subjects: dict[str, tuple[int, int, str | None]] = {}  # root -> best subject
        self._topics: dict[str, set[str]] = {}  # root -> the topics of its messages
        self._count = 0
        self.skipped: Counter[str] = Counter()
        self.facts: list = []  # message.Facts of each message read, for the message index
        self.digests: set[str] = set()  # the Message-IDs of list digests read so far

    def add(self, ids: list[str], subject: str | None = None, topics=()) -> None:
        """One message's ids (or one refs line): they all belong together. ``topics``:
        the message's (``linking.topics_of``)."""
        self._count += 1
        root_of, members = self._root_of, self._members
        roots = {root_of[msgid] for msgid in ids if msgid in root_of}
        new = [msgid for msgid in dict.fromkeys(ids) if msgid not in root_of]
        # The conversation's subject: that of its message naming the fewest ids, the first
        # such one read (usually the one that started it).
        candidates = [(len(ids), self._count, subject)]
        if roots:
            root = max(roots, key=lambda r: len(members[r]))
            for other in roots - {root}:
                for msgid in members[other]:
                    root_of[msgid] = root
                members[root] += members.pop(other)
                candidates.append(self._subjects.pop(other))
                self._topics[root] |= self._topics.pop(other)
            candidates.append(self._subjects[root])
            members[root] += new
        else:
            root = new[0]
            members[root] = new
            self._topics[root] = set()
        self._topics[root].update(topics)
        for msgid in new:
            root_of[msgid] = root
        self._subjects[root] = min(candidates, key=lambda c: (c[2] is None, c[0], c[1]))

    def add_message(self, raw: bytes | None) -> None:
        """One message of a mailbox (None: one that could not be read). A message that
        cannot be read, has no ids, or that mailthread fails to parse is counted in
        ``skipped`` by reason; the rest of the import goes on."""
        if raw is None:
            self.skipped["unreadable"] += 1
            return
        try:
            header = Header(raw)
            facts = header.facts()
            subject = header.subject()
        except Exception:  # noqa: BLE001 - a parser bug costs one message, not the import
            self.skipped["unparsable"] += 1
            return
        if facts.digest:
            # Many conversations in one: its replies link by their own subjects, and
            # by ids of the digest read before them (Store.without_digests).
            self.skipped["list digests"] += 1
            if facts.own is not None:
                self.digests.add(facts.own)
                self.facts.append(facts)
            return
        if self.digests.intersection(facts.parents):
            facts = without_ids(facts, self.digests)
        if not facts.ids:
            self.skipped["no ids"] += 1
            return
        self.facts.append(facts)
        self.add(facts.ids, subject, topics_of(facts))

    def threads(self) -> list[tuple[list[str], str | None]]:
        """(ids, subject) of each conversation, in the order they were first seen."""
        return [(ids, self._subjects[root][2]) for root, ids in self._members.items()]

    def topics(self) -> list[set[str]]:
        """The topics of each conversation's messages, in the order of ``threads``: what a
        reply must be under not to be a fork of the thread recorded from it."""
        return [self._topics[root] for root in self._members]


def refs_file_lines(path: str) -> tuple[list[list[str]], list[int], int]:
    """(the ids of each line of an old refs file (`<id> <id> ` per thread), the numbers of
    the lines skipped, how many lines it has): blank lines are passed over, and a line with
    no message id (``is_msgid``: a `# comment`, bare words, `<yes>`) is skipped and its
    number kept, so
    that one stray line costs that line, not the import. SourceError when the file cannot
    be read, or is an mbox (its header lines hold ids: nothing of it is a refs line)."""
    try:
        with _open_regular(path) as f:
            data = f.read()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    if data.lstrip().startswith(b"From "):
        # Its header lines hold ids, its other lines would be skipped: refuse it whole.
        raise SourceError(f"{path} is a mailbox, not a refs file: import it with --mailbox")
    lines, skipped = [], []
    every = data.splitlines()
    for number, line in enumerate(every, 1):
        if not line.strip():
            continue
        tokens = line.split()
        if all(len(t) > 2 and t[0] == 60 and t[-1] == 62 for t in tokens):  # all "<id>"
            ids = [token[1:-1].decode("latin-1") for token in tokens]
        else:
            ids = parse_ids(line, bare=False) if b"<" in line else []
        ids = [msgid for msgid in ids if is_msgid(msgid)]  # <yes> ties nothing
        if ids:
            lines.append(ids)
        else:
            skipped.append(number)
    return lines, skipped, len(every)
