"""How commands show threads and counts: the one-line description of a thread, durations
and lifetimes as users type them ("7d", "1w"), plurals, and ``list``'s outputs (JSON, CSV or
TSV as sqlite-utils prints them, and the table on a terminal). Text only: the commands
print it."""

from __future__ import annotations

import sys

from mailthread import arguments, filter
from mailthread.filter import printable
from mailthread.threads import Thread


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, in the plural unless it is 1: "1 thread", "2 threads",
    "2 mailboxes"."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{count} {word}s"


def none_recorded(count: int) -> str:
    """That none of a message's ``count`` ids is in a thread, in words."""
    if count < 2:
        return "its one id is not recorded" if count else "it has no message id"
    return f"none of its {count} ids is recorded"


def format_duration(seconds: int | None) -> str | None:
    """Seconds as a DURATION is typed: in days, else hours, else seconds ("84d", "12h",
    "90s"); None stays None."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600)):  # "12w" reads back as "84d": days count
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def lifetime_text(thread) -> str | None:
    """A thread's own lifetime as it was given ("1w"), or in days or hours; None: none."""
    given = thread.expires_given
    try:
        if given and thread.expires_after == arguments.parse_duration(given):
            return given
    except arguments.UsageError:  # a hand-edited database
        pass
    return format_duration(thread.expires_after)


def describe(thread) -> str:
    """A thread on one line: its number, list, counts, lifetime and subject."""
    lapse = f", lapses after {lifetime_text(thread)} idle" if thread.expires_after else ""
    return (
        f"thread {thread.id} ({thread.list}, {thread.ids} id{'s' * (thread.ids != 1)},"
        f" {thread.hits} hit{'s' * (thread.hits != 1)}{lapse}): {thread.subject or 'no subject'}"
    )


def json_text(value, indent: int | None = 2) -> str:
    """``value`` as JSON that is safe on a terminal and decodes to exactly ``value``: JSON
    escapes C0 controls itself; DEL, C1 controls, bidi overrides and marks and lone
    surrogates are escaped here too (``\\u009b``), as ``printable`` would replace them.
    ``indent`` None: on one line."""
    import json
    import re

    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return re.sub(
        "[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]",
        lambda m: f"\\u{ord(m[0]):04x}",
        text,
    )


def thread_rows(threads: list[Thread]) -> list[dict]:
    """``threads`` as ``list --json`` gives them: one dict each, keyed by column, with the
    lifetime as it was given (``lifetime_text``)."""
    rows = [thread._asdict() for thread in threads]
    for row, thread in zip(rows, threads, strict=True):
        row["expires_after"] = lifetime_text(thread)
        del row["expires_given"]
    return rows


def write_table(rows: list[dict], delimiter: str) -> None:
    """``rows`` as CSV (RFC 4180; or TSV, ``delimiter`` a tab) with a header row, as
    sqlite-utils' --csv and --tsv print them, every field ``printable`` -- in a pipe too:
    ``list --csv | grep x`` ends on a terminal (--json and --nl keep text exact, escaped)."""
    import csv
    import io

    columns = list(Thread._fields)
    columns.remove("expires_given")
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {key: printable(value) if isinstance(value, str) else value for key, value in row.items()}
        for row in rows
    )
    write_out(out.getvalue())


def write_out(text: str) -> None:
    """``text`` to stdout as UTF-8 (lone surrogates replaced), all of it: a pipe may take
    less than it is given, after a pause (Ctrl-Z, ``fg``) or a signal. Not click.echo, which
    drops what looks like ANSI escapes from text going to a pipe. OSError when it cannot."""
    sys.stdout.flush()
    filter.write(sys.stdout.buffer, [text.encode("utf-8", "replace")])


def thread_table(threads: list[Thread]) -> list[str]:
    """``threads`` as ``list`` shows them on a terminal: a header line, then one line each,
    in aligned columns with the subject last (the lines not yet ``printable``)."""

    def day(stamp):
        return stamp[:16].replace("T", " ") if stamp else "-"

    table = [("ID", "LIST", "HITS", "IDS", "LAST MATCH", "CREATED", "FOR", "SUBJECT")]
    for t in threads:
        table.append(
            (
                str(t.id),
                t.list,
                str(t.hits),
                str(t.ids),
                day(t.last_match),
                day(t.created),
                lifetime_text(t) or "-",
                t.subject or "",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(7)]
    lines = []
    for row in table:
        cells = [
            cell.rjust(w) if i in (0, 2, 3) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:7], widths, strict=True))
        ]
        lines.append("  ".join(cells + [row[7]]).rstrip())
    return lines
