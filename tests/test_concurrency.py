"""Parallel processes on one database: `match` and `add` lose nothing, and first uses at
once wait for each other."""

import os
import re
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from conftest import mailthread_command, marked, message

from mailthread.database import StoreError
from mailthread.schema import SCHEMA_VERSION
from mailthread.store import Store


def test_parallel_match_and_add_lose_nothing(db):
    env = {**os.environ, "MAILTHREAD_DB": str(db)}

    def call(args, stdin):
        return subprocess.run(
            [*mailthread_command(), *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=120,
        )

    assert call(["add", "muted"], message("root@x")).returncode == 0
    replies = [message(f"reply{i}@x", in_reply_to="root@x") for i in range(40)]
    adds = [message(f"other{i}@x", references=[f"otherroot{i}@x"]) for i in range(15)]
    # Each of these links two of the threads added above, so merges race with learning.
    merges = [
        message(f"merge{i}@x", references=[f"other{i}@x", f"other{i + 1}@x"])
        for i in range(0, 14, 2)
    ]
    jobs = [(["match"], r) for r in replies] + [(["add", "watched"], a) for a in adds + merges]
    jobs = jobs[::2] + jobs[1::2]  # interleave kinds
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: call(*job), jobs))

    for (args, stdin), result in zip(jobs, results, strict=True):
        assert result.returncode == 0, result.stderr
        if args == ["match"]:
            assert result.stdout == marked(stdin)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    thread_of = dict(conn.execute("SELECT msgid, thread FROM ids"))
    root = thread_of["root@x"]
    assert all(thread_of[f"reply{i}@x"] == root for i in range(40))
    assert conn.execute("SELECT hits FROM threads WHERE id = ?", (root,)).fetchone() == (40,)
    for i in range(15):
        assert thread_of[f"other{i}@x"] == thread_of[f"otherroot{i}@x"]
    for i in range(0, 14, 2):
        assert thread_of[f"other{i}@x"] == thread_of[f"other{i + 1}@x"] == thread_of[f"merge{i}@x"]
    assert len(thread_of) == 1 + 40 + 30 + 7


def test_first_use_waits_while_another_process_sets_the_database_up(tmp_path):
    """The first deliveries after installing, or `list` run while mutt's `add` creates the
    database: SQLite refuses to switch a file still in rollback mode to WAL at once, without
    the busy timeout, while another connection holds its write lock. Store.open waits."""
    path = tmp_path / "threads.db"
    path.touch()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    opened = []

    def first_use():
        Store.open(str(path), timeout=30).close()
        opened.append(True)

    opener = threading.Thread(target=first_use)
    opener.start()
    time.sleep(0.5)
    assert opener.is_alive()  # waiting, not failed
    other.execute("COMMIT")
    other.close()
    opener.join(30)
    assert opened == [True]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_first_use_gives_up_after_the_timeout(tmp_path):
    path = tmp_path / "threads.db"
    path.touch()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreError, match="database is locked"):
        Store.open(str(path), timeout=0.5)
    assert time.monotonic() - started >= 0.5
    other.execute("ROLLBACK")


# -- one snapshot per lookup, one transaction per delivery --------------------------------------
#
# Deterministic interleavings: a proxy connection runs another connection's write right
# after a chosen statement of a lookup, where a parallel delivery may land.


@contextmanager
def opened(db, timeout=10.0):
    store = Store.open(str(db), timeout=timeout)
    try:
        yield store
    finally:
        store.close()


def facts_of(msgid, subject="Plans", in_reply_to=None, references=(), date=None):
    from email.utils import formatdate

    from mailthread.message import Header

    dated = f"Date: {formatdate(date or time.time())}\n".encode()
    return Header(message(msgid, in_reply_to, references, subject, extra=dated)).facts()


class _Rows(list):
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class WriteBetween:
    """Stands for a Store's connection: after the first statement starting with ``after``,
    its rows read in full, runs ``write`` (another connection's transaction)."""

    def __init__(self, conn, after, write):
        self._conn, self._after, self._write = conn, after, write
        self.done = False

    def execute(self, sql, *params):
        cursor = self._conn.execute(sql, *params)
        if self.done or not sql.startswith(self._after):
            return cursor
        rows = _Rows(cursor.fetchall())
        self.done = True
        self._write()
        return rows

    def __getattr__(self, name):
        return getattr(self._conn, name)


def merging_conversation(db, store):
    """A conversation of three messages (big1..3@x), bigger than root@x's, and a write that
    merges root@x's into it: root@x's conversation number disappears."""
    store.record(facts_of("big3@x", "Other", references=["big1@x", "big2@x"]))

    def merge():
        with opened(db, timeout=0) as other:
            other.record(facts_of("merge@x", "Other", references=["root@x", "big1@x"]))

    return merge


@pytest.mark.parametrize(
    "rule, after",
    [
        # _subject_conv: its conversation renumbered between the subject and date queries
        # (was: TypeError: unsupported operand type(s) for +: 'NoneType' and 'int').
        ("subject", "SELECT conv, date FROM seen WHERE subject"),
        # _find_linked: renumbered between the key and thread queries (was: a silent miss).
        ("index", "SELECT msgid, conv FROM seen WHERE msgid IN"),
    ],
)
def test_lookup_reads_one_snapshot_while_a_delivery_renumbers_the_conversation(db, rule, after):
    store = Store.open(str(db))
    root = store.add_message(facts_of("root@x"), "muted", "Plans")
    # mid@x: a reply the index saw but that is in no thread.
    store.record(facts_of("mid@x", "Re: Plans", in_reply_to="root@x"))
    merge = merging_conversation(db, store)
    if rule == "subject":
        reply = facts_of("late@x", "Re: Plans")  # nothing links it but its subject
    else:
        reply = facts_of("late@x", "Re: Plans", in_reply_to="mid@x")
    store.conn = WriteBetween(store.conn, after, merge)
    hit = store.lookup(reply)
    assert store.conn.done  # the merge did land in the middle of the lookup
    assert hit is not None and (hit.thread, hit.rule) == (root.thread, rule)
    store.conn = store.conn._conn
    # And after the merge, the same answer.
    assert store.lookup(reply)[1:] == hit[1:]
    store.close()


def test_match_looks_up_and_records_in_one_transaction(db, monkeypatch):
    """An `add` of the parent landing between a delivery's lookup (no thread yet) and its
    record must not lose the reply from the thread: in either order of the two, the reply's
    Message-ID ends up in the parent's thread (by the index, or learned by the match)."""
    from mailthread import arguments
    from mailthread import filter as mt_filter
    from mailthread.message import Header

    reply = message("reply@x", in_reply_to="parent@x")
    parent = Header(message("parent@x")).facts()
    from mailthread.delivery import Matcher  # what match opens

    lookup = Matcher.lookup
    waiting = []

    def add_parent():
        with opened(db, timeout=0) as other:
            other.add_message(parent, "muted", "test")

    def lookup_then_add(self, *args):
        hit = lookup(self, *args)
        try:
            add_parent()
        except StoreError as e:  # the delivery holds the write lock: the add waits
            assert "locked" in str(e)
            waiting.append(True)
        return hit

    monkeypatch.setattr(Matcher, "lookup", lookup_then_add)
    args = arguments.parse_args(["--db", str(db), "match"], {})
    assert b"".join(mt_filter.filter_message(reply, args, {})) == reply
    monkeypatch.setattr(Matcher, "lookup", lookup)
    if waiting:
        add_parent()  # its turn, after the delivery
    with opened(db) as store:
        assert store.find(["reply@x"]) == store.find(["parent@x"])._replace(msgid="reply@x")
    assert waiting == [True]


# -- expire never holds the write lock long -------------------------------------------------


class CountDeletes:
    """Stands for a Store's connection; counts the threads each transaction deletes."""

    def __init__(self, conn):
        self._conn = conn
        self.per_transaction = []

    def execute(self, sql, *params):
        if sql.startswith("BEGIN"):
            self.per_transaction.append(0)
        elif re.match(r'(?i)delete from (threads|"threads"|\[threads\]) where id in', sql):
            # (as the store writes it, or sqlite-utils' delete_where)
            self.per_transaction[-1] += len(params[0])
        return self._conn.execute(sql, *params)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_expire_deletes_in_short_batches_and_lets_deliveries_in_between(db):
    count = 4007
    with opened(db) as store:
        store.add_threads([([f"{n}@x"], f"s{n}") for n in range(count)], "muted")
        store.add_thread(["fresh@x"], "muted", "fresh")
        store.conn.execute(
            "UPDATE threads SET created = '2000-01-01T00:00:00Z' WHERE subject != 'fresh'"
        )
        store.conn = CountDeletes(store.conn)
        expiring = iter(store.expire(86400))
        first = next(expiring)
        # Between two batches nothing holds the write lock: a delivery gets in at once.
        with opened(db, timeout=0) as other:
            other.record(facts_of("delivered@x"))
            assert other.thread(first.id) is None  # the first batch is committed
        rest = list(expiring)
        assert [first.id] + [t.id for t in rest] == list(range(1, count + 1))
        assert len(store.conn.per_transaction) > 1
        from mailthread.database import EXPIRE_BATCH

        assert max(store.conn.per_transaction) <= EXPIRE_BATCH
        assert sum(store.conn.per_transaction) == count
        assert [t.subject for t in store.threads()] == ["fresh"]


def test_expire_index_deletes_in_short_batches(db):
    count = 4007
    with opened(db) as store:
        store.conn.executemany(
            "INSERT INTO seen (msgid, conv, date) VALUES (?, ?, 1000000000)",
            [(f"{n}@x", n) for n in range(count)],
        )
        store.record(facts_of("recent@x"))
        sizes = []
        execute = store.conn.execute

        class Conn:
            def execute(self, sql, *params):
                cursor = execute(sql, *params)
                if re.match(r'(?i)delete from (seen|"seen"|\[seen\]) ', sql):
                    sizes.append(cursor.rowcount)
                return cursor

            def __getattr__(self, name):
                return getattr(store.conn_, name)

        store.conn_, store.conn = store.conn, Conn()
        assert store.expire_index(365 * 86400, dry_run=True) == count
        assert store.expire_index(365 * 86400) == count
        store.conn = store.conn_
        assert len(sizes) > 1 and sum(sizes) == count
        from mailthread.database import EXPIRE_BATCH

        assert max(sizes) <= EXPIRE_BATCH
        assert store.conn.execute("SELECT msgid FROM seen").fetchall() == [("recent@x",)]
