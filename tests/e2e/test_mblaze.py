"""contrib/mblaze-deliver, installed as its comments say (~/.local/bin/mailthread-deliver),
run as a mail server or fetcher runs an MDA: the message on standard input, a minimal
environment, the exit status checked. It files with the real mdeliver (mblaze)."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, raw, require
from .mda import User, check_forgeries, maildir_messages, make_maildir
from .test_forged_mark import FAULTS
from .test_maildrop import to_the_list

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "contrib" / "mblaze-deliver"


class Mblaze(User):
    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        self.deliver_script = self.bin / "mailthread-deliver"
        shutil.copy(SCRIPT, self.deliver_script)
        for name in ("inbox", "muted", "watched"):
            make_maildir(self.mail / name)
        self.log = self.home / ".mailthread-deliver.log"

    def run(self, msg: bytes, options: dict | None = None, **environ: str):
        return subprocess.run(
            [str(self.deliver_script)],
            input=msg,
            capture_output=True,
            env=self.mda_environ(**environ),
            timeout=60,
            **(options or {}),
        )

    def send(self, msg: bytes, options: dict | None = None, **environ: str):
        result = self.run(msg, options, **environ)
        assert result.returncode == 0, (result, self.log_text())
        return result

    def folders(self) -> dict[str, list[bytes]]:
        return {n: maildir_messages(self.mail / n) for n in ("inbox", "muted", "watched")}

    def files(self, name: str, sub: str) -> list[str]:
        return sorted(p.name for p in (self.mail / name / sub).iterdir())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def user(tmp_path) -> Mblaze:
    require("mdeliver", packages="mblaze")
    return Mblaze(tmp_path)


def test_muted_reply_is_filed_as_read(user):
    user.add("muted", raw(PARENT))
    user.send(raw(REPLY))
    assert user.files("muted", "new") == []
    [name] = user.files("muted", "cur")
    assert name.endswith(":2,S")
    assert user.folders() == {"inbox": [], "muted": [raw(REPLY, MUTED)], "watched": []}


def test_watched_reply_is_copied_and_kept_in_the_inbox(user):
    user.add("watched", raw(PARENT))
    crlf = raw(REPLY).replace(b"\n", b"\r\n")
    user.send(crlf)
    marked = raw(REPLY, WATCHED).replace(b"\n", b"\r\n")
    assert user.folders() == {"inbox": [marked], "muted": [], "watched": [marked]}
    assert user.files("inbox", "cur") == user.files("watched", "cur") == []


def test_other_mail_reaches_the_inbox_untouched(user):
    user.add("muted", raw(PARENT))
    user.send(raw(OTHER))
    assert user.folders() == {"inbox": [raw(OTHER)], "muted": [], "watched": []}


def test_mail_to_me_breaks_through_a_mute(user):
    user.add("muted", raw(to_the_list(PARENT)))
    user.send(raw(REPLY), MAILTHREAD_ME="me@example.com")
    assert user.folders() == {"inbox": [raw(REPLY, MUTED + b"; to-me")], "muted": [], "watched": []}


def test_a_broken_database_delivers_unmarked_to_the_inbox(user):
    user.add("muted", raw(PARENT))
    user.db.write_bytes(random.Random(17).randbytes(8192))
    result = user.send(raw(REPLY))
    assert user.folders() == {"inbox": [raw(REPLY)], "muted": [], "watched": []}
    assert b"mailthread:" in result.stderr
    assert "mailthread:" in user.log_text()


def test_without_mailthread_the_original_reaches_the_inbox(user):
    user.add("muted", raw(PARENT))
    (user.bin / "mailthread").unlink()
    forged = raw(REPLY, MUTED)  # a sender's own mark, first in the header
    result = user.send(forged)
    assert user.folders() == {"inbox": [forged], "muted": [], "watched": []}
    assert b"mailthread match failed (exit 127" in result.stderr
    assert "mailthread match failed (exit 127" in user.log_text()


def test_an_unwritable_inbox_is_a_temporary_failure(user):
    """Exit 75 only when nothing could be delivered: the mail server keeps the message."""
    shutil.rmtree(user.mail / "inbox")
    result = user.run(raw(OTHER))
    assert result.returncode == 75, result
    assert b"not delivered, exit 75" in result.stderr


def test_a_missing_muted_folder_sends_muted_mail_to_the_inbox(user):
    user.add("muted", raw(PARENT))
    shutil.rmtree(user.mail / "muted")
    user.send(raw(REPLY))
    assert maildir_messages(user.mail / "inbox") == [raw(REPLY, MUTED)]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(user, fault):
    check_forgeries(user, fault)
