"""The real mutt, in tmux, with contrib/muttrc.example: M and W record threads through the
installed mailthread, then the real procmail files the replies."""

import re
import subprocess

import pytest

from .conftest import INBOX, MUTED, WATCHED, day, message, raw, write_maildir

pytestmark = pytest.mark.e2e


def reply_to(msgid: str):
    """A reply to the INBOX message ``msgid``, under its subject (a new one is a fork)."""
    [(header, _)] = [m for m in INBOX if f"<{msgid}>".encode() in m[0]]
    subject = re.search(rb"^Subject: (.*)$", header, re.M).group(1).decode()
    return message(f"re-{msgid}", f"Re: {subject}", in_reply_to=msgid, references=(msgid,))


def settings_of(mutt) -> dict[str, str]:
    return {name: mutt.setting(name) for name in ("pipe_decode", "pipe_split", "wait_key")}


def wait_listed(env, mutt, msgid: str, list_name: str) -> None:
    mutt.wait_for(
        f"mailthread to record {msgid} on {list_name}",
        lambda: env.list_of(msgid) == list_name,
    )


def test_M_in_the_index_mutes_even_with_pipe_decode_set(env, mutt_session):
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    # pipe_decode set and a weeding `ignore`, as many users have: decoded, the message
    # loses its Message-ID, so the macro must pipe it raw.
    mutt = mutt_session(
        "set pipe_decode wait_key\nunset pipe_split\nignore *\nunignore from: subject"
    )
    mutt.jump(1)
    mutt.keys("M")
    wait_listed(env, mutt, "plans@example.com", "muted")
    mutt.wait_back(mutt.in_index)  # silent: no "Press any key" although wait_key is set
    assert settings_of(mutt) == {"pipe_decode": "set", "pipe_split": "unset", "wait_key": "set"}
    assert env.list_of("lunch@example.com") is None

    # pipe_decode is in force again: a plain pipe now drops the Message-ID (which is why
    # the macro unsets it).
    decoded = env.tmp / "decoded"
    mutt.keys("|")
    mutt.type(f"cat > {decoded}")
    mutt.keys("Enter")
    mutt.wait_for_text("Press any key")
    mutt.keys("Space")
    assert decoded.read_bytes().startswith(b"From: ")
    assert b"Message-ID" not in decoded.read_bytes()

    # The next reply of the thread: procmail files it away, read.
    reply = reply_to("plans@example.com")
    env.deliver(raw(reply))
    [filed] = env.maildir("muted", "cur")
    assert filed.name.endswith(":2,S")
    assert filed.read_bytes() == raw(reply, MUTED)
    assert env.maildir("inbox", "new") == []


def test_W_in_the_pager_watches_and_restores_either_value(env, mutt_session):
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    mutt = mutt_session("unset pipe_decode wait_key\nset pipe_split")
    mutt.jump(2)
    mutt.keys("Enter")
    mutt.wait_for("the pager", mutt.in_pager)
    mutt.keys("W")
    wait_listed(env, mutt, "lunch@example.com", "watched")
    mutt.wait_back(mutt.in_pager)
    assert settings_of(mutt) == {"pipe_decode": "unset", "pipe_split": "set", "wait_key": "unset"}
    assert env.list_of("plans@example.com") is None

    # The other value of each, on the next message.
    mutt.type(":set pipe_decode wait_key; unset pipe_split")
    mutt.keys("Enter")
    mutt.keys("j")
    mutt.wait_for("the pager on message 3", lambda: "Subject: tagme A" in mutt.screen())
    mutt.keys("W")
    wait_listed(env, mutt, "tagme-a@example.com", "watched")
    mutt.wait_back(mutt.in_pager)
    assert settings_of(mutt) == {"pipe_decode": "set", "pipe_split": "unset", "wait_key": "set"}

    reply = reply_to("lunch@example.com")
    env.deliver(raw(reply))
    assert [p.read_bytes() for p in env.maildir("watched", "new")] == [raw(reply, WATCHED)]
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(reply, WATCHED)]


def test_esc_M_mutes_every_tagged_message(env, mutt_session):
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    # pipe_split unset, mutt's default: piped together, messages of a Maildir folder come
    # without "From " lines between them, so the macro pipes them one by one.
    mutt = mutt_session("unset pipe_split")
    mutt.keys("T")
    mutt.type("~s tagme")
    mutt.keys("Enter")
    mutt.wait_for("two tagged messages", lambda: mutt.screen().count(" * ") >= 2)
    mutt.keys("M-M")
    wait_listed(env, mutt, "tagme-a@example.com", "muted")
    wait_listed(env, mutt, "tagme-b@example.com", "muted")
    mutt.wait_back(mutt.in_index)
    assert env.list_of("plans@example.com") is None
    assert env.list_of("lunch@example.com") is None
    assert settings_of(mutt) == {"pipe_decode": "unset", "pipe_split": "unset", "wait_key": "set"}


def test_tagged_messages_piped_together_are_one_message(env, mutt_session):
    # A user's own binding, without the example's pipe_split: mutt concatenates the tagged
    # messages of a Maildir folder with no "From " lines. `add` reads one message (issue 12:
    # no split can be told from a body): the first one's thread, nothing of the second.
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    mutt = mutt_session(
        "unset pipe_split pipe_decode wait_key\n"
        "macro index X '<tag-prefix><pipe-message>mailthread add muted<enter>'"
    )
    mutt.keys("T")
    mutt.type("~s tagme")
    mutt.keys("Enter")
    mutt.wait_for("two tagged messages", lambda: mutt.screen().count(" * ") >= 2)
    mutt.keys("X")
    wait_listed(env, mutt, "tagme-a@example.com", "muted")
    mutt.wait_back(mutt.in_index)
    assert env.list_of("tagme-b@example.com") is None
    assert env.list_of("plans@example.com") is None


def test_a_failure_is_shown_and_waits_for_a_key(env, mutt_session):
    no_ids = message(None, subject="No ids", date=day(9))
    write_maildir(env.mail / "inbox", [raw(no_ids)])
    mutt = mutt_session("set pipe_decode wait_key\nunset pipe_split")
    mutt.keys("M")
    mutt.wait_for_text("Press any key")
    assert "mailthread: " in mutt.screen()  # mailthread's one-line error, left on screen
    mutt.keys("Space")
    mutt.wait_for("mutt's index", mutt.in_index)
    # The rest of the macro ran once the key was pressed: settings are back.
    assert settings_of(mutt) == {"pipe_decode": "set", "pipe_split": "unset", "wait_key": "set"}


def test_esc_U_forgets_the_thread_M_muted(env, mutt_session):
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    mutt = mutt_session("set pipe_decode wait_key\nunset pipe_split")
    mutt.jump(1)
    mutt.keys("M")
    wait_listed(env, mutt, "plans@example.com", "muted")
    mutt.wait_back(mutt.in_index)
    env.add("watched", raw(INBOX[1]))  # another thread, which must stay

    mutt.keys("M-U")
    mutt.wait_for(
        "mailthread to forget plans@example.com",
        lambda: env.list_of("plans@example.com") is None,
    )
    mutt.wait_back(mutt.in_index)  # silent, although wait_key is set
    assert settings_of(mutt) == {"pipe_decode": "set", "pipe_split": "unset", "wait_key": "set"}
    assert env.list_of("lunch@example.com") == "watched"
    explain = subprocess.run(
        [env.mailthread, "explain", "--message-id", "plans@example.com"],
        capture_output=True,
        env=env.environ(),
        timeout=60,
    )
    assert explain.returncode == 1, explain

    # Nothing left to forget: mailthread's error stays on screen until a key is pressed.
    mutt.keys("M-U")
    mutt.wait_for_text("Press any key")
    assert "mailthread: " in mutt.screen()
    mutt.keys("Space")
    mutt.wait_for("mutt's index", mutt.in_index)
    assert settings_of(mutt) == {"pipe_decode": "set", "pipe_split": "unset", "wait_key": "set"}

    # The next reply is ordinary mail again: unmarked, in the inbox.
    reply = reply_to("plans@example.com")
    env.deliver(raw(reply))
    assert env.maildir("muted", "cur") == []
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(reply)]
