"""The real fdm running contrib/fdm.conf.example as an MDA (`fdm -m -a stdin fetch`, the
message on standard input, a minimal environment), with the folders and mailthread's
folder set by `-D` as the file says.

fdm files the ORIGINAL message by the mark mailthread wrote (fdm's `rewrite` would turn
CRLF line ends into LF): every message is delivered byte for byte as it came, with no
X-Mailthread line, but for fdm's own Received: line, which the example turns off
(`set no-received`) and for a "From " postmark, which fdm drops from standard input."""

from __future__ import annotations

import functools
import random
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import OTHER, PARENT, REPLY, REPO, raw, require
from .mda import User, check_forgeries, maildir_messages
from .test_forged_mark import FAULTS, POSTMARK, fake, read_only
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
    assert not (user.mail / "muted").exists()  # fdm makes the Maildir
    user.send(raw(REPLY))
    assert user.files("muted", "new") == []
    [name] = user.files("muted", "cur")
    assert name.endswith(":2,S")
    assert user.folders() == {"inbox": [], "muted": [raw(REPLY)], "watched": []}


def test_the_mark_after_a_postmark_is_read(user):
    """fdm drops the first "From " line it is given; a second one stays and is the
    postmark to mailthread, which writes its mark after it (as the procmail example
    reads ``^^(From .*$)?X-Mailthread:``)."""
    user.add("muted", raw(PARENT))
    postmarked = POSTMARK + POSTMARK + raw(REPLY)
    user.send(postmarked)
    assert user.folders() == {"inbox": [], "muted": [POSTMARK + raw(REPLY)], "watched": []}


def test_watched_reply_is_copied_and_kept_in_the_inbox(user):
    user.add("watched", raw(PARENT))
    crlf = raw(REPLY).replace(b"\n", b"\r\n")
    user.send(crlf)
    assert user.folders() == {"inbox": [crlf], "muted": [], "watched": [crlf]}
    assert user.files("inbox", "cur") == user.files("watched", "cur") == []


def test_other_mail_reaches_the_inbox_untouched(user):
    user.add("muted", raw(PARENT))
    user.send(raw(OTHER))
    assert user.folders() == {"inbox": [raw(OTHER)], "muted": [], "watched": []}


def test_mail_to_me_breaks_through_a_mute(user):
    user.add("muted", raw(to_the_list(PARENT)))
    user.send(raw(REPLY), MAILTHREAD_ME="me@example.com")
    assert user.folders() == {"inbox": [raw(REPLY)], "muted": [], "watched": []}
    # The control: without --me the same reply is muted.
    user.send(raw(REPLY))
    assert user.folders()["muted"] == [raw(REPLY)]


def test_a_broken_database_delivers_unmarked_to_the_inbox(user):
    user.add("muted", raw(PARENT))
    user.db.write_bytes(random.Random(17).randbytes(8192))
    result = user.send(raw(REPLY))
    assert user.folders() == {"inbox": [raw(REPLY)], "muted": [], "watched": []}
    assert b"mailthread:" in result.stderr


def test_without_mailthread_the_original_reaches_the_inbox(user):
    user.add("muted", raw(PARENT))
    (user.bin / "mailthread").unlink()
    forged = b"X-Mailthread: muted\n" + raw(REPLY)  # a sender's own mark, first
    result = user.send(forged)
    assert user.folders() == {"inbox": [forged], "muted": [], "watched": []}
    assert b"mailthread match failed (exit 127)" in result.stderr


def test_no_temporary_file_is_left_behind(user):
    user.add("muted", raw(PARENT))
    # fdm run as root (as here) reads the message as its own unprivileged user (Debian:
    # debianfdm) into a file in TMPDIR: a TMPDIR like /tmp, which that user can reach
    # (pytest's tmp_path is private to root).
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o1777)
        for msg in (raw(REPLY), raw(OTHER)):
            user.send(msg, TMPDIR=str(tmp))
        assert list(tmp.iterdir()) == []
    assert user.folders() == {"inbox": [raw(OTHER)], "muted": [raw(REPLY)], "watched": []}


def test_known_limit_a_failed_action_is_logged_but_fdm_exits_0(user):
    """fdm's own behaviour, documented in the example: a folder fdm cannot make stops it
    (the message is not delivered) and it still exits 0; its log says why."""
    user.add("muted", raw(PARENT))
    (user.mail / "muted").write_text("a file where the muted Maildir should be")
    result = user.send(raw(REPLY))
    assert b"muted" in result.stderr and b"error" in result.stderr
    assert user.folders()["inbox"] == []


@functools.cache
def fdm_alone(message: bytes) -> bytes:
    """What the same fdm delivers with no mailthread at all (a one-rule configuration with
    the example's `set no-received`): the message as it came, but for a "From " postmark,
    which fdm drops, and a last LF, which fdm adds when the message has none."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp, "conf")
        conf.write_text(
            'set no-received\naccount "stdin" disabled stdin\n'
            f'match all action maildir "{tmp}/inbox"\n'
        )
        result = subprocess.run(
            ["fdm", "-f", str(conf), "-m", "-a", "stdin", "fetch"],
            input=message,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C"},
            timeout=60,
        )
        assert result.returncode == 0, result
        [delivered] = maildir_messages(Path(tmp, "inbox"))
        return delivered


def delivered(message: bytes) -> bytes:
    """What the example delivers: never what mailthread wrote, but the message as it came,
    as fdm alone delivers it -- so a sender's field that mailthread renames (in ``message``)
    is delivered as the sender wrote it."""
    return fdm_alone(re.sub(rb"(?im)^Old-(x-mailthread)", rb"\1", message))


def read_only_for_mailthread(user: Fdm):
    """test_forged_mark's read_only, with the file modes binding mailthread alone. That
    fault runs the MDA as root without root's power over file modes; but fdm run as root
    reads the message as its unprivileged user (debianfdm) and hands it to its root
    parent in a file which that parent, so bound, cannot open ("can't receive mail:
    Permission denied"): nothing would be delivered, whatever the configuration. (A user
    runs fdm as themselves, where there is no such hand-over.) So the setpriv that drops
    those powers wraps mailthread only: the database is as read-only to it."""
    options, renames = read_only(user)
    if options:
        fake(
            user,
            "exec setpriv --bounding-set -dac_override,-dac_read_search,-fowner "
            f'"{user.mailthread}" "$@"',
        )
    return {}, renames


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(user, fault):
    check_forgeries(user, read_only_for_mailthread if fault is read_only else fault, delivered)


def test_a_message_over_32_mb_is_delivered(user):
    """fdm's default maximum-size is 32 MB: over it, fdm drops the message ("message too
    big"), delivers nothing and exits 0. The example raises it to fdm's largest, 1 GB."""
    user.add("muted", raw(PARENT))
    line = b"0123456789" * 7 + b"abcde\n"
    big = raw(REPLY) + line * (32 * 1024 * 1024 // len(line) + 1)
    assert len(big) > 32 * 1024 * 1024
    result = user.send(big)
    assert b"too big" not in result.stderr, result.stderr[-500:]
    assert user.folders() == {"inbox": [], "muted": [big], "watched": []}


def test_known_limit_an_empty_message_is_not_delivered_and_fdm_exits_0(user):
    """fdm's own behaviour, documented in the example (a mail server never hands over an
    empty message)."""
    result = user.send(b"")
    assert b"empty message" in result.stderr
    assert user.folders() == {"inbox": [], "muted": [], "watched": []}
