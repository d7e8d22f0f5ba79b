"""What the getmail6 and fetchmail tests share: a user who fetches mail from the test's
Dovecot (tests/e2e/mailserver.py) and has it delivered by procmail running
contrib/procmailrc.example, as contrib/getmailrc.example and contrib/fetchmailrc.example
tell a user to set it up."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from .conftest import REPO, Env
from .mailserver import MailServer

PROCMAILRC = REPO / "contrib" / "procmailrc.example"


class FetchUser(Env):
    """A user's home in tmp_path whose ~/.procmailrc sets what procmail, run by root, would
    otherwise take from root's entry in the password file (HOME; ORGMAIL, its last resort
    when no folder can be written, which would be root's /var/mail/root), then includes
    contrib/procmailrc.example unchanged. ``path`` and ``cleanups`` are what the faults of
    tests/e2e/test_forged_mark.py set and use."""

    def __init__(self, tmp_path: Path, server: MailServer) -> None:
        super().__init__(tmp_path)
        self.server = server
        self.cleanups: list = []
        self.path: str | None = None
        self.settings: list[str] = []
        self.output = ""
        self.lock = threading.Lock()

    def write_procmailrc(self) -> Path:
        path = self.path or os.pathsep.join([os.path.dirname(self.mailthread), "/usr/bin", "/bin"])
        lines = [
            f"HOME={self.home}",
            f"PATH={path}",
            f"MAILTHREAD_DB={self.db}",
            f"DEFAULT={self.mail}/inbox/",
            f"ORGMAIL={self.tmp}/no-such-folder/orgmail",
            *self.settings,
            f"INCLUDERC={PROCMAILRC}",
        ]
        rcfile = self.home / ".procmailrc"
        text = "".join(line + "\n" for line in lines)
        with self.lock:  # fetches may run at once: never rewrite it under a procmail
            if not rcfile.exists() or rcfile.read_text() != text:
                rcfile.write_text(text)
        return rcfile

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "LANG": "C",
            "MAILTHREAD_DB": str(self.db),
            **extra,
        }

    def run(self, argv: list[str], options: dict | None = None) -> subprocess.CompletedProcess:
        self.write_procmailrc()
        result = subprocess.run(
            argv,
            capture_output=True,
            env=self.environ(),
            timeout=120,
            cwd=self.home,
            **(options or {}),
        )
        with self.lock:
            self.output += result.stdout.decode(errors="replace")
            self.output += result.stderr.decode(errors="replace")
        return result

    def folders(self) -> dict[str, list[bytes]]:
        return {
            name: [p.read_bytes() for p in self.maildir(name, "new") + self.maildir(name, "cur")]
            for name in ("inbox", "muted", "watched")
        }
