#!/usr/bin/env python3
"""Whole-process cost of importing into a fresh database: `mailthread add muted --refs-file`
(the old scripts' ~/.refs.muted) and `mailthread add muted --mailbox` (a Maildir, and the
same messages as one mbox).

    python3 bench/import_bench.py [--lines 100000] [--ids-per-line 10] [--messages 10000]
                                  [--runs 3]

The refs file has --lines threads of --ids-per-line ids each, written as add-thread.sh
writes them (`<id> ` tokens, one thread per line). The Maildir holds --messages real messages
of ../shared/corpus (its Maildir samples, copied round after round); in every round a
counter is put into each id of the Message-ID, In-Reply-To and References fields, in the
raw header bytes, so each round is a fresh set of conversations shaped like the corpus.
Each import runs --runs times on a fresh database; the table gives the median. Uses the
`mailthread` found on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
MAILDIRS = ("usrp-users", "openbmc", "open-iscsi", "ksummit")
THREADING_FIELDS = (b"message-id", b"in-reply-to", b"references")


def write_refs(path: Path, lines: int, per_line: int) -> int:
    with open(path, "w") as f:
        for line in range(lines):
            f.write("".join(f"<{line}.{n}.bench@example.com> " for n in range(per_line)) + "\n")
    return lines * per_line


def renumbered(raw: bytes, counter: int) -> bytes:
    """``raw`` with ``.rN`` put before the ``@`` of every id in its threading fields
    (continuation lines included), every other byte unchanged."""
    end = raw.find(b"\n\n")
    end = len(raw) if end < 0 else end + 1
    lines = raw[:end].split(b"\n")
    in_threading_field = False
    tag = b".r%d@" % counter
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            pass  # a continuation line: same field as the line before
        else:
            name = line.split(b":", 1)[0].strip().lower()
            in_threading_field = name in THREADING_FIELDS
            if in_threading_field:
                name_part, value = line.split(b":", 1)
                lines[i] = name_part + b":" + value.replace(b"@", tag)
                continue
        if in_threading_field:
            lines[i] = line.replace(b"@", tag)
    return b"\n".join(lines) + raw[end:]


def write_maildir(path: Path, count: int) -> int:
    sources = [
        file
        for name in MAILDIRS
        for file in sorted((CORPUS / name / "cur").iterdir())
        if file.is_file()
    ]
    if not sources:
        raise SystemExit(f"no corpus messages under {CORPUS}")
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    for n in range(count):
        round_, index = divmod(n, len(sources))
        raw = sources[index].read_bytes()
        (path / "cur" / f"{n:06d}.bench:2,S").write_bytes(renumbered(raw, round_))
    return count


def write_mbox(path: Path, maildir: Path) -> None:
    """The messages of ``maildir`` as one mboxrd file, as procmail would deliver them."""
    with open(path, "wb") as out:
        for file in sorted((maildir / "cur").iterdir()):
            raw = file.read_bytes()
            if not raw.endswith(b"\n"):
                raw += b"\n"
            out.write(b"From bench@example.com Sat Jan  1 00:00:00 2000\n")
            out.write(re.sub(rb"(?m)^(>*From )", rb">\1", raw) + b"\n")


def run_import(mailthread: str, args: list[str], workdir: Path, runs: int):
    """(median seconds, summary line, database bytes, stored ids) over ``runs`` fresh
    databases."""
    times = []
    for run in range(runs):
        db = workdir / f"import{run}.db"
        start = time.perf_counter()
        result = subprocess.run(
            [mailthread, "--db", str(db), "add", "muted", *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        size = sum(
            os.path.getsize(f"{db}{suffix}")
            for suffix in ("", "-wal", "-shm")
            if os.path.exists(f"{db}{suffix}")
        )
        conn = sqlite3.connect(db)
        (stored,) = conn.execute("SELECT count(*) FROM ids").fetchone()
        conn.close()
        summary = result.stdout.decode(errors="replace").strip().splitlines()[-1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                os.remove(f"{db}{suffix}")
    return statistics.median(times), summary, size, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--ids-per-line", type=int, default=10)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    mailthread = shutil.which("mailthread")
    if mailthread is None:
        raise SystemExit("no mailthread on PATH: pip install . first")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        refs = workdir / "refs.muted"
        ids = write_refs(refs, options.lines, options.ids_per_line)
        maildir = workdir / "Maildir"
        messages = write_maildir(maildir, options.messages)
        mbox = workdir / "mbox"
        write_mbox(mbox, maildir)

        print(f"# import into a fresh database, whole process, median of {options.runs} runs")
        print(f"mailthread: {mailthread}")
        print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}\n")
        cases = (
            (
                f"`--refs-file`: {options.lines:,} lines, {ids:,} ids",
                ids,
                "ids",
                "--refs-file",
                refs,
            ),
            (
                f"`--mailbox`: Maildir of {messages:,} messages",
                messages,
                "messages",
                "--mailbox",
                maildir,
            ),
            (
                f"`--mailbox`: mbox of {messages:,} messages",
                messages,
                "messages",
                "--mailbox",
                mbox,
            ),
        )
        rows = []
        for what, count, unit, option, path in cases:
            seconds, summary, size, stored = run_import(
                mailthread, [option, str(path)], workdir, options.runs
            )
            rows.append((what, seconds, f"{count / seconds:,.0f} {unit}/s", size, stored, summary))
        print("| import | seconds | rate | stored ids | database | bytes per id |")
        print("|---|---:|---:|---:|---:|---:|")
        for what, seconds, rate, size, stored, _ in rows:
            print(
                f"| {what} | {seconds:.2f} | {rate} | {stored:,} | {size / 1e6:.1f} MB"
                f" | {size / stored:.0f} |"
            )
        print()
        for what, *_, summary in rows:
            print(f"- {what}: {summary}")


if __name__ == "__main__":
    main()
