"""The thread store: one SQLite file of threads, each a set of message ids on a list.

Stdlib ``sqlite3`` only: this module is on the per-mail ``match`` path, where importing
sqlite-utils alone would cost several times a bare interpreter's start.

procmail runs deliveries in parallel while mutt may run ``add``: the file is in WAL mode
(readers never wait for a writer), every write is one ``BEGIN IMMEDIATE`` transaction (it
takes the write lock up front, so the busy timeout applies instead of a deadlock error), and
the busy timeout is long enough that writers queue rather than fail.
"""

from __future__ import annotations

import os
import sqlite3
from collections import namedtuple

DEFAULT_TIMEOUT = 10.0
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
# msgid: the id of the message that was found in the store.
Hit = namedtuple("Hit", "msgid thread list")
# new_ids: ids that were not stored before; merged: other threads merged into this one;
# changed: whether anything changed (new, merged, more ids, another list or lifetime).
Added = namedtuple("Added", "thread list new_ids merged created changed")
# A thread as `list`, `remove` and `expire` show it; ids: how many message ids it holds.
Thread = namedtuple("Thread", "id list subject ids created last_match hits expires_after")
_THREAD_COLUMNS = (
    "threads.id, threads.list, threads.subject,"
    " (SELECT count(*) FROM ids WHERE ids.thread = threads.id),"
    " threads.created, threads.last_match, threads.hits, threads.expires_after"
)


def default_path(environ) -> str:
    """``$MAILTHREAD_DB``, else ``$XDG_DATA_HOME/mailthread/threads.db``, else under
    ``~/.local/share`` (the XDG base directory spec ignores a relative XDG_DATA_HOME)."""
    if environ.get("MAILTHREAD_DB"):
        return os.path.expanduser(environ["MAILTHREAD_DB"])
    data_home = environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        home = environ.get("HOME") or os.path.expanduser("~")
        data_home = os.path.join(home, ".local", "share")
    return os.path.join(data_home, "mailthread", "threads.db")


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Store:
    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str, timeout: float = DEFAULT_TIMEOUT) -> Store:
        """Open the store, creating it (and its folder, private to the owner) on first use."""
        try:
            if not os.path.exists(path):
                folder = os.path.dirname(path)
                if folder:
                    os.makedirs(folder, mode=0o700, exist_ok=True)
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
                store._migrate(version)
        return store

    def close(self) -> None:
        self.conn.close()

    def _errors(self):
        return _ErrorsAsStoreError(self)

    def _migrate(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this "
                f"mailthread knows ({SCHEMA_VERSION}): upgrade mailthread"
            )
        conn = self.conn
        # journal_mode cannot change inside a transaction; it is stored in the file.
        conn.execute("PRAGMA journal_mode=WAL")
        with self._transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:
                raise StoreError(f"{self.path} is an SQLite database, but not mailthread's")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def _transaction(self):
        return _Transaction(self.conn)

    # -- match -----------------------------------------------------------------------------

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
                            return Hit(*found[msgid])
        return None

    def learn(self, hit: Hit, own_id: str | None) -> None:
        """Count a match and add the message's own id to the thread that matched it.

        The thread is looked up again inside the write transaction: an ``add`` running
        meanwhile may have merged it into another one.
        """
        with self._errors(), self._transaction():
            if own_id is not None:
                self.conn.execute(
                    "INSERT OR IGNORE INTO ids (msgid, thread)"
                    " SELECT ?, thread FROM ids WHERE msgid = ?",
                    (own_id, hit.msgid),
                )
            self.conn.execute(
                f"UPDATE threads SET hits = hits + 1, last_match = {_NOW}"
                " WHERE id = (SELECT thread FROM ids WHERE msgid = ?)",
                (hit.msgid,),
            )

    # -- add -------------------------------------------------------------------------------

    def add_thread(
        self, ids: list[str], list_name: str, subject: str | None, lifetime: int | None = None
    ) -> Added:
        """Record ``ids`` as one thread on ``list_name``, merging every stored thread that
        holds one of them into it. ``lifetime``: seconds without a match after which the
        thread lapses (None: it stays until ``expire``); the latest add decides."""
        return self.add_threads([(ids, subject)], list_name, lifetime)[0]

    def add_threads(self, threads, list_name: str, lifetime: int | None = None) -> list[Added]:
        """``add_thread`` for each (ids, subject) of ``threads``, in one transaction. The
        threads must not share ids with each other (``importer.Conversations`` sees to it).

        An import of a million ids must take seconds: the threads that touch no stored one
        (all of them, on a first import) are written in two bulk statements.
        """
        threads = list(threads)
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
                if not touched:
                    fresh.append(number)
                elif len(touched) == 1 and all(msgid in stored for msgid in ids):
                    whole.append((number, touched.pop()))  # recorded before as one thread
                else:
                    results[number] = self._record(ids, list_name, subject, lifetime)
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
            # Inside the write transaction nobody else can take these ids.
            (first,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM threads").fetchone()
            conn.executemany(
                "INSERT INTO threads (id, list, subject, created, expires_after)"
                f" VALUES (?, ?, ?, {_NOW}, ?)",
                (
                    (first + n, list_name, threads[number][1], lifetime)
                    for n, number in enumerate(fresh)
                ),
            )
            # In key order, the B-tree grows at its end instead of splitting pages everywhere.
            rows = sorted(
                (msgid, first + n) for n, number in enumerate(fresh) for msgid in threads[number][0]
            )
            conn.executemany("INSERT OR IGNORE INTO ids (msgid, thread) VALUES (?, ?)", rows)
            for n, number in enumerate(fresh):
                new_ids = len(set(threads[number][0]))
                results[number] = Added(first + n, list_name, new_ids, 0, True, True)
        return results

    def _record(
        self, ids: list[str], list_name: str, subject: str | None, lifetime: int | None
    ) -> Added:
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
        if existing:
            target, *others = sorted(existing)
            hits, last_match = 0, None
            for chunk in _chunks(sorted(existing)):
                for thread_hits, thread_last in conn.execute(
                    f"SELECT hits, last_match FROM threads WHERE id IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    hits += thread_hits
                    if thread_last and (last_match is None or thread_last > last_match):
                        last_match = thread_last
            for chunk in _chunks(others):
                marks = _marks(len(chunk))
                conn.execute(
                    f"UPDATE ids SET thread = ? WHERE thread IN ({marks})", [target, *chunk]
                )
                conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)
            conn.execute(
                "UPDATE threads SET list = ?, hits = ?, last_match = ?, expires_after = ?"
                " WHERE id = ?",
                (list_name, hits, last_match, lifetime, target),
            )
        else:
            target, others = self._new_thread(list_name, subject, lifetime), []
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO ids (msgid, thread) VALUES (?, ?)",
            ((msgid, target) for msgid in ids),
        )
        return Added(
            target, list_name, conn.total_changes - before, len(others), not existing, True
        )

    def add_subthread(
        self, own_id: str, list_name: str, subject: str | None, lifetime: int | None = None
    ) -> Added:
        """Record ``own_id`` alone as a thread on ``list_name``; the thread it was in keeps
        its other ids, so the message's siblings keep their list and its replies follow
        the new one (the nearest stored id decides)."""
        conn = self.conn
        with self._errors(), self._transaction():
            row = conn.execute("SELECT thread FROM ids WHERE msgid = ?", (own_id,)).fetchone()
            if row is not None:
                (old,) = row
                (size,) = conn.execute(
                    "SELECT count(*) FROM ids WHERE thread = ?", (old,)
                ).fetchone()
                if size == 1:
                    conn.execute(
                        "UPDATE threads SET list = ?, expires_after = ? WHERE id = ?",
                        (list_name, lifetime, old),
                    )
                    return Added(old, list_name, 0, 0, False, True)
                target = self._new_thread(list_name, subject, lifetime)
                conn.execute("UPDATE ids SET thread = ? WHERE msgid = ?", (target, own_id))
                return Added(target, list_name, 0, 0, True, True)
            target = self._new_thread(list_name, subject, lifetime)
            conn.execute("INSERT INTO ids (msgid, thread) VALUES (?, ?)", (own_id, target))
            return Added(target, list_name, 1, 0, True, True)

    def _new_thread(self, list_name: str, subject: str | None, lifetime: int | None) -> int:
        cursor = self.conn.execute(
            f"INSERT INTO threads (list, subject, created, expires_after) VALUES (?, ?, {_NOW}, ?)",
            (list_name, subject, lifetime),
        )
        return cursor.lastrowid

    # -- list, remove, expire --------------------------------------------------------------

    def threads(self, lists: tuple[str, ...] = ()) -> list[Thread]:
        """Every thread (on one of ``lists``), newest activity first."""
        where = f"WHERE threads.list IN ({_marks(len(lists))})" if lists else ""
        with self._errors():
            rows = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads {where}"
                f" ORDER BY {_ACTIVITY} DESC, threads.id DESC",
                lists,
            ).fetchall()
        return [Thread(*row) for row in rows]

    def thread(self, thread_id: int) -> Thread | None:
        with self._errors():
            row = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return Thread(*row) if row else None

    def remove(self, thread_id: int) -> Thread | None:
        """Delete a thread and its ids; what was deleted, or None when there is none."""
        with self._errors(), self._transaction():
            removed = self.thread(thread_id)
            if removed is not None:
                self._delete([thread_id])
        return removed

    def expire(self, idle: int, dry_run: bool = False) -> list[Thread]:
        """Delete the threads with no activity for ``idle`` seconds, and those whose own
        lifetime has passed; return them, oldest activity first."""
        with self._errors(), self._transaction():
            rows = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads"
                f" WHERE {_ACTIVITY} < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) OR {_LAPSED}"
                f" ORDER BY {_ACTIVITY}, threads.id",
                (f"-{int(idle)} seconds",),
            ).fetchall()
            expired = [Thread(*row) for row in rows]
            if not dry_run:
                self._delete([thread.id for thread in expired])
        return expired

    def _delete(self, thread_ids: list[int]) -> None:
        for chunk in _chunks(thread_ids):
            marks = _marks(len(chunk))
            self.conn.execute(f"DELETE FROM ids WHERE thread IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class _ErrorsAsStoreError:
    def __init__(self, store: Store) -> None:
        self.path = store.path

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, value, traceback) -> bool:
        if kind is not None and issubclass(kind, sqlite3.Error):
            raise StoreError(f"database {self.path}: {value}") from None
        return False
