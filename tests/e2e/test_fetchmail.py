"""The real fetchmail fetching from a real Dovecot on the loopback (tests/e2e/mailserver.py)
with contrib/fetchmailrc.example, whose mda is procmail running contrib/procmailrc.example:
filing, forged marks under every fault, what stays on the server when something fails, and
the trap the example warns against (a pipeline in mda loses the message)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO
from .fetching import FetchUser
from .mailserver import MailServer, mailserver  # noqa: F401  (the fixture)

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

    def fetch(self, protocol="pop3", mailbox="INBOX", options=None, mda=None):
        server: MailServer = self.server
        port = server.pop3_port if protocol == "pop3" else server.imap_port
        account = (
            f"poll {server.HOST} protocol {protocol.upper()} port {port}\n"
            f'    user "{server.USER}" password "{server.PASSWORD}"\n'
            "    sslproto ''\n"  # no TLS on the loopback
        )
        if protocol == "imap":
            account += f'    folder "{mailbox}"\n'
        rc = self.rcfile(f"{protocol}-{mailbox}", account, mda)
        self.fetchmailhome = str(rc.parent)
        return self.run(["fetchmail", "-f", str(rc), "--nodetach", "--nosyslog"], options)

    def environ(self, **extra: str) -> dict[str, str]:
        return super().environ(FETCHMAILHOME=getattr(self, "fetchmailhome", str(self.home)))
