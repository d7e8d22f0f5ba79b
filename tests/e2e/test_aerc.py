"""The real aerc, in tmux, on a local Maildir account, with contrib/aerc-binds.conf appended
to aerc's own default binds.conf: M and W pipe the raw message to the installed mailthread,
which records its thread; mailthread's line stays on the screen, a failure's too."""

import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import REPO, Env, Mutt, day, message, raw, require, write_maildir

pytestmark = pytest.mark.e2e

BINDS = REPO / "contrib" / "aerc-binds.conf"
DEFAULT_BINDS = Path("/usr/share/aerc/binds.conf")  # what aerc installs on its first start
DONE = "Process complete, press any key to close."

# A reply whose parent is not in the folder: only its raw header (In-Reply-To, References)
# names the parent, so the parent's thread is recorded only if the header reached mailthread.
REPLY = message(
    "reply@example.com",
    subject="Re: Plans",
    in_reply_to="plans@example.com",
    references=("plans@example.com",),
    date=day(10),
)
LUNCH = message("lunch@example.com", subject="Lunch", date=day(11))


class Aerc(Mutt):
    """aerc in a detached tmux session (Mutt's tmux helpers; its session name too)."""

    program = "aerc"

    # aerc wraps the lines of its terminal tab itself: 250 columns hold mailthread's line
    # with a database path in tmp_path.
    def __init__(self, env: Env, width: int = 250, height: int = 40) -> None:
        self.start(env, ["aerc"], width, height)


@pytest.fixture
def aerc(tmp_path):
    """Start aerc on ~/Mail/inbox holding ``messages``; returns it at its message list."""
    require("aerc", "tmux", packages="aerc tmux")
    if not DEFAULT_BINDS.exists():
        pytest.skip(f"aerc's default {DEFAULT_BINDS} is missing: apt-get install aerc")
    env = Env(tmp_path)
    sessions = []

    def start(messages: list[tuple[bytes, bytes]]) -> Aerc:
        write_maildir(env.mail / "inbox", [raw(m) for m in messages])
        config = env.home / ".config" / "aerc"
        config.mkdir(parents=True)
        (config / "accounts.conf").write_text(
            f"[local]\nsource = maildir://{env.mail}\ndefault = inbox\nfrom = Me <me@example.com>\n"
        )
        (config / "accounts.conf").chmod(0o600)  # aerc refuses a readable accounts.conf
        # As the file tells the user: appended, unchanged, to aerc's default binds.conf.
        shutil.copyfile(DEFAULT_BINDS, config / "binds.conf")
        with open(config / "binds.conf", "ab") as binds:
            binds.write(b"\n" + BINDS.read_bytes())
        session = Aerc(env)
        sessions.append(session)
        subject = messages[0][0].split(b"Subject: ")[1].split(b"\n")[0].decode()
        session.wait_for_text(subject)
        return session

    start.env = env
    yield start
    for session in sessions:
        session.close()


def press(session: Aerc, key: str) -> None:
    """Press ``key`` (a binding of contrib/aerc-binds.conf) until aerc opens the pipe's tab
    (its title: "mailthread <SUBJECT"). aerc shows the message list before its worker has
    selected a message, and a :pipe then does nothing: under load, a key pressed as soon as
    the subject showed was lost in about one run in five. Pressed again only while no tab
    has opened, so mailthread never runs twice."""
    for _ in range(5):
        session.keys(key)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            screen = session.screen()
            if "mailthread" in screen.split("\n", 1)[0] or DONE in screen:
                return
            time.sleep(0.05)
    pytest.fail(f"aerc opened no pipe tab for {key}:\n{session.screen()}")


def wait_done(session: Aerc, line: str) -> str:
    """Wait for the pipe's tab to show ``line`` and aerc's "Process complete"; then press a
    key and wait for the message list (or viewer) to come back."""
    session.wait_for(f"{line!r} and {DONE!r}", lambda: DONE in session.screen())
    screen = session.screen()
    assert line in screen, screen
    session.keys("Enter")
    session.wait_for("the pipe's tab to close", lambda: DONE not in session.screen())
    return screen


def test_M_in_the_message_list_mutes_the_raw_messages_thread(aerc):
    session = aerc([REPLY])
    env = aerc.env
    press(session, "M")
    screen = wait_done(session, "muted: thread 1 (Re: Plans): 2 new ids")
    assert "mailthread: " not in screen
    # The parent's id came only from the raw header's In-Reply-To and References.
    assert env.list_of("plans@example.com") == "muted"
    assert env.list_of("reply@example.com") == "muted"


def test_W_in_the_viewer_watches_the_whole_message_not_the_part(aerc):
    session = aerc([LUNCH])
    env = aerc.env
    session.keys("Enter")  # aerc's default binding: :view
    session.wait_for("aerc's viewer", lambda: "From: " in session.screen())
    press(session, "W")
    wait_done(session, "watched: thread 1 (Lunch): 1 new id")
    assert env.list_of("lunch@example.com") == "watched"
    assert "From: " in session.screen()  # back in the viewer


def test_a_failure_shows_mailthreads_line(aerc):
    env = aerc.env
    env.db.parent.mkdir(parents=True)
    env.db.write_bytes(os.urandom(4096))  # a garbage database: add exits 75
    session = aerc([REPLY])
    press(session, "M")
    wait_done(session, f"mailthread: database {env.db}: file is not a database")
    env.db.unlink()
    assert env.list_of("plans@example.com") is None
