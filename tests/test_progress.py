"""The import progress bar shows on a terminal, and only there."""

import os
import pty
import subprocess

from conftest import drain_terminal, mailthread_command


def import_maildir(corpus, db, stderr):
    return subprocess.run(
        [*mailthread_command(), "add", "muted", "--mailbox", str(corpus / "openbmc")],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        timeout=60,
    )


def test_progress_bar_on_a_terminal(corpus, db):
    controller, terminal = pty.openpty()
    try:
        result = import_maildir(corpus, db, terminal)
        os.close(terminal)
        shown = drain_terminal(controller)
    finally:
        os.close(controller)
    assert result.returncode == 0
    assert b"openbmc" in shown and b"100%" in shown
    assert result.stdout.startswith(b"read 364 messages from 1 mailbox: 66 threads added")


def test_no_progress_bar_when_stderr_is_not_a_terminal(corpus, db):
    result = import_maildir(corpus, db, subprocess.PIPE)
    assert result.returncode == 0 and result.stderr == b""
