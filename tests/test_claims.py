"""Claimed ids: a Message-ID is chosen by its sender, so a message can claim an id that
belongs to another conversation. These are the attacker review's reproductions, through the
installed console script (docs/threat-model.md, "Claimed ids")."""

import sqlite3

import pytest
from conftest import run
from test_conversations import deliver, mail, mute, rule

ROOT = b"From: alice@example.org\nSubject: noisy thread\nMessage-ID: <root1@example.org>\n\nhello\n"


def muted_root(db):
    result = run(["add", "muted"], ROOT, db=db)
    assert result.returncode == 0, result.stderr


def first_line(db, raw: bytes) -> bytes:
    result = run(["match"], raw, db=db)
    assert result.returncode == 0, result.stderr
    return result.stdout.split(b"\n", 1)[0]


def test_a_subject_match_does_not_teach_its_claimed_id(db):
    # The review's reproduction: the stranger's message matches by subject alone (and is
    # marked: it is their own message), but the id it claims stays theirs.
    muted_root(db)
    eve = (
        b"From: eve@evil.example\nSubject: Re: noisy thread\n"
        b"Message-ID: <contract-7@corp.example>\nDate: Mon, 30 Nov 2026 08:02:00 +0000\n\nx\n"
    )
    assert first_line(db, eve) == b"X-Mailthread: muted"
    boss = (
        b"From: boss@corp.example\nSubject: Re: contract\nMessage-ID: <contract-8@corp.example>\n"
        b"In-Reply-To: <contract-7@corp.example>\n\nplease sign today\n"
    )
    assert first_line(db, boss) == b"From: boss@corp.example"
    # Naming the id as a parent instead does not teach it either.
    eve2 = (
        b"From: eve@evil.example\nSubject: Re: noisy thread\nMessage-ID: <evil2@evil.example>\n"
        b"In-Reply-To: <contract-9@corp.example>\n\nx\n"
    )
    assert first_line(db, eve2) == b"X-Mailthread: muted"
    boss2 = boss.replace(b"contract-8", b"contract-10").replace(b"contract-7", b"contract-9")
    assert first_line(db, boss2) == b"From: boss@corp.example"


def test_a_subject_match_claiming_a_delivered_message_does_not_merge_it(db):
    # The real contract-7 came first; a stranger's message claims its id with the muted
    # subject: the corporate conversation must not join the muted one.
    deliver(db, mail("contract-6@corp", "Contract", 0))
    deliver(db, mail("contract-7@corp", "Re: Contract", 1, in_reply_to="contract-6@corp"))
    deliver(db, mail("root@x", "Noisy thread", 2))
    mute(db, mail("root@x", "Noisy thread", 2))
    assert deliver(db, mail("contract-7@corp", "Re: Noisy thread", 3)) == b"muted"
    reply = mail("contract-8@corp", "Re: Contract", 4, in_reply_to="contract-7@corp")
    assert rule(db, reply) is None
    assert deliver(db, reply) is None


def test_a_reply_naming_the_muted_root_cannot_take_a_delivered_id_with_it(db):
    # A second message claiming a delivered message's id, linked by its headers: it is
    # marked (it names the muted root), its claimed id is neither learned nor merged.
    deliver(db, mail("contract-7@corp", "Contract", 0))
    deliver(db, mail("root@x", "Noisy thread", 1))
    mute(db, mail("root@x", "Noisy thread", 1))
    claim = mail("contract-7@corp", "Re: Noisy thread", 2, in_reply_to="root@x")
    assert deliver(db, claim) == b"muted"
    reply = mail("contract-8@corp", "Re: Contract", 3, in_reply_to="contract-7@corp")
    assert rule(db, reply) is None
    assert deliver(db, reply) is None
    conn = sqlite3.connect(db)
    convs = dict(conn.execute("SELECT msgid, conv FROM seen WHERE msgid LIKE 'contract-%'"))
    roots = conn.execute("SELECT conv FROM seen WHERE msgid = 'root@x'").fetchone()
    assert roots[0] not in convs.values()


def test_a_subject_match_cannot_merge_a_conversation_its_id_was_named_in(db):
    # Out of order, the corporate reply came first and named contract-7; the stranger's
    # message is the first to claim that id, with the muted subject.
    deliver(db, mail("root@x", "Noisy thread", 0))
    mute(db, mail("root@x", "Noisy thread", 0))
    deliver(db, mail("contract-8@corp", "Re: Contract", 1, in_reply_to="contract-7@corp"))
    assert deliver(db, mail("contract-7@corp", "Re: Noisy thread", 2)) == b"muted"
    later = mail("contract-9@corp", "Re: Contract", 3, in_reply_to="contract-8@corp")
    assert rule(db, later) is None
    # A reply to the stranger's message, of its subject, still follows it, by the index.
    answer = mail("a@x", "Re: Noisy thread", 40, in_reply_to="contract-7@corp")
    assert rule(db, answer) == "index"
    assert rule(db, answer, "--no-subject") == "index"


@pytest.mark.follow_forks
def test_a_duplicate_delivery_and_a_parent_after_its_reply_still_teach(db):
    # A second claim of a delivered id is told from a duplicate by the parents: the same
    # message delivered again names the ones it named the first time.
    deliver(db, mail("contract-7@corp", "Contract", 0))
    root = mail("root@x", "Plans", 0)
    reply = mail("a@x", "Re: Plans", 1, in_reply_to="root@x")
    deliver(db, root)
    deliver(db, reply)
    mute(db, root)
    assert deliver(db, reply) == b"muted"  # the same message again: learned
    assert deliver(db, mail("contract-7@corp", "Re: Plans", 2, in_reply_to="a@x")) == b"muted"
    conn = sqlite3.connect(db)
    learned = {m for (m,) in conn.execute("SELECT msgid FROM ids")}
    conn.close()
    assert "a@x" in learned and "contract-7@corp" not in learned
    # Out of order: the reply names its parent first; the parent's own id is in the
    # reply's conversation already, which is its own: no conflict, the two heal.
    early_reply = mail("q@x", "Re: Other words", 4, in_reply_to="p@x", references=["p@x"])
    assert deliver(db, early_reply) is None
    assert deliver(db, mail("p@x", "Re: Plans", 3, in_reply_to="a@x")) == b"muted"
    assert rule(db, mail("r@x", "Re: Other words", 5, in_reply_to="q@x")) in ("id", "index")


def test_to_me_knows_a_parent_that_its_subject_linked(db):
    # The subject-linked message's ids are bound to its subject; "newly to me" still
    # reads whether it was addressed to me.
    me = ("--me", "me@example.com")
    root = mail("root@x", "Long debate", 0)
    deliver(db, root, *me)
    mute(db, root)
    assert deliver(db, mail("b@x", "Re: Long debate", 1), *me) == b"muted"
    cc_me = mail("c@x", "Re: Long debate", 2, in_reply_to="b@x", cc="me@example.com")
    assert deliver(db, cc_me, *me) == b"muted; to-me"


def thread_index(extra: bytes = b"") -> bytes:
    import base64

    return base64.b64encode(bytes(range(1, 23)) + extra)


@pytest.mark.follow_forks
def test_a_thread_index_match_does_not_teach_its_claimed_id(db):
    """The second review's sibling: Outlook's Thread-Index is as public and as freely
    written as a subject. A stranger's message that only it links is marked (its sender's
    own), but the ids it claims -- as its Message-ID or as a parent -- do not join the
    muted conversation."""
    root = (
        b"From: list@example.org\nSubject: outlook noise\nMessage-ID: <oroot@example.org>\n"
        b"Thread-Index: " + thread_index() + b"\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n\nhi\n"
    )
    assert run(["add", "muted"], root, db=db).returncode == 0
    for n, claim in enumerate(
        [b"Message-ID: <contract-7@corp.example>", b"In-Reply-To: <contract-9@corp.example>"]
    ):
        eve = (
            b"From: evil@attacker.example\nSubject: totally different\n" + claim + b"\n"
            b"Thread-Index: " + thread_index(bytes([16, 32, 48, 64, n])) + b"\n"
            b"Date: Mon, 01 Jan 2024 11:00:00 +0000\n\nx\n"
        )
        assert first_line(db, eve) == b"X-Mailthread: muted"
    for parent in (b"contract-7", b"contract-9"):
        boss = (
            b"From: boss@corp.example\nSubject: Re: contract\nMessage-ID: <boss-"
            + parent
            + b"@corp.example>\nIn-Reply-To: <"
            + parent
            + b"@corp.example>\nDate: Mon, 01 Jan 2024 12:00:00 +0000\n\ny\n"
        )
        assert first_line(db, boss) == b"From: boss@corp.example"
    # A real Outlook reply of the muted conversation still matches by its Thread-Index.
    reply = (
        b"From: colleague@example.org\nSubject: RE: outlook noise\n"
        b"Message-ID: <oreply@example.org>\nThread-Index: "
        + thread_index(b"\x01\x02\x03\x04\x05")
        + b"\nDate: Mon, 01 Jan 2024 13:00:00 +0000\n\nz\n"
    )
    assert first_line(db, reply) == b"X-Mailthread: muted"
