"""The thread store: one SQLite file of threads, each a set of message ids on a list.

Stdlib ``sqlite3`` only: this module is on the per-mail ``match`` path, where importing
sqlite-utils alone would cost several times a bare interpreter's start.

procmail runs deliveries in parallel while mutt may run ``add``: the file is in WAL mode
(readers never wait for a writer), every write is one ``BEGIN IMMEDIATE`` transaction (it
takes the write lock up front, so the busy timeout applies instead of a deadlock error), and
the busy timeout is long enough that writers queue rather than fail. A lookup reads in one
transaction, so it sees one snapshot even while a delivery renumbers a conversation, and
``match`` looks up and records in one write transaction (``Store.delivery``). ``expire``
works in short batches, so deliveries never wait behind it for more than one batch.
"""

from __future__ import annotations

import os
from collections import namedtuple

try:
    # The C module itself: the sqlite3 package around it also imports datetime to register
    # date adapters this store never uses: about 3 ms of the per-mail cost.
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - an interpreter without it
    import sqlite3

from mailthread.message import without_ids
from mailthread.msgid import is_msgid
from mailthread.subject import topic_keys

DEFAULT_TIMEOUT = 10.0
# Below this much free space, a failure to write is told with the free space beside it.
_LOW_SPACE = 1 << 20
_WRITE_ERRORS = ("SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
# SQLite builds before 3.32 allow only 999 bound parameters in one statement.
_CHUNK = 500
_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

# MIGRATIONS[n] takes a database from schema version n to n + 1 (PRAGMA user_version).
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE threads (
            id INTEGER PRIMARY KEY,
            list TEXT NOT NULL,
            subject TEXT,
            created TEXT NOT NULL,
            last_match TEXT,
            hits INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE ids (
            msgid TEXT PRIMARY KEY,
            thread INTEGER NOT NULL REFERENCES threads(id)
        ) WITHOUT ROWID""",
        "CREATE INDEX ids_thread ON ids(thread)",
    ],
    # 2: `add --for`: a thread's own idle lifetime, in seconds (NULL: until `expire`).
    ["ALTER TABLE threads ADD COLUMN expires_after INTEGER"],
    # 3: the message index. Every id a message names (and Outlook's conversation key, as
    # "thread-index:HEX") is a row; the ids of messages linked by their headers share a
    # conversation number. date: the Date of the latest message that named the id (seconds
    # since the epoch); subject (a hash of the normalised subject, never its text) and
    # to_me are known for the messages that were seen, not for ids only named as parents.
    # A `--subthread` thread is followed by its own ids only, never through the index (its
    # message is indexed like any other: its siblings share that conversation).
    [
        """CREATE TABLE seen (
            msgid TEXT PRIMARY KEY,
            conv INTEGER NOT NULL,
            date INTEGER NOT NULL,
            subject INTEGER,
            to_me INTEGER
        ) WITHOUT ROWID""",
        "CREATE INDEX seen_conv ON seen(conv)",
        "CREATE INDEX seen_subject ON seen(subject, date) WHERE subject IS NOT NULL",
        "CREATE INDEX seen_date ON seen(date)",
        "ALTER TABLE threads ADD COLUMN subthread INTEGER NOT NULL DEFAULT 0",
    ],
    # 4: thread numbers are never reused (counters keeps the highest ever given), so
    # `remove --thread N` read off an old `list` cannot hit another thread; and index dates
    # outside the sane window (see _index_date) count as now. (A counter, not a rebuild of
    # threads with AUTOINCREMENT: the migration stays instant on millions of threads.)
    [
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        "INSERT INTO counters SELECT 'threads', coalesce(max(id), 0) FROM threads",
        "UPDATE seen SET date = CAST(strftime('%s', 'now') AS INTEGER)"
        " WHERE date > CAST(strftime('%s', 'now') AS INTEGER) + 86400 OR date < 631152000",
    ],
    # 5: a thread's topics (``_topics``): what a reply linked to it must be under not to
    # be a fork -- "t" and the hash of a subject's topic (message.subject_topic), "p" and
    # a patch series (message.patch_series), blank-separated. NULL: read them off the
    # thread's subject (threads recorded before). And the Message-IDs of the list digests
    # `match` saw, with their Date (seconds since the epoch): a reply naming one links by
    # its own subject, not through the digest (``without_digests``).
    [
        "ALTER TABLE threads ADD COLUMN topics TEXT",
        "CREATE TABLE digests (msgid TEXT PRIMARY KEY, date INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE INDEX digests_date ON digests(date)",
    ],
    # 6: how and when each id joined its thread, for `explain` (``joined``): how is "add",
    # "add --subthread", "import FROM" (FROM: the mailboxes and refs files) or, for an id
    # `match` learned, "match BY ID" (BY: In-Reply-To, References, index, thread-index or
    # subject, the field or rule that linked the message; ID the id it found in the
    # thread); joined is UTC, YYYY-MM-DDTHH:MM:SSZ. NULL for ids recorded before. And a
    # thread's lifetime as `add --for` was given it ("1w"), for `list` to show it so; it
    # counts only while expires_after is that many seconds (``name_lifetime``).
    [
        "ALTER TABLE ids ADD COLUMN how TEXT",
        "ALTER TABLE ids ADD COLUMN joined TEXT",
        "ALTER TABLE threads ADD COLUMN expires_given TEXT",
    ],
]
# When a thread was last active: its last match, or when it was recorded.
_ACTIVITY = "coalesce(threads.last_match, threads.created)"
# Threads whose own lifetime (`add --for`) has passed without a match; `match` skips them.
_LAPSED = (
    f"(threads.expires_after IS NOT NULL AND {_ACTIVITY} <"
    " strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || threads.expires_after || ' seconds'))"
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used: missing folder, locked too long, corrupt, read-only..."""


# (namedtuple, not typing.NamedTuple: importing typing costs the per-mail path ~7 ms.)
# msgid: the stored id that linked the message to the thread; rule: how it was linked --
# "id" (one of its own ids is in the thread), "index" (the message index links one of its
# ids to the thread), "thread-index" (Outlook's conversation key does) or "subject"; or
# "fork": one of the first three links it, but under a new subject (``Store.decide``), and
# forks of that thread are not followed -- it belongs to no thread.
# followed: a fork that matched only because its thread is on FOLLOWED_LIST; matching it
# teaches that thread nothing (its id stays free for a thread of its own: ``add``).
Hit = namedtuple("Hit", "msgid thread list rule followed", defaults=(False,))
# How long after a thread's last message a reply that only its subject links still counts.
SUBJECT_WINDOW = 30 * 86400
# Forks of threads on this list are followed unless ``follow_forks`` says otherwise: a
# watcher wants the branches of a conversation, and watched mail is delivered anyway.
FOLLOWED_LIST = "watched"
# The ids of a message that only its subject links to a conversation go into the index as
# "subject:HASH:ID" (HASH: its normalised subject's): only a message of the same subject
# follows them (docs/threat-model.md, "Claimed ids").
_BOUND = "subject:"
# At most this many ids of one message go into the index (real References hold under 40).
_MAX_KEYS = 100
# The index takes a message's Date only within this window, else the time it sees it: one
# reply dated 9999 would raise its conversation's date for good (later replies beyond the
# subject window, the entries never expired), one dated 1970 would hide it. A day ahead
# covers wrong time zones (at most 14 h) and skewed clocks; 1990-01-01 comes before any
# mailbox worth importing, and after the epoch (0) and misread years (1900) of broken
# clients. Old mail within the window keeps its date: an import of a 2005 mailbox must
# not look recent.
_DATE_AHEAD = 86400
_DATE_EARLIEST = 631152000  # 1990-01-01T00:00:00Z
# Threads scanned (and at most deleted) by one write transaction of `expire`, and index
# entries deleted by one: a few milliseconds of the write lock each.
EXPIRE_BATCH = 2000
# new_ids: ids that were not stored before; merged: other threads merged into this one;
# changed: whether anything changed (new, merged, more ids, another list or lifetime);
# fork_of: the thread the message is a fork of, when it was recorded as a thread of its own
# (``add_message``), else None.
Added = namedtuple("Added", "thread list new_ids merged created changed fork_of", defaults=(None,))
# A thread as `list`, `remove` and `expire` show it; ids: how many message ids it holds.
# expires_after: the thread's own lifetime in seconds (None: none); expires_given: that
# lifetime as `add --for` was given it ("1w"), if it still is that one.
Thread = namedtuple(
    "Thread", "id list subject ids created last_match hits expires_after expires_given"
)
_THREAD_COLUMNS = (
    "threads.id, threads.list, threads.subject,"
    " (SELECT count(*) FROM ids WHERE ids.thread = threads.id),"
    " threads.created, threads.last_match, threads.hits, threads.expires_after,"
    " threads.expires_given"
)


class PathError(StoreError):
    """The database's path is not one to use: not a file path, relative where it must not
    be, in a folder every user may write to, or no home folder to put it in."""


def default_path(environ) -> str:
    """``$MAILTHREAD_DB``, else ``$XDG_DATA_HOME/mailthread/threads.db``, else under
    ``~/.local/share`` (the XDG base directory spec ignores a relative XDG_DATA_HOME).

    PathError when ``$MAILTHREAD_DB`` is relative: an MDA, mutt and cron each run in
    another working folder (procmail's is ``$MAILDIR``), so each would use another file.
    PathError when there is no home folder to put it in: ``$HOME`` empty or relative, or
    unset with no passwd entry (``~`` would otherwise become a folder named ``~`` in the
    working folder)."""
    if environ.get("MAILTHREAD_DB"):
        path = environ["MAILTHREAD_DB"]
        if path == "~" or path.startswith("~/"):
            path = _home(environ) + path[1:]
        else:
            path = os.path.expanduser(path)  # ~user/...
        if not os.path.isabs(path):
            raise PathError(f"MAILTHREAD_DB must be an absolute path, not {path!r}")
        return path  # absolute: neither "", ":memory:" nor a "file:" URI (check_path)
    data_home = environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(_home(environ), ".local", "share")
    return os.path.join(data_home, "mailthread", "threads.db")


def _home(environ) -> str:
    home = environ.get("HOME")
    if home is None:
        import pwd  # built in; only without $HOME

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
    if not os.path.isabs(home):
        raise PathError("no home folder: set HOME, or MAILTHREAD_DB to the database's path")
    return home


def check_path(path: str) -> str:
    """``path`` if SQLite would take it for a file's name; PathError for ``""`` and
    ``:memory:`` (a database that is gone at exit) and ``file:`` URIs."""
    if path in ("", ":memory:") or path.startswith("file:"):
        raise PathError(f"{path!r} is not a database file's path")
    return path


def _private_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents, each 0700 whatever the umask (``os.makedirs``
    applies its mode to the last one only, and through the umask). Folders that exist are
    left as they are."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # another process made it meanwhile
        os.chmod(folder, 0o700)


def _check_folder(path: str) -> None:
    """PathError when the database is not a regular file (a folder, /dev/null, a FIFO), is
    another user's, or when its folder is writable by every user: anyone could put another
    database, or ``-wal`` file, in its place (even with the sticky bit: the side files' names
    are free). A symbolic link is judged by what it points to, as SQLite follows it and
    keeps its side files beside the file it points to."""
    import stat

    path = os.path.realpath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(info.st_mode):
            raise PathError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise PathError(f"{path} belongs to another user: use a database of your own")
    for side in (f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        # SQLite applies a log it finds beside the file: one planted by another user (in a
        # folder others may write to, e.g. a shared group's) would decide the marks.
        try:
            if os.stat(side).st_uid != os.geteuid():
                raise PathError(f"{side} belongs to another user: remove it")
        except FileNotFoundError:
            pass
    folder = os.path.dirname(path) or "."
    if os.stat(folder).st_mode & stat.S_IWOTH:
        raise PathError(
            f"the database's folder {folder} is writable by every user: use a private folder"
        )


def _now() -> int:
    import time

    return int(time.time())


def _index_date(facts) -> int:
    """The date the index gives a message (seconds since the epoch): its Date header
    field, unless it has none or one outside the window above; then now."""
    now = _now()
    date = facts.date
    if date is None or not _DATE_EARLIEST <= date <= now + _DATE_AHEAD:
        return now
    return date


# Every id handed to the store is a message id (``message.is_msgid``): ``Header.facts``,
# ``cli.message_facts`` and the refs-file import drop `<yes>` and its kind where ids are
# read, so the store looks up and records what it is given; only ids read back from an
# older database are filtered (``_members``).


def _keys(facts) -> list[str]:
    """What the index keeps of a message: its message ids, and its Outlook conversation
    key."""
    keys = facts.ids[:_MAX_KEYS]
    if facts.thread_index:
        keys.append(facts.thread_index)
    return keys


def _bound(facts, keys: list[str]) -> list[str]:
    """``keys`` as the index holds them for a message of ``facts``'s subject that only its
    subject linked."""
    if facts.subject is None:
        return []
    return [f"{_BOUND}{facts.subject}:{key}" for key in keys]


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def topics_of(facts) -> set[str]:
    """The topics a message (``message.Facts``) gives a thread recorded from it: "t" and
    the hash of its subject's topic (of "" when it has no Subject: a reply that gives it one
    is a fork), "p" and its patch series when it has one."""
    return subject_topics("" if facts.text is None else facts.text)


def subject_topics(text: str | None) -> set[str]:
    """The topics of a decoded subject (``message.topic_keys``), as ``threads.topics``
    holds them. None (a thread recorded without one: a refs file) gives no topics --
    unknown, not empty."""
    topic, series = topic_keys(text)
    if topic is None:
        return set()
    return {f"t{topic}"} if series is None else {f"t{topic}", f"p{series}"}


def _message_topics(facts) -> tuple[str, str | None] | None:
    """A message's (``message.Facts``) topic and patch series as ``topics`` tokens, or None
    without a Subject field (no topic: no fork)."""
    topic, series = topic_keys(facts.text)
    if topic is None:
        return None
    return f"t{topic}", None if series is None else f"p{series}"


def _forks(mine: tuple[str, str | None], topics: set[str]) -> bool:
    """Whether a message of ``mine`` (``_message_topics``) is a fork of a thread of
    ``topics``: they are known, its topic is none of them, and it is no patch of their
    series. (A patch of the series is followed whatever its title, but its title never
    becomes a topic: a stranger's "[PATCH 1/2] <your topic>" naming one of your messages
    would otherwise make your conversation a topic of the muted series.)"""
    topic, series = mine
    return bool(topics) and topic not in topics and series not in topics


def _topics(stored: str | None, subject: str | None) -> set[str]:
    """A thread's topics from its row: the ``topics`` column, or for a thread recorded
    before schema 5 (NULL), those of its stored subject."""
    return set(stored.split()) if stored is not None else subject_topics(subject)


def _topics_text(topics: set[str] | None) -> str:
    """The ``topics`` column for a set of topics ("" when none is known)."""
    return " ".join(sorted(topics or ()))


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Store:
    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str, timeout: float = DEFAULT_TIMEOUT, durable: bool = True) -> Store:
        """Open the store, creating it (and its folder, private to the owner) on first use.
        Not ``durable``: a commit does not wait for the disk, so a power cut may undo the
        last ones (the database stays consistent)."""
        check_path(path)
        try:
            exists = os.path.exists(path)
            if not exists:
                _private_folders(os.path.dirname(path))
            _check_folder(path)
            if not exists:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except OSError as e:
            raise StoreError(f"cannot create database {path}: {e.strerror}") from None
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {path}: {e}") from None
        store = cls(conn, path)
        with store._errors():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                store._migrate(version, timeout)
            if not durable:
                conn.execute("PRAGMA synchronous=NORMAL")
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close()

    def _errors(self):
        return _ErrorsAsStoreError(self)

    def _migrate(self, version: int, timeout: float) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this "
                f"mailthread knows ({SCHEMA_VERSION}): upgrade mailthread"
            )
        conn = self.conn
        # journal_mode cannot change inside a transaction; it is stored in the file.
        self._wal(timeout)
        with self._transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:
                raise StoreError(f"{self.path} is an SQLite database, but not mailthread's")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def _wal(self, timeout: float) -> None:
        """Put the file in WAL mode. While another process holds the write lock on a file
        still in rollback mode (two first uses at once), SQLite refuses the switch at once,
        without the busy timeout: wait here instead, as long as the timeout allows."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _transaction(self):
        return _Transaction(self.conn)

    def _snapshot(self):
        return _Transaction(self.conn, "DEFERRED")

    def delivery(self):
        """A context manager: one write transaction (``BEGIN IMMEDIATE``, the busy timeout
        applies) for a delivery's ``lookup``, ``parent_to_me`` and ``record``, so that what
        it records follows from what it looked up: no other write comes between them.
        StoreError when the write lock is not had within the timeout."""
        return _Delivery(self)

    # -- match -----------------------------------------------------------------------------
    #
    # The linking rules, their order of strength and when each stops the weaker ones:
    # ``decide``. Lists given to ``match`` filter its answer (``lookup``), nothing more.

    def find(self, ids: list[str], lists: tuple[str, ...] = ()) -> Hit | None:
        """The thread of the first id in ``ids`` that is stored (on one of ``lists``)."""
        list_filter = f" AND threads.list IN ({_marks(len(lists))})" if lists else ""
        with self._errors():
            for chunk in _chunks(ids):
                rows = self.conn.execute(
                    "SELECT ids.msgid, threads.id, threads.list FROM ids"
                    " JOIN threads ON threads.id = ids.thread"
                    f" WHERE ids.msgid IN ({_marks(len(chunk))}){list_filter}"
                    f" AND NOT {_LAPSED}",
                    [*chunk, *lists],
                ).fetchall()
                if rows:
                    found = {row[0]: row for row in rows}
                    for msgid in chunk:
                        if msgid in found:
                            return Hit(*found[msgid], "id")
        return None

    def lookup(
        self,
        facts,
        lists: tuple[str, ...] = (),
        window: int | None = SUBJECT_WINDOW,
        follow_forks: bool = False,
    ) -> Hit | None:
        """The thread of a message (``message.Facts``) as ``decide`` finds it, if it is on
        one of ``lists`` (any list when none is given). A message whose thread is on another
        list is on none of them: no weaker rule, nor a farther id, is tried for it; nor for
        a fork that is not followed."""
        hit = self.decide(facts, window, follow_forks)
        if hit is None or hit.rule == "fork" or (lists and hit.list not in lists):
            return None
        return hit

    def decide(
        self, facts, window: int | None = SUBJECT_WINDOW, follow_forks: bool = False
    ) -> Hit | None:
        """The one thread a message (``message.Facts``) belongs to, on whatever list, or
        None; ``Hit.rule`` names the rule that decided. The rules, strongest first: the
        first that finds a live thread (that the message is no fork of: see below)
        decides, and no weaker rule, nor a farther id, is tried after it.

        1. ``id``: the nearest of its ids (``facts.ids``: Message-ID, In-Reply-To, then
           References last to first) that a thread holds. The only rule that finds a
           sub-thread (``add --subthread``).
        2. ``index``: the conversations the message index holds its ids in (its message
           ids, and those bound to its subject): the newest whole thread holding an id of
           one of them.
        3. ``thread-index``: the conversation of its Outlook Thread-Index key, the same way.
           Tried also when rule 2 found conversations in no thread: recording the message
           joins them to the key's (docs/threat-model.md, "Claimed ids", known limit).
        4. ``subject``, with a ``window`` (seconds): the one conversation of its normalised
           reply subject dated within the window (``_subject_conv``), the same way. Never
           for a message without a reply prefix; stopped when the index holds one of its
           parents in another conversation (rule 2 linked it there, thread or none), and
           when two conversations fit.

        A fork -- a message that a rule links to a thread whose topics its subject's is
        none of (``_fork``) -- starts a new conversation, as in Gmail. Each rule tries its
        threads in order (nearest id, newest thread) for one the message is no fork of, and
        the first such thread, by any rule, decides; when there is none, the first thread
        found decides as a fork: its Hit has rule "fork". Unless ``follow_forks`` (mutt's
        thread view), or the thread is on the list "watched".

        A list digest (``message.is_digest_subject``, or Content-Type multipart/digest)
        belongs to no thread; pass a reply through ``without_digests`` first, so that it
        links by its own subject, not through the digest's id.

        A thread whose own lifetime has passed (``add --for``) counts as none. ``match``,
        ``explain`` and ``remove`` all decide here; what ``record`` teaches follows the
        same decision."""
        if facts.digest:
            return None  # many conversations in one message: it belongs to none
        # One read transaction: a delivery that renumbers a conversation meanwhile cannot
        # show one statement the old numbers and the next the new ones.
        with self._errors(), self._snapshot():
            # Each rule tries its threads in order, and the first one the message is no
            # fork of decides; a fork is the answer only when no rule finds a thread of
            # its topic (muting a fork too must not unmute the replies that go back to the
            # old subject; muting a fork must catch its replies that name only ids of the
            # thread it forked).
            fork = None
            # 1. id: the nearest id a thread holds.
            hits = self._holders(facts.ids)
            if hits:
                hit = self._first_not_forked(facts, hits, follow_forks)
                if hit.rule != "fork":
                    return hit
                fork = hit
            # 2. index, 3. thread-index: the conversations its keys are in. Recording the
            # message joins them, so the key's conversation counts as well -- after the
            # conversations of its ids.
            keys = _keys(facts)
            convs = self._convs(keys + _bound(facts, keys))
            if convs:
                by_ids = {conv for key, conv in convs.items() if "thread-index:" not in key}
                rows = self._threads_of_convs(convs.values(), by_ids)
                if rows:
                    hits = [
                        Hit(msgid, thread, list_name, "index" if conv in by_ids else "thread-index")
                        for msgid, thread, list_name, conv in rows
                    ]
                    hit = self._first_not_forked(facts, hits, follow_forks)
                    if hit.rule != "fork":
                        return hit
                    fork = fork or hit
            # 4. subject: only for a reply that nothing above links (see _subject_conv).
            if window is None:
                return fork
            conv = self._subject_conv(facts, window)
            rows = [] if conv is None else self._threads_of_convs([conv])
            if not rows:
                return fork
            # The conversation may be another topic's thread, holding the one this subject
            # names as a fork of it.
            hits = [Hit(row[0], row[1], row[2], "subject") for row in rows]
            hit = self._first_not_forked(facts, hits, follow_forks)
            return hit if hit.rule != "fork" else fork or hit

    def _first_not_forked(self, facts, hits: list[Hit], follow_forks: bool) -> Hit:
        """The first of ``hits`` (in order of preference) that the message is no fork of;
        else the first, as a fork (``_fork``)."""
        mine = _message_topics(facts)  # once, for all of them
        first = None
        for hit in hits:  # each a query: none after the one that decides
            decided = self._fork(facts, hit, follow_forks, mine)
            if decided.rule != "fork":
                return decided
            first = first or decided
        return first

    def _holders(self, ids: list[str]) -> list[Hit]:
        """For each live thread holding one of ``ids``, the nearest id it holds: nearest
        first (``find`` for all of them)."""
        found: dict[str, tuple] = {}
        with self._errors():
            for chunk in _chunks(ids):
                for row in self.conn.execute(
                    "SELECT ids.msgid, threads.id, threads.list FROM ids"
                    " JOIN threads ON threads.id = ids.thread"
                    f" WHERE ids.msgid IN ({_marks(len(chunk))}) AND NOT {_LAPSED}",
                    chunk,
                ):
                    found[row[0]] = row
        hits, seen = [], set()
        for msgid in ids:
            row = found.get(msgid)
            if row is not None and row[1] not in seen:
                seen.add(row[1])
                hits.append(Hit(*row, "id"))
        return hits

    def _fork(self, facts, hit: Hit, follow_forks: bool, mine) -> Hit:
        """``hit``, with rule "fork" when the message is a fork of its thread that is not
        followed.

        A thread's topics are those of the messages it was recorded from (``add``, an
        import: ``topics_of``). A message is a fork when its topic is none of them, and it
        is no patch of their series: so its place in the conversation does not matter (a
        reply under the old subject to a fork is no fork; a reply to the fork under the
        fork's subject is). Not a fork: a message whose own Message-ID the thread holds
        (no reply), a reply to a thread whose topics are unknown (a refs-file import), a
        message without a Subject field (it says nothing of its topic). An empty subject is
        the empty topic: a fork of a thread with a subject, and the reverse (a thread
        recorded from a message without a Subject has the empty topic too). ``mine``: the
        message's ``_message_topics``."""
        if mine is None or hit.msgid == facts.own:
            return hit
        row = self.conn.execute(
            "SELECT topics, subject FROM threads WHERE id = ?", (hit.thread,)
        ).fetchone()
        if not _forks(mine, _topics(*row) if row is not None else set()):
            return hit
        if follow_forks:
            return hit
        if hit.list == FOLLOWED_LIST:
            return hit._replace(followed=True)  # marked, but it joins no thread
        return hit._replace(rule="fork")

    def without_digests(self, facts):
        """``facts`` (``message.Facts``) without the ids of the list digests the index
        knows (``_observe`` notes each digest delivered): a reply to a digest names many
        conversations through it, and is linked by what else it names and by its own
        subject. The same ``facts`` when it names none."""
        parents = facts.parents[:_MAX_KEYS]
        if not parents:
            return facts
        with self._errors():
            digests = {
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM digests WHERE msgid IN ({_marks(len(parents))})",
                    parents,
                )
            }
        return without_ids(facts, digests) if digests else facts

    def _convs(self, keys: list[str]) -> dict[str, int]:
        """key -> conversation, for the keys the index knows."""
        found: dict[str, int] = {}
        for chunk in _chunks(keys):
            found.update(
                self.conn.execute(
                    f"SELECT msgid, conv FROM seen WHERE msgid IN ({_marks(len(chunk))})", chunk
                )
            )
        return found

    def _threads_of_convs(self, convs, first=(), limit: int = 8) -> list[tuple]:
        """(msgid, thread, list, conv) of the live whole threads holding an id of one of
        ``convs``, newest first (those holding one of ``first`` before the rest), at most
        ``limit``. Sub-threads are never found here: a sibling of a sub-thread's message is
        in its conversation too."""
        convs = sorted(set(convs))
        first = sorted(set(first))
        preferred = f"seen.conv IN ({_marks(len(first))})" if first else "0"
        # One row per thread; SQLite takes the bare columns from the row of max().
        rows = self.conn.execute(
            f"SELECT ids.msgid, threads.id, threads.list, seen.conv, max({preferred}) AS pref"
            " FROM seen JOIN ids ON ids.msgid = seen.msgid"
            " JOIN threads ON threads.id = ids.thread"
            f" WHERE seen.conv IN ({_marks(len(convs))}) AND threads.subthread = 0"
            f" AND NOT {_LAPSED} GROUP BY threads.id ORDER BY pref DESC, threads.id DESC"
            " LIMIT ?",
            [*first, *convs, limit],
        ).fetchall()
        return [row[:4] for row in rows]

    def _subject_conv(self, facts, window: int) -> int | None:
        """For a reply that nothing else links: the one conversation with a message of the
        same normalised subject, if the reply is dated within ``window`` after that
        conversation's last message. None when the index knows one of the reply's parents
        to be in another conversation, or when several conversations of that subject fit."""
        if not facts.reply or facts.subject is None:
            return None
        date = _index_date(facts)
        # The message itself may be in the index already (explain after match).
        itself = set(self._convs([facts.own]).values()) if facts.own else set()
        first: dict[int, int] = {}  # conversation -> its earliest date with this subject
        for conv, when in self.conn.execute(
            "SELECT conv, date FROM seen WHERE subject = ? ORDER BY date DESC LIMIT 50",
            (facts.subject,),
        ):
            first[conv] = when
        candidates = set()
        for conv, earliest in first.items():
            if conv in itself:
                continue
            (last,) = self.conn.execute(
                "SELECT max(date) FROM seen WHERE conv = ?", (conv,)
            ).fetchone()
            if earliest - window <= date <= last + window:
                candidates.add(conv)
        if len(candidates) != 1:
            return None  # no conversation of this subject, or several: two called "Help"
        parents = self._convs(facts.parents[:_MAX_KEYS])
        if set(parents.values()) - candidates - itself:
            return None
        return candidates.pop()

    def parent_to_me(self, facts) -> bool | None:
        """Whether the nearest parent the index saw was addressed to me (None: unknown).
        A parent that its subject linked counts for a message of the same subject."""
        parents = facts.parents[:_MAX_KEYS]
        if not parents:
            return None
        bound = _bound(facts, parents)
        with self._errors():
            known = dict(
                self.conn.execute(
                    "SELECT msgid, to_me FROM seen"
                    f" WHERE msgid IN ({_marks(len(parents) + len(bound))}) AND to_me IS NOT NULL",
                    parents + bound,
                )
            )
        for msgid in parents + bound:
            if msgid in known:
                return bool(known[msgid])
        return None

    def record(
        self,
        facts,
        hit: Hit | None = None,
        to_me: bool | None = None,
        window: int | None = SUBJECT_WINDOW,
        by: str | None = None,
    ) -> None:
        """Put a message into the index and, when it matched ``hit``, count the match and
        add its own id to that thread -- one write transaction; ``by`` names the header
        field that held ``hit.msgid`` ("In-Reply-To", "References"), kept with the id
        (``joined``; default: the rule). A reply that nothing else
        links -- no rule stronger than the subject links it to a thread, on any list --
        joins, in the index, the conversation its subject names (see ``decide``) whether
        or not that one is in a thread, unless ``window`` is None. What a claimed
        id may teach: docs/threat-model.md, "Claimed ids"."""
        with self._errors(), self._transaction():
            learnable = self._observe(facts, hit, to_me, window)
            if hit is not None:
                self._learn(hit, facts.own if learnable and not hit.followed else None, by)

    def _observe(
        self,
        facts,
        hit: Hit | None = None,
        to_me: bool | None = None,
        window: int | None = None,
    ) -> bool:
        """Put a message into the index; whether its own id is its to teach (False when
        the id is claimed: see docs/threat-model.md, "Claimed ids").

        A message that only its subject links (or only ids that a subject linked, under
        the same subject, or only its Outlook Thread-Index) joins that conversation with its
        ids bound to its subject (``_bound``): they link later messages of that subject
        only, and no conversation its ids are in already joins on the subject's word. A
        message whose own id the index holds as a delivered message's, in a conversation
        its other ids are not all in (another message claiming that id), leaves that entry
        as it is. A list digest is no message of the index: its Message-ID goes into the
        table of digests (``without_digests``) -- unless the index or a thread knows that
        id already: a "digest" claiming a message's id must not cut that message's replies
        from it."""
        if facts.digest:
            if facts.own is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO digests (msgid, date) SELECT ?, ?"
                    " WHERE NOT EXISTS (SELECT 1 FROM seen WHERE msgid = ?)"
                    " AND NOT EXISTS (SELECT 1 FROM ids WHERE msgid = ?)",
                    (facts.own, _index_date(facts), facts.own, facts.own),
                )
            return False
        keys = _keys(facts)
        if not keys:
            return False
        conn = self.conn
        bound_keys = _bound(facts, keys)
        found: dict[str, tuple[int, int]] = {}  # key -> (conversation, seen as a message)
        bound = set()  # the conversations that subject-bound ids of this subject link it to
        every = keys + bound_keys
        for chunk in _chunks(every):
            for key, conv, delivered in conn.execute(
                "SELECT msgid, conv, subject IS NOT NULL OR to_me IS NOT NULL FROM seen"
                f" WHERE msgid IN ({_marks(len(chunk))})",
                chunk,
            ):
                if key.startswith(_BOUND):
                    bound.add(conv)
                else:
                    found[key] = (conv, delivered)
        by_subject = None
        if hit is not None and hit.rule == "subject":
            by_subject = next(iter(self._convs([hit.msgid]).values()), None)
        else:
            # Linked, if at all, only as a subject links: by ids that a subject linked,
            # by its subject, or by its Outlook Thread-Index alone (a sender writes that as
            # freely as a subject, and it vouches for as little).
            if not found and bound:
                by_subject = min(bound)
            elif not found and hit is None and window is not None:
                by_subject = self._subject_conv(facts, window)
            elif len(found) == 1 and facts.thread_index in found:
                by_subject = found[facts.thread_index][0]
            # ...unless a thread holds one of its ids: the id rule links it, and a weaker
            # one never overrides it (a hit by id, or none under a list filter).
            if by_subject is not None and (
                hit.rule == "id" if hit is not None else self.find(facts.ids) is not None
            ):
                by_subject = None
        own = facts.own if facts.own in keys else None
        if by_subject is not None:
            # Linked by its subject alone: its ids follow only for the same subject, and no
            # conversation its ids are in joins on the subject's word.
            subject = facts.subject
            keys, target = bound_keys, by_subject
        elif hit is not None and hit.rule == "subject":
            return False  # the thread's entry went meanwhile (not inside one delivery)
        else:
            mine = found.get(own, (None, 0))
            if mine[1] and any(found.get(key, (None,))[0] != mine[0] for key in keys):
                # Another message claims a delivered message's id: the rest of it counts.
                keys = [key for key in keys if key != own]
                found.pop(own)
                own = None
            # A delivered message's own entry keeps a subject (0: it had none), the mark of
            # an id taken; the ids only named as parents keep none.
            subject = None if own is None else (facts.subject or 0)
            convs = {conv for conv, _ in found.values()}
            if not convs:
                (target,) = conn.execute("SELECT coalesce(max(conv), 0) + 1 FROM seen").fetchone()
            elif len(convs) == 1:
                (target,) = convs
            else:
                # Renumber the smaller conversations: the work is their size, never the
                # index's.
                sizes = {
                    conv: conn.execute(
                        "SELECT count(*) FROM seen WHERE conv = ?", (conv,)
                    ).fetchone()[0]
                    for conv in convs
                }
                target = max(sorted(convs), key=sizes.__getitem__)
                others = sorted(convs - {target})
                conn.execute(
                    f"UPDATE seen SET conv = ? WHERE conv IN ({_marks(len(others))})",
                    [target, *others],
                )
        date = _index_date(facts)
        mark = None if own is None or to_me is None else int(to_me)
        conn.executemany(
            "INSERT INTO seen (msgid, conv, date, subject, to_me) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (msgid) DO UPDATE SET conv = excluded.conv,"
            " date = max(date, excluded.date), subject = coalesce(excluded.subject, subject),"
            " to_me = coalesce(excluded.to_me, to_me)",
            [
                (key, target, date, subject if i == 0 else None, mark if i == 0 else None)
                for i, key in enumerate(keys)
            ],
        )
        return own is not None and by_subject is None

    def index_messages(self, messages) -> None:
        """Put messages (``message.Facts``) into the index, in one transaction: what an
        import read, so that later replies find their conversation (by subject too)."""
        with self._errors(), self._transaction():
            for facts in messages:
                self._observe(facts)

    def conversation(self, facts) -> list[str]:
        """The ids of every message the index links to this one (its own included)."""
        with self._errors(), self._snapshot():
            return self._members(facts)

    def expire_index(self, age: int, dry_run: bool = False, batch: int = EXPIRE_BATCH) -> int:
        """Drop the index entries of messages (and list digests) dated more than ``age``
        seconds ago; return how many. At most ``batch`` entries go in one write transaction
        (see ``expire``)."""
        cutoff = _now() - age
        if dry_run:
            with self._errors():
                return self.conn.execute(
                    "SELECT (SELECT count(*) FROM seen WHERE date < ?)"
                    " + (SELECT count(*) FROM digests WHERE date < ?)",
                    (cutoff, cutoff),
                ).fetchone()[0]
        with self._errors(), self._transaction():
            count = self.conn.execute("DELETE FROM digests WHERE date < ?", (cutoff,)).rowcount
        while True:
            with self._errors(), self._transaction():
                deleted = self.conn.execute(
                    "DELETE FROM seen WHERE msgid IN"
                    " (SELECT msgid FROM seen WHERE date < ? LIMIT ?)",
                    (cutoff, batch),
                ).rowcount
            count += deleted
            if deleted < batch:
                return count

    def learn(self, hit: Hit, own_id: str | None, by: str | None = None) -> None:
        """Count a match and add the message's own id to the thread that matched it."""
        with self._errors(), self._transaction():
            self._learn(hit, own_id, by)

    def _learn(self, hit: Hit, own_id: str | None, by: str | None) -> None:
        # The thread is looked up again inside the write transaction: an ``add`` running
        # meanwhile may have merged it into another one.
        if own_id is not None:
            self.conn.execute(
                f"INSERT OR IGNORE INTO ids (msgid, thread, how, joined)"
                f" SELECT ?, thread, ?, {_NOW} FROM ids WHERE msgid = ?",
                (own_id, f"match {by or hit.rule} {hit.msgid}", hit.msgid),
            )
        self.conn.execute(
            f"UPDATE threads SET hits = hits + 1, last_match = {_NOW}"
            " WHERE id = (SELECT thread FROM ids WHERE msgid = ?)",
            (hit.msgid,),
        )

    # -- add -------------------------------------------------------------------------------

    def add_message(
        self,
        facts,
        list_name: str,
        subject: str | None,
        lifetime: int | None = None,
        to_me: bool | None = None,
        window: int | None = SUBJECT_WINDOW,
        follow_forks: bool = False,
    ) -> Added:
        """Record the thread of a message on ``list_name``: its own ids (merging the stored
        threads that hold one of them, as ``add_thread``) and every id of the conversation
        the message index links it to (those already in another thread stay there).

        A reply that nothing else links joins, as ``match`` would record it (``_observe``,
        ``_subject_conv``), the one conversation its subject names within ``window``
        seconds (None: never), its ids bound to its subject: muting from an Outlook "RE:"
        with no References mutes the conversation it answers.

        Unless ``follow_forks``, threads of other topics are left as they are: a thread
        holding one of its ids whose topics the message's is none of keeps its ids and its
        list. When the nearest such id decides (``decide``: the message is a fork of that
        thread), the message is recorded as a thread of its own: its own id (taken from
        the thread that followed it, if one did) and those of its conversation's messages
        under its subject that no thread holds. Pressing W on a fork of a muted thread
        watches the fork, and leaves the thread muted. A fork with no Message-ID of its
        own, or whose Message-ID a thread already holds (another message claiming it),
        records nothing: the Added has thread None. The ids of the message and of its
        conversation that the index knows under another subject are not recorded either:
        they are other topics' (``_same_subject``)."""
        with self._errors(), self._transaction():
            self._observe(facts, None, to_me, window)
            other = set() if follow_forks else self._other_topics(facts)
            if other:
                hit = self.find(facts.ids)
                if hit is not None and hit.thread in other:
                    return self._record_fork(facts, hit.thread, list_name, subject, lifetime)
            ids, members = facts.ids, self._members(facts)
            if not follow_forks:
                ids, members = self._same_subject(facts, ids), self._same_subject(facts, members)
            added = self._record(ids, list_name, subject, lifetime, topics_of(facts), keep=other)
            more = self._insert_ids(((msgid, added.thread) for msgid in members), "add")
        return added._replace(new_ids=added.new_ids + more, changed=added.changed or more > 0)

    def _same_subject(self, facts, ids: list[str]) -> list[str]:
        """``ids`` without those the index knows as messages under another normalised
        subject than the message's (``message.Facts``); its own id stays. Ids only named
        as parents, whose subject nobody knows, stay."""
        mine = facts.subject or 0  # what _observe keeps for a message without a subject
        other: set[str] = set()
        for chunk in _chunks(ids):
            other.update(
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM seen WHERE msgid IN ({_marks(len(chunk))})"
                    " AND subject IS NOT NULL AND subject != ?",
                    [*chunk, mine],
                )
            )
        return [msgid for msgid in ids if msgid == facts.own or msgid not in other]

    def _other_topics(self, facts) -> set[int]:
        """The threads holding one of a message's ids (``message.Facts``) that it is a fork
        of (``_forks``)."""
        mine = _message_topics(facts)
        if mine is None:
            return set()
        other = set()
        for chunk in _chunks(facts.ids):
            for thread, *known in self.conn.execute(
                "SELECT DISTINCT threads.id, threads.topics, threads.subject FROM ids"
                " JOIN threads ON threads.id = ids.thread"
                f" WHERE ids.msgid IN ({_marks(len(chunk))})",
                chunk,
            ):
                if _forks(mine, _topics(*known)):
                    other.add(thread)
        return other

    def _record_fork(self, facts, fork_of: int, list_name, subject, lifetime) -> Added:
        """A fork of thread ``fork_of`` as a thread of its own (``add_message``)."""
        conn = self.conn
        if (
            facts.own is None
            or conn.execute("SELECT 1 FROM ids WHERE msgid = ?", (facts.own,)).fetchone()
        ):
            return Added(None, list_name, 0, 0, False, False, fork_of)
        ids = [facts.own]
        if facts.subject is not None:
            # Its conversation's messages under its subject, unless a thread holds them:
            # a stranger who sent a message under this subject naming your message, with
            # your message's id, must not pull that id out of the thread it is in.
            convs = sorted(set(self._convs(_keys(facts)).values()))
            for chunk in _chunks(convs):
                ids += [
                    msgid
                    for (msgid,) in conn.execute(
                        "SELECT msgid FROM seen WHERE subject = ?"
                        f" AND conv IN ({_marks(len(chunk))})"
                        " AND NOT EXISTS (SELECT 1 FROM ids WHERE ids.msgid = seen.msgid)",
                        [facts.subject, *chunk],
                    )
                    if is_msgid(msgid)
                ]
        target = self._new_thread(list_name, subject, lifetime, topics=topics_of(facts))
        new = self._insert_ids(((msgid, target) for msgid in dict.fromkeys(ids)), "add")
        return Added(target, list_name, new, 0, True, True, fork_of)

    def _members(self, facts) -> list[str]:
        keys = _keys(facts)
        convs = sorted(set(self._convs(keys + _bound(facts, keys)).values()))
        members: list[str] = []
        for chunk in _chunks(convs):
            members += [
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM seen WHERE conv IN ({_marks(len(chunk))})", chunk
                )
                if is_msgid(msgid) and not msgid.startswith(_BOUND)
            ]
        return members

    def add_thread(
        self, ids: list[str], list_name: str, subject: str | None, lifetime: int | None = None
    ) -> Added:
        """Record ``ids`` as one thread on ``list_name``, merging every stored thread that
        holds one of them into it. ``lifetime``: seconds without a match after which the
        thread lapses (None: it stays until ``expire``); the latest add decides."""
        return self.add_threads([(ids, subject)], list_name, lifetime, how="add")[0]

    def add_threads(
        self,
        threads,
        list_name: str,
        lifetime: int | None = None,
        topics=None,
        how: str = "import",
    ) -> list[Added]:
        """``add_thread`` for each (ids, subject) of ``threads``, in one transaction. The
        threads must not share ids with each other (``importer.Conversations`` sees to it).
        ``topics``: for each thread, the topics of its messages (``topics_of``), or None
        for those of its subject. ``how``: how the new ids joined, as schema 6 keeps it
        ("import FROM").

        An import of a million ids must take seconds: the threads that touch no stored one
        (all of them, on a first import) are written in two bulk statements.
        """
        conn = self.conn
        with self._errors(), self._transaction():
            stored: dict[str, int] = {}  # msgid -> thread, for the ids already recorded
            every_id = [msgid for ids, _ in threads for msgid in ids]
            for chunk in _chunks(every_id):
                stored.update(
                    conn.execute(
                        f"SELECT msgid, thread FROM ids WHERE msgid IN ({_marks(len(chunk))})",
                        chunk,
                    )
                )
            results: list[Added | None] = [None] * len(threads)
            fresh, whole = [], []
            for number, (ids, subject) in enumerate(threads):
                touched = {stored[msgid] for msgid in ids if msgid in stored}
                if not ids:
                    results[number] = Added(None, list_name, 0, 0, False, False)
                elif not touched:
                    fresh.append(number)
                elif len(touched) == 1 and all(msgid in stored for msgid in ids):
                    whole.append((number, touched.pop()))  # recorded before as one thread
                else:
                    mine = topics[number] if topics is not None else subject_topics(subject)
                    results[number] = self._record(ids, list_name, subject, lifetime, mine, how=how)
            settings: dict[int, tuple] = {}
            for chunk in _chunks([thread for _, thread in whole]):
                for thread, *setting in conn.execute(
                    "SELECT id, list, expires_after FROM threads"
                    f" WHERE id IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    settings[thread] = tuple(setting)
            moved = [thread for _, thread in whole if settings[thread] != (list_name, lifetime)]
            conn.executemany(
                "UPDATE threads SET list = ?, expires_after = ? WHERE id = ?",
                ((list_name, lifetime, thread) for thread in moved),
            )
            for number, thread in whole:
                changed = settings[thread] != (list_name, lifetime)
                results[number] = Added(thread, list_name, 0, 0, False, changed)
            first = self._numbers(len(fresh))
            conn.executemany(
                "INSERT INTO threads (id, list, subject, created, expires_after, topics)"
                f" VALUES (?, ?, ?, {_NOW}, ?, ?)",
                (
                    (
                        first + n,
                        list_name,
                        threads[number][1],
                        lifetime,
                        _topics_text(
                            topics[number]
                            if topics is not None
                            else subject_topics(threads[number][1])
                        ),
                    )
                    for n, number in enumerate(fresh)
                ),
            )
            # In key order, the B-tree grows at its end instead of splitting pages everywhere.
            rows = sorted(
                (msgid, first + n) for n, number in enumerate(fresh) for msgid in threads[number][0]
            )
            self._insert_ids(rows, how)
            for n, number in enumerate(fresh):
                new_ids = len(set(threads[number][0]))
                results[number] = Added(first + n, list_name, new_ids, 0, True, True)
        return results

    def _record(
        self,
        ids: list[str],
        list_name: str,
        subject: str | None,
        lifetime: int | None,
        topics: set[str] | None = None,
        keep: set[int] = frozenset(),
        how: str = "add",
    ) -> Added:
        """Record ``ids`` on one thread: the stored threads holding one of them, except
        those of ``keep`` (which keep their ids), merge into the oldest, with the union of
        their topics and ``topics``. ``how``: as schema 6 keeps it for each new id."""
        conn = self.conn
        existing: set[int] = set()
        for chunk in _chunks(ids):
            existing.update(
                row[0]
                for row in conn.execute(
                    f"SELECT DISTINCT thread FROM ids WHERE msgid IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        existing -= keep
        if existing:
            target, *others = sorted(existing)
            hits, last_match = 0, None
            union = set(topics or ())
            for chunk in _chunks(sorted(existing)):
                for thread_hits, thread_last, *known in conn.execute(
                    "SELECT hits, last_match, topics, subject FROM threads"
                    f" WHERE id IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    hits += thread_hits
                    if thread_last and (last_match is None or thread_last > last_match):
                        last_match = thread_last
                    union |= _topics(*known)
            for chunk in _chunks(others):
                marks = _marks(len(chunk))
                conn.execute(
                    f"UPDATE ids SET thread = ? WHERE thread IN ({marks})", [target, *chunk]
                )
                conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)
            conn.execute(
                "UPDATE threads SET list = ?, hits = ?, last_match = ?, expires_after = ?,"
                " subthread = 0, topics = ? WHERE id = ?",
                (list_name, hits, last_match, lifetime, _topics_text(union), target),
            )
        else:
            target, others = self._new_thread(list_name, subject, lifetime, topics=topics), []
        new = self._insert_ids(((msgid, target) for msgid in ids), how)
        return Added(target, list_name, new, len(others), not existing, True)

    def _insert_ids(self, rows, how: str) -> int:
        """Insert the (msgid, thread) ``rows`` no thread holds yet, noting ``how`` and when
        they joined (schema 6); how many were inserted."""
        before = self.conn.total_changes
        self.conn.executemany(
            f"INSERT OR IGNORE INTO ids (msgid, thread, how, joined) VALUES (?, ?, ?, {_NOW})",
            ((msgid, thread, how) for msgid, thread in rows),
        )
        return self.conn.total_changes - before

    def joined(self, msgid: str) -> tuple[str, str] | None:
        """How and when ``msgid`` joined the thread that holds it (see schema 6: e.g.
        ("match In-Reply-To p@host", "2026-11-30T15:07:00Z")); None when no thread holds
        it or it was recorded before schema 6."""
        with self._errors():
            row = self.conn.execute(
                "SELECT how, joined FROM ids WHERE msgid = ? AND how IS NOT NULL", (msgid,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def add_subthread(
        self,
        own_id: str,
        list_name: str,
        subject: str | None,
        lifetime: int | None = None,
        facts=None,
        to_me: bool | None = None,
    ) -> Added:
        """Record ``own_id`` alone as a thread on ``list_name`` (Thunderbird's "Ignore
        Subthread"); the thread it was in keeps its other ids, so the message's siblings
        keep their list and its replies follow the new one (the nearest stored id decides).

        ``facts`` (``message.Facts`` of the message): it goes into the message index like
        any other added message, so that its link to its parents outlives the sub-thread:
        once the sub-thread is removed or expired, a reply naming only this message falls
        back to the enclosing thread through the index. The sub-thread itself is found by
        its ids only (rule 1), never through the index: the message's siblings share its
        conversation and must keep the enclosing thread's list. ValueError when ``own_id``
        is no message id (``message.is_msgid``)."""
        if not is_msgid(own_id):
            raise ValueError(f"not a message id: {own_id!r}")
        conn = self.conn
        topics = None if facts is None else topics_of(facts)
        with self._errors(), self._transaction():
            if facts is not None:
                self._observe(facts, None, to_me)
            row = conn.execute("SELECT thread FROM ids WHERE msgid = ?", (own_id,)).fetchone()
            if row is not None:
                (old,) = row
                (size,) = conn.execute(
                    "SELECT count(*) FROM ids WHERE thread = ?", (old,)
                ).fetchone()
                # The id is in its thread now by this add (explain tells how it joined).
                joined = f"how = 'add --subthread', joined = {_NOW}"
                if size == 1:
                    conn.execute(
                        "UPDATE threads SET list = ?, expires_after = ?, subthread = 1,"
                        " topics = coalesce(nullif(?, ''), topics) WHERE id = ?",
                        (list_name, lifetime, _topics_text(topics), old),
                    )
                    conn.execute(f"UPDATE ids SET {joined} WHERE msgid = ?", (own_id,))
                    return Added(old, list_name, 0, 0, False, True)
                target = self._new_thread(list_name, subject, lifetime, True, topics)
                conn.execute(
                    f"UPDATE ids SET thread = ?, {joined} WHERE msgid = ?", (target, own_id)
                )
                return Added(target, list_name, 1, 0, True, True)  # new to this thread
            target = self._new_thread(list_name, subject, lifetime, True, topics)
            self._insert_ids([(own_id, target)], "add --subthread")
            return Added(target, list_name, 1, 0, True, True)

    def _new_thread(
        self,
        list_name: str,
        subject: str | None,
        lifetime: int | None,
        subthread: bool = False,
        topics: set[str] | None = None,
    ) -> int:
        number = self._numbers(1)
        self.conn.execute(
            "INSERT INTO threads (id, list, subject, created, expires_after, subthread, topics)"
            f" VALUES (?, ?, ?, {_NOW}, ?, ?, ?)",
            (number, list_name, subject, lifetime, int(subthread), _topics_text(topics)),
        )
        return number

    def _numbers(self, count: int) -> int:
        """Take ``count`` thread numbers never given before (inside a write transaction,
        nobody else can take them); the first of them."""
        (first,) = self.conn.execute(
            "SELECT max((SELECT value FROM counters WHERE name = 'threads'),"
            " coalesce((SELECT max(id) FROM threads), 0)) + 1"
        ).fetchone()
        if count:
            self.conn.execute(
                "UPDATE counters SET value = ? WHERE name = 'threads'", (first + count - 1,)
            )
        return first

    # -- list, remove, expire --------------------------------------------------------------

    def list_names(self) -> set[str]:
        """The names of the lists that hold at least one thread."""
        with self._errors():
            return {name for (name,) in self.conn.execute("SELECT DISTINCT list FROM threads")}

    def threads(self, lists: tuple[str, ...] = ()) -> list[Thread]:
        """Every thread (on one of ``lists``), newest activity first. Read with
        sqlite-utils' ``rows_where`` (imported here: never on the match path), on this
        connection, with neither its plugins nor its recursive-triggers pragma."""
        from sqlite_utils import Database

        table = Database(self.conn, recursive_triggers=False, execute_plugins=False)["threads"]
        with self._errors():
            rows = table.rows_where(
                f"threads.list IN ({_marks(len(lists))})" if lists else None,
                list(lists),
                select=_THREAD_COLUMNS,
                order_by=f"{_ACTIVITY} DESC, threads.id DESC",
            )
            return [Thread(*row.values()) for row in rows]

    def thread(self, thread_id: int) -> Thread | None:
        with self._errors():
            row = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return Thread(*row) if row else None

    def name_lifetime(self, thread_ids, seconds: int, given: str) -> None:
        """Keep ``given``, the text of the lifetime (``add --for``) the threads got, for
        ``list``: only on those whose lifetime is still ``seconds``."""
        with self._errors(), self._transaction():
            for chunk in _chunks(sorted(set(thread_ids))):
                self.conn.execute(
                    "UPDATE threads SET expires_given = ?"
                    f" WHERE expires_after = ? AND id IN ({_marks(len(chunk))})",
                    [given, seconds, *chunk],
                )

    def remove(self, thread_id: int) -> Thread | None:
        """Delete a thread and its ids; what was deleted, or None when there is none."""
        with self._errors(), self._transaction():
            removed = self.thread(thread_id)
            if removed is not None:
                self._delete([thread_id])
        return removed

    def expire(self, idle: int, dry_run: bool = False, batch: int = EXPIRE_BATCH):
        """Delete the threads with no activity for ``idle`` seconds, and those whose own
        lifetime has passed; yield them (``Thread``), in thread number order.

        The threads are scanned ``batch`` numbers at a time, each batch one short write
        transaction (a read one for ``dry_run``) that is over before its threads are
        yielded: deliveries wait behind one batch at most, memory holds one batch, and the
        threads yielded are deleted even if the caller stops early.
        """
        conn = self.conn
        since = (f"-{int(idle)} seconds",)
        after = 0
        while True:
            with self._errors():
                # The last number of this batch, read outside the write transaction.
                row = conn.execute(
                    "SELECT id FROM threads WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?",
                    (after, batch - 1),
                ).fetchone()
            upto = row[0] if row is not None else None
            span = "threads.id > ?" + (" AND threads.id <= ?" if upto is not None else "")
            bounds = (after,) if upto is None else (after, upto)
            with self._errors(), self._snapshot() if dry_run else self._transaction():
                rows = conn.execute(
                    f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {span} AND"
                    f" ({_ACTIVITY} < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) OR {_LAPSED})"
                    " ORDER BY threads.id",
                    bounds + since,
                ).fetchall()
                if rows and not dry_run:
                    self._delete([row[0] for row in rows])
            for row in rows:
                yield Thread(*row)
            if upto is None:
                return
            after = upto

    def _delete(self, thread_ids: list[int]) -> None:
        for chunk in _chunks(thread_ids):
            marks = _marks(len(chunk))
            self.conn.execute(f"DELETE FROM ids WHERE thread IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)


class _Transaction:
    """``BEGIN IMMEDIATE`` (write) or ``BEGIN DEFERRED`` (read: in WAL mode, one snapshot
    from its first statement on) ... ``COMMIT``, or ``ROLLBACK`` on an exception. Inside a
    transaction already open (a delivery's), it adds nothing: the outer one decides."""

    def __init__(self, conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> None:
        self.conn = conn
        self.mode = mode
        self.outer = False

    def __enter__(self) -> None:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute(f"BEGIN {self.mode}")

    def __exit__(self, kind, value, traceback) -> None:
        if not self.outer:
            return
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class _Delivery:
    def __init__(self, store: Store) -> None:
        self.errors = store._errors()
        self.transaction = store._transaction()

    def __enter__(self) -> None:
        with self.errors:
            self.transaction.__enter__()

    def __exit__(self, kind, value, traceback) -> None:
        with self.errors:
            self.transaction.__exit__(kind, value, traceback)


class _ErrorsAsStoreError:
    def __init__(self, store: Store) -> None:
        self.path = store.path

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, value, traceback) -> bool:
        if kind is not None and issubclass(kind, sqlite3.Error):
            space = ""
            if getattr(value, "sqlite_errorname", "").startswith(_WRITE_ERRORS):
                space = _space_left(self.path)
            raise StoreError(f"database {self.path}: {value}{space}") from None
        return False


def _space_left(path: str) -> str:
    """After a failed write: the free space, when that is the likely cause. SQLite says
    only "disk I/O error" when its log cannot grow on a full file system."""
    try:
        fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return ""
    free = fs.f_bavail * fs.f_frsize
    return f" (its file system has {free // 1024} KiB free)" if free < _LOW_SPACE else ""
