#!/usr/bin/env python3
"""Why imports write their ids with sqlite3's ``executemany``, not sqlite-utils'
``insert_all``: both insert the same 1,000,000 ids rows (the shape of ``ids``, in key order,
``INSERT OR IGNORE``, one write transaction) into a fresh WAL database.

    .venv/bin/python bench/sqlite_utils_insert.py [--ids 1000000] [--runs 3]

Prints the median seconds of each and their ratio (same run).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time

import sqlite_utils

SCHEMA = (
    "CREATE TABLE ids (msgid TEXT PRIMARY KEY, thread INTEGER NOT NULL, how TEXT, joined TEXT)"
    " WITHOUT ROWID"
)


def fresh(folder: str) -> sqlite3.Connection:
    path = os.path.join(folder, f"{time.monotonic_ns()}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    conn.execute("CREATE INDEX ids_thread ON ids(thread)")
    return conn


def with_executemany(conn, rows) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO ids (msgid, thread, how, joined)"
        " VALUES (?, ?, 'import refs', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        rows,
    )


def with_insert_all(conn, rows) -> None:
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db["ids"].insert_all(
        ({"msgid": m, "thread": t, "how": "import refs", "joined": now} for m, t in rows),
        ignore=True,
        batch_size=500,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = sorted((f"{n}@example.com", n // 10) for n in range(args.ids))
    times: dict[str, list[float]] = {"executemany": [], "insert_all": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.runs):
            for name, write in (("executemany", with_executemany), ("insert_all", with_insert_all)):
                conn = fresh(folder)
                start = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                write(conn, rows)
                conn.execute("COMMIT")
                times[name].append(time.perf_counter() - start)
                conn.close()
    plain, utils = (statistics.median(times[name]) for name in ("executemany", "insert_all"))
    print(f"{args.ids:,} ids: executemany {plain:.2f} s, insert_all {utils:.2f} s,")
    print(f"insert_all / executemany {utils / plain:.2f}x (medians of {args.runs})")


if __name__ == "__main__":
    main()
