"""The real alpine, in tmux, on a local mbox inbox, doing what contrib/alpine.example tells
the user to type: | ^W (RAW) mailthread add muted|watched. The raw header reaches
mailthread, its line is shown, a failure's too."""

import os

import pytest

from .conftest import REPO, Env, Mutt, day, message, raw, require

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "contrib" / "alpine.example"
REPLY = message(
    "reply@example.com",
    subject="Re: Plans",
    in_reply_to="plans@example.com",
    references=("plans@example.com",),
    date=day(10),
)


def typed(list_name: str) -> list[str]:
    """The keys contrib/alpine.example gives for ``list_name``, as tmux key names: its line
    "#   |  ^W  mailthread add LIST  Enter", split at its double blanks."""
    [line] = [
        line for line in EXAMPLE.read_text().splitlines()
        if line.startswith("#   |") and f"mailthread add {list_name}  " in line
    ]  # fmt: skip
    keys = [key.strip() for key in line[1:].split("  ") if key.strip()]
    keys = keys[: keys.index("Enter") + 1]
    return [f"C-{key[1].lower()}" if key.startswith("^") else key for key in keys]


class Alpine(Mutt):
    program = "alpine"

    def __init__(self, env: Env, width: int = 200, height: int = 30) -> None:
        inbox = env.mail / "inbox"
        inbox.parent.mkdir(parents=True, exist_ok=True)
        inbox.write_bytes(b"From alice@example.com Mon Jan  1 10:00:00 2024\n" + raw(REPLY))
        pinerc = env.home / ".pinerc"
        pinerc.write_text(
            f"inbox-path={inbox}\nuser-domain=example.com\nfeature-list=quit-without-confirm\n"
        )
        self.start(env, ["alpine", "-p", str(pinerc), "-i"], width, height)
        # A first start greets: E leaves the greeting, as a new user does.
        self.wait_for_text("Exit this greeting")
        self.keys("E")
        self.wait_for_text("Re: Plans")

    def press(self, *keys: str) -> None:
        for key in keys:
            if len(key) > 1 and " " in key:
                self.type(key)
            else:
                self.keys(key)

    def pipe_output(self, line: str) -> str:
        """Wait for alpine's PIPE MESSAGE screen with ``line``; leave it (E)."""
        self.wait_for_text("PIPE MESSAGE")
        screen = self.wait_for(
            f"{line!r} on the screen", lambda: line in self.screen() and self.screen()
        )
        self.keys("E")
        self.wait_for("alpine to leave the output", lambda: "PIPE MESSAGE" not in self.screen())
        return screen


@pytest.fixture
def alpine(tmp_path):
    require("alpine", "tmux", packages="alpine tmux")
    session = Alpine(Env(tmp_path))
    yield session
    session.close()


def test_raw_pipe_mutes_from_the_index_then_a_failure_is_shown(alpine):
    env = alpine.env
    alpine.press(*typed("muted"))
    alpine.pipe_output("muted: thread 1 (Re: Plans): 2 new ids")
    # The parent's id came only from the raw header's In-Reply-To and References.
    assert env.list_of("plans@example.com") == "muted"

    # A garbage database: the next pipe (alpine offers RAW and the last command again).
    for name in ("threads.db", "threads.db-wal", "threads.db-shm"):
        if (env.db.parent / name).exists():
            (env.db.parent / name).unlink()
    env.db.write_bytes(os.urandom(4096))
    alpine.keys("|")
    alpine.wait_for_text("Pipe RAW message 1 to : mailthread add muted")
    alpine.keys("Enter")
    alpine.pipe_output(f"mailthread: database {env.db}: file is not a database")


def test_raw_pipe_watches_from_the_viewer(alpine):
    alpine.keys(">")  # view the message
    alpine.wait_for_text("MESSAGE TEXT")
    alpine.press(*typed("watched"))
    alpine.pipe_output("watched: thread 1 (Re: Plans): 2 new ids")
    assert alpine.env.list_of("plans@example.com") == "watched"


def test_without_W_the_shown_text_has_no_ids(alpine):
    # What the example warns against: the shown text (no ^W) has no ids to record.
    alpine.press("|", "mailthread add watched", "Enter")
    alpine.pipe_output("mailthread: no Message-ID, In-Reply-To or References")
    assert alpine.env.list_of("plans@example.com") is None
