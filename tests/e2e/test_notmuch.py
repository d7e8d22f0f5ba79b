"""notmuch, three ways, with a notmuch database in tmp_path (NOTMUCH_CONFIG):

- contrib/notmuch/notmuch-deliver, installed as its comments say, run as an MDA (the
  message on standard input, a minimal environment), delivering with the real
  `notmuch insert`;
- contrib/notmuch/post-new, the hook of `notmuch new`, and
- contrib/notmuch/afew-config, for `afew --tag --new`,
  both tagging mail that the real procmail filed with contrib/procmailrc.example.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, raw, require
from .mda import User, check_forgeries, maildir_messages
from .test_forged_mark import (
    FAULTS,
    FORGERIES,
    ProcmailUser,
    corrupt,
    killed_after_writing_a_mark,
    not_installed,
    ok,
    usage_error,
)
from .test_maildrop import to_the_list

pytestmark = pytest.mark.e2e

CONTRIB = REPO / "contrib" / "notmuch"
WATCHED_REPLY = (
    REPLY[0].replace(b"parent@", b"watched-parent@").replace(b"reply@", b"watched-reply@"),
    REPLY[1],
)


def notmuch_setup(user, new_tags: str) -> None:
    """A notmuch config and database for ``user``'s ~/Mail."""
    user.notmuch_config = user.tmp / "notmuch-config"
    user.notmuch_config.write_text(
        f"[database]\npath={user.mail}\n[user]\nprimary_email=me@example.com\n"
        f"[new]\ntags={new_tags}\n[maildir]\nsynchronize_flags=true\n"
    )
    user.notmuch("new")


def notmuch(user, *args: str) -> str:
    result = subprocess.run(
        ["notmuch", *args],
        capture_output=True,
        env={"HOME": str(user.home), "NOTMUCH_CONFIG": str(user.notmuch_config)},
        timeout=60,
    )
    assert result.returncode == 0, result
    return result.stdout.decode()


def insert_kept(message: bytes) -> bytes:
    """What notmuch insert (0.37) files: a "From " postmark line becomes a header field."""
    if message.startswith(b"From "):
        return b"X-Envelope-From: " + message[len(b"From ") :]
    return message


def tags(user, msgid: str) -> set[str]:
    return set(user.notmuch("search", "--output=tags", f"id:{msgid}").split())


class Inserting(User):
    """A user whose mail server runs contrib/notmuch/notmuch-deliver."""

    notmuch = notmuch

    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        self.script = self.bin / "mailthread-notmuch-deliver"
        shutil.copy(CONTRIB / "notmuch-deliver", self.script)
        notmuch_setup(self, "unread;inbox;")
        self.log = self.home / ".mailthread-deliver.log"

    def run(self, msg: bytes, options: dict | None = None, **environ: str):
        return subprocess.run(
            [str(self.script)],
            input=msg,
            capture_output=True,
            env=self.mda_environ(NOTMUCH_CONFIG=str(self.notmuch_config), **environ),
            timeout=60,
            **(options or {}),
        )

    def send(self, msg: bytes, options: dict | None = None, **environ: str):
        result = self.run(msg, options, **environ)
        assert result.returncode == 0, (result, self.log_text())
        return result

    def folders(self) -> dict[str, list[bytes]]:
        return {
            "inbox": maildir_messages(self.mail),
            "muted": maildir_messages(self.mail / "muted"),
            "watched": maildir_messages(self.mail / "watched"),
        }

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def user(tmp_path) -> Inserting:
    require("notmuch", packages="notmuch")
    return Inserting(tmp_path)


def test_insert_files_a_muted_reply_as_read(user):
    user.add("muted", raw(PARENT))
    user.send(raw(REPLY))
    assert user.folders() == {"inbox": [], "muted": [raw(REPLY, MUTED)], "watched": []}
    [name] = (p.name for p in (user.mail / "muted" / "cur").iterdir())
    assert name.endswith(":2,S")
    assert tags(user, "reply@example.com") == {"muted"}


def test_insert_keeps_a_watched_reply_in_the_inbox_with_a_copy(user):
    user.add("watched", raw(PARENT))
    user.send(raw(REPLY))
    marked = raw(REPLY, WATCHED)
    assert user.folders() == {"inbox": [marked], "muted": [], "watched": [marked]}
    assert tags(user, "reply@example.com") == {"inbox", "unread", "watched"}


def test_insert_delivers_other_mail_to_the_inbox(user):
    user.add("muted", raw(PARENT))
    user.send(raw(OTHER))
    assert user.folders() == {"inbox": [raw(OTHER)], "muted": [], "watched": []}
    assert tags(user, "other@example.com") == {"inbox", "unread"}


def test_insert_lets_mail_to_me_through_a_mute(user):
    user.add("muted", raw(to_the_list(PARENT)))
    user.send(raw(REPLY), MAILTHREAD_ME="me@example.com")
    assert user.folders()["inbox"] == [raw(REPLY, MUTED + b"; to-me")]
    assert tags(user, "reply@example.com") == {"inbox", "unread"}


def test_insert_with_a_broken_database_delivers_unmarked(user):
    user.add("muted", raw(PARENT))
    user.db.write_bytes(random.Random(17).randbytes(8192))
    result = user.send(raw(REPLY))
    assert user.folders() == {"inbox": [raw(REPLY)], "muted": [], "watched": []}
    assert b"mailthread:" in result.stderr and "mailthread:" in user.log_text()


def test_insert_without_mailthread_delivers_the_original(user):
    """Not `mailthread match | notmuch insert`, which gets an empty message and exits 1."""
    user.add("muted", raw(PARENT))
    (user.bin / "mailthread").unlink()
    forged = raw(REPLY, MUTED)
    result = user.send(forged)
    assert user.folders() == {"inbox": [forged], "muted": [], "watched": []}
    assert tags(user, "reply@example.com") == {"inbox", "unread"}
    assert b"mailthread match failed (exit 127" in result.stderr
    assert "mailthread match failed (exit 127" in user.log_text()


def test_insert_sends_muted_mail_to_the_inbox_when_the_muted_folder_fails(user):
    """A file where the muted folder should be: notmuch insert cannot make it, and the
    muted reply is delivered to the inbox (still marked), the reason logged."""
    user.add("muted", raw(PARENT))
    (user.mail / "muted").write_text("a file where the muted folder should be")
    result = user.send(raw(REPLY))
    assert maildir_messages(user.mail) == [raw(REPLY, MUTED)]
    assert tags(user, "reply@example.com") == {"inbox", "unread"}
    for said in (result.stderr.decode(), user.log_text()):
        assert 'notmuch insert into "muted" failed' in said, said
        assert "muted mail delivered to the inbox instead" in said, said


def test_insert_that_cannot_deliver_is_a_temporary_failure(user):
    """Exit 75 only when nothing was delivered: the mail server keeps the message."""
    user.mail.chmod(0o500)
    result = user.run(raw(OTHER), options=_bound_by_file_modes())
    user.mail.chmod(0o700)
    assert result.returncode == 75, result
    assert user.folders()["inbox"] == []


def _bound_by_file_modes() -> dict:
    from test_faults import bound_by_file_modes

    return bound_by_file_modes()


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_insert_never_obeys_a_forged_mark(user, fault):
    check_forgeries(user, fault, kept=insert_kept)
    assert user.notmuch("count", "tag:muted or tag:watched").strip() == "0"


# -- procmail delivers, `notmuch new` indexes: the post-new hook, or afew ---------------------


class Indexing(ProcmailUser):
    """procmail with contrib/procmailrc.example, then `notmuch new` with contrib/notmuch's
    post-new hook (``tagger="hook"``) or with afew and contrib/notmuch/afew-config."""

    notmuch = notmuch

    def __init__(self, tmp_path, tagger: str) -> None:
        super().__init__(tmp_path)
        self.tagger = tagger
        notmuch_setup(self, "new;")
        if tagger == "hook":
            hooks = self.mail / ".notmuch" / "hooks"
            hooks.mkdir(parents=True, exist_ok=True)
            shutil.copy(CONTRIB / "post-new", hooks / "post-new")
        else:
            config = self.home / ".config" / "afew" / "config"
            config.parent.mkdir(parents=True)
            shutil.copy(CONTRIB / "afew-config", config)

    def index(self) -> None:
        self.notmuch("new")
        if self.tagger == "afew":
            result = subprocess.run(
                ["afew", "--tag", "--new"],
                capture_output=True,
                env={"HOME": str(self.home), "NOTMUCH_CONFIG": str(self.notmuch_config)},
                timeout=60,
            )
            assert result.returncode == 0, result


@pytest.fixture(params=["hook", "afew"])
def indexing(request, tmp_path) -> Indexing:
    require("procmail", "formail")
    require("notmuch", packages="notmuch")
    if request.param == "afew":
        require("afew", packages="afew")
    return Indexing(tmp_path, request.param)


def test_procmail_then_notmuch_new_tags_by_folder(indexing):
    indexing.add("muted", raw(PARENT))
    indexing.add("watched", raw(WATCHED_REPLY).replace(b"watched-reply@", b"watched-parent@"))
    indexing.deliver(raw(REPLY))
    indexing.deliver(raw(WATCHED_REPLY))
    indexing.deliver(raw(OTHER))
    indexing.index()
    assert tags(indexing, "reply@example.com") == {"muted"}
    assert tags(indexing, "watched-reply@example.com") == {"inbox", "unread", "watched"}
    assert tags(indexing, "other@example.com") == {"inbox", "unread"}
    assert indexing.notmuch("count", "tag:new").strip() == "0"


@pytest.mark.parametrize(
    "fault",
    [ok, corrupt, usage_error, not_installed, killed_after_writing_a_mark],
    ids=lambda f: f.__name__.replace("_", "-"),
)
def test_procmail_then_notmuch_new_never_obeys_a_forged_mark(indexing, fault):
    """After a failed match the original, its sender's X-Mailthread: field intact, is in
    the inbox folder: neither the hook nor afew may mute or watch it. (The other faults
    differ only in how match fails: tests/e2e/test_forged_mark.py.)"""
    indexing.add("muted", raw(PARENT))
    options, _ = fault(indexing)
    for i, forgery in enumerate(FORGERIES):
        indexing.send(forgery.with_id(f"spam-{i}@example.net")[0], options)
    indexing.index()
    folders = indexing.folders()
    assert folders["muted"] == folders["watched"] == []
    assert len(folders["inbox"]) == len(FORGERIES)
    assert indexing.notmuch("count", "tag:muted or tag:watched").strip() == "0"
    indexed = int(indexing.notmuch("count", "*"))
    assert indexed and indexing.notmuch("count", "tag:inbox").strip() == str(indexed)
