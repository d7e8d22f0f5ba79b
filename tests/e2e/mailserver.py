"""A real Dovecot (Debian dovecot-core, dovecot-imapd, dovecot-pop3d) serving IMAP and POP3
on the loopback, for the end-to-end tests of the programs that fetch mail from a server
(getmail6, fetchmail) and of those that keep their marks on one (IMAP folders).

``mailserver`` (the fixture) starts one per test with its own dovecot.conf in tmp_path:
listening on 127.0.0.1 only, on free ports, plaintext logins allowed (``ssl = no``,
``disable_plaintext_auth = no``), one user (``MailServer.USER``) in a passwd-file passdb
and userdb, whose mail is a Maildir (Maildir++ folders: ``.Mute/``) in tmp_path;
base_dir, state_dir and the log in tmp_path too. ``put`` puts a message into a folder
exactly as given, ``messages`` reads what is still on the server, ``imap()`` logs in with
imaplib.

Run as root (CI): Dovecot refuses mail access as root ("Mail access not allowed for
root"), and its login processes refuse to run as root; so the mail processes run as
``nobody`` (mail_uid), chrooted into the server's folder (mail_chroot: the chroot is made
while still root, so ``nobody`` need not pass through tmp_path's 0700 parents), and the
login processes as Debian's ``dovenull`` (default_login_user, chrooted by Dovecot too).
The auth processes (default_internal_user) stay root, to read the passwd-file in
tmp_path. Run as another user, every process is that user, without chroot.

``MailServer(top, userns=True)`` (root only) runs the whole Dovecot as that other user:
under ``unshare --user --map-user=65534 --map-group=65534``, as tests/e2e/dovecot_lda.py
runs dovecot-lda, every process is uid 65534 (nobody) in its own user namespace, without
chroot, and root's files are its own there: the programs that a Sieve script runs
(imapsieve) can reach the installed mailthread, whose interpreter may sit under /root.
``home`` gives the user a home folder (their HOME, for those programs), ``extra_conf`` is
appended to dovecot.conf. ``lmtp=True`` (needs dovecot-lmtpd) also serves LMTP on
127.0.0.1, ``lmtp_port``, for delivery with smtplib.LMTP to ``USER`` (no domain).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import require, wait_until


def _arrival(path: Path) -> tuple:
    """The time in a Dovecot Maildir name (``SECONDS.M<microseconds>P...``), then the name."""
    seconds, _, rest = path.name.partition(".")
    micro = rest[1:].split("P", 1)[0] if rest.startswith("M") else ""
    if seconds.isdigit() and micro.isdigit():
        return (int(seconds), int(micro), path.name)
    return (float("inf"), 0, path.name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    USER = "alice"
    PASSWORD = "secret-pw"
    HOST = "127.0.0.1"

    def __init__(
        self,
        top: Path,
        *,
        userns: bool = False,
        home: Path | None = None,
        extra_conf: str = "",
        lmtp: bool = False,
    ) -> None:
        self.top = top
        self.top.mkdir(parents=True)
        self.conf = top / "dovecot.conf"
        self.log_path = top / "dovecot.log"
        self.imap_port = free_port()
        self.pop3_port = free_port()
        self.lmtp_port = free_port() if lmtp else None
        self.userns = userns and os.geteuid() == 0
        root = os.geteuid() == 0 and not self.userns
        # The user's mail, as the mail processes see it, and as the tests do.
        self.jail = top / "jail"
        self.maildir = self.jail / "Maildir"
        inside = "/Maildir" if root else str(self.maildir)
        if root:
            mail_user = pwd.getpwnam("nobody")
            login_user, internal_user = "dovenull", "root"
            chroot = f"mail_chroot = {self.jail}\nvalid_chroot_dirs = {self.jail}\n"
        else:
            mail_user = pwd.getpwnam("nobody") if self.userns else pwd.getpwuid(os.geteuid())
            login_user = internal_user = mail_user.pw_name
            # Without root's capabilities, the chroots Dovecot gives these by default fail.
            chroot = "".join(
                f"service {name} {{\n  chroot =\n}}\n"
                for name in ("anvil", "imap-login", "pop3-login")
            )
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self._own(self.jail)
        passwd = top / "passwd"
        passwd.write_text(f"{self.USER}:{{PLAIN}}{self.PASSWORD}::::{home or ''}::\n")
        self.conf.write_text(
            f"base_dir = {top / 'run'}\n"
            f"state_dir = {top / 'state'}\n"
            f"log_path = {self.log_path}\n"
            f"protocols = imap pop3{' lmtp' if lmtp else ''}\n"
            "listen = 127.0.0.1\n"
            "ssl = no\n"
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = plain login\n"
            f"default_login_user = {login_user}\n"
            f"default_internal_user = {internal_user}\n"
            f"default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}\n"
            f"mail_uid = {self.uid}\n"
            f"mail_gid = {self.gid}\n"
            f"first_valid_uid = {min(self.uid, 500)}\n"
            f"first_valid_gid = {min(self.gid, 100)}\n"
            f"{chroot}"
            f"mail_location = maildir:{inside}\n"
            f"passdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n"
            f"userdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n"
            # Tests fetch many folders at once (the default allows 10 sessions).
            "protocol imap {\n  mail_max_userip_connections = 100\n}\n"
            "protocol pop3 {\n  mail_max_userip_connections = 100\n}\n"
            "service imap-login {\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.imap_port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n}\n"
            "service pop3-login {\n"
            f"  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {self.pop3_port}\n  }}\n"
            "  inet_listener pop3s {\n    port = 0\n  }\n}\n"
            + (
                "service lmtp {\n"
                f"  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {self.lmtp_port}\n"
                "  }\n}\n"
                if lmtp
                else ""
            )
            + f"{extra_conf}"
        )
        (top / "state").mkdir()
        unshare = ["unshare", "--user", "--map-user=65534", "--map-group=65534"]
        self.process = subprocess.Popen(
            [*(unshare if self.userns else []), "dovecot", "-F", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(top / "dovecot.stderr", "wb"),  # noqa: SIM115
            start_new_session=True,  # its own process group: stop() ends all of it at once
        )
        self._sequence = 0
        wait_until("Dovecot to listen", self._listening, describe=self.log)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0 and not self.userns:
            for folder, dirs, files in os.walk(path):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, self.uid, self.gid)

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"dovecot exited {self.process.returncode}:\n{self.log()}")
        if self.lmtp_port:
            try:
                with socket.create_connection((self.HOST, self.lmtp_port), timeout=5) as s:
                    if not s.recv(100).startswith(b"220"):
                        return False
            except OSError:
                return False
        for port in (self.imap_port, self.pop3_port):
            try:
                with socket.create_connection((self.HOST, port), timeout=5) as s:
                    if not s.recv(100).startswith(b"+OK") and port == self.pop3_port:
                        return False
            except OSError:
                return False
        return True

    def folder(self, name: str = "INBOX") -> Path:
        """The Maildir of a folder: INBOX, or Maildir++'s ``.NAME``."""
        return self.maildir if name == "INBOX" else self.maildir / f".{name}"

    def put(self, message: bytes, folder: str = "INBOX") -> Path:
        """Put ``message`` into ``folder`` (made if need be) as new mail, byte for byte as
        given: a Maildir delivery (written in tmp/, then moved into new/), as an MTA's."""
        path = self.folder(folder)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{int(time.time())}.M{self._sequence}P{os.getpid()}.test"
        (path / "tmp" / name).write_bytes(message)
        self._own(path)
        os.rename(path / "tmp" / name, path / "new" / name)
        return path / "new" / name

    def files(self, folder: str = "INBOX") -> list[Path]:
        """The message files of ``folder``, in the order they arrived: by the time Dovecot's
        Maildir names begin with, ``SECONDS.M<microseconds>P<pid>...`` (the microseconds
        are not zero-padded, so sorting the names alone puts ``M99`` after ``M123`` within
        one second)."""
        path = self.folder(folder)
        files = [p for sub in ("new", "cur") for p in (path / sub).glob("*") if p.is_file()]
        return sorted(files, key=_arrival)

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """What is still on the server in ``folder`` (expunged messages are gone)."""
        return [p.read_bytes() for p in self.files(folder)]

    def imap(self) -> imaplib.IMAP4:
        """An IMAP session, logged in as the user (the caller logs out)."""
        session = imaplib.IMAP4(self.HOST, self.imap_port, timeout=30)
        session.login(self.USER, self.PASSWORD)
        return session

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """End the server: SIGTERM to its whole process group at once (to the master alone,
        it waits a second for its children to go)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait()


@pytest.fixture
def mailserver(tmp_path):
    """A Dovecot with IMAP and POP3 on 127.0.0.1 (see MailServer), stopped afterwards."""
    require("dovecot", packages="dovecot-core dovecot-imapd dovecot-pop3d")
    for protocol in ("imap", "pop3"):
        if not Path(f"/usr/lib/dovecot/{protocol}").exists() and shutil.which("dovecot"):
            pytest.skip(
                f"end-to-end test needs Dovecot's {protocol}: apt-get install dovecot-{protocol}d"
            )
    server = MailServer(tmp_path / "server")
    yield server
    server.stop()
