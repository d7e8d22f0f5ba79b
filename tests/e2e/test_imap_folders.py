"""Mute from any IMAP client, through a fetcher: the test, acting as the user's phone over
IMAP (imaplib), moves a message into Mute, Watch or Unmute on a real Dovecot on the
loopback (tests/e2e/mailserver.py); the real getmail6 (contrib/getmailrc-folders.example)
or fetchmail (contrib/fetchmailrc-folders.example) polls those folders and hands the
message to contrib/mailthread-folder, installed as the files say; then the next reply of
the thread is delivered by procmail with contrib/procmailrc.example. Nothing is ever
deleted from the server, and a failing mailthread leaves the message to the next poll."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import MUTED, OTHER, PARENT, REPLY, REPO, WATCHED, message, raw, require
from .fetching import FetchUser
from .mailserver import MailServer, mailserver  # noqa: F401  (the fixture)
from .test_forged_mark import not_installed

pytestmark = pytest.mark.e2e

GETMAILRC = REPO / "contrib" / "getmailrc-folders.example"
FETCHMAILRC = REPO / "contrib" / "fetchmailrc-folders.example"
HELPER = REPO / "contrib" / "mailthread-folder"
FOLDERS = ("Mute", "Watch", "Unmute")
PARENT_ID = "parent@example.com"


class FolderUser(FetchUser):
    """A user who installed mailthread (~/.local/bin/mailthread, as ./install does) and
    contrib/mailthread-folder beside it (cp, as the rc files say), and polls the folders
    with ``fetcher``."""

    fetcher = ""

    def __init__(self, tmp_path: Path, server: MailServer) -> None:
        super().__init__(tmp_path, server)
        # The folders' names: the defaults, or others set as the files say.
        self.names = {name: name for name in FOLDERS}
        bin_dir = self.home / ".local" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "mailthread").symlink_to(self.mailthread)
        self.install_helper()

    def install_helper(self) -> None:
        """cp contrib/mailthread-folder ~/.local/bin/, with the folder names at its top."""
        text = HELPER.read_text()
        for default, name in self.names.items():
            text, n = re.subn(
                rf"(?m)^{default.upper()}={default}$", f"{default.upper()}={name}", text
            )
            assert n == 1, default
        helper = self.home / ".local" / "bin" / "mailthread-folder"
        helper.write_text(text)
        helper.chmod(0o755)

    def rename(self, text: str) -> str:
        """``text`` of an rc file with the folder names the user chose."""
        for default, name in self.names.items():
            text = re.sub(rf'"{default}"', f'"{name}"', text)
            text = re.sub(rf"mailthread-folder {default}\"", f'mailthread-folder {name}"', text)
        return text

    def poll(self):
        raise NotImplementedError


class Getmail(FolderUser):
    fetcher = "getmail"

    def poll(self):
        """One run of getmail with the example, its [retriever] filled in for the test's
        server as the example says (plain IMAP on the loopback)."""
        server: MailServer = self.server
        example = GETMAILRC.read_text()
        split = example.index("[destination]\n")
        text, rest = example[:split], example[split:]
        for name, value in (
            ("type", f"SimpleIMAPRetriever\nport = {server.imap_port}"),
            ("server", server.HOST),
            ("username", server.USER),
            ("password", server.PASSWORD),
        ):
            text, n = re.subn(rf"(?m)^{name} = .*$", lambda _, n=name, v=value: f"{n} = {v}", text)
            assert n == 1, name
        text = self.rename(text + rest)
        if os.geteuid() == 0:  # the example says to run getmail as yourself
            text = text.replace("[destination]\n", "[destination]\nallow_root_commands = true\n")
        folder = self.home / ".config" / "getmail"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        rc = folder / "getmailrc-folders"
        rc.write_text(text)
        rc.chmod(0o600)
        return self.run(["getmail", "--rcfile", str(rc), "--getmaildir", str(folder)])


class Fetchmail(FolderUser):
    fetcher = "fetchmail"

    def poll(self):
        """One run of fetchmail with the example's entries, each one's account filled in
        for the test's server as the example says (plain IMAP on the loopback)."""
        server: MailServer = self.server
        text = self.rename(FETCHMAILRC.read_text())
        text, n = re.subn(
            r"(?m)^(poll \S+ via) imap\.example\.com protocol IMAP$",
            rf"\1 {server.HOST} protocol IMAP port {server.imap_port}",
            text,
        )
        assert n == len(FOLDERS)
        user = f'    user "{server.USER}" password "{server.PASSWORD}"'
        text = re.sub(r'(?m)^    user "you@example\.com" .*$', lambda _: user, text)
        text = re.sub(r"(?m)^    ssl$", "    sslproto ''", text)  # no TLS on the loopback
        folder = self.home / ".fetchmail"
        folder.mkdir(mode=0o700, exist_ok=True)
        rc = folder / "fetchmailrc"
        rc.write_text(text)
        rc.chmod(0o600)
        pidfile = str(folder / "fetchmail.pid")  # as root, fetchmail's is /run/fetchmail.pid
        argv = ["fetchmail", "-f", str(rc), "--nodetach", "--nosyslog", "--pidfile", pidfile]
        return self.run(argv, None, FETCHMAILHOME=str(folder))


@pytest.fixture(params=[Getmail, Fetchmail], ids=lambda kind: kind.fetcher)
def user(request, tmp_path, mailserver):  # noqa: F811
    kind = request.param
    package = "getmail6" if kind is Getmail else "fetchmail"
    require(kind.fetcher, "procmail", "formail", packages=f"{package} procmail")
    user = kind(tmp_path, mailserver)
    with mailserver.imap() as imap:
        for folder in FOLDERS:  # set up step 2: the user makes the folders
            assert imap.create(folder)[0] == "OK"
    return user


# -- the user's IMAP client ---------------------------------------------------------------


def move(server: MailServer, msg: bytes, folder: str, how: str = "MOVE", read: bool = True):
    """Deliver ``msg`` to the inbox, then move it into ``folder`` as an IMAP client does:
    MOVE (RFC 6851), or COPY, \\Deleted and EXPUNGE (older clients), or APPEND (a phone
    moving it from another account); ``read``: the user read it first."""
    if how == "APPEND":
        with server.imap() as imap:
            flags = "(\\Seen)" if read else None
            assert imap.append(folder, flags, None, msg.replace(b"\n", b"\r\n"))[0] == "OK"
        return
    server.put(msg)
    with server.imap() as imap:
        imap.select("INBOX")
        if read:
            imap.store("1", "+FLAGS", "\\Seen")
        if how == "MOVE":
            assert imap.uid("MOVE", "1:*", folder)[0] == "OK"
        else:
            assert imap.copy("1", folder)[0] == "OK"
            imap.store("1", "+FLAGS", "\\Deleted")
            imap.expunge()
        imap.close()
    assert server.messages("INBOX") == []


def on_server(server: MailServer, folder: str) -> list[tuple[bytes, bool]]:
    """Each message in ``folder`` as the client sees it (CRLF as LF), and whether it is
    read, without changing anything."""
    with server.imap() as imap:
        imap.select(folder, readonly=True)
        status, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])")
        if data == [None]:
            return []
        found = []
        for item in data:
            if isinstance(item, tuple):
                found.append((item[1].replace(b"\r\n", b"\n"), b"\\Seen" in item[0]))
        return found


def thread_lists(user: FolderUser) -> list[str]:
    if not user.db.exists():
        return []
    result = subprocess.run(
        [user.mailthread, "list", "--json"], capture_output=True, env=user.environ(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [thread["list"] for thread in json.loads(result.stdout or "[]")]


def deliver_reply(user: FolderUser, reply: bytes = raw(REPLY)):
    """The next reply of the thread, delivered by procmail with contrib/procmailrc.example."""
    user.deliver(reply, MUTED=f"{user.mail}/muted/", WATCHED=f"{user.mail}/watched/")


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["MOVE", "COPY", "APPEND"])
def test_a_message_moved_into_mute_mutes_its_thread_and_stays_there(user, how):
    # Read, as a message usually is when one mutes its thread; fetchmail takes only
    # unread ones (see test_fetchmail_leaves_a_read_message_alone).
    move(user.server, raw(PARENT), "Mute", how, read=user.fetcher == "getmail")
    result = user.poll()
    assert result.returncode == 0, user.output
    assert user.list_of(PARENT_ID) == "muted", user.output
    assert thread_lists(user) == ["muted"]
    # Never deleted: still in Mute, read.
    assert [m for m, _ in on_server(user.server, "Mute")] == [raw(PARENT)]
    assert [seen for _, seen in on_server(user.server, "Mute")] == [True]
    # The next reply is filed as muted, read, byte for byte but for the mark.
    deliver_reply(user)
    [muted] = user.maildir("muted", "cur")
    assert muted.name.endswith(":2,S")
    assert muted.read_bytes() == raw(REPLY, MUTED)
    assert user.maildir("inbox") == []
    # The next poll hands nothing over again.
    before = user.output
    user.poll()
    assert "(Plans)" not in user.output[len(before) :], user.output


def test_a_message_moved_into_watch_watches_its_thread(user):
    move(user.server, raw(PARENT), "Watch", read=False)
    user.poll()
    assert user.list_of(PARENT_ID) == "watched", user.output
    assert [m for m, _ in on_server(user.server, "Watch")] == [raw(PARENT)]
    deliver_reply(user)
    marked = raw(REPLY, WATCHED)
    assert [p.read_bytes() for p in user.maildir("watched")] == [marked]
    assert [p.read_bytes() for p in user.maildir("inbox")] == [marked]


def test_a_message_moved_into_unmute_removes_its_thread(user):
    user.add("muted", raw(PARENT))
    move(user.server, raw(REPLY), "Unmute", read=False)
    user.poll()
    assert user.list_of(PARENT_ID) is None, user.output
    assert thread_lists(user) == []
    assert [m for m, _ in on_server(user.server, "Unmute")] == [raw(REPLY)]
    assert [seen for _, seen in on_server(user.server, "Unmute")] == [user.fetcher != "getmail"]
    deliver_reply(user, raw(message("late@example.com", "Re: Plans", PARENT_ID)))
    assert len(user.maildir("inbox")) == 1 and user.maildir("muted", "cur") == []


@pytest.mark.parametrize("fault", ["garbage database", "not installed"])
def test_a_failing_add_leaves_the_message_for_the_next_poll(user, fault):
    move(user.server, raw(PARENT), "Mute", read=False)
    if fault == "garbage database":
        user.db.parent.mkdir(parents=True, exist_ok=True)
        user.db.write_bytes(os.urandom(8192))
    else:
        not_installed(user)
    user.poll()
    # Still on the server, in Mute, unread: nothing recorded, and the reason said.
    assert on_server(user.server, "Mute") == [(raw(PARENT), False)]
    reason = "mailthread: " if fault == "garbage database" else "mailthread: not found"
    assert reason in user.output, user.output
    said = "Delivery error" if user.fetcher == "getmail" else "MDA returned nonzero status"
    assert said in user.output, user.output
    # Fixed, the next poll records it.
    if fault == "garbage database":
        user.db.unlink()
    else:
        (user.home / ".local" / "bin" / "mailthread").symlink_to(user.mailthread)
    user.poll()
    assert user.list_of(PARENT_ID) == "muted", user.output
    assert [m for m, _ in on_server(user.server, "Mute")] == [raw(PARENT)]
    deliver_reply(user)
    assert [p.read_bytes() for p in user.maildir("muted", "cur")] == [raw(REPLY, MUTED)]


def test_a_message_that_can_never_be_recorded_is_taken_as_done(user):
    """A message with no ids (`add` exits 1) is not handed over at every poll: the reason
    is said once, and it stays on the server. So is an unmute of a thread not recorded,
    and one of a message with nothing to look up (no ids, Thread-Index or reply subject:
    `remove` exits 1, as `add` does)."""
    no_ids = raw(message(None, "no ids"))
    move(user.server, no_ids, "Mute", read=False)
    move(user.server, raw(OTHER), "Unmute", read=False)
    move(user.server, no_ids, "Unmute", read=False)
    user.poll()
    assert user.output.count("taken as done") == 3, user.output
    assert user.output.count("Thread-Index or reply subject") == 1, user.output
    assert thread_lists(user) == []
    assert [m for m, _ in on_server(user.server, "Mute")] == [no_ids]
    assert sorted(m for m, _ in on_server(user.server, "Unmute")) == sorted([raw(OTHER), no_ids])
    user.poll()
    assert user.output.count("taken as done") == 3, user.output
    assert user.output.count("Thread-Index or reply subject") == 1, user.output


def test_fetchmail_leaves_a_read_message_alone(user):
    """What contrib/fetchmailrc-folders.example warns of: over IMAP fetchmail takes only
    unread messages, so a read message moved into Mute is never handed over (getmail
    takes it)."""
    move(user.server, raw(PARENT), "Mute", read=True)
    user.poll()
    expected = "muted" if user.fetcher == "getmail" else None
    assert user.list_of(PARENT_ID) == expected, user.output
    assert [m for m, _ in on_server(user.server, "Mute")] == [raw(PARENT)]


def test_folders_of_other_names(user):
    """Names set as the files say (the rc file and the top of mailthread-folder) are
    obeyed; a message in a folder the helper does not know stays there, unread, said."""
    user.names = {"Mute": "Silence", "Watch": "Follow", "Unmute": "Unsilence"}
    user.install_helper()
    with user.server.imap() as imap:
        for folder in user.names.values():
            assert imap.create(folder)[0] == "OK"
    move(user.server, raw(PARENT), "Silence", read=False)
    user.poll()
    assert user.list_of(PARENT_ID) == "muted", user.output
    assert [m for m, _ in on_server(user.server, "Silence")] == [raw(PARENT)]
    # The helper still named Silence "Mute": nothing recorded, left unread, said.
    user.names["Watch"] = "Watch"
    user.install_helper()
    user.names["Watch"] = "Follow"
    move(user.server, raw(OTHER), "Follow", read=False)
    user.poll()
    assert "none of the folders" in user.output, user.output
    assert on_server(user.server, "Follow") == [(raw(OTHER), False)]
    assert thread_lists(user) == ["muted"]
