"""The real neomutt, in tmux, with contrib/neomuttrc.example: M, W, Esc M and Esc U record
and forget threads through the installed mailthread, and put the user's settings back."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import INBOX, MUTTRC, REPO, Env, Mutt, mutt_sessions, raw, require, write_maildir

pytestmark = pytest.mark.e2e

NEOMUTTRC = REPO / "contrib" / "neomuttrc.example"


class NeoMutt(Mutt):
    """neomutt in a detached tmux session; the helpers of conftest's Mutt, with neomutt's
    own status line and its own answer to ":set ?name"."""

    program = "neomutt"

    def in_index(self) -> bool:
        screen = self.screen()
        return screen.startswith("q:Quit") and "-NeoMutt: " in screen

    def setting(self, name: str) -> str:
        """neomutt's answer to ":set ?name" for a boolean: "yes" or "no"."""
        self.type(f":set ?{name}")
        self.keys("Enter")
        pattern = re.compile(rf'\b{name}="(yes|no)"')
        found = self.wait_for(
            f"neomutt's answer to :set ?{name}", lambda: pattern.search(self.last_line())
        )
        return found.group(1)


@pytest.fixture
def env(tmp_path) -> Env:
    require("neomutt", "tmux", packages="neomutt tmux")
    return Env(tmp_path)


@pytest.fixture
def neomutt(env):
    """Start neomutt on a Maildir inbox of INBOX with a neomuttrc that sources
    contrib/neomuttrc.example after ``settings``: ``start(settings)`` returns it at its index."""
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    yield from mutt_sessions(env, NeoMutt, NEOMUTTRC)


def mailthread(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [env.mailthread, *args], capture_output=True, env=env.environ(), timeout=60, text=True
    )


def threads(env) -> dict[str, str]:
    """`mailthread list --json` as {subject: list}; none before the first add made the
    database (`list` creates none: issue 14)."""
    if not env.db.exists():
        return {}
    listed = mailthread(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {thread["subject"]: thread["list"] for thread in json.loads(listed.stdout)}


def wait_recorded(env, nm, subject: str, list_name: str) -> None:
    nm.wait_for(
        f"mailthread to record the thread of {subject!r} on {list_name}",
        lambda: threads(env).get(subject) == list_name,
    )


def settings_of(nm) -> dict[str, str]:
    return {name: nm.setting(name) for name in ("pipe_decode", "pipe_split", "wait_key")}


def test_M_in_the_index_mutes_even_with_pipe_decode_set(env, neomutt):
    # pipe_decode set and a weeding `ignore`: decoded (and weeded, neomutt's
    # pipe_decode_weed is set by default) the message loses its Message-ID.
    nm = neomutt("set pipe_decode wait_key\nunset pipe_split\nignore *\nunignore from: subject")
    nm.jump(1)
    nm.keys("M")
    wait_recorded(env, nm, "Plans", "muted")
    nm.wait_back(nm.in_index)  # silent: no "Press any key" although wait_key is set
    assert settings_of(nm) == {"pipe_decode": "yes", "pipe_split": "no", "wait_key": "yes"}
    assert threads(env) == {"Plans": "muted"}
    explain = mailthread(env, "explain", "--message-id", "plans@example.com")
    assert explain.returncode == 0, explain
    assert "(muted, " in explain.stdout

    # pipe_decode is in force again: a plain pipe drops the Message-ID, which is why the
    # macro unsets it.
    decoded = env.tmp / "decoded"
    nm.keys("|")
    nm.type(f"cat > {decoded}")
    nm.keys("Enter")
    nm.wait_for_text("Press any key")
    nm.keys("Space")
    assert decoded.read_bytes().startswith(b"From: ")
    assert b"Message-ID" not in decoded.read_bytes()


def test_W_in_the_pager_watches_and_restores_either_value(env, neomutt):
    nm = neomutt("unset pipe_decode wait_key\nset pipe_split")
    nm.jump(2)
    nm.keys("Enter")
    nm.wait_for("the pager", nm.in_pager)
    nm.keys("W")
    wait_recorded(env, nm, "Lunch", "watched")
    nm.wait_back(nm.in_pager)
    assert settings_of(nm) == {"pipe_decode": "no", "pipe_split": "yes", "wait_key": "no"}

    # The other value of each, on the next message.
    nm.type(":set pipe_decode wait_key; unset pipe_split")
    nm.keys("Enter")
    nm.keys("j")
    nm.wait_for("the pager on message 3", lambda: "Subject: tagme A" in nm.screen())
    nm.keys("W")
    wait_recorded(env, nm, "tagme A", "watched")
    nm.wait_back(nm.in_pager)
    assert settings_of(nm) == {"pipe_decode": "yes", "pipe_split": "no", "wait_key": "yes"}
    assert threads(env) == {"Lunch": "watched", "tagme A": "watched"}


def test_W_on_a_muted_thread_watches_it_instead(env, neomutt):
    nm = neomutt("")
    nm.jump(1)
    nm.keys("M")
    wait_recorded(env, nm, "Plans", "muted")
    nm.wait_back(nm.in_index)
    nm.keys("W")
    wait_recorded(env, nm, "Plans", "watched")
    nm.wait_back(nm.in_index)
    assert threads(env) == {"Plans": "watched"}


def test_esc_M_mutes_every_tagged_message(env, neomutt):
    # pipe_split unset, the default: piped together, messages of a Maildir folder come
    # without "From " lines between them, so the macro pipes them one by one.
    nm = neomutt("unset pipe_split")
    nm.keys("T")
    nm.type("~s tagme")
    nm.keys("Enter")
    nm.wait_for("two tagged messages", lambda: nm.screen().count(" * ") >= 2)
    nm.keys("M-M")
    wait_recorded(env, nm, "tagme A", "muted")
    wait_recorded(env, nm, "tagme B", "muted")
    nm.wait_back(nm.in_index)
    assert threads(env) == {"tagme A": "muted", "tagme B": "muted"}
    assert settings_of(nm) == {"pipe_decode": "no", "pipe_split": "no", "wait_key": "yes"}


def test_esc_U_forgets_the_thread_and_a_failure_waits_for_a_key(env, neomutt):
    nm = neomutt("set pipe_decode wait_key\nunset pipe_split")
    nm.jump(1)
    nm.keys("M")
    wait_recorded(env, nm, "Plans", "muted")
    nm.wait_back(nm.in_index)
    env.add("watched", raw(INBOX[1]))  # another thread, which must stay

    nm.keys("M-U")
    nm.wait_for("mailthread to forget the thread of 'Plans'", lambda: "Plans" not in threads(env))
    nm.wait_back(nm.in_index)  # silent, although wait_key is set
    assert settings_of(nm) == {"pipe_decode": "yes", "pipe_split": "no", "wait_key": "yes"}
    assert threads(env) == {"Lunch": "watched"}
    explain = mailthread(env, "explain", "--message-id", "plans@example.com")
    assert explain.returncode == 1, explain

    # Nothing left to forget: mailthread's error stays on screen until a key is pressed,
    # then the rest of the macro runs and the settings are back.
    nm.keys("M-U")
    nm.wait_for_text("Press any key")
    assert "mailthread: " in nm.screen()
    nm.keys("Space")
    nm.wait_for("neomutt's index", nm.in_index)
    assert settings_of(nm) == {"pipe_decode": "yes", "pipe_split": "no", "wait_key": "yes"}
    assert threads(env) == {"Lunch": "watched"}


def macros(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("macro ")]


def test_the_macros_are_those_of_the_mutt_example():
    # The neomutt file says it holds muttrc.example's macros unchanged: a fix to one must
    # reach the other.
    assert len(macros(NEOMUTTRC)) == 5
    assert macros(NEOMUTTRC) == macros(MUTTRC)
