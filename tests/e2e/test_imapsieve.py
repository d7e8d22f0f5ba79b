"""Mute, watch and unmute from any IMAP client, Dovecot's way: the real Dovecot IMAP server
(tests/e2e/mailserver.py) with contrib/dovecot/95-mailthread-imapsieve.conf and
90-mailthread.conf included unchanged, their programs and Sieve scripts installed as the
files say (only the folders pointed into tmp_path), the test acting as the IMAP client
with imaplib, and the next reply delivered by the real dovecot-lda with the same
configuration."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    MUTED,
    OTHER,
    PARENT,
    REPLY,
    SENDER,
    WATCHED,
    mailthread_script,
    message,
    raw,
    require,
)
from .dovecot_lda import CONTRIB, LDA, RCPT, as_user
from .mailserver import MailServer

pytestmark = pytest.mark.e2e

SCRIPTS = ("mailthread-mute", "mailthread-watch", "mailthread-unmute")


class ImapSieve:
    """A Dovecot serving IMAP with imapsieve on Mute, Watch and Unmute, and delivering with
    dovecot-lda and mailthread.sieve, for one user whose mailthread is in ~/.local/bin."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.bin = self.home / ".local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "mailthread").symlink_to(mailthread_script())
        self.db = self.home / ".local" / "share" / "mailthread" / "threads.db"
        dirs = {name: tmp_path / name for name in ("sieve-filter", "sieve-execute", "sieve")}
        for folder in dirs.values():
            folder.mkdir()
        shutil.copy(CONTRIB / "mailthread", dirs["sieve-filter"])
        for name in ("mailthread-mark", "mailthread-add"):
            shutil.copy(CONTRIB / name, dirs["sieve-execute"])
        self.scripts = [dirs["sieve"] / f"{name}.sieve" for name in ("mailthread", *SCRIPTS)]
        for script in self.scripts:
            shutil.copy(CONTRIB / script.name, script)
        befores = "".join(
            f"  imapsieve_mailbox{n}_before = file:{dirs['sieve'] / name}.sieve\n"
            for n, name in enumerate(SCRIPTS, 1)
        )
        extra = (
            f"!include {CONTRIB / '90-mailthread.conf'}\n"
            f"!include {CONTRIB / '95-mailthread-imapsieve.conf'}\n"
            "plugin {\n"
            f"  sieve_filter_bin_dir = {dirs['sieve-filter']}\n"
            f"  sieve_execute_bin_dir = {dirs['sieve-execute']}\n"
            f"  sieve_before = {dirs['sieve'] / 'mailthread.sieve'}\n"
            "  sieve = file:~/sieve;active=~/.dovecot.sieve\n"
            f"{befores}"
            "}\n"
        )
        self.server = MailServer(tmp_path / "server", userns=True, home=self.home, extra_conf=extra)
        for script in self.scripts:
            compiled = subprocess.run(
                ["sievec", "-c", str(self.server.conf), str(script)], capture_output=True, text=True
            )
            assert compiled.returncode == 0, compiled.stderr

    def deliver(self, msg: bytes) -> None:
        """dovecot-lda, with the server's own configuration, delivering to the user."""
        result = subprocess.run(
            [*as_user(), LDA, "-c", str(self.server.conf), "-f", SENDER, "-a", RCPT],
            input=msg,
            capture_output=True,
            env={"HOME": str(self.home), "USER": "nobody", "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        assert result.returncode == 0, (result, self.server.log())


@pytest.fixture
def dovecot(tmp_path):
    require(
        "dovecot",
        "/usr/lib/dovecot/imap",
        "/usr/lib/dovecot/pop3",  # the server serves both
        LDA,
        "sievec",
        "unshare",
        packages="dovecot-core dovecot-imapd dovecot-pop3d dovecot-sieve",
    )
    setup = ImapSieve(tmp_path)
    yield setup
    setup.server.stop()


def crlf(msg: bytes) -> bytes:
    return msg.replace(b"\n", b"\r\n")


def into(imap, msg_folder: str, target: str, how: str, msg: bytes) -> None:
    """Put the one message of ``msg_folder`` into ``target`` as a client does: ``MOVE``;
    ``COPY`` then ``\\Deleted`` and ``EXPUNGE`` (clients without MOVE); ``APPEND`` of its
    bytes then the same deletion (a phone moving it between accounts)."""
    status, _ = imap.select(msg_folder)
    assert status == "OK"
    status, [uids] = imap.uid("SEARCH", "ALL")
    uids = b",".join(uids.split()).decode()
    if how == "MOVE":
        status, answer = imap.uid("MOVE", uids, target)
    elif how == "COPY":
        status, answer = imap.uid("COPY", uids, target)
    else:
        status, answer = imap.append(target, None, None, crlf(msg))
    assert status == "OK", answer
    if how != "MOVE":
        # Only the original: the script may have filed the message back into this folder.
        imap.select(msg_folder)
        imap.uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)")
        imap.expunge()


def flags(imap, folder: str) -> list[set[str]]:
    """The flags of each message of ``folder`` (\\Recent left out), as a client sees them."""
    status, answer = imap.select(folder)
    assert status == "OK", answer
    if answer[0] == b"0":
        return []
    status, answer = imap.fetch("1:*", "(FLAGS)")
    found = [re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode() for line in answer]
    return [set(f.split()) - {"\\Recent"} for f in found]


@pytest.fixture
def session(dovecot):
    imap = dovecot.server.imap()
    for folder in ("Mute", "Watch", "Unmute", "Lists"):
        imap.create(folder)
    yield imap
    imap.logout()


def everything(server: MailServer, imap) -> list[bytes]:
    """Every message on the server, in any folder: what is never to be lost. (Each folder
    is opened first: Dovecot unlinks the file of a message expunged by imapsieve then.)"""
    status, answer = imap.list()
    assert status == "OK", answer
    for line in answer:
        imap.select(line.decode().rsplit(" ", 1)[-1].strip('"'))
    return sorted(
        p.read_bytes() for p in server.maildir.rglob("*") if p.parent.name in ("new", "cur")
    )


@pytest.mark.parametrize("how", ["MOVE", "COPY", "APPEND"])
def test_a_message_moved_into_mute_mutes_its_thread_and_the_next_reply(dovecot, session, how):
    server = dovecot.server
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", how, raw(PARENT))
    # Moved on into Muted, read and with $Muted, every byte as it was; Mute is left empty
    # (Dovecot expunges it there at once, and unlinks its file when Mute is next opened).
    assert server.messages("Muted") == [raw(PARENT)]
    assert flags(session, "Muted") == [{"\\Seen", "$Muted"}]
    assert flags(session, "Mute") == flags(session, "INBOX") == []
    assert server.messages("Mute") == server.messages("INBOX") == []
    dovecot.deliver(raw(REPLY))
    dovecot.deliver(raw(OTHER))
    assert server.messages("Muted") == [raw(PARENT), raw(REPLY, MUTED)]
    assert server.messages("INBOX") == [raw(OTHER)]


def test_old_clients_copy_leaves_no_deleted_message_in_mute(dovecot, session):
    """imapsieve_expunge_discarded: the message the script filed on is expunged from Mute,
    not left there flagged \\Deleted (where a client shows it struck out)."""
    server = dovecot.server
    server.put(raw(PARENT))
    session.select("INBOX")
    assert session.copy("1", "Mute")[0] == "OK"
    assert flags(session, "Mute") == []
    assert server.messages("INBOX") == server.messages("Muted") == [raw(PARENT)]


FAILURES = {
    "not installed": lambda d: (d.bin / "mailthread").unlink(),
    "broken database": lambda d: (
        d.db.parent.mkdir(parents=True, exist_ok=True),
        d.db.write_bytes(b"garbage " * 512),
    ),
    "no ids": None,  # the message itself: add records nothing and exits 1
}


@pytest.mark.parametrize("how", ["MOVE", "APPEND"])
@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("folder", ["Mute", "Watch"])
def test_a_failing_add_leaves_the_message_in_the_folder(dovecot, session, folder, failure, how):
    server = dovecot.server
    msg = raw(message(None, subject="No ids")) if failure == "no ids" else raw(PARENT)
    if FAILURES[failure]:
        FAILURES[failure](dovecot)
    server.put(msg)
    before = everything(server, session)
    into(session, "INBOX", folder, how, msg)
    assert server.messages(folder) == [msg]
    assert flags(session, folder) == [set()]
    assert server.messages("INBOX") == server.messages("Muted") == []
    assert everything(server, session) == before
    # Dovecot's log says why.
    assert "mailthread-add" in server.log() and "exit code" in server.log(), server.log()
    assert re.search(r"imap: Error: mailthread: \S", server.log()), server.log()


def test_a_hanging_mailthread_is_stopped_and_said(dovecot, session):
    """A mailthread that never ends: the wrapper's timeout stops it at 8 s (before
    Pigeonhole's own 10 s), the message stays in Mute, and Dovecot's log has the reason as
    an Error line, as for any other failure."""
    server = dovecot.server
    hanging = dovecot.bin / "mailthread"
    hanging.unlink()
    hanging.write_text("#!/bin/sh\ncat >/dev/null\nexec sleep 60\n")
    hanging.chmod(0o755)
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    assert server.messages("Mute") == [raw(PARENT)]
    assert flags(session, "Mute") == [set()]
    assert server.messages("INBOX") == server.messages("Muted") == []
    assert "Terminated with non-zero exit code 124" in server.log(), server.log()
    assert re.search(r"imap: Error: mailthread: stopped after 8 s \(hung\?\)", server.log()), (
        server.log()
    )


def test_moving_it_there_again_retries(dovecot, session):
    server = dovecot.server
    FAILURES["not installed"](dovecot)
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    assert server.messages("Mute") == [raw(PARENT)]
    (dovecot.bin / "mailthread").symlink_to(mailthread_script())
    into(session, "Mute", "INBOX", "MOVE", raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    assert flags(session, "Mute") == flags(session, "INBOX") == []
    assert server.messages("Muted") == [raw(PARENT)]
    dovecot.deliver(raw(REPLY))
    assert server.messages("Muted") == [raw(PARENT), raw(REPLY, MUTED)]


def test_a_message_moved_into_watch_goes_back_where_it_came_from(dovecot, session):
    server = dovecot.server
    server.put(raw(PARENT), "Lists")
    session.select("Lists")
    session.store("1", "+FLAGS", "(\\Flagged)")
    into(session, "Lists", "Watch", "MOVE", raw(PARENT))
    # Back in Lists, its own flags kept, with $Watched; Watch is left empty.
    assert server.messages("Lists") == [raw(PARENT)]
    assert flags(session, "Lists") == [{"\\Flagged", "$Watched"}]
    assert flags(session, "Watch") == flags(session, "INBOX") == []
    assert server.messages("Watch") == []
    dovecot.deliver(raw(REPLY))
    assert server.messages("Watched") == server.messages("INBOX") == [raw(REPLY, WATCHED)]


@pytest.mark.parametrize("target", ["Watch", "Unmute"])
def test_folder_names_are_compared_case_sensitively(dovecot, session, target):
    """A folder "watch" (or "mute", "unmute") is not Watch: a message moved from it goes
    back there, not to the INBOX as one moved from Watch does."""
    server = dovecot.server
    server.put(raw(OTHER))
    into(session, "INBOX", "Mute", "MOVE", raw(OTHER))  # a database, for Unmute
    origin = target.lower()
    session.create(origin)
    server.put(raw(PARENT), origin)
    into(session, origin, target, "MOVE", raw(PARENT))
    assert server.messages(origin) == [raw(PARENT)]
    assert flags(session, target) == flags(session, "INBOX") == []


@pytest.mark.parametrize("how", ["COPY", "APPEND"])
def test_a_message_put_into_watch_from_elsewhere_goes_to_the_inbox(dovecot, session, how):
    """An APPEND names no folder it came from: the message goes to INBOX. (A COPY from
    INBOX goes back to INBOX too, where the old client then deletes the original.)"""
    server = dovecot.server
    server.put(raw(PARENT))
    into(session, "INBOX", "Watch", how, raw(PARENT))
    assert server.messages("INBOX") == [raw(PARENT)]
    assert flags(session, "INBOX") == [{"$Watched"}]
    assert flags(session, "Watch") == []
    dovecot.deliver(raw(REPLY))
    assert server.messages("Watched") == [raw(REPLY, WATCHED)]


@pytest.mark.parametrize("how", ["MOVE", "APPEND"])
def test_a_message_moved_into_unmute_unmutes_its_thread(dovecot, session, how):
    server = dovecot.server
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    assert flags(session, "Muted") == [{"\\Seen", "$Muted"}]
    into(session, "Muted", "Unmute", how, raw(PARENT))
    # From Muted (where a phone user would see no change) or appended: to INBOX, read as
    # it was when moved, without $Muted.
    assert server.messages("INBOX") == [raw(PARENT)]
    assert flags(session, "INBOX") == [{"\\Seen"} if how == "MOVE" else set()]
    assert flags(session, "Unmute") == flags(session, "Muted") == []
    dovecot.deliver(raw(REPLY))
    assert raw(REPLY) in server.messages("INBOX")
    assert everything(server, session) == sorted([raw(PARENT), raw(REPLY)])


@pytest.mark.parametrize("how", ["MOVE", "COPY"])
def test_a_muted_message_moved_into_watch_goes_to_the_inbox_watched(dovecot, session, how):
    """Not back into Muted, where it would sit with $Muted while its thread is watched:
    to INBOX, without $Muted, with $Watched; the next reply is watched."""
    server = dovecot.server
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    assert flags(session, "Muted") == [{"\\Seen", "$Muted"}]
    into(session, "Muted", "Watch", how, raw(PARENT))
    assert server.messages("INBOX") == [raw(PARENT)]
    assert flags(session, "INBOX") == [{"\\Seen", "$Watched"}]
    assert flags(session, "Muted") == flags(session, "Watch") == []
    dovecot.deliver(raw(REPLY))
    assert server.messages("Watched") == [raw(REPLY, WATCHED)]
    assert server.messages("INBOX") == [raw(PARENT), raw(REPLY, WATCHED)]
    assert server.messages("Muted") == []


def test_a_watched_message_moved_into_mute_loses_its_watched_keyword(dovecot, session):
    server = dovecot.server
    server.put(raw(PARENT), "Lists")
    into(session, "Lists", "Watch", "MOVE", raw(PARENT))
    assert flags(session, "Lists") == [{"$Watched"}]
    into(session, "Lists", "Mute", "MOVE", raw(PARENT))
    assert server.messages("Muted") == [raw(PARENT)]
    assert flags(session, "Muted") == [{"\\Seen", "$Muted"}]
    assert flags(session, "Lists") == flags(session, "Mute") == []
    dovecot.deliver(raw(REPLY))
    assert server.messages("Muted") == [raw(PARENT), raw(REPLY, MUTED)]
    assert server.messages("Watched") == []


def test_unmuting_a_message_of_no_thread_is_no_failure(dovecot, session):
    server = dovecot.server
    server.put(raw(OTHER))
    into(session, "INBOX", "Unmute", "MOVE", raw(OTHER))
    assert server.messages("INBOX") == [raw(OTHER)]
    assert flags(session, "Unmute") == []


@pytest.mark.parametrize("failure", ["not installed", "broken database"])
def test_a_failing_unmute_leaves_the_message_in_unmute(dovecot, session, failure):
    server = dovecot.server
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    FAILURES[failure](dovecot)
    into(session, "Muted", "Unmute", "MOVE", raw(PARENT))
    assert server.messages("Unmute") == [raw(PARENT)]
    assert flags(session, "Unmute") == [{"\\Seen", "$Muted"}]
    assert flags(session, "Muted") == flags(session, "INBOX") == []
    assert "mailthread-add" in server.log() and "exit code" in server.log(), server.log()
    assert re.search(r"imap: Error: mailthread: \S", server.log()), server.log()


@pytest.mark.parametrize("target", ["Watch", "Unmute"])
def test_a_message_left_in_mute_by_a_failure_and_moved_on_goes_to_the_inbox(
    dovecot, session, target
):
    """Not back into Mute, where it would look like another failure (and Sieve's own
    fileinto runs no imapsieve script: the thread would not be muted either)."""
    server = dovecot.server
    FAILURES["not installed"](dovecot)
    server.put(raw(PARENT))
    into(session, "INBOX", "Mute", "MOVE", raw(PARENT))
    (dovecot.bin / "mailthread").symlink_to(mailthread_script())
    into(session, "Mute", target, "MOVE", raw(PARENT))
    assert server.messages("INBOX") == [raw(PARENT)]
    assert flags(session, "INBOX") == [{"$Watched"} if target == "Watch" else set()]
    assert flags(session, "Mute") == flags(session, target) == []
