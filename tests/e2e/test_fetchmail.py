"""The real fetchmail fetching from a real Dovecot on the loopback (tests/e2e/mailserver.py)
with contrib/fetchmailrc.example, whose mda is procmail running contrib/procmailrc.example:
filing, forged marks under every fault, what stays on the server when something fails, and
the trap the example warns against (a pipeline in mda loses the message)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from . import fetching
from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, message, raw, require
from .fetching import FetchUser
from .mailserver import MailServer, mailserver  # noqa: F401  (the fixture)
from .test_forged_mark import FAULTS, not_installed

pytestmark = pytest.mark.e2e

FETCHMAILRC = REPO / "contrib" / "fetchmailrc.example"
# The trace field fetchmail puts first in every message it hands its mda: it names this
# machine, the local user and the time.
RECEIVED = re.compile(
    rb"Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]\n\tby [^\n]* \(fetchmail-[^\n]*\n\tfor [^\n]*\n"
)
ACCOUNT = re.compile(r"(?ms)^poll .*?(?=^# mailthread:)")


class Fetchmail(FetchUser):
    def rcfile(self, name: str, account: str, mda: str | None = None) -> Path:
        """The example as it is, but for its account, which is the test's server's (as the
        example says to fill it in), and an optional other mda line."""
        text = ACCOUNT.sub(lambda _: account, FETCHMAILRC.read_text(), count=1)
        assert account in text
        if mda is not None:
            text = re.sub(r'(?m)^    mda ".*"$', lambda _: f"    mda {mda}", text)
        folder = self.home / f".fetchmail-{name}"  # its own pid file and ids: FETCHMAILHOME
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / "fetchmailrc"
        path.write_text(text)
        path.chmod(0o600)
        return path

    def fetch(self, protocol="pop3", mailbox="INBOX", options=None, deliver_with=None, mda=None):
        server: MailServer = self.server
        port = server.pop3_port if protocol == "pop3" else server.imap_port
        account = (
            f"poll {server.HOST} protocol {protocol.upper()} port {port}\n"
            f'    user "{server.USER}" password "{server.PASSWORD}"\n'
            "    sslproto ''\n"  # no TLS on the loopback
        )
        if protocol == "imap":
            account += f'    folder "{mailbox}"\n'
        if deliver_with is not None:
            mda = f'"{deliver_with}"'
        rc = self.rcfile(f"{protocol}-{mailbox}", account, mda)
        # Its own lock file for each fetch: as root, fetchmail's is /run/fetchmail.pid.
        pidfile = str(rc.parent / "fetchmail.pid")
        argv = ["fetchmail", "-f", str(rc), "--nodetach", "--nosyslog", "--pidfile", pidfile]
        return self.run(argv, options, FETCHMAILHOME=str(rc.parent))

    def untraced(self, message: bytes) -> bytes:
        """``message`` without fetchmail's Received field, which must be right after the
        mark (or first)."""
        mark = re.match(rb"X-Mailthread: [^\n]*\n", message)
        start = mark.end() if mark else 0
        received = RECEIVED.match(message, start)
        assert received, message
        return message[:start] + message[received.end() :]


@pytest.fixture
def user(tmp_path, mailserver):  # noqa: F811
    require("fetchmail", "procmail", "formail", packages="fetchmail procmail")
    return Fetchmail(tmp_path, mailserver)


def delivered(user, folder: str) -> list[bytes]:
    return sorted(user.untraced(m) for m in user.folders()[folder])


# fetchmail's exit status when it fetched (and delivered) mail, and when there was none.
FETCHED, NO_MAIL = 0, 1


def test_muted_watched_and_other_mail_is_filed_and_then_deleted(user):
    user.add("muted", raw(PARENT))
    user.add("watched", raw(PARENT).replace(b"parent@", b"watched-parent@"))
    to_watched = raw(REPLY).replace(b"parent@", b"watched-parent@").replace(b"<reply@", b"<w@")
    for msg in (raw(REPLY), to_watched, raw(OTHER)):
        user.server.put(msg)
    result = user.fetch()
    assert result.returncode == FETCHED, user.output
    [muted] = user.maildir("muted", "cur")
    assert muted.name.endswith(":2,S")  # filed as read
    assert user.maildir("muted", "new") == []
    assert user.untraced(muted.read_bytes()) == raw(REPLY, MUTED)
    marked = WATCHED + b"\n"
    assert delivered(user, "watched") == [marked + to_watched]
    assert delivered(user, "inbox") == sorted([marked + to_watched, raw(OTHER)])
    # Each deleted from the server once delivered.
    assert user.server.messages() == []


def test_addresses_without_a_domain_are_left_as_they_came(user):
    """The example's ``no rewrite``: fetchmail would otherwise add the server's name to
    them (every byte as it came)."""
    local = message("local@example.com", extra=b"Cc: bob, carol\n")
    user.server.put(raw(local))
    assert user.fetch().returncode == FETCHED, user.output
    assert delivered(user, "inbox") == [raw(local)]


def test_mail_to_me_of_a_muted_thread_reaches_the_inbox(user):
    user.add("muted", raw(PARENT).replace(b"To: me@", b"To: list@"))
    user.settings.append('MAILTHREAD_ME="me@example.com"')
    user.server.put(raw(REPLY))
    assert user.fetch().returncode == FETCHED, user.output
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
    assert user.fetch().returncode == FETCHED, user.output
    assert delivered(user, "inbox") == [raw(REPLY)]  # unmarked, every byte as it came
    assert user.folders()["muted"] == []
    assert user.server.messages() == []
    # Why, on fetchmail's standard error (procmail's, with no LOGFILE set).
    reason = "mailthread: " if fault == "garbage database" else "mailthread"  # sh's words
    assert reason in user.output, user.output


def test_an_undeliverable_message_stays_on_the_server_until_it_is_delivered(user):
    user.add("muted", raw(PARENT))
    # The inbox cannot be made (a file where its folder should be): procmail cannot
    # deliver, nor fall back to ORGMAIL, and exits non-zero.
    (user.mail / "inbox").write_text("not a folder")
    user.server.put(raw(OTHER))
    user.fetch()
    assert user.server.messages() == [raw(OTHER)]
    assert "MDA returned nonzero status" in user.output, user.output
    # Fixed, the next run fetches it again, delivers it and only then deletes it.
    (user.mail / "inbox").unlink()
    assert user.fetch().returncode == FETCHED, user.output
    assert delivered(user, "inbox") == [raw(OTHER)]
    assert user.server.messages() == []


def test_the_pipeline_the_example_warns_against_loses_the_message(user):
    """``mda "mailthread match | procmail ..."`` with mailthread not installed: procmail
    files an empty message, the pipeline exits 0, and fetchmail deletes the original."""
    not_installed(user)
    user.server.put(raw(OTHER))
    example = re.search(r'(?m)^    mda "(.*)"$', FETCHMAILRC.read_text()).group(1)
    result = user.fetch(mda=f'"mailthread match | {example}"')
    assert result.returncode == FETCHED, user.output
    assert user.server.messages() == []  # gone from the server...
    assert user.folders()["inbox"] == [b""]  # ...and what procmail filed is empty


# -- forged marks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory):
    require(
        "fetchmail", "procmail", "formail", "dovecot", packages="fetchmail procmail dovecot-core"
    )
    return fetching.handed_over(Fetchmail, tmp_path_factory.mktemp("handed-over"))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(user, fault, handed_over):
    fetching.check_forgeries(user, fault, handed_over)
