"""The real dovecot-lda with contrib/dovecot/ installed as its files say: a dovecot.conf of
the test's own that includes 90-mailthread.conf unchanged and then points its folders into
tmp_path, the filter and mark programs copied into those folders, the Sieve script
compiled once with sievec, and mailthread in the user's ~/.local/bin."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from .conftest import REPO, SENDER, Env, require

CONTRIB = REPO / "contrib" / "dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
RCPT = "me@example.com"
PACKAGES = "dovecot-core dovecot-sieve"


def require_dovecot() -> None:
    require(LDA, "sievec", "sieve-test", "unshare", packages=PACKAGES)


def as_user() -> list[str]:
    """dovecot-lda run by root wants `-d USER` and asks the auth server (a running Dovecot)
    for that user; run by anyone else it delivers as that user, into $HOME. As root (CI),
    unshare(1) runs it in a user namespace as uid 65534 (nobody): Dovecot sees an ordinary
    user, and the files it makes are still root's, so the test's tmp_path (mode 700) and
    an interpreter under /root stay reachable; without capabilities there, file modes
    bind it as they bind a user."""
    if os.geteuid() != 0:
        return []
    return ["unshare", "--user", "--map-user=65534", "--map-group=65534"]


class Dovecot(Env):
    """A user whose mail dovecot-lda delivers into ~/Maildir (INBOX, .Muted, .Watched)."""

    def __init__(self, tmp_path: Path, db: Path | None = None) -> None:
        super().__init__(tmp_path)
        # The wrapper runs mailthread with its default database unless filter.env says.
        self.db = db or self.home / ".local" / "share" / "mailthread" / "threads.db"
        self.maildir_root = self.home / "Maildir"
        self.dovecot_log = tmp_path / "dovecot.log"
        self.bin = self.home / ".local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "mailthread").symlink_to(self.mailthread)
        filter_dir = tmp_path / "sieve-filter"
        execute_dir = tmp_path / "sieve-execute"
        sieve_dir = tmp_path / "sieve"
        for folder, name in (
            (filter_dir, "mailthread"),
            (execute_dir, "mailthread-mark"),
            (sieve_dir, "mailthread.sieve"),
        ):
            folder.mkdir()
            shutil.copy(CONTRIB / name, folder / name)
        self.sieve = sieve_dir / "mailthread.sieve"
        common = (
            f"base_dir = {tmp_path / 'run'}\n"
            f"state_dir = {tmp_path / 'state'}\n"
            f"log_path = {self.dovecot_log}\n"
            "protocols =\n"
            "mail_location = maildir:~/Maildir\n"
        )
        self.conf = tmp_path / "dovecot.conf"
        self.conf.write_text(
            common + f"!include {CONTRIB / '90-mailthread.conf'}\n"
            "plugin {\n"
            f"  sieve_filter_bin_dir = {filter_dir}\n"
            f"  sieve_execute_bin_dir = {execute_dir}\n"
            f"  sieve_before = {self.sieve}\n"
            "  sieve = file:~/sieve;active=~/.dovecot.sieve\n"
            "}\n"
        )
        # The same Dovecot without Sieve: what it stores of a message by itself (it drops
        # the postmark and stores lines ending in LF), to compare bytes with.
        self.plain_conf = tmp_path / "plain.conf"
        self.plain_conf.write_text(common)
        compiled = subprocess.run(
            ["sievec", "-c", str(self.conf), str(self.sieve)], capture_output=True, text=True
        )
        assert compiled.returncode == 0, compiled.stderr

    def user_environ(self, home: Path | None = None) -> dict[str, str]:
        return {
            "HOME": str(home or self.home),
            "USER": "nobody" if os.geteuid() == 0 else getpass.getuser(),
            "PATH": "/usr/bin:/bin",
        }

    def run(self, msg: bytes, conf: Path | None = None, home: Path | None = None, **options):
        return subprocess.run(
            [*as_user(), LDA, "-c", str(conf or self.conf), "-f", SENDER, "-a", RCPT],
            input=msg,
            capture_output=True,
            env=self.user_environ(home),
            timeout=60,
            **options,
        )

    def sieve_test(self, msg: bytes) -> str:
        """sieve-test on the installed script: the actions it would take, nothing stored."""
        path = self.tmp / f"try-{uuid.uuid4().hex}.eml"
        path.write_bytes(msg)
        result = subprocess.run(
            [*as_user(), "sieve-test", "-c", str(self.conf), "-a", RCPT, str(self.sieve), path],
            capture_output=True,
            text=True,
            env=self.user_environ(),
            timeout=60,
        )
        assert result.returncode == 0, result
        return result.stdout

    def deliver(self, msg: bytes, **options):
        result = self.run(msg, **options)
        assert result.returncode == 0, (result, self.log_text())
        return result

    def stored(self, msg: bytes) -> bytes:
        """What dovecot-lda, without Sieve, stores of ``msg``: the bytes to expect."""
        home = self.tmp / "plain" / uuid.uuid4().hex
        home.mkdir(parents=True)
        result = self.run(msg, conf=self.plain_conf, home=home)
        assert result.returncode == 0, result
        [path] = (home / "Maildir" / "new").iterdir()
        return path.read_bytes()

    def filter_env(self, text: str) -> None:
        path = self.home / ".config" / "mailthread" / "filter.env"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def log_text(self) -> str:
        return self.dovecot_log.read_text(errors="replace") if self.dovecot_log.exists() else ""

    def folder(self, name: str) -> Path:
        return self.maildir_root if name == "INBOX" else self.maildir_root / f".{name}"

    def files(self, name: str, sub: str) -> list[Path]:
        folder = self.folder(name) / sub
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def messages(self, name: str) -> list[bytes]:
        return [p.read_bytes() for p in self.files(name, "new") + self.files(name, "cur")]

    def folders(self) -> dict[str, list[bytes]]:
        return {name: self.messages(name) for name in ("INBOX", "Muted", "Watched")}
