"""Dovecot's LMTP server (dovecot-lmtpd) delivering with contrib/dovecot/: the real Dovecot
of tests/e2e/mailserver.py (in a user namespace, so that the filter can run the installed
mailthread) serving LMTP on 127.0.0.1, 90-mailthread.conf included unchanged, the filter
wrapper and the mark reader in their bin folders and mailthread.sieve compiled by sievec,
as tests/e2e/test_dovecot.py installs them for dovecot-lda; the test is the mail server
(MTA), handing messages over with smtplib.LMTP."""

from __future__ import annotations

import re
import shutil
import smtplib
import sqlite3
import subprocess
from pathlib import Path

import pytest

from .conftest import MUTED, PARENT, REPLY, SENDER, Env, raw, require
from .dovecot_lda import CONTRIB
from .mailserver import MailServer

pytestmark = pytest.mark.e2e


class Lmtp(Env):
    """A Dovecot delivering over LMTP, with Sieve and mailthread.sieve, to one user whose
    mailthread is in ~/.local/bin and whose database is the default one."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.bin = self.home / ".local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "mailthread").symlink_to(self.mailthread)
        self.db = self.home / ".local" / "share" / "mailthread" / "threads.db"
        dirs = {name: tmp_path / name for name in ("sieve-filter", "sieve-execute", "sieve")}
        for folder in dirs.values():
            folder.mkdir()
        shutil.copy(CONTRIB / "mailthread", dirs["sieve-filter"])
        shutil.copy(CONTRIB / "mailthread-mark", dirs["sieve-execute"])
        script = dirs["sieve"] / "mailthread.sieve"
        shutil.copy(CONTRIB / "mailthread.sieve", script)
        extra = (
            f"!include {CONTRIB / '90-mailthread.conf'}\n"
            "plugin {\n"
            f"  sieve_filter_bin_dir = {dirs['sieve-filter']}\n"
            f"  sieve_execute_bin_dir = {dirs['sieve-execute']}\n"
            f"  sieve_before = {script}\n"
            "  sieve = file:~/sieve;active=~/.dovecot.sieve\n"
            "}\n"
        )
        self.server = MailServer(
            tmp_path / "server", userns=True, home=self.home, extra_conf=extra, lmtp=True
        )
        compiled = subprocess.run(
            ["sievec", "-c", str(self.server.conf), str(script)], capture_output=True, text=True
        )
        assert compiled.returncode == 0, compiled.stderr

    def deliver(self, msg: bytes) -> None:
        """An MTA's hand-over: one message, one recipient (the user's name: the server's
        passwd-file knows no domain); LMTP answers per recipient."""
        with smtplib.LMTP(self.server.HOST, self.server.lmtp_port, timeout=60) as lmtp:
            # On the wire every line ends in CRLF (smtplib would add one more line to an
            # LF message); Dovecot stores LF line ends.
            refused = lmtp.sendmail(SENDER, [self.server.USER], msg.replace(b"\n", b"\r\n"))
        assert refused == {}, (refused, self.server.log())

    def messages(self, folder: str) -> list[bytes]:
        return self.server.messages(folder)

    def folders(self) -> dict[str, list[bytes]]:
        return {name: self.messages(name) for name in ("INBOX", "Muted", "Watched")}


@pytest.fixture
def lmtp(tmp_path):
    require(
        "dovecot",
        "/usr/lib/dovecot/lmtp",
        "/usr/lib/dovecot/imap",  # the server serves IMAP and POP3 too
        "/usr/lib/dovecot/pop3",
        "sievec",
        "unshare",
        packages="dovecot-core dovecot-lmtpd dovecot-imapd dovecot-pop3d dovecot-sieve",
    )
    setup = Lmtp(tmp_path)
    yield setup
    setup.server.stop()


# What Dovecot's LMTP server puts above every message it stores (Sieve or not).
ADDED = re.compile(
    rb"\AReturn-Path: <" + re.escape(SENDER.encode()) + rb">\n"
    rb"Delivered-To: " + re.escape(MailServer.USER.encode()) + rb"\n"
    rb"Received: from [^\n]*\n(?:[ \t][^\n]*\n)*"
)


def stored(delivered: bytes) -> bytes:
    """The message as the MTA handed it over: Dovecot's own lines above it taken off."""
    added = ADDED.match(delivered)
    assert added, delivered[:400]
    return delivered[added.end() :]


def test_a_muted_reply_is_filed_read_with_the_muted_keyword(lmtp):
    lmtp.add("muted", raw(PARENT))
    lmtp.deliver(raw(REPLY))
    [filed] = lmtp.server.files("Muted")
    # Maildir flags: S (\Seen) and "a", the first keyword of the folder's dovecot-keywords.
    assert filed.parent.name == "cur" and filed.name.endswith(":2,Sa"), filed
    assert (lmtp.server.folder("Muted") / "dovecot-keywords").read_text() == "0 $Muted\n"
    # mailthread's line first: mailthread saw the message with Dovecot's lines already on.
    marked = filed.read_bytes()
    assert marked.startswith(MUTED + b"\n")
    assert stored(marked[len(MUTED) + 1 :]) == raw(REPLY)
    assert lmtp.messages("INBOX") == lmtp.messages("Watched") == []


def test_without_mailthread_a_forged_mark_is_delivered_to_the_inbox(lmtp):
    lmtp.add("muted", raw(PARENT))
    (lmtp.bin / "mailthread").unlink()
    forged = raw(REPLY, MUTED)  # a sender's own mark, first in the header
    lmtp.deliver(forged)
    [inbox] = lmtp.messages("INBOX")
    assert stored(inbox) == forged
    assert lmtp.messages("Muted") == lmtp.messages("Watched") == []
    # With LMTP the filter's reason goes to Dovecot's own log (with dovecot-lda, to its
    # standard error), beside the exit status.
    log = lmtp.server.log()
    assert "lmtp: Error: mailthread: " in log and "is not installed" in log, log
    assert "Terminated with non-zero exit code 75" in log, log


def test_a_database_locked_past_mailthreads_wait_delivers_unmarked(lmtp):
    """A writer holds the database for the whole delivery: mailthread waits its 5 s, then
    passes the message on unmarked, within Pigeonhole's 10 s."""
    lmtp.add("muted", raw(PARENT))
    holder = sqlite3.connect(lmtp.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        lmtp.deliver(raw(REPLY))
    finally:
        holder.close()
    [inbox] = lmtp.messages("INBOX")
    assert stored(inbox) == raw(REPLY)
    assert lmtp.messages("Muted") == lmtp.messages("Watched") == []
    log = lmtp.server.log()
    assert re.search(r"lmtp: Error: mailthread: .*passed through unmarked", log), log
