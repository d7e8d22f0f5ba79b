#!/usr/bin/env python3
"""`mailthread expire` on a big database while procmail keeps delivering:

    PATH=/tmp/mt/bin:$PATH python3 bench/expire_bench.py [--threads 3000000] [--ids 2]
        [--index 1000000] [--keep 10] [--schema 4] [--dir DIR]

Builds a database of --threads threads of --ids ids each (bulk inserts through the store's
own schema), all idle for a year but every --keep-th one, which matched today, and
--index message index entries dated two years ago. Then runs `mailthread expire` (default
--idle 90d, --index-age 180d; its output to /dev/null) while a loop of `mailthread match`
deliveries (replies to a stored thread, each a new process, as procmail runs them) runs
beside it, one after the other, until expire is done.

Prints: the expire's wall time and peak RSS (getrusage of the child, by os.wait4), the
deliveries' median and longest wall time before expire (a baseline from 20 runs) and while
it ran, and how many failed (exit status other than 0, or no X-Mailthread line: with the
default 10 s --timeout, a delivery that waited past it passes the message through
unmarked). Uses the `mailthread` found on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mailthread.schema import MIGRATIONS, SCHEMA_VERSION  # noqa: E402
from mailthread.store import Store  # noqa: E402

ROOT = "root@bench.example.com"
_ROWS = 200_000


def build(path: Path, threads: int, ids: int, index: int, keep: int, schema: int) -> None:
    if schema == SCHEMA_VERSION:
        store = Store.open(str(path))
    else:  # for a mailthread from before (on PATH), or to time the migration
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        for step in MIGRATIONS[:schema]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {schema:d}")
        store = Store(conn, str(path))
    conn = store.conn
    conn.execute("PRAGMA synchronous=OFF")
    old = "2025-01-01T00:00:00Z"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    conn.execute("BEGIN IMMEDIATE")
    for start in range(1, threads + 1, _ROWS):
        numbers = range(start, min(start + _ROWS, threads + 1))
        conn.executemany(
            "INSERT INTO threads (id, list, subject, created) VALUES (?, 'muted', ?, ?)",
            ((n, f"thread {n}", now if n % keep == 0 else old) for n in numbers),
        )
        conn.executemany(
            "INSERT INTO ids (msgid, thread) VALUES (?, ?)",
            ((f"{n:09d}.{k}@bench.example.com", n) for n in numbers for k in range(ids)),
        )
    conn.execute(
        "INSERT INTO threads (id, list, subject, created) VALUES (?, 'muted', 'root', ?)",
        (threads + 1, now),
    )
    conn.execute("INSERT INTO ids (msgid, thread) VALUES (?, ?)", (ROOT, threads + 1))
    long_ago = int(time.time()) - 2 * 365 * 86400
    for start in range(0, index, _ROWS):
        conn.executemany(
            "INSERT INTO seen (msgid, conv, date) VALUES (?, ?, ?)",
            (
                (f"{n:09d}.seen@bench.example.com", n // 10, long_ago)
                for n in range(start, min(start + _ROWS, index))
            ),
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def reply(n: int) -> bytes:
    return (
        f"From: a@example.com\nSubject: Re: root\nMessage-ID: <r{n}.{time.time()}@bench>\n"
        f"In-Reply-To: <{ROOT}>\nReferences: <{ROOT}>\n\nbody\n"
    ).encode()


def deliver(mailthread: str, db: Path, n: int) -> tuple[float, bool]:
    started = time.monotonic()
    result = subprocess.run(
        [mailthread, "--db", str(db), "match"], input=reply(n), capture_output=True
    )
    took = time.monotonic() - started
    return took, result.returncode == 0 and b"X-Mailthread: muted" in result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=3_000_000)
    parser.add_argument("--ids", type=int, default=2, help="ids per thread")
    parser.add_argument("--index", type=int, default=1_000_000, help="old index entries")
    parser.add_argument("--keep", type=int, default=10, help="every Nth thread stays")
    parser.add_argument(
        "--schema",
        type=int,
        default=SCHEMA_VERSION,
        help="build at this schema version (3: for a mailthread from before version 4)",
    )
    parser.add_argument("--dir", help="where to build the database (default: a temp dir)")
    args = parser.parse_args()
    mailthread = shutil.which("mailthread")
    if mailthread is None:
        sys.exit("no mailthread on PATH")
    folder = Path(tempfile.mkdtemp(prefix="expire-bench-", dir=args.dir))
    db = folder / "threads.db"
    try:
        started = time.monotonic()
        build(db, args.threads, args.ids, args.index, args.keep, args.schema)
        size = db.stat().st_size
        print(
            f"built {args.threads:,} threads x {args.ids} ids, {args.index:,} index entries:"
            f" {size / 1e6:,.0f} MB in {time.monotonic() - started:.1f} s"
        )
        first, ok = deliver(mailthread, db, 0)
        print(f"first delivery (migrates the database when it is older): {first:.1f} s, ok {ok}")
        baseline = [deliver(mailthread, db, -n) for n in range(1, 21)]
        assert all(ok for _, ok in baseline), "a delivery failed before expire even ran"

        during: list[tuple[float, bool]] = []
        done = threading.Event()

        def deliveries() -> None:
            n = 0
            while not done.is_set():
                during.append(deliver(mailthread, db, n))
                n += 1

        loop = threading.Thread(target=deliveries)
        started = time.monotonic()
        with open(os.devnull, "wb") as null:
            child = subprocess.Popen(
                [mailthread, "--db", str(db), "expire"], stdout=null, stderr=subprocess.PIPE
            )
            loop.start()
            _, status, usage = os.wait4(child.pid, 0)
        took = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        loop.join()
        errors = child.stderr.read().decode().strip()
        print(
            f"expire: {took:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MiB,"
            f" exit {child.returncode}{' ' + errors if errors else ''}"
        )
        remaining = Store.open(str(db))
        (left,) = remaining.conn.execute("SELECT count(*) FROM threads").fetchone()
        (seen,) = remaining.conn.execute("SELECT count(*) FROM seen").fetchone()
        remaining.close()
        print(f"left: {left:,} threads, {seen:,} index entries")
        for name, runs in (("before expire", baseline), ("during expire", during)):
            times = [t for t, _ in runs]
            failed = sum(not ok for _, ok in runs)
            print(
                f"match {name}: {len(runs)} deliveries, median {statistics.median(times):.3f} s,"
                f" longest {max(times):.3f} s, failed {failed}"
            )
        return 0 if child.returncode == 0 and all(ok for _, ok in during) else 1
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
