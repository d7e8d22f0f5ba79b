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
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used: missing folder, locked too long, corrupt, read-only..."""


# (namedtuple, not typing.NamedTuple: importing typing costs the per-mail path ~7 ms.)
# msgid: the id of the message that was found in the store.
Hit = namedtuple("Hit", "msgid thread list")
# new_ids: ids that were not stored before; merged: other threads merged into this one.
Added = namedtuple("Added", "thread list new_ids merged created")


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
                    f" WHERE ids.msgid IN ({_marks(len(chunk))}){list_filter}",
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

    def add_thread(self, ids: list[str], list_name: str, subject: str | None) -> Added:
        """Record ``ids`` as one thread on ``list_name``, merging every stored thread that
        holds one of them into it."""
        conn = self.conn
        with self._errors(), self._transaction():
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
                    "UPDATE threads SET list = ?, hits = ?, last_match = ? WHERE id = ?",
                    (list_name, hits, last_match, target),
                )
            else:
                target, others = self._new_thread(list_name, subject), []
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO ids (msgid, thread) VALUES (?, ?)",
                ((msgid, target) for msgid in ids),
            )
            new_ids = conn.total_changes - before
        return Added(target, list_name, new_ids, len(others), not existing)

    def add_subthread(self, own_id: str, list_name: str, subject: str | None) -> Added:
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
                    conn.execute("UPDATE threads SET list = ? WHERE id = ?", (list_name, old))
                    return Added(old, list_name, 0, 0, False)
                target = self._new_thread(list_name, subject)
                conn.execute("UPDATE ids SET thread = ? WHERE msgid = ?", (target, own_id))
                return Added(target, list_name, 0, 0, True)
            target = self._new_thread(list_name, subject)
            conn.execute("INSERT INTO ids (msgid, thread) VALUES (?, ?)", (own_id, target))
            return Added(target, list_name, 1, 0, True)

    def _new_thread(self, list_name: str, subject: str | None) -> int:
        cursor = self.conn.execute(
            f"INSERT INTO threads (list, subject, created) VALUES (?, ?, {_NOW})",
            (list_name, subject),
        )
        return cursor.lastrowid


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
