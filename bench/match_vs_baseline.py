#!/usr/bin/env python3
"""Whole-process cost of `mailthread match` on one message, side by side with the shell
filter it replaces (../shared/baseline/match-thread.sh) and a bare interpreter.

    python3 bench/match_vs_baseline.py [--ids 1000 --ids 1000000] [--index 0 --index 1000000]
                                       [--runs 31]

Both tools get the same stored ids (threads of 10 ids: a refs file for the baseline, the
same ids in a mailthread database). mailthread's message index holds --index messages
besides (conversations of 10, each message naming its parent, with dates over the last
year and a subject hash per conversation); every combination of --ids and --index is run.
Each command runs --runs times after a warm-up, the commands interleaved so that machine
noise falls on all of them alike; the table gives medians and ratios measured in this one
run. Uses the `mailthread` found on PATH and the
Python interpreter its script runs with.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = HERE.parent.parent / "shared" / "baseline" / "match-thread.sh"
CORPUS = HERE.parent.parent / "shared" / "corpus"
# A real reply (Outlook-era usrp-users mail with a folded References of 3 ids).
MESSAGE = CORPUS / "usrp-users" / "cur" / "000476-5c49ab54db68:2,"
IDS_PER_THREAD = 10


def interpreter_of(script: str) -> str:
    with open(script, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!"):
        return first[2:].decode().strip().split()[0]
    return sys.executable


def contestants() -> tuple[str, str]:
    """The mailthread on PATH and its interpreter, once the baseline's tools are there too;
    a warning when that mailthread is an editable install of this checkout."""
    mailthread = shutil.which("mailthread")
    if mailthread is None:
        raise SystemExit("no mailthread on PATH: pip install . first")
    for tool in ("formail", "bash"):
        if shutil.which(tool) is None:
            raise SystemExit(f"the baseline needs {tool} (apt-get install procmail)")
    python = interpreter_of(mailthread)
    where = subprocess.run(
        [python, "-I", "-c", "import mailthread; print(mailthread.__file__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if where and Path(where).resolve().is_relative_to(HERE.parent):
        print(
            f"warning: {mailthread} runs this checkout's code (pip install -e, as ./run-tests"
            " makes .venv): every Python start there pays the editable install's import hook"
            " and the test tools' .pth files, floor included. For the README's figures,"
            " benchmark a regular install: see the README, Speed.",
            file=sys.stderr,
        )
    return mailthread, python


def make_stores(
    workdir: Path, count: int, thread_ids: list[str], index: int = 0
) -> tuple[Path, Path]:
    """A refs file and a mailthread database holding the same ``count`` ids; the message's
    own thread (``thread_ids``) is stored as the last thread, the worst case for a scan.
    The database's message index holds ``index`` messages."""
    refs = workdir / f"refs.{count}"
    db = workdir / f"threads.{count}.{index}.db"
    filler = count - len(thread_ids)
    lines = []
    for start in range(0, filler, IDS_PER_THREAD):
        ids = [f"{n}.bench@example.com" for n in range(start, min(start + IDS_PER_THREAD, filler))]
        lines.append(ids)
    lines.append(thread_ids)
    with open(refs, "w") as f:
        for ids in lines:
            f.write("".join(f"<{i}> " for i in ids) + "\n")
    # The database through mailthread's own store code: the same file `add` would write.
    sys.path.insert(0, str(HERE.parent))
    from mailthread.store import Store

    store = Store.open(str(db))
    with store.conn:
        store.conn.execute("BEGIN")
        for number, ids in enumerate(lines, 1):
            store.conn.execute(
                "INSERT INTO threads (id, list, created) VALUES (?, 'muted', '2026-01-01')",
                (number,),
            )
            store.conn.executemany(
                "INSERT INTO ids (msgid, thread) VALUES (?, ?)", ((i, number) for i in ids)
            )
        now = int(time.time())
        rows = []
        for n in range(index):
            conv = n // 10
            date = now - (n * 7919) % (365 * 86400)
            subject = (conv * 2654435761) % 2**62
            # Each message names the one before it, whose row is already there.
            rows.append((f"{n}.index@example.com", conv + 1, date, subject, None))
        rows.sort()
        store.conn.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", rows)
    store.close()
    (stored,) = sqlite3.connect(db).execute("SELECT count(*) FROM ids").fetchone()
    assert stored == count, (stored, count)
    return refs, db


def time_commands(commands: dict[str, tuple[list[str], bytes, dict]], runs: int) -> dict:
    """Median seconds of each command over ``runs`` rounds after a warm-up round. Every
    round runs each command once, in an order shuffled anew (seeded, so repeatable): a
    command that always followed a heavy one (the baseline scanning a million ids) would
    always start with cold caches, and a ratio between two commands would carry that."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    shuffle = random.Random(0).shuffle
    for round_ in range(runs + 1):
        order = list(commands)
        shuffle(order)
        for name in order:
            argv, stdin, env = commands[name]
            start = time.perf_counter()
            result = subprocess.run(argv, input=stdin, capture_output=True, env=env)
            elapsed = time.perf_counter() - start
            if result.returncode != 0:
                raise SystemExit(f"{name} failed: {result.stderr.decode(errors='replace')}")
            if round_:  # the first round is the warm-up
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, action="append", help="stored ids (repeatable)")
    parser.add_argument("--index", type=int, action="append", help="indexed messages")
    parser.add_argument("--runs", type=int, default=31)
    options = parser.parse_args()
    sizes = options.ids or [1000]
    indexes = options.index or [0]
    mailthread, python = contestants()
    message = MESSAGE.read_bytes()
    sys.path.insert(0, str(HERE.parent))
    from mailthread.message import Header

    parent_ids = Header(message).ids_nearest_first()[1:]  # the message's ancestors
    unrelated = message.replace(b"Message-ID: <", b"Message-ID: <x").replace(
        b"In-Reply-To: <", b"In-Reply-To: <x"
    )
    # ...and a copy whose ids are all unknown: the no-match case. References too:
    header_end = Header(unrelated).end
    head = unrelated[:header_end].replace(b" <", b" <nomatch.")
    unrelated = head + unrelated[header_end:]
    assert not set(Header(unrelated).ids_nearest_first()) & set(parent_ids)

    print(f"# match on one message, whole process, median of {options.runs} runs")
    print(f"mailthread: {mailthread} ({python}); baseline: {BASELINE}")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}\n")
    print(
        "| stored ids | indexed messages | case | python -c pass | mailthread match | baseline "
        "| mailthread / baseline | mailthread / python |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for count, index in ((c, i) for c in sizes for i in indexes):
            refs, db = make_stores(workdir, count, parent_ids, index)
            env = {**os.environ, "MAILTHREAD_DB": str(db)}
            for case, stdin in (("match", message), ("no match", unrelated)):
                medians = time_commands(
                    {
                        "floor": ([python, "-c", "pass"], b"", env),
                        "mailthread": ([mailthread, "match"], stdin, env),
                        "baseline": (
                            ["bash", str(BASELINE), str(refs), "X-Mailthread: muted"],
                            stdin,
                            env,
                        ),
                    },
                    options.runs,
                )
                ms = {name: value * 1000 for name, value in medians.items()}
                print(
                    f"| {count:,} | {index:,} | {case} | {ms['floor']:.1f} ms"
                    f" | {ms['mailthread']:.1f} ms"
                    f" | {ms['baseline']:.1f} ms | {ms['mailthread'] / ms['baseline']:.2f}x"
                    f" | {ms['mailthread'] / ms['floor']:.2f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
