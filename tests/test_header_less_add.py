"""`add` sees what `match` sees (issue 13): muting from a reply with no threading headers
(an Outlook "RE: topic" with only its own Message-ID) records the one conversation its
subject names, as `match` links it (rule 4: reply prefix, same normalised subject, within
--subject-window, refused when two conversations fit) -- with the subject rule's safety:
the message's ids go into the index bound to its subject, and no subject-linked stranger's
id joins the thread (docs/threat-model.md, "Claimed ids")."""

import sqlite3

from conftest import run
from test_conversations import deliver, mail, mute, rule

ROOT = mail("root@x", "Budget", 0)
SECOND = mail("b@x", "Re: Budget", 1, in_reply_to="root@x", references=["root@x"])
OUTLOOK = mail("c@x", "RE: Budget", 2)  # no In-Reply-To, no References


def later_replies():
    """Replies to the first two messages, after the subject window (30 days): only ids
    link them."""
    return [
        mail("d@x", "Re: Budget", 40, in_reply_to="root@x", references=["root@x"]),
        mail("e@x", "Re: Budget", 41, in_reply_to="b@x", references=["root@x", "b@x"]),
    ]


def budget(path, *more):
    """A database where the Budget conversation's first two messages (and ``more``) came
    through match."""
    for raw in (ROOT, SECOND, *more):
        deliver(path, raw)
    return path


def test_muting_from_a_header_less_reply_mutes_the_conversation(db, tmp_path):
    # Whether the third went through match first (the usual case) or not.
    for path, more in ((db, ()), (tmp_path / "delivered.db", (OUTLOOK,))):
        budget(path, *more)
        assert "3 new ids" in mute(path, OUTLOOK)
        for reply in later_replies():
            assert rule(path, reply) == "id"
            assert deliver(path, reply) == b"muted"


# Each refusal beside its control: the same database without the one difference links.


def test_two_conversations_of_the_subject_refuse_as_match_does(db, tmp_path):
    assert "3 new ids" in mute(budget(tmp_path / "control.db"), OUTLOOK)
    budget(db, mail("root2@y", "Budget", 1))
    result = run(["add", "muted"], OUTLOOK, db=db)
    assert result.returncode == 0 and result.stderr == b""
    assert "1 new id" in result.stdout.decode()
    for reply in later_replies():
        assert deliver(db, reply) is None


def test_no_reply_prefix_no_subject_link(db, tmp_path):
    assert "3 new ids" in mute(budget(tmp_path / "control.db"), OUTLOOK)
    assert "1 new id" in mute(budget(db), mail("c@x", "Budget", 2))
    for reply in later_replies():
        assert deliver(db, reply) is None


def test_outside_the_window_no_subject_link(db, tmp_path):
    assert "3 new ids" in mute(budget(tmp_path / "control.db"), mail("c@x", "RE: Budget", 31))
    late = mail("c@x", "RE: Budget", 35)  # 34 days after the conversation's last message
    assert "1 new id" in mute(budget(db), late)
    for reply in later_replies():
        assert deliver(db, reply) is None


def test_the_window_and_no_subject_options(db, tmp_path):
    late = mail("c@x", "RE: Budget", 35)
    other = tmp_path / "other.db"
    for database in (db, other):
        deliver(database, ROOT)
        deliver(database, SECOND)
    assert "3 new ids" in mute(db, late, "--subject-window", "60d")
    assert "1 new id" in mute(other, OUTLOOK, "--no-subject")
    assert deliver(db, later_replies()[0]) == b"muted"
    assert deliver(other, later_replies()[0]) is None


def test_a_subject_linked_mute_teaches_the_index_nothing(db):
    deliver(db, ROOT)
    deliver(db, SECOND)
    # A stranger's header-less "Re: Budget" arrived first: match bound its ids to the
    # subject. Its id must not join the thread when the user mutes from another one.
    stranger = mail("s@evil", "Re: Budget", 2)
    deliver(db, stranger)
    assert "3 new ids" in mute(db, mail("c@x", "RE: Budget", 3))
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT msgid FROM ids")) == [("b@x",), ("c@x",), ("root@x",)]
    # The muted message's own id went into the index bound to its subject, as match binds
    # it: a message naming it under another subject does not join the Budget conversation.
    rows = dict(conn.execute("SELECT msgid, conv FROM seen"))
    assert "c@x" not in rows and any(k.endswith(":c@x") for k in rows)
    conn.close()
    contract = mail("k@x", "Re: contract", 4, in_reply_to="s@evil", references=["s@evil"])
    assert rule(db, contract) is None
    assert deliver(db, contract) is None
    # ...and a reply in the contract conversation stays unmuted.
    answer = mail("l@x", "Re: contract", 5, in_reply_to="k@x", references=["s@evil", "k@x"])
    assert deliver(db, answer) is None
