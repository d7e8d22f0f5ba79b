"""No sender can forge the mark: docs/threat-model.md, row by row, with the real procmail
and maildrop running contrib/procmailrc.example and contrib/maildroprc.example.

Every message here is a stranger's: none belongs to a muted or watched thread, and each
carries an ``X-Mailthread: muted`` (or ``watched``) line of its sender's somewhere that some
program may take for its header. Each is delivered under every way ``mailthread match`` can
fail, and must reach the inbox -- never the muted or watched folder -- with every byte as it
came but for the ``Old-`` prefix mailthread gives the fields of the header as it reads it.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from test_faults import bound_by_file_modes, fill_up, mount_small_tmpfs

from .conftest import PARENT, Env, raw, require
from .test_maildrop import Maildrop

pytestmark = pytest.mark.e2e

HEAD = b"From: Mallory <mallory@example.net>\nTo: me@example.com\nSubject: Buy now\n"
POSTMARK = b"From mallory@example.net  Mon Jan  1 10:00:00 2024\n"


@dataclass
class Forgery:
    """A message (without its Message-ID line: each delivery gets its own, so that
    mailthread looks it up) and what mailthread writes when it succeeds: ``renamed``, or the
    message unchanged when its forged line is not in the header as mailthread reads it."""

    name: str
    message: bytes
    renamed: bytes | None = None

    def with_id(self, msgid: str) -> tuple[bytes, bytes]:
        eol = b"\r\n" if b"\r\n" in self.message else b"\r" if b"\n" not in self.message else b"\n"
        line = f"Message-ID: <{msgid}>".encode() + eol
        renamed = self.message if self.renamed is None else self.renamed
        return _after_first_field(self.message, line), _after_first_field(renamed, line)


def _after_first_field(message: bytes, line: bytes) -> bytes:
    """``line`` inserted after the message's first field line (and its postmark), so that
    whatever a case puts first stays first."""
    start = len(POSTMARK) if message.startswith(POSTMARK) else 0
    first_end = min(
        (i for i in (message.find(b"\n", start), message.find(b"\r", start)) if i >= 0),
        default=len(message),
    )
    if message[first_end : first_end + 2] == b"\r\n":
        first_end += 1
    return message[: first_end + 1] + line + message[first_end + 1 :]


def crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")


FORGERIES = [
    Forgery(
        "in the header",
        HEAD + b"X-Mailthread: muted\n\nbody\n",
        HEAD + b"Old-X-Mailthread: muted\n\nbody\n",
    ),
    Forgery(
        "first in the header, where mailthread writes",
        b"X-Mailthread: muted\n" + HEAD + b"\nbody\n",
        b"Old-X-Mailthread: muted\n" + HEAD + b"\nbody\n",
    ),
    Forgery(
        "first after a postmark",
        POSTMARK + b"X-Mailthread: muted\n" + HEAD + b"\nbody\n",
        POSTMARK + b"Old-X-Mailthread: muted\n" + HEAD + b"\nbody\n",
    ),
    Forgery(
        "in another case, with a blank before the colon",
        b"x-MAILTHREAD : MUTED\n" + HEAD + b"\nbody\n",
        b"Old-x-MAILTHREAD : MUTED\n" + HEAD + b"\nbody\n",
    ),
    Forgery(
        "watched, in the header",
        HEAD + b"X-Mailthread: watched\n\nbody\n",
        HEAD + b"Old-X-Mailthread: watched\n\nbody\n",
    ),
    # procmail ends a header only at an empty LF line; maildrop also at an empty CRLF one,
    # and mailthread too when the message's first line ends in CRLF. In an LF message a line
    # of only a CR is header to procmail and mailthread (issue 12): the field is renamed.
    Forgery(
        "after a line of only a CR",
        HEAD + b"\r\nX-Mailthread: muted\n\nbody\n",
        HEAD + b"\r\nOld-X-Mailthread: muted\n\nbody\n",
    ),
    Forgery("in the body of a CRLF message", crlf(HEAD + b"\nX-Mailthread: muted\nbody\n")),
    Forgery(
        "in the header of a CRLF message",
        crlf(HEAD + b"X-Mailthread: muted\n\nbody\n"),
        crlf(HEAD + b"Old-X-Mailthread: muted\n\nbody\n"),
    ),
    Forgery(
        "in a CRLF header, its own line ending in LF",
        crlf(HEAD) + b"X-Mailthread: muted\n\r\nbody\r\n",
        crlf(HEAD) + b"Old-X-Mailthread: muted\n\r\nbody\r\n",
    ),
    Forgery(
        "in a mixed LF message, after a CRLF empty line",
        HEAD + b"\r\nX-Mailthread: watched\r\n\nbody\n",
        HEAD + b"\r\nOld-X-Mailthread: watched\r\n\nbody\n",
    ),
    # Old Mac mail: no LF at all, one line to procmail.
    Forgery(
        "in a CR-only message", (HEAD + b"X-Mailthread: muted\n\nbody\n").replace(b"\n", b"\r")
    ),
    Forgery(
        "first in a CR-only message",
        (b"X-Mailthread: muted\n" + HEAD + b"\nbody\n").replace(b"\n", b"\r"),
        (b"Old-X-Mailthread: muted\n" + HEAD + b"\nbody\n").replace(b"\n", b"\r"),
    ),
    Forgery(
        "in the body of a CR-only message ending in LF",
        (HEAD + b"\nX-Mailthread: muted").replace(b"\n", b"\r") + b"\n",
    ),
    Forgery(
        "folded over two lines",
        HEAD + b"X-Mailthread:\n muted\n\nbody\n",
        HEAD + b"Old-X-Mailthread:\n muted\n\nbody\n",
    ),
]


def without_postmark(message: bytes) -> bytes:
    """procmail keeps no postmark in a Maildir message (maildrop does)."""
    return message.split(b"\n", 1)[1] if message.startswith(b"From ") else message


# -- the ways match can fail -------------------------------------------------------------------
# Each prepares env and returns (options for the MDA's process, whether mailthread
# succeeds in writing the message with the forged fields renamed).


def ok(env):
    return {}, True


def corrupt(env):
    env.db.write_bytes(random.Random(75).randbytes(8192))
    return {}, True


def folder_missing(env):
    env.db.parent.rename(env.db.parent.with_name("gone"))
    env.db.parent.with_name("data").write_text("a file where the folder should be")
    return {}, True


def read_only(env):
    env.db.chmod(0o444)
    env.db.parent.chmod(0o555)
    return bound_by_file_modes(), True


def full(env):
    # The database on a real file system with no room left (a 1 MB tmpfs, filled: ENOSPC;
    # mounting needs root, as CI runs). The MDA's own files are elsewhere.
    top = env.tmp / "small"
    mount_small_tmpfs(top)
    env.cleanups.append(lambda: subprocess.run(["umount", str(top)], check=True))
    (top / "data").mkdir()
    shutil.copy(env.db, top / "data" / "threads.db")
    env.db = top / "data" / "threads.db"
    fill_up(top / "filler")
    return {}, True


def locked(env):
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a stuck writer, for longer than match's 5 s
    env.cleanups.append(holder.close)
    return {}, True


def wrong_path(env):
    # A database folder every user may write to: a setup error, match fails (75) -- for
    # the messages that need the database.
    env.db.parent.chmod(0o777)
    return {}, None


def fake(env, script: str) -> None:
    """Put a ``mailthread`` running ``script`` where the MDA finds it first."""
    path = env.home / ".local" / "bin" / "mailthread"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(stat.S_IRWXU)
    env.path = str(path.parent) + ":/usr/bin:/bin"


def usage_error(env):
    fake(env, f'exec "{env.mailthread}" match --no-such-option')
    return {}, False


def not_installed(env):
    installed = env.home / ".local" / "bin" / "mailthread"
    if installed.is_symlink():
        installed.unlink()
    env.path = "/nonexistent:/usr/bin:/bin"
    return {}, False


def killed_after_writing_a_mark(env):
    # The worst a failing filter can do: write a marked message, then fail.
    fake(env, "printf 'X-Mailthread: muted\\n'; cat; kill -9 $$")
    return {}, False


def cannot_read_its_input(env):
    fake(env, f'exec "{env.mailthread}" match <&-')
    return {}, False


FAULTS = [
    ok,
    corrupt,
    folder_missing,
    read_only,
    full,
    locked,
    usage_error,
    wrong_path,
    not_installed,
    killed_after_writing_a_mark,
    cannot_read_its_input,
]


class ProcmailUser(Env):
    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        self.cleanups: list = []
        self.path: str | None = None

    def send(self, msg: bytes, options: dict) -> None:
        self.deliver(msg, path=self.path, popen_options=options)

    def folders(self) -> dict[str, list[bytes]]:
        return {
            name: [p.read_bytes() for p in self.maildir(name, "new") + self.maildir(name, "cur")]
            for name in ("inbox", "muted", "watched")
        }


class MaildropUser(Maildrop):
    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        self.cleanups: list = []
        self.path: str | None = None

    def send(self, msg: bytes, options: dict) -> None:
        settings = [f'PATH="{self.path}"'] if self.path else []
        result = self.run(msg, *settings, popen_options=options)
        assert result.returncode == 0, (result, self.maildrop_log())

    def folders(self) -> dict[str, list[bytes]]:
        return {name: self.messages(name) for name in ("inbox", "muted", "watched")}


def procmail_kept(message: bytes) -> bytes:
    """What procmail files after a filter that succeeded: with no empty LF line, the whole
    message is header to procmail, and it ends it with one more "\\n" after a filter
    (tests/e2e/test_procmail.py); after a failed one it keeps the message as it came."""
    has_lf_empty_line = b"\n\n" in message or message.startswith(b"\n")
    return message if has_lf_empty_line else message + b"\n"


def maildrop_kept(message: bytes) -> bytes:
    """What maildrop files: a message whose last line has no LF gets one."""
    return message if message.endswith(b"\n") else message + b"\n"


def deliver_forgeries(user, fault, prepare=lambda: None) -> tuple[list, bool | None]:
    """Record a muted and a watched thread (so that the folders are in use), set up
    ``fault``, call ``prepare()``, then deliver every FORGERIES message at once with
    ``user.send`` and undo the fault. Returns the (original, renamed) cases and ``renames``,
    what the fault says of mailthread's success (None: only messages that need the database
    meet it)."""
    user.add("muted", raw(PARENT))
    user.add("watched", raw(PARENT).replace(b"parent@", b"watched-parent@"))
    options, renames = fault(user)
    prepare()
    cases = [forgery.with_id(f"spam-{i}@example.net") for i, forgery in enumerate(FORGERIES)]
    try:
        # At once: a locked database makes each delivery wait match's 5 s timeout.
        with ThreadPoolExecutor(len(cases)) as pool:
            list(pool.map(lambda case: user.send(case[0], options), cases))
    finally:
        for cleanup in user.cleanups:
            cleanup()
    return cases, renames


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
@pytest.mark.parametrize("mda", ["procmail", "maildrop"])
def test_a_forged_mark_is_never_obeyed(tmp_path, mda, fault):
    if mda == "procmail":
        require("procmail", "formail")
        user = ProcmailUser(tmp_path)
    else:
        require("maildrop", "reformail", packages="maildrop")
        user = MaildropUser(tmp_path)
    cases, renames = deliver_forgeries(user, fault)
    folders = user.folders()
    assert folders["muted"] == [] and folders["watched"] == [], folders

    def delivered(original: bytes, renamed: bytes, succeeded: bool) -> bytes:
        message = renamed if succeeded else original
        if mda == "maildrop":
            return maildrop_kept(message)
        message = without_postmark(message)
        return procmail_kept(message) if succeeded else message

    if renames is None:
        # The fault is met only by messages that need the database (a message with no ids
        # needs none, and match succeeds): each is one or the other.
        assert len(folders["inbox"]) == len(cases)
        for original, renamed in cases:
            either = {delivered(original, renamed, done) for done in (True, False)}
            assert either & set(folders["inbox"]), original
    else:
        expected = [delivered(original, renamed, renames) for original, renamed in cases]
        assert sorted(folders["inbox"]) == sorted(expected)
    if fault is not ok:
        log = user.procmail_log() if mda == "procmail" else user.maildrop_log()
        assert log, "the MDA's log says nothing of the failure"


def test_a_reply_to_a_muted_thread_is_still_filed_by_both(tmp_path):
    """The control: the anchored conditions do take mailthread's own mark."""
    require("procmail", "formail", "maildrop", "reformail")
    for user in (ProcmailUser(tmp_path / "p"), MaildropUser(tmp_path / "m")):
        user.add("muted", raw(PARENT))
        for postmark in (b"", POSTMARK):
            head = HEAD.replace(b"Subject: Buy now", b"Subject: Re: Plans")  # no fork
            reply = head + b"In-Reply-To: <parent@example.com>\n\nbody\n"
            user.send(postmark + reply, {})
        assert len(user.folders()["muted"]) == 2, user.folders()
        assert user.folders()["inbox"] == []


def test_the_fake_mailthreads_do_fail(tmp_path):
    """The faults that replace mailthread do make it fail (else the test above would prove
    nothing about a failed filter)."""
    user = ProcmailUser(tmp_path)
    for fault in (usage_error, killed_after_writing_a_mark, cannot_read_its_input):
        fault(user)
        script = os.path.join(user.path.split(":")[0], "mailthread")
        result = subprocess.run([script, "match"], input=b"A: 1\n\nb\n", capture_output=True)
        assert result.returncode != 0, (fault.__name__, result)
