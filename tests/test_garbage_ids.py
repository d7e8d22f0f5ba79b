"""Only message ids are ids (issue 13): a token without an "@" between other characters --
`<yes>` (`git send-email --in-reply-to=yes`), `<1>`, `<a@>`, a date in brackets -- links
nothing in any rule (the threads table, the message index, learning, `explain`), and is
never recorded by `add`, `add --mailbox` or `add --refs-file`. A database written before
the rule may hold such tokens: they match nothing (filtered at every lookup)."""

import sqlite3

import pytest
from conftest import FIXTURES, run
from test_conversations import deliver, mail, mute, rule

from mailthread.msgid import is_msgid

CIFS = (FIXTURES / "yes-cifs-series.eml").read_bytes()  # In-Reply-To: <yes>
NOTMUCH = (FIXTURES / "yes-notmuch-series.eml").read_bytes()  # the same <yes>, unrelated

# Tokens read from a threading field that are no message's id (what parse_ids gives for
# `<1>`, `<a>`, `<@>`, `<a@>`, `<@b>`, `<yes@>`, `<Wed, 2 May 2001 11:20:14 -0400>`).
GARBAGE = ["yes", "1", "a", "@", "a@", "@b", "yes@", "@@", "", "Wed,2May200111:20:14-0400"]
# (`<>` is in neither list below: the parser never read it as an id.)
FIELD_GARBAGE = ["<1>", "<a>", "<@>", "<a@>", "<@b>", "<yes@>", "<yes>"]
FIELD_GARBAGE += ["<Wed, 2 May 2001 11:20:14 -0400>"]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_no_message_id(token):
    assert not is_msgid(token)


@pytest.mark.parametrize("token", ["a@b", "a@@b", "a@b@c", "@a@b", '"x y"@b', "yes@example.org"])
def test_message_ids_are(token):
    assert is_msgid(token)


def test_muting_one_yes_series_leaves_the_other_unmuted(db):
    # Both series were delivered (indexed) before the user mutes the cifs one.
    assert deliver(db, CIFS) is None
    assert deliver(db, NOTMUCH) is None
    assert "1 new id" in mute(db, CIFS)  # its Message-ID alone, not <yes>
    assert rule(db, NOTMUCH) is None
    assert deliver(db, NOTMUCH) is None
    ids = sqlite3.connect(db).execute("SELECT msgid FROM ids").fetchall()
    assert ids == [("1277220158-3405-1-git-send-email-sjayaraman@suse.de",)]


def test_a_yes_series_muted_by_import_leaves_the_other_unmuted(db, tmp_path):
    box = tmp_path / "box"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "cur" / "1:2,").write_bytes(CIFS)
    result = run(["add", "muted", "--mailbox", str(box)], db=db)
    assert result.returncode == 0, result.stderr
    assert rule(db, NOTMUCH) is None
    assert deliver(db, NOTMUCH) is None


def test_a_refs_file_records_no_garbage_and_ties_no_lines_together(db, tmp_path):
    # Choice: a line of only garbage tokens is no error (it has a `<token>`, as the
    # importer reads lines) but records nothing; garbage beside real ids is dropped, so
    # two lines sharing <yes> stay two threads.
    refs = tmp_path / "refs"
    refs.write_bytes(b"<one@x> <yes> \n<two@x> <yes> \n<yes> \n<1> <a@> \n")
    result = run(["add", "muted", "--refs-file", str(refs)], db=db)
    assert result.returncode == 0, result.stderr
    assert "2 threads added" in result.stdout.decode()
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT msgid FROM ids")) == [("one@x",), ("two@x",)]
    assert conn.execute("SELECT count(*) FROM threads").fetchone() == (2,)
    assert deliver(db, NOTMUCH) is None


@pytest.mark.parametrize("token", FIELD_GARBAGE)
def test_a_garbage_token_links_no_two_messages(db, token):
    # Two unrelated messages naming the same garbage, both delivered (indexed) first.
    one = mail("one@x", "Alpha", 0, extra=[f"In-Reply-To: {token}", f"References: {token}"])
    two = mail("two@x", "Beta", 1, extra=[f"In-Reply-To: {token}", f"References: {token}"])
    deliver(db, one)
    deliver(db, two)
    assert "1 new id" in mute(db, one)
    assert rule(db, two) is None  # neither by id nor through the index
    assert deliver(db, two) is None
    # Nor does a reply to two@x reach one@x's thread (the index kept them apart).
    answer = mail("three@x", "Re: Beta", 2, in_reply_to="two@x", references=["two@x"])
    assert deliver(db, answer) is None


@pytest.mark.parametrize("token", ["<a@>", "<@b>", "<yes@>"])
def test_a_garbage_own_id_is_not_learned(db, token):
    # (<yes> never was: the index, whose keys decide what is learned, ignored it already.)
    root = mail("root@x", "Alpha", 0)
    deliver(db, root)
    mute(db, root)
    # A reply whose own Message-ID is garbage: marked (its References names the thread),
    # but the garbage does not join the thread...
    reply = mail(None, "Re: Alpha", 1, extra=[f"Message-ID: {token}", "References: <root@x>"])
    assert deliver(db, reply) == b"muted"
    # ...so another message naming the same garbage is not caught.
    other = mail("other@x", "Beta", 2, extra=[f"In-Reply-To: {token}"])
    assert rule(db, other) is None
    assert deliver(db, other) is None


def test_a_message_with_only_garbage_ids_is_refused(db):
    raw = mail(None, "Alpha", 0, extra=["Message-ID: <yes>", "In-Reply-To: <1>"])
    for options in ((), ("--subthread",)):
        result = run(["add", "muted", *options], raw, db=db)
        assert result.returncode == 1
        err = result.stderr.decode()
        assert err.startswith("mailthread: no message id in its ") and "<yes> is none" in err
        assert err.count("\n") == 1
    assert run(["list"], db=db).stdout == b""


def test_garbage_in_a_database_from_before_matches_nothing(db):
    # A database written before the rule: `add` stored <yes> in a thread, and the index
    # held <a@> in a conversation.
    root = mail("root@x", "Alpha", 0)
    deliver(db, root)
    mute(db, root)
    conn = sqlite3.connect(db)
    with conn:
        (thread,) = conn.execute("SELECT thread FROM ids WHERE msgid = 'root@x'").fetchone()
        conn.execute("INSERT INTO ids (msgid, thread) VALUES ('yes', ?)", (thread,))
        (conv,) = conn.execute("SELECT conv FROM seen WHERE msgid = 'root@x'").fetchone()
        conn.execute("INSERT INTO seen (msgid, conv, date) VALUES ('a@', ?, 0)", (conv,))
    conn.close()
    assert rule(db, NOTMUCH) is None
    assert deliver(db, NOTMUCH) is None
    for command in ("explain", "remove"):  # nor when typed: the id given is in no thread
        assert run([command, "--message-id", "yes"], db=db).returncode == 1
    other = mail("two@x", "Beta", 1, extra=["References: <a@>"])
    assert rule(db, other) is None
    assert deliver(db, other) is None
