#!/usr/bin/env python3
"""What RFC 2047 subjects cost `match`: two installs side by side (issue 12 moved subject
decoding to the standard library's email.header, loaded only for a subject with "=?").

    python3 bench/encoded_subject.py OLD/bin/mailthread NEW/bin/mailthread [--runs 21]

Whole-process medians (as speed.py: every round runs each command once, shuffled), each
install with a database of its own holding the thread: a reply whose Subject is plain
UTF-8, the same split over two encoded words, and the worst Subject a fact may hold
(FACT_BYTES of one-word runs whose charsets alternate, the most decode_header calls).
Then decode_words alone on the worst inputs of FACT_BYTES, in this process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from match_vs_baseline import time_commands  # noqa: E402

from mailthread.encoded_words import decode_words  # noqa: E402
from mailthread.message import FACT_BYTES  # noqa: E402

HEAD = b"From: a@example.com\nTo: me@example.com\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
ROOT = HEAD + b"Subject: caf\xc3\xa9 cr\xc3\xa8me\nMessage-ID: <root@example.com>\n\nhi\n"


def reply(subject: bytes) -> bytes:
    return HEAD + b"Subject: " + subject + b"\nMessage-ID: <r@example.com>\n\nbody\n"


def fill(unit: bytes) -> bytes:
    return (unit * (FACT_BYTES // len(unit) + 1))[: FACT_BYTES - 2]


WORST = {
    "one run of 6,500 Q words": fill(b"=?utf-8?q?a?= "),
    "8,192 empty Q words": fill(b"=?a?q??="),
    "alternating charsets": fill(b"=?a?q?x?==?b?q?x?="),
    "unclosed words": fill(b"=?utf-8?q?"),
    "look-alikes without an end (quadratic in email.header's ecre)": fill(b"=?a?q?xx"),
    "broken base64 words": fill(b"=?utf-8?b?A?="),
    "text and words": fill(b"x =?utf-8?q?a?= "),
}
MESSAGES = {
    "plain UTF-8 subject": reply(b"Re: caf\xc3\xa9 cr\xc3\xa8me"),
    "split encoded subject": reply(b"Re: =?utf-8?q?caf=C3?= =?UTF-8?q?=A9_cr=C3=A8me?="),
    "64 KiB worst subject": reply(WORST["alternating charsets"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--runs", type=int, default=21)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        commands = {}
        for label, script in (("old", options.old), ("new", options.new)):
            env = {**os.environ, "MAILTHREAD_DB": str(Path(tmp) / label / "threads.db")}
            added = subprocess.run([script, "add", "muted"], input=ROOT, env=env)
            if added.returncode:
                raise SystemExit(f"{label}: add failed")
            for name, message in MESSAGES.items():
                commands[f"{label}: {name}"] = ([script, "match"], message, env)
        medians = time_commands(commands, options.runs)
    print(f"match, median of {options.runs} whole processes (ms):")
    print(f"{'message':28} {'old':>8} {'new':>8}")
    for name in MESSAGES:
        old, new = medians[f"old: {name}"], medians[f"new: {name}"]
        print(f"{name:28} {old * 1000:8.1f} {new * 1000:8.1f}")
    print(f"\ndecode_words of {FACT_BYTES} bytes, in this process (ms, best of 3):")
    for name, value in WORST.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            decode_words(value)
            best = min(best, time.perf_counter() - start)
        print(f"{name:28} {best * 1000:8.1f}")


if __name__ == "__main__":
    main()
