"""Helpers for the end-to-end tests: the real procmail (with contrib/procmailrc.example
itself) and the real mutt (with contrib/muttrc.example) driven through tmux."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROCMAILRC = REPO / "contrib" / "procmailrc.example"
MUTTRC = REPO / "contrib" / "muttrc.example"
SENDER = "sender@example.org"
TIMEOUT = 15.0  # seconds for any one thing to happen; polled, so a pass is quick


def require(*programs: str, packages: str = "procmail mutt tmux") -> None:
    """Skip unless every one of ``programs`` is installed (Debian ``packages`` have them)."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"end-to-end test needs {', '.join(missing)}: apt-get install {packages}")


def mailthread_script() -> str:
    """The installed ``mailthread`` console script. The running interpreter's scripts
    directory comes first, so a pyenv shim (which needs pyenv's environment, and procmail
    clears the environment) is not picked when the real script is at hand."""
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    script = shutil.which("mailthread", path=path)
    if script is None:
        pytest.fail("the mailthread console script is not installed (pip install -e .)")
    return script


def wait_until(what: str, probe, timeout: float = TIMEOUT, describe=None):
    """Poll ``probe`` until it returns something true; return that, or fail after
    ``timeout`` seconds saying ``what`` did not happen (and ``describe()`` if given)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{describe()}" if describe else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(0.05)


def message(
    msgid: str | None,
    subject: str = "test",
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    extra: bytes = b"",
    body: bytes = b"Hello.\n",
    date: str = "Mon, 01 Jan 2024 10:00:00 +0000",
) -> tuple[bytes, bytes]:
    """A message as (header lines, body): the header without the empty line that ends it."""
    lines = [
        b"From: Alice <alice@example.com>",
        b"To: me@example.com",
        f"Subject: {subject}".encode(),
        f"Date: {date}".encode(),
    ]
    if msgid:
        lines.append(f"Message-ID: <{msgid}>".encode())
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>".encode())
    if references:
        lines.append(b"References: " + b" ".join(f"<{r}>".encode() for r in references))
    return b"\n".join(lines) + b"\n" + extra, body


def raw(msg: tuple[bytes, bytes], mark: bytes | None = None, *appended: bytes) -> bytes:
    """The message's bytes: ``mark`` (what mailthread inserts) as the first line of its
    header, ``appended`` lines (what formail or reformail add) at the end of it."""
    head, body = msg
    if mark is not None:
        head = mark + b"\n" + head
    return head + b"".join(line + b"\n" for line in appended) + b"\n" + body


class Env:
    """A user's home in tmp_path: ~/Mail, the database, and ways to run the programs."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.mail = self.home / "Mail"
        self.mail.mkdir(parents=True)
        self.db = tmp_path / "data" / "threads.db"
        self.log = tmp_path / "procmail.log"
        self.mailthread = mailthread_script()

    def environ(self, **extra: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        environ.update(HOME=str(self.home), MAILTHREAD_DB=str(self.db), **extra)
        return environ

    def add(self, list_name: str, msg: bytes) -> None:
        result = subprocess.run(
            [self.mailthread, "add", list_name],
            input=msg,
            capture_output=True,
            env=self.environ(),
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()

    def list_of(self, msgid: str) -> str | None:
        """The list whose thread holds ``msgid``, as `mailthread match` says for a reply
        (whatever the reply's subject: forks followed)."""
        reply = raw(message(None, in_reply_to=msgid))
        result = subprocess.run(
            [self.mailthread, "match", "--follow-forks"],
            input=reply,
            capture_output=True,
            env=self.environ(),
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        found = re.search(rb"^X-Mailthread: (\S+)$", result.stdout, re.M)
        return found.group(1).decode() if found else None

    def deliver(
        self,
        msg: bytes,
        *,
        db: Path | None = None,
        path: str | None = None,
        rcfile: Path = PROCMAILRC,
        popen_options: dict | None = None,
        **vars,
    ):
        """Deliver ``msg`` as an MTA would (``procmail -f sender``), with
        contrib/procmailrc.example as the rcfile (or ``rcfile``). procmail clears the
        environment: what the rcfile needs comes as assignments on its command line, like
        ``vars`` (e.g. DEFAULT, MUTED). ``popen_options`` go to subprocess.run."""
        if path is None:
            dirs = [os.path.dirname(self.mailthread), os.path.dirname(shutil.which("formail"))]
            path = os.pathsep.join(dict.fromkeys([*dirs, "/usr/bin", "/bin"]))
        assignments = {
            "HOME": str(self.home),
            "PATH": path,
            "MAILTHREAD_DB": str(db or self.db),
            "LOGFILE": str(self.log),
            "DEFAULT": str(self.mail / "inbox") + "/",
            **vars,
        }
        result = subprocess.run(
            ["procmail", "-f", SENDER, *(f"{k}={v}" for k, v in assignments.items()), rcfile],
            input=msg,
            capture_output=True,
            timeout=60,
            **(popen_options or {}),
        )
        assert result.returncode == 0, (result, self.procmail_log())
        return result

    def procmail_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def maildir(self, name: str, sub: str = "new") -> list[Path]:
        folder = self.mail / name / sub
        return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def env(tmp_path) -> Env:
    require("procmail", "formail")
    return Env(tmp_path)


# What the rc examples write and file, and the messages the delivery tests use.
MUTED = b"X-Mailthread: muted"
WATCHED = b"X-Mailthread: watched"
READ = b"Status: RO"
PARENT = message("parent@example.com", subject="Plans")
REPLY = message(
    "reply@example.com",
    subject="Re: Plans",
    in_reply_to="parent@example.com",
    references=("parent@example.com",),
    body=b"Replying.\nFrom the start this was a bad idea.\n>quoted\n",
)
OTHER = message("other@example.com", subject="Lunch?", body=b"From noon on?\n")


def day(hour: int) -> str:
    return f"Mon, 01 Jan 2024 {hour:02}:00:00 +0000"


# The inbox of the mutt and neomutt tests; sorted by date, messages 1, 2, 3, 4 of the index.
INBOX = [
    message("plans@example.com", subject="Plans", date=day(10)),
    message("lunch@example.com", subject="Lunch", date=day(11)),
    message("tagme-a@example.com", subject="tagme A", date=day(12)),
    message("tagme-b@example.com", subject="tagme B", date=day(13)),
]


class Mutt:
    """mutt running in a detached tmux session on a private socket."""

    program = "mutt"

    def __init__(self, env: Env, muttrc: Path, width: int = 120, height: int = 40) -> None:
        self.start(env, [self.program, "-n", "-F", str(muttrc)], width, height)

    def start(self, env: Env, argv: list[str], width: int, height: int) -> None:
        """Run ``argv`` (a mail client) in the session, with the user's home, database and
        the installed mailthread on its PATH."""
        self.env = env
        self.socket = env.tmp / "tmux.sock"
        conf = env.tmp / "tmux.conf"
        # Keep the pane (and its last screen) if the client dies, to show it in the failure.
        conf.write_text("set -g remain-on-exit on\n")
        path = os.pathsep.join([os.path.dirname(env.mailthread), os.environ.get("PATH", "")])
        self.tmux(
            "-f", str(conf), "new-session", "-d", "-s", "mutt", "-c", str(env.tmp),
            "-x", str(width), "-y", str(height),
            "--", "env", "TERM=screen", f"HOME={env.home}", f"MAILTHREAD_DB={env.db}",
            f"PATH={path}", *argv,
        )  # fmt: skip

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            env=self.env.environ(),
            timeout=30,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode(errors="replace")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "mutt")

    def last_line(self) -> str:
        lines = self.screen().rstrip("\n").splitlines()
        return lines[-1] if lines else ""

    def keys(self, *keys: str) -> None:
        """tmux key names: "Enter", "Escape", "M-M" (Esc M), or single characters."""
        self.tmux("send-keys", "-t", "mutt", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "mutt", "-l", text)

    def wait_for(self, what: str, probe, timeout: float = TIMEOUT):
        return wait_until(what, probe, timeout, describe=lambda: f"screen:\n{self.screen()}")

    def wait_for_text(self, text: str) -> str:
        return self.wait_for(f"{text!r} on mutt's screen", lambda: text in self.screen())

    def in_index(self) -> bool:
        screen = self.screen()
        return screen.startswith("q:Quit") and "-Mutt: " in screen

    def in_pager(self) -> bool:
        return self.screen().startswith("i:Exit")

    def wait_back(self, where) -> None:
        """Wait for mutt to come back to ``where`` (in_index or in_pager) after a pipe, and
        fail if it is waiting for a key instead: a success must be silent."""
        state = self.wait_for(
            "mutt to come back from the pipe",
            lambda: (
                ("waits" if "Press any key" in self.screen() else None)
                or ("back" if where() else None)
            ),
        )
        assert state == "back", f"mutt waits for a key after a success:\n{self.screen()}"

    def jump(self, number: int) -> None:
        self.type(str(number))
        self.keys("Enter")

    def setting(self, name: str) -> str:
        """Ask mutt (":set ?name") whether a boolean is "set" or "unset"."""
        self.type(f":set ?{name}")
        self.keys("Enter")
        pattern = re.compile(rf"\b{name} is (set|unset)\b")
        found = self.wait_for(
            f"mutt's answer to :set ?{name}", lambda: pattern.search(self.last_line())
        )
        return found.group(1)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=30
        )


def write_maildir(folder: Path, messages: list[bytes]) -> None:
    """Messages already seen (cur/, flag S), named so that mutt shows them in this order."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i, msg in enumerate(messages, 1):
        (folder / "cur" / f"100000000{i}.P1Q1.test:2,S").write_bytes(msg)


def mutt_sessions(env, kind: type[Mutt], example: Path):
    """Yield ``start(settings)``, which starts ``kind`` (Mutt or a subclass) on the Maildir
    folders of ``env`` with an rc file that sets ``settings`` and then sources ``example``,
    and returns it at its index; closes every session started, at the end."""
    sessions = []

    def start(settings: str) -> Mutt:
        muttrc = env.tmp / f"{kind.program}rc"
        muttrc.write_text(
            f"set folder={env.mail}\n"
            "set spoolfile=+inbox mbox_type=Maildir mbox=+inbox postponed=+postponed\n"
            'set record="" header_cache=""\n'
            "unset move mail_check_stats ts_enabled\n"
            "set sort=date sleep_time=0 charset=utf-8 quit=yes\n"
            f"{settings}\n"
            f"source {example}\n"
        )
        session = kind(env, muttrc)
        sessions.append(session)
        session.wait_for(f"{kind.program}'s index", session.in_index)
        return session

    yield start
    for session in sessions:
        session.close()


@pytest.fixture
def mutt_session(env):
    """Start mutt with a muttrc: ``start(settings)`` returns a Mutt at its index."""
    require("mutt", "tmux")
    yield from mutt_sessions(env, Mutt, MUTTRC)
