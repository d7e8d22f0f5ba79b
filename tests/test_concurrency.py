"""Parallel processes on one database: `match` and `add` lose nothing, and first uses at
once wait for each other."""

import os
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import mailthread_command, marked, message

from mailthread.store import SCHEMA_VERSION, Store, StoreError


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
