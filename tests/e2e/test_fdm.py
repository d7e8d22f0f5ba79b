"""The real fdm running contrib/fdm.conf.example as an MDA (`fdm -m -a stdin fetch`, the
message on standard input, a minimal environment), with the folders and mailthread's
folder set by `-D` as the file says."""

from __future__ import annotations

import random
import subprocess

import pytest

from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, raw, require
from .mda import User, check_forgeries, maildir_messages
from .test_forged_mark import FAULTS
from .test_maildrop import to_the_list

pytestmark = pytest.mark.e2e

CONF = REPO / "contrib" / "fdm.conf.example"


class Fdm(User):
    def run(self, msg: bytes, options: dict | None = None, **environ: str):
        return subprocess.run(
            [
                "fdm",
                "-f",
                str(CONF),
                "-D",
                f"$bin={self.bin}",
                "-D",
                f"$mail={self.mail}",
                "-m",
                "-a",
                "stdin",
                "fetch",
            ],  # fmt: skip
            input=msg,
            capture_output=True,
            env=self.mda_environ(**environ),
            timeout=60,
            **(options or {}),
        )

    def send(self, msg: bytes, options: dict | None = None, **environ: str):
        result = self.run(msg, options, **environ)
        assert result.returncode == 0, result
        # What fdm says goes to its standard error: the mail server's log.
        with open(self.tmp / "fdm.log", "ab") as log:
            log.write(result.stderr)
        return result

    def folders(self) -> dict[str, list[bytes]]:
        return {n: maildir_messages(self.mail / n) for n in ("inbox", "muted", "watched")}

    def files(self, name: str, sub: str) -> list[str]:
        folder = self.mail / name / sub
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def log_text(self) -> str:
        log = self.tmp / "fdm.log"
        return log.read_text(errors="replace") if log.exists() else ""


@pytest.fixture
def user(tmp_path) -> Fdm:
    require("fdm", packages="fdm")
    return Fdm(tmp_path)


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
    marked = raw(REPLY, MUTED + b"; to-me")
    assert user.folders() == {"inbox": [marked], "muted": [], "watched": []}


def test_a_broken_database_delivers_unmarked_to_the_inbox(user):
    user.add("muted", raw(PARENT))
    user.db.write_bytes(random.Random(17).randbytes(8192))
    result = user.send(raw(REPLY))
    assert user.folders() == {"inbox": [raw(REPLY)], "muted": [], "watched": []}
    assert b"mailthread:" in result.stderr


def test_without_mailthread_the_original_reaches_the_inbox(user):
    user.add("muted", raw(PARENT))
    (user.bin / "mailthread").unlink()
    forged = raw(REPLY, MUTED)  # a sender's own mark, first in the header
    result = user.send(forged)
    assert user.folders() == {"inbox": [forged], "muted": [], "watched": []}
    assert b"mailthread match failed (exit 127)" in result.stderr


def test_no_temporary_file_is_left_behind(user):
    user.add("muted", raw(PARENT))
    tmp = user.tmp / "tmpdir"
    tmp.mkdir()
    for msg in (raw(REPLY), raw(OTHER)):
        user.send(msg, TMPDIR=str(tmp))
    assert list(tmp.iterdir()) == []
    assert len(user.folders()["muted"]) == len(user.folders()["inbox"]) == 1


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(user, fault):
    check_forgeries(user, fault)
