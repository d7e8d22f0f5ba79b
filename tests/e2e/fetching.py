"""What the getmail6 and fetchmail tests share: a user who fetches mail from the test's
Dovecot (tests/e2e/mailserver.py) and has it delivered by procmail running
contrib/procmailrc.example, as contrib/getmailrc.example and contrib/fetchmailrc.example
tell a user to set it up."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .conftest import PARENT, REPO, Env, raw
from .mailserver import MailServer
from .test_forged_mark import FORGERIES, killed_after_writing_a_mark, locked, ok, procmail_kept

PROCMAILRC = REPO / "contrib" / "procmailrc.example"


class FetchUser(Env):
    """A user's home in tmp_path whose ~/.procmailrc sets what procmail, run by root, would
    otherwise take from root's entry in the password file (HOME; ORGMAIL, its last resort
    when no folder can be written, which would be root's /var/mail/root), then includes
    contrib/procmailrc.example unchanged. ``path`` and ``cleanups`` are what the faults of
    tests/e2e/test_forged_mark.py set and use."""

    def __init__(self, tmp_path: Path, server: MailServer) -> None:
        super().__init__(tmp_path)
        self.server = server
        self.cleanups: list = []
        self.path: str | None = None
        self.settings: list[str] = []
        self.output = ""
        self.lock = threading.Lock()

    def write_procmailrc(self) -> Path:
        path = self.path or os.pathsep.join([os.path.dirname(self.mailthread), "/usr/bin", "/bin"])
        lines = [
            f"HOME={self.home}",
            f"PATH={path}",
            f"MAILTHREAD_DB={self.db}",
            f"DEFAULT={self.mail}/inbox/",
            f"ORGMAIL={self.tmp}/no-such-folder/orgmail",
            *self.settings,
            f"INCLUDERC={PROCMAILRC}",
        ]
        rcfile = self.home / ".procmailrc"
        text = "".join(line + "\n" for line in lines)
        with self.lock:  # fetches may run at once: never rewrite it under a procmail
            if not rcfile.exists() or rcfile.read_text() != text:
                rcfile.write_text(text)
        return rcfile

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "LANG": "C",
            "MAILTHREAD_DB": str(self.db),
            **extra,
        }

    def run(self, argv: list[str], options: dict | None = None, **env: str):
        self.write_procmailrc()
        result = subprocess.run(
            argv,
            capture_output=True,
            env=self.environ(**env),
            timeout=120,
            cwd=self.home,
            **(options or {}),
        )
        with self.lock:
            self.output += result.stdout.decode(errors="replace")
            self.output += result.stderr.decode(errors="replace")
        return result

    def fetch(self, protocol="pop3", mailbox="INBOX", options=None, deliver_with=None):
        """Fetch ``mailbox`` over ``protocol`` (pop3: the inbox), delivering as the
        example says (or with the program ``deliver_with``); ``options`` go to
        subprocess.run."""
        raise NotImplementedError

    def untraced(self, message: bytes) -> bytes:
        """``message`` without the trace fields the fetcher adds (they name the time)."""
        raise NotImplementedError

    def folders(self) -> dict[str, list[bytes]]:
        return {
            name: [p.read_bytes() for p in self.maildir(name, "new") + self.maildir(name, "cur")]
            for name in ("inbox", "muted", "watched")
        }


# -- forged marks: tests/e2e/test_forged_mark.py's FORGERIES under its FAULTS, fetched ----------

MESSAGE_ID = re.compile(rb"Message-ID: <(spam-\d+@example\.net)>")


def forgeries() -> list[bytes]:
    return [forgery.with_id(f"spam-{i}@example.net")[0] for i, forgery in enumerate(FORGERIES)]


def matched(mailthread: str, message: bytes, db: Path) -> bytes:
    """What ``mailthread match`` writes for a stranger's ``message``: the sender's
    X-Mailthread fields of the header, as mailthread reads it, renamed."""
    result = subprocess.run(
        [mailthread, "match", "--db", str(db)], input=message, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def handed_over(kind: type[FetchUser], top: Path) -> dict[bytes, tuple[bytes, bytes]]:
    """For each forgery's Message-ID: what the fetcher ``kind`` hands its delivery program
    when it fetches the message over IMAP, without the fetcher's trace fields -- as it is,
    and as procmail files it after a ``mailthread match`` that succeeded. A fetcher does
    not hand over the bytes the server holds (getmail writes each message out again with
    Python's email package, both end CRLF and CR lines in LF): what it hands over is what
    procmail and mailthread get, the baseline of "every byte as it came"."""
    server = MailServer(top / "server")
    try:
        user = kind(top, server)
        for message in forgeries():
            server.put(message)
        capture = top / "capture"
        capture.mkdir()
        script = top / "capture.sh"
        script.write_text(f'#!/bin/sh\nexec cat > "$(mktemp -p {capture})"\n')
        script.chmod(0o700)
        result = user.fetch("imap", deliver_with=script)
        assert result.returncode == 0, user.output
    finally:
        server.stop()
    found = {}
    for path in capture.iterdir():
        message = path.read_bytes()
        msgid = MESSAGE_ID.search(message).group(1)
        renamed = procmail_kept(matched(user.mailthread, message, top / "empty.db"))
        found[msgid] = (user.untraced(message), user.untraced(renamed))
    assert len(found) == len(FORGERIES)
    return found


def check_forgeries(user: FetchUser, fault, handed_over: dict) -> None:
    """Every forgery, fetched and delivered under ``fault``, reaches the inbox -- never the
    muted or watched folder -- with the bytes the contract says, and leaves the server."""
    user.add("muted", raw(PARENT))
    user.add("watched", raw(PARENT).replace(b"parent@", b"watched-parent@"))
    options, renames = fault(user)
    messages = forgeries()
    try:
        if fault is locked:
            # Each delivery waits match's 5 s timeout: one fetcher a message (a folder
            # each), all at once.
            folders = [f"F{i}" for i in range(len(messages))]
            for message, folder in zip(messages, folders, strict=True):
                user.server.put(message, folder)
            with ThreadPoolExecutor(len(folders)) as pool:
                runs = list(pool.map(lambda f: user.fetch("imap", f, options), folders))
        else:
            folders = ["INBOX"]
            for message in messages:
                user.server.put(message)
            runs = [user.fetch("imap", "INBOX", options)]
    finally:
        for cleanup in user.cleanups:
            cleanup()
    assert [run.returncode for run in runs] == [0] * len(runs), user.output
    got = user.folders()
    assert got["muted"] == [] and got["watched"] == [], got
    inbox = sorted(user.untraced(m) for m in got["inbox"])
    cases = [handed_over[MESSAGE_ID.search(m).group(1)] for m in messages]
    if renames is None:
        # Met only by the messages that need the database (see test_forged_mark.py).
        assert len(inbox) == len(cases)
        for original, renamed in cases:
            assert {original, renamed} & set(inbox), original
    else:
        assert inbox == sorted(renamed if renames else original for original, renamed in cases)
    # Every one delivered, so every one deleted from the server.
    assert [m for f in folders for m in user.server.messages(f)] == []
    # procmail's W flag keeps a killed filter's failure to itself (it logs no "Program
    # failure" line, and a killed mailthread says nothing): the one fault left unsaid.
    if fault not in (ok, killed_after_writing_a_mark):
        assert "mailthread" in user.output, "the fetcher's output says nothing of the failure"
