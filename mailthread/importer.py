"""Reading threads from mailboxes (mbox, Maildir, MH) and from the old scripts' refs files.

Everything here returns plain data (lists of ids and subjects); ``Store.add_threads``
records it. Not on the per-mail path.
"""

from __future__ import annotations

import mailbox
import os
from collections import Counter
from collections.abc import Iterable, Iterator

from mailthread.message import Header, parse_ids


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
        box = mailbox.mbox(path, create=False)
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
        self._count = 0
        self.skipped: Counter[str] = Counter()
        self.facts: list = []  # message.Facts of each message read, for the message index

    def add(self, ids: list[str], subject: str | None = None) -> None:
        """One message's ids (or one refs line): they all belong together."""
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
            candidates.append(self._subjects[root])
            members[root] += new
        else:
            root = new[0]
            members[root] = new
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
        if not facts.ids:
            self.skipped["no ids"] += 1
            return
        self.facts.append(facts)
        self.add(facts.ids, subject)

    def threads(self) -> list[tuple[list[str], str | None]]:
        """(ids, subject) of each conversation, in the order they were first seen."""
        return [(ids, self._subjects[root][2]) for root, ids in self._members.items()]


def refs_file_lines(path: str) -> Iterable[list[str]]:
    """The ids of each line of an old refs file (`<id> <id> ` per thread). Blank lines are
    skipped; a line with text but no ``<id>`` is a SourceError naming it."""
    try:
        with _open_regular(path) as f:
            data = f.read()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    lines = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        tokens = line.split()
        if all(len(t) > 2 and t[0] == 60 and t[-1] == 62 for t in tokens):  # all "<id>"
            ids = [token[1:-1].decode("latin-1") for token in tokens]
        else:
            ids = parse_ids(line, bare=False)
        if not ids or b"<" not in line:
            raise SourceError(f"{path}, line {number}: no <message-id> in {line[:60]!r}")
        lines.append(ids)
    return lines
