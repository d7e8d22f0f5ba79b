#!/usr/bin/env python3
"""The speed table of the README, in one command, with its targets checked:

    python3 -m venv /tmp/mt && /tmp/mt/bin/pip install .
    PATH=/tmp/mt/bin:$PATH python3 bench/speed.py [--runs 21] [--messages 10000] [--quick]

- `mailthread match` on one real message (a usrp-users reply whose thread is stored, and
  the same message with unknown ids) beside the baseline filter
  (../shared/baseline/match-thread.sh) with 1,000 and 1,000,000 stored ids: threads of 10
  ids, written as a refs file for the baseline and imported into mailthread's database with
  `mailthread add muted --refs-file` from that same file;
- the same with a message index of 1,000,000 messages besides (conversations of 10);
- a bare `python -c pass` from mailthread's own interpreter: the floor a Python filter
  cannot beat; and `python -c 'import _sqlite3, os; os._exit(0)'`, the floor of a Python
  filter that keeps its store in SQLite and skips the interpreter's shutdown as match does
  (the C module imports functools and collections when it loads);
- imports: the refs file of 1,000,000 ids, a Maildir and the same messages as an mbox
  (real corpus messages with renumbered ids, see import_bench.py): seconds, rate, database
  bytes per stored id.

Every timing is a whole process, several runs after a warm-up round, every command of a
round run one after the other, in a shuffled order, so that machine noise falls on all
alike; the tables give medians, and ratios are taken within this one run. The targets (from
the project's issues 5 and 16): match at most 0.5x the baseline at 1,000,000 ids; at most
1.35x the interpreter floor (issue 5 asked for 3x, aiming at 1.5x); at 1,000,000 ids no more
than 1.15x its cost at 1,000.
The exit status is 1 when a target is missed. --quick: 5 runs and 1,000 messages, to try
the script out.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from import_bench import run_import, write_maildir, write_mbox  # noqa: E402
from match_vs_baseline import BASELINE, MESSAGE, contestants, time_commands  # noqa: E402

from mailthread.message import Header  # noqa: E402

IDS_PER_THREAD = 10
# What `match` loads before it reads the message (tests/test_imports.py keeps the list).
MATCH_MODULES = "mailthread.__main__, mailthread.filter, mailthread.delivery, _blake2"
SIZES = (1_000, 1_000_000)
INDEX = 1_000_000


def write_refs(path: Path, count: int, last: list[str]) -> None:
    """``count`` ids in threads of 10, the message's ancestors ``last`` as the last line:
    the worst case for the baseline's scan."""
    filler = count - len(last)
    with open(path, "w") as f:
        for start in range(0, filler, IDS_PER_THREAD):
            end = min(start + IDS_PER_THREAD, filler)
            f.write("".join(f"<{n}.bench@example.com> " for n in range(start, end)) + "\n")
        f.write("".join(f"<{i}> " for i in last) + "\n")


def fill_index(db: Path, messages: int) -> None:
    """``messages`` entries in the message index: conversations of 10, dates over the last
    year, one subject hash per conversation (what `match` would have written)."""
    now = int(time.time())
    conn = sqlite3.connect(db)
    with conn:
        (first,) = conn.execute("SELECT coalesce(max(conv), 0) + 1 FROM seen").fetchone()
        conn.executemany(
            "INSERT OR IGNORE INTO seen (msgid, conv, date, subject) VALUES (?, ?, ?, ?)",
            sorted(
                (
                    f"{n}.index@example.com",
                    first + n // 10,
                    now - (n * 7919) % (365 * 86400),
                    (n // 10 * 2654435761) % 2**62,
                )
                for n in range(messages)
            ),
        )
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.quick:
        options.runs, options.messages = 5, 1_000
    mailthread, python = contestants()
    message = MESSAGE.read_bytes()
    ancestors = Header(message).ids_nearest_first()[1:]
    header_end = Header(message).end
    unknown = message[:header_end].replace(b"<", b"<nomatch.") + message[header_end:]
    assert not set(Header(unknown).ids_nearest_first()) & set(ancestors)

    print("# mailthread speed, whole processes, medians; ratios within this run")
    print(f"mailthread: {mailthread} ({python}); baseline: {BASELINE}")
    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}, runs: {options.runs}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        commands: dict[str, tuple[list[str], bytes, dict]] = {
            "floor": ([python, "-c", "pass"], b"", dict(os.environ)),
            # What any filter on Python's SQLite pays before its own first line: the C
            # module, with the functools and collections its initialisation imports, and
            # no interpreter shutdown (match skips it too: os._exit).
            "sqlite floor": (
                [python, "-c", "import _sqlite3, os; os._exit(0)"],
                b"",
                dict(os.environ),
            ),
            # ...and with match's own modules loaded (what it imports before it reads); -P:
            # from the installed package, not from a checkout in the working directory.
            "modules": (
                [python, "-P", "-c", f"import {MATCH_MODULES}, os; os._exit(0)"],
                b"",
                dict(os.environ),
            ),
        }
        imports = []
        for count in SIZES:
            refs = work / f"refs.{count}"
            write_refs(refs, count, ancestors)
            configs = [(f"{count:,} ids", 0)]
            if count == max(SIZES):
                configs.append((f"{count:,} ids + {INDEX:,} indexed messages", INDEX))
            for label, index in configs:
                db = work / f"threads.{count}.{index}.db"
                start = time.perf_counter()
                result = subprocess.run(
                    [mailthread, "--db", str(db), "add", "muted", "--refs-file", str(refs)],
                    capture_output=True,
                )
                seconds = time.perf_counter() - start
                if result.returncode != 0:
                    raise SystemExit(result.stderr.decode(errors="replace"))
                if count == max(SIZES) and not index:
                    imports.append((f"`--refs-file`: {count:,} ids", seconds, count, "ids", db))
                if index:
                    fill_index(db, index)
                env = {**os.environ, "MAILTHREAD_DB": str(db)}
                for case, stdin in (("match", message), ("no match", unknown)):
                    commands[f"mailthread|{label}|{case}"] = ([mailthread, "match"], stdin, env)
                    if not index:
                        baseline = ["bash", str(BASELINE), str(refs), "X-Mailthread: muted"]
                        commands[f"baseline|{label}|{case}"] = (baseline, stdin, env)
        medians = time_commands(commands, options.runs)
        ms = {name: seconds * 1000 for name, seconds in medians.items()}
        floor = ms.pop("floor")
        sqlite_floor = ms.pop("sqlite floor")
        modules = ms.pop("modules")

        print(f"`python -c pass` (the floor): {floor:.1f} ms")
        print(
            f"`python -c 'import _sqlite3, os; os._exit(0)'`: {sqlite_floor:.1f} ms,"
            f" {sqlite_floor / floor:.2f}x the floor"
        )
        print(
            f"the same with match's modules loaded: {modules:.1f} ms, {modules / floor:.2f}x"
            " the floor\n"
        )
        print(
            "| stored | case | mailthread match | baseline | mailthread / baseline |"
            " mailthread / floor |"
        )
        print("|---|---|---:|---:|---:|---:|")
        rows = {}
        for name, value in ms.items():
            tool, label, case = name.split("|")
            if tool != "mailthread":
                continue
            base = ms.get(f"baseline|{label}|{case}")
            rows[label, case] = (value, base)
            print(
                f"| {label} | {case} | {value:.1f} ms | "
                + (f"{base:.1f} ms | {value / base:.2f}x" if base else "- | -")
                + f" | {value / floor:.2f}x |"
            )

        messages = options.messages
        maildir = work / "Maildir"
        write_maildir(maildir, messages)
        mbox = work / "mbox"
        write_mbox(mbox, maildir)
        print("\n| import | seconds | rate | stored ids | database | bytes per id |")
        print("|---|---:|---:|---:|---:|---:|")
        for what, seconds, count, unit, db in imports:
            (stored,) = sqlite3.connect(db).execute("SELECT count(*) FROM ids").fetchone()
            size = sum(
                os.path.getsize(f"{db}{suffix}")
                for suffix in ("", "-wal")
                if os.path.exists(f"{db}{suffix}")
            )
            print(
                f"| {what} | {seconds:.2f} | {count / seconds:,.0f} {unit}/s | {stored:,}"
                f" | {size / 1e6:.1f} MB | {size / stored:.0f} |"
            )
        for what, path in (("Maildir", maildir), ("mbox", mbox)):
            seconds, _, size, stored = run_import(mailthread, ["--mailbox", str(path)], work, 3)
            print(
                f"| `--mailbox`: {what} of {messages:,} messages | {seconds:.2f}"
                f" | {messages / seconds:,.0f} messages/s | {stored:,} | {size / 1e6:.1f} MB"
                f" | {size / stored:.0f} |"
            )

    small, big = (f"{n:,} ids" for n in SIZES)
    indexed = f"{max(SIZES):,} ids + {INDEX:,} indexed messages"
    checks = []
    for case in ("match", "no match"):
        value, base = rows[big, case]
        checks.append((f"{case}, {big}: mailthread / baseline", value / base, 0.5))
        checks.append((f"{case}: {big} / {small}", value / rows[small, case][0], 1.15))
        checks.append(
            (f"{case}: {indexed} / {small}", rows[indexed, case][0] / rows[small, case][0], 1.15)
        )
    worst = max(value for value, _ in rows.values())
    checks.append(("slowest match / floor", worst / floor, 1.35))
    # Not a target: how much of the floor target is left once SQLite's C module is loaded.
    print(
        f"\nOf the floor target: `import _sqlite3` alone is {sqlite_floor / floor:.2f}x the"
        f" floor, match's modules add {(modules - sqlite_floor) / floor:.2f}x, its work"
        f" {(worst - modules) / floor:.2f}x (slowest case)"
    )
    print("\n| target | measured | at most | |\n|---|---:|---:|---|")
    missed = 0
    for what, measured, limit in checks:
        ok = measured <= limit
        missed += not ok
        print(f"| {what} | {measured:.2f}x | {limit}x | {'ok' if ok else 'MISSED'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
