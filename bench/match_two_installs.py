#!/usr/bin/env python3
"""`mailthread match` of two installs side by side: what a change to the match path costs.

    python3 bench/match_two_installs.py OLD/bin/mailthread NEW/bin/mailthread
        [--ids 1000000] [--index 1000000] [--runs 21] [--parallel 4] [--deliveries 200]

One database of --ids stored ids (threads of 10, `add muted --refs-file`, written by the
OLD install) and --index indexed messages (speed.py's fill_index) is copied for each
install; the NEW one migrates its copy in the warm-up round. Then, as speed.py: the median
whole-process time of `match` of a message whose thread is stored and of one with unknown
ids, every round running each command once in a shuffled order; and the wall time of
--deliveries replies delivered --parallel at a time (procmail's parallel deliveries, which
now queue for the write lock from lookup to record), median of 3.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from match_vs_baseline import MESSAGE, time_commands  # noqa: E402
from speed import fill_index, write_refs  # noqa: E402

from mailthread.message import Header  # noqa: E402


def parallel(mailthread: str, db: Path, message: bytes, count: int, width: int) -> float:
    own = Header(message).own_id()

    def one(n: int) -> None:
        raw = message.replace(f"<{own}>".encode(), f"<p{n}.{time.time()}@bench>".encode(), 1)
        result = subprocess.run(
            [mailthread, "--db", str(db), "match"], input=raw, capture_output=True
        )
        if result.returncode != 0 or b"X-Mailthread: muted" not in result.stdout:
            raise SystemExit(f"{mailthread}: {result.stderr.decode(errors='replace')}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--index", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()
    message = MESSAGE.read_bytes()
    ancestors = Header(message).ids_nearest_first()[1:]
    end = Header(message).end
    unknown = message[:end].replace(b"<", b"<nomatch.") + message[end:]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        refs = work / "refs"
        write_refs(refs, args.ids, ancestors)
        built = work / "built.db"
        add = [args.old, "--db", str(built), "add", "muted", "--refs-file", str(refs)]
        subprocess.run(add, check=True, capture_output=True)
        fill_index(built, args.index)
        commands = {}
        dbs = {}
        for name, mailthread in (("old", args.old), ("new", args.new)):
            db = dbs[name] = work / f"{name}.db"
            shutil.copy(built, db)
            for case, stdin in (("match", message), ("no match", unknown)):
                commands[f"{name}|{case}"] = ([mailthread, "--db", str(db), "match"], stdin, {})
        medians = time_commands(commands, args.runs)
        print(f"{args.ids:,} ids + {args.index:,} indexed messages, {args.runs} runs, medians")
        for case in ("match", "no match"):
            old, new = medians[f"old|{case}"] * 1000, medians[f"new|{case}"] * 1000
            print(f"{case}: old {old:.1f} ms, new {new:.1f} ms, new / old {new / old:.3f}")
        walls = {"old": [], "new": []}
        for _ in range(3):
            for name, mailthread in (("old", args.old), ("new", args.new)):
                walls[name].append(
                    parallel(mailthread, dbs[name], message, args.deliveries, args.parallel)
                )
        old, new = (statistics.median(walls[name]) for name in ("old", "new"))
        print(
            f"{args.deliveries} deliveries, {args.parallel} at a time: old {old:.2f} s,"
            f" new {new:.2f} s, new / old {new / old:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
