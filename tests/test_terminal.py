"""Output that is safe on a terminal: a subject, id or list name from mail or the database
can hold control characters (an RFC 2047 word decodes to any of them), and written raw they
retitle the window, clear the screen or reorder the line. Every command shows them
replaced (U+FFFD; a tab or line break by a blank), on a terminal and into a pipe alike;
`list --json` keeps the exact text, escaped.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess

import pytest
from conftest import drain_terminal, mailthread_command, message

# The subject (ESC ] 2 ; x BEL: window title; ESC [ 2 J: clear the screen), then a
# C1 CSI (U+009B), DEL, a right-to-left override (U+202E) and a tab.
ENCODED = "=?utf-8?q?hi=1B]2;x=07=1B[2J_=C2=9B=7F=E2=80=AE=09end?="
DECODED = "hi\x1b]2;x\x07\x1b[2J \x9b\x7f\u202e\tend"
STORED = DECODED.replace("\t", " ")  # Header.subject() collapses blanks
SHOWN = "hi\ufffd]2;x\ufffd\ufffd[2J \ufffd\ufffd\ufffd end"
HOSTILE = message("evil\x1b[2J@x", subject=ENCODED)
UNSAFE = {*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0)), "\u202e"} - {"\n"}


def test_printable_replaces_one_for_one():
    from mailthread.filter import printable

    assert printable(DECODED) == SHOWN
    assert (
        printable("caf\u00e9 \u65e5\u672c \u00a0\u2014 ok")
        == "caf\u00e9 \u65e5\u672c \u00a0\u2014 ok"
    )
    assert printable("lone \udc80 surrogate") == "lone \ufffd surrogate"
    # The bidi marks reorder neutral characters around them, as the overrides do.
    assert printable("a\u200eb\u200fc\u061cd") == "a\ufffdb\ufffdc\ufffdd"
    assert all(len(printable(c)) == 1 for c in map(chr, range(0x2070)))


def command(args, db, stdin: bytes = b"", terminal: bool = False) -> tuple[int, str]:
    """Run mailthread; its stdout is a pipe, or a pseudo-terminal when ``terminal``.
    Returns the exit status and what it wrote on stdout and stderr together."""
    env = {**os.environ, "MAILTHREAD_DB": str(db), "LC_ALL": "C.UTF-8"}
    if not terminal:
        result = subprocess.run(
            [*mailthread_command(), *args],
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=60,
        )
        return result.returncode, result.stdout.decode()
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*mailthread_command(), *args],
            stdin=subprocess.PIPE,
            stdout=follower,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        follower = -1
        proc.communicate(stdin, timeout=60)
        output = drain_terminal(leader)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    # The terminal's line discipline writes each line end as CR LF.
    return proc.returncode, output.decode().replace("\r\n", "\n")


def assert_safe(output: str) -> None:
    assert not UNSAFE & set(output), repr(output)


@pytest.fixture(params=[False, True], ids=["pipe", "terminal"])
def terminal(request) -> bool:
    return request.param


def test_every_command_shows_the_subject_replaced(db, terminal):
    status, output = command(["add", "muted"], db, HOSTILE, terminal)
    assert status == 0 and f"({SHOWN})" in output
    assert_safe(output)

    status, output = command(["list"], db, terminal=terminal)
    assert status == 0 and output.splitlines()[1].endswith(SHOWN)
    assert len(output.splitlines()) == 2  # one line per thread
    assert_safe(output)

    status, output = command(["explain"], db, HOSTILE, terminal)
    assert status == 0 and SHOWN in output and "<evil\ufffd[2J@x>" in output
    assert_safe(output)

    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE threads SET created = '2000-01-01T00:00:00Z'")
    conn.close()
    status, output = command(["expire", "--dry-run"], db, terminal=terminal)
    assert status == 0 and SHOWN in output
    assert_safe(output)

    status, output = command(["remove"], db, HOSTILE, terminal)
    assert status == 0 and SHOWN in output
    assert_safe(output)


def test_list_json_keeps_the_exact_subject_escaped(db, terminal):
    assert command(["add", "muted"], db, HOSTILE)[0] == 0
    status, output = command(["list", "--json"], db, terminal=terminal)
    assert status == 0
    assert_safe(output)
    assert json.loads(output)[0]["subject"] == STORED


@pytest.mark.parametrize("flag", ["--nl", "--csv", "--tsv"])
def test_list_other_formats_are_safe_on_a_terminal(db, terminal, flag):
    """--nl escapes as --json does; --csv and --tsv replace what a terminal would act on,
    as the table does, in a pipe too: `list --csv | grep x` ends on a terminal. (Until the
    review of issue 15 they were exact in a pipe.)"""
    assert command(["add", "muted"], db, HOSTILE)[0] == 0
    status, output = command(["list", flag], db, terminal=terminal)
    assert status == 0
    # TSV's own delimiter, a tab, is the one control character it keeps, on a terminal too.
    assert_safe(output.replace("\t", " ") if flag == "--tsv" else output)
    if flag == "--nl":
        assert json.loads(output)["subject"] == STORED
    else:
        assert SHOWN in output


def test_a_hostile_list_name_in_the_database_is_shown_replaced(db, terminal):
    """Only a hand-edited database holds such a name (add refuses it), but it is shown
    safely all the same; so is an error line that quotes a path."""
    assert command(["add", "muted"], db, HOSTILE)[0] == 0
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE threads SET list = 'mu\x1b]0;owned\x07ted'")
    conn.close()
    status, output = command(["list"], db, terminal=terminal)
    assert status == 0 and "mu\ufffd]0;owned\ufffdted" in output
    assert_safe(output)
    status, output = command(["add", "muted", "--mailbox", "/no/\x1b[2J/box"], db, b"", terminal)
    assert status == 1 and "/no/\ufffd[2J/box" in output
    assert_safe(output)
