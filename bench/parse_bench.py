#!/usr/bin/env python3
"""Whole-process cost of `mailthread match` and `mailthread add` on messages with one huge
header field of the forms that were quadratic (issue 11), against the same message with
those bytes in its body instead, which match only reads and copies.

    python3 bench/parse_bench.py [--mb 10] [--runs 3] [--only NAME]

Each form is a --mb MB field; each command runs --runs times on a fresh database; the table
gives the median seconds and its ratio to the body-only message's (same run). Uses the
`mailthread` found on PATH. Quadratic code took 20+ s at 2 MB; linear code stays within a
small factor of reading the message.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time


def forms(size: int) -> dict[str, bytes]:
    """name -> a header field of about ``size`` bytes (with its line end)."""

    def fill(prefix: bytes, unit: bytes, suffix: bytes = b"") -> bytes:
        return prefix + unit * (size // len(unit)) + suffix + b"\n"

    return {
        "references <<<<": fill(b"References: ", b"<"),
        "references <<<<>": fill(b"References: ", b"<", b">"),
        "references <a<a": fill(b"References: ", b"<a"),
        "references ((((": fill(b"References: ", b"("),
        "references (a(a": fill(b"References: ", b"(a"),
        'references """"': fill(b"References: ", b'"', b"x"),
        'references "\\\\': fill(b"References: ", b'"\\\\'),
        "references ids": fill(b"References: ", b"<1234567890@example.com> "),
        "references bare": fill(b"References: ", b"a@b,"),
        "references folded": fill(b"References: ", b"\n <a@b>"),
        "subject Re:": fill(b"Subject: ", b"Re: ", b"x"),
        "subject Re:Re:": fill(b"Subject: ", b"Re:", b"x"),
        "subject [tag]": fill(b"Subject: Re: ", b"[tag]", b"x"),
        "subject Re[2]:": fill(b"Subject: ", b"Re[2]: ", b"x"),
        "subject [[[[": fill(b"Subject: Re: ", b"["),
        "subject =?utf-8?q?": fill(b"Subject: Re: ", b"=?utf-8?q?=C3=A9?= "),
        "subject =?utf-7?b": fill(b"Subject: Re: ", b"=?utf-7?q?+2AA-?= "),
        "subject =?punycode?q": fill(b"Subject: Re: =?punycode?q?", b"a", b"?="),
        "subject folded": fill(b"Subject: Re: ", b"\n x"),
        # Raw 8-bit bytes that are no UTF-8: each read as Windows-1252 (encoded_words.raw_text).
        "subject raw latin-1": fill(b"Subject: Re: ", b"\xe9"),
        "subject raw mixed": fill(b"Subject: Re: ", b"\xc3\xa9\xe9"),
        # Issue 13's topics (subject.subject_topic); a Subject over 64 KiB counts as none,
        # so run these with --mb 0.06.
        "subject (was nested": b"Subject: x "
        + b"(was " * (size // 12)
        + b")" * (size // 12)
        + b" y\n",
        "subject [a] trailing": fill(b"Subject: x ", b"[a]"),
        "subject (solved)": fill(b"Subject: x ", b" (solved)"),
        "subject digest": fill(b"Subject: x ", b"digest #1 "),
        "date digits": fill(b"Date: 1 Jan ", b"9", b" 10:00:00 +0000"),
        "date colons": fill(b"Date: 1 Jan 2024 ", b"1:", b"1 +0000"),
        "to addresses": fill(b"To: ", b"a@b, "),
        "thread-index": fill(b"Thread-Index: ", b"QUJD"),
    }


def message(field: bytes) -> bytes:
    return b"Message-ID: <bench@example.com>\nIn-Reply-To: <p@example.com>\n" + field + b"\nx\n"


def run(argv: list[str], data: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "db")
            start = time.perf_counter()
            done = subprocess.run(
                ["mailthread", "--db", db, *argv], input=data, capture_output=True
            )
            times.append(time.perf_counter() - start)
            if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
                raise SystemExit(f"{argv}: exit {done.returncode}: {done.stderr[-300:]!r}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    body = message(b"Subject: plain\n") + b"x" * size + b"\n"
    base = {cmd: run([cmd, "muted"], body, args.runs) for cmd in ("match", "add")}
    print(f"{args.mb:g} MB fields, median of {args.runs} whole-process runs")
    print(f"{'form':24} {'match s':>8} {'ratio':>6} {'add s':>8} {'ratio':>6}")
    print(f"{'(same bytes in body)':24} {base['match']:8.2f} {1:6.1f} {base['add']:8.2f} {1:6.1f}")
    for name, field in forms(size).items():
        if args.only not in name:
            continue
        data = message(field)
        m = run(["match", "muted"], data, args.runs)
        a = run(["add", "muted"], data, args.runs)
        print(f"{name:24} {m:8.2f} {m / base['match']:6.1f} {a:8.2f} {a / base['add']:6.1f}")


if __name__ == "__main__":
    main()
