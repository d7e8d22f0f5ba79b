"""The real getmail6 fetching from a real Dovecot on the loopback (tests/e2e/mailserver.py)
with contrib/getmailrc.example, which hands every message to procmail running
contrib/procmailrc.example: filing, forged marks under every fault, and what stays on the
server when something fails."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from . import fetching
from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, raw, require
from .fetching import FetchUser
from .mailserver import MailServer, mailserver  # noqa: F401  (the fixture)
from .test_forged_mark import FAULTS, cannot_read_its_input, not_installed

pytestmark = pytest.mark.e2e

GETMAILRC = REPO / "contrib" / "getmailrc.example"
# The trace field getmail puts first in every message it delivers (after Return-Path and
# Delivered-To, which are the same every time): it names the time and the server's id.
RECEIVED = re.compile(
    rb"Received: from 127\.0\.0\.1 \([^\n]*\) by [^\n]* getmail6\n  msgid:[^\n]*\n"
)
TRACE = b"Return-Path: <unknown>\nDelivered-To: unknown\n"


class Getmail(FetchUser):
    # What goes before the example's [destination]: a test may put a [filter-...] there.
    before_destination = ""

    def rcfile(self, name: str, retriever: str, destination: str | None = None) -> Path:
        """The example's [destination] and [options] as they are, after a [retriever]
        filled in as the example says, for the test's server. Run as root (CI), the
        destination also needs getmail's allow_root_commands (the example says to run
        getmail as yourself)."""
        example = GETMAILRC.read_text()
        rest = example[example.index("[destination]\n") :]
        if os.geteuid() == 0:
            rest = rest.replace("[destination]\n", "[destination]\nallow_root_commands = true\n")
        folder = self.home / ".config" / name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        path = folder / "getmailrc"
        rest = self.before_destination + rest
        if destination is not None:  # the example's, pointed at another program
            rest = re.sub(r"(?m)^path = .*\n", destination, rest)
            rest = re.sub(r"(?m)^arguments = .*\n", "", rest)
        path.write_text(f"[retriever]\n{retriever}\n{rest}")
        path.chmod(0o600)
        return path

    def fetch(self, protocol="pop3", mailbox="INBOX", options=None, deliver_with=None):
        server: MailServer = self.server
        if protocol == "pop3":
            retriever = f"type = SimplePOP3Retriever\nport = {server.pop3_port}\n"
        else:
            retriever = (
                f"type = SimpleIMAPRetriever\nport = {server.imap_port}\n"
                f'mailboxes = ("{mailbox}",)\n'
            )
        retriever += (
            f"server = {server.HOST}\nusername = {server.USER}\npassword = {server.PASSWORD}\n"
        )
        name = f"getmail-{protocol}-{mailbox}"
        destination = None if deliver_with is None else f"path = {deliver_with}\n"
        rc = self.rcfile(name, retriever, destination)
        return self.run(["getmail", "--rcfile", str(rc), "--getmaildir", str(rc.parent)], options)

    def untraced(self, message: bytes) -> bytes:
        return untraced(message)


def untraced(message: bytes) -> bytes:
    """``message`` without getmail's trace fields, which must be right after the mark (or
    first)."""
    mark = re.match(rb"X-Mailthread: [^\n]*\n", message)
    start = mark.end() if mark else 0
    assert message[start:].startswith(TRACE), message
    received = RECEIVED.match(message, start + len(TRACE))
    assert received, message
    rest = message[received.end() :]
    # getmail names the IMAP folder it fetched from in a field of its own.
    rest = re.sub(rb"(?m)^(X-getmail-retrieved-from-mailbox:) F\d+$", rb"\1 INBOX", rest, count=1)
    return message[:start] + rest


@pytest.fixture
def user(tmp_path, mailserver):  # noqa: F811
    require("getmail", "procmail", "formail", packages="getmail6 procmail")
    return Getmail(tmp_path, mailserver)


def delivered(user, folder: str) -> list[bytes]:
    return sorted(untraced(m) for m in user.folders()[folder])


def test_muted_watched_and_other_mail_is_filed_and_then_deleted(user):
    user.add("muted", raw(PARENT))
    watched_parent = raw(PARENT).replace(b"parent@", b"watched-parent@")
    user.add("watched", watched_parent)
    to_watched = raw(REPLY).replace(b"parent@", b"watched-parent@").replace(b"<reply@", b"<w@")
    for msg in (raw(REPLY), to_watched, raw(OTHER)):
        user.server.put(msg)
    result = user.fetch()
    assert result.returncode == 0, user.output
    [muted] = user.maildir("muted", "cur")
    assert muted.name.endswith(":2,S")  # filed as read
    assert user.maildir("muted", "new") == []
    assert untraced(muted.read_bytes()) == raw(REPLY, MUTED)
    marked = WATCHED + b"\n"
    assert delivered(user, "watched") == [marked + to_watched]
    assert delivered(user, "inbox") == sorted([marked + to_watched, raw(OTHER)])
    # Each deleted from the server once delivered.
    assert user.server.messages() == []


def test_mail_to_me_of_a_muted_thread_reaches_the_inbox(user):
    user.add("muted", raw(PARENT).replace(b"To: me@", b"To: list@"))
    user.settings.append('MAILTHREAD_ME="me@example.com"')
    user.server.put(raw(REPLY))
    assert user.fetch().returncode == 0, user.output
    assert delivered(user, "inbox") == [raw(REPLY, MUTED + b"; to-me")]
    assert user.folders()["muted"] == []
    assert user.server.messages() == []


@pytest.mark.parametrize("fault", ["garbage database", "not installed"])
def test_a_broken_database_or_no_mailthread_delivers_to_the_inbox_then_deletes(user, fault):
    user.add("muted", raw(PARENT))
    if fault == "garbage database":
        user.db.write_bytes(os.urandom(8192))
    else:
        not_installed(user)
    user.server.put(raw(REPLY))
    result = user.fetch()
    assert result.returncode == 0, user.output
    assert delivered(user, "inbox") == [raw(REPLY)]  # unmarked, every byte as it came
    assert user.folders()["muted"] == []
    assert user.server.messages() == []
    # Why, in getmail's output (procmail's standard error, with no LOGFILE set).
    reason = "mailthread: " if fault == "garbage database" else "mailthread"  # sh's words
    assert reason in user.output.split("retrieved")[0], user.output


def test_an_undeliverable_message_stays_on_the_server_until_it_is_delivered(user):
    user.add("muted", raw(PARENT))
    # The inbox cannot be made (a file where its folder should be): procmail cannot
    # deliver, nor fall back to ORGMAIL, and exits non-zero.
    (user.mail / "inbox").write_text("not a folder")
    user.server.put(raw(OTHER))
    user.fetch()
    assert user.server.messages() == [raw(OTHER)]
    assert "delivery error" in user.output, user.output
    # Fixed, the next run delivers it and only then deletes it.
    (user.mail / "inbox").unlink()
    assert user.fetch().returncode == 0, user.output
    assert delivered(user, "inbox") == [raw(OTHER)]
    assert user.server.messages() == []


def test_the_filter_external_the_example_warns_against_loses_the_message(user):
    """A [filter] of type Filter_external running mailthread, with exitcodes_keep =
    (0, 75) and ignore_stderr, so that neither a failing mailthread nor its line about an
    unusable database keeps the message on the server, failing at every run: a mailthread
    that exits 75 having written nothing (here: it cannot read its input) leaves getmail a
    message of its own trace fields only, which it delivers, deleting the original."""
    cannot_read_its_input(user)
    filter_section = (
        "[filter-mailthread]\n"
        "type = Filter_external\n"
        f"path = {user.home}/.local/bin/mailthread\n"
        'arguments = ("match",)\n'
        "exitcodes_keep = (0, 75)\n"
        "ignore_stderr = true\n" + ("allow_root_commands = true\n" if os.geteuid() == 0 else "")
    )
    user.before_destination = filter_section
    user.server.put(raw(OTHER))
    assert user.fetch().returncode == 0, user.output
    assert user.server.messages() == []  # gone from the server...
    [kept] = user.folders()["inbox"]
    assert untraced(kept) == b"\n", kept  # ...and what was delivered is empty


# -- forged marks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory):
    require("getmail", "procmail", "formail", "dovecot", packages="getmail6 procmail dovecot-core")
    return fetching.handed_over(Getmail, tmp_path_factory.mktemp("handed-over"))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(user, fault, handed_over):
    fetching.check_forgeries(user, fault, handed_over)
