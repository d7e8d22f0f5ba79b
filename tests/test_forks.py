"""Forks (issue 13): a message that its ids link to a thread, under a subject that differs
from that of the message its deciding id names, starts a new conversation for muting, as
Gmail's Mute does -- unless the change is cosmetic (what normalise_subject removes), both
subjects carry one patch series' [PATCH n/m] tags, forks are followed (--follow-forks,
$MAILTHREAD_FOLLOW_FORKS=1: mutt's thread view), or the thread is watched."""

import pytest
from conftest import run
from test_conversations import deliver, mail, mute, rule

ROOT = mail("root@x", "ILUG newsgroups?", 0)
REPLY = mail("a@x", "Re: ILUG newsgroups?", 1, in_reply_to="root@x", references=["root@x"])


def muted_thread(db, *options: str) -> None:
    for raw in (ROOT, REPLY):
        deliver(db, raw)
    mute(db, ROOT, *options)


def reply_to(parent: str, msgid: str, subject: str, day: int = 2) -> bytes:
    return mail(msgid, subject, day, in_reply_to=parent, references=["root@x", parent])


def test_a_hijacked_reply_and_its_replies_are_not_muted_the_old_subject_still_is(db):
    muted_thread(db)
    hijack = reply_to("a@x", "h@x", "Re: Printer on fire")
    assert deliver(db, hijack) is None
    answer = mail(
        "h2@x", "Re: Printer on fire", 3, in_reply_to="h@x", references=["root@x", "a@x", "h@x"]
    )
    assert deliver(db, answer) is None
    later = mail("b@x", "Re: ILUG newsgroups?", 4, in_reply_to="a@x", references=["root@x", "a@x"])
    assert deliver(db, later) == b"muted"


def test_a_was_rename_is_a_new_topic(db):
    muted_thread(db)
    renamed = reply_to("a@x", "w@x", "SUSE 8 disks? (was: ILUG newsgroups?)")
    assert deliver(db, renamed) is None
    answer = mail("w2@x", "Re: SUSE 8 disks?", 3, in_reply_to="w@x", references=["root@x", "w@x"])
    assert deliver(db, answer) is None


@pytest.mark.parametrize(
    "subject",
    [
        "RE:  ilug   NEWSGROUPS?",
        "AW: [ILUG] Re: ILUG newsgroups?",
        "=?utf-8?q?Re=3A_ILUG_newsgroups=3F?=",
        "Re: Re: ilug Newsgroups?",
    ],
)
def test_a_cosmetic_change_is_still_the_thread(db, subject):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "c@x", subject)) == b"muted"
    # ...where a change of words is a fork.
    assert deliver(db, reply_to("a@x", "d@x", subject.replace("?", "? no, printers"))) is None


def test_a_patch_series_is_one_conversation(db):
    cover = mail("cover@x", "[PATCH 0/3] mm: faster frobs", 0)
    deliver(db, cover)
    mute(db, cover)
    patch = mail(
        "p2@x", "[PATCH 2/3] mm: split frob_lock", 0, in_reply_to="cover@x", references=["cover@x"]
    )
    assert deliver(db, patch) == b"muted"
    review = mail(
        "r2@x",
        "Re: [PATCH 2/3] mm: split frob_lock",
        1,
        in_reply_to="p2@x",
        references=["cover@x", "p2@x"],
    )
    assert deliver(db, review) == b"muted"
    # Another series' tag (v2, another count) under another subject is a fork.
    other = mail(
        "o@x", "[PATCH v2 1/5] net: other", 1, in_reply_to="cover@x", references=["cover@x"]
    )
    assert deliver(db, other) is None


def test_follow_forks_option_and_environment_restore_the_thread_view(db):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "f1@x", "Re: Printer on fire"), "--follow-forks") == (
        b"muted"
    )
    fork = reply_to("a@x", "f2@x", "Re: Another topic")
    assert deliver(db, fork, env={"MAILTHREAD_FOLLOW_FORKS": "1"}) == b"muted"
    assert deliver(db, reply_to("a@x", "f3@x", "Re: Third topic")) is None


def test_a_watched_thread_follows_its_forks_by_default(db):
    for raw in (ROOT, REPLY):
        deliver(db, raw)
    result = run(["add", "watched"], ROOT, db=db)
    assert result.returncode == 0, result.stderr
    assert deliver(db, reply_to("a@x", "h@x", "Re: Printer on fire")) == b"watched"
    # A muted thread's fork, in the same database, is not followed.
    other = mail("o@x", "Budget", 0)
    deliver(db, other)
    mute(db, other)
    fork = mail("of@x", "Re: Lunch", 1, in_reply_to="o@x", references=["o@x"])
    assert deliver(db, fork) is None


def test_the_thread_subject_decides_when_the_index_never_saw_the_message(db):
    # The root never arrived: the index knows root@x only as a parent named, without a
    # subject; the thread's stored subject (of the message muted from) stands for it.
    deliver(db, REPLY)
    mute(db, REPLY)
    assert deliver(db, reply_to("root@x", "s@x", "Re: ILUG newsgroups?")) == b"muted"
    assert deliver(db, reply_to("root@x", "h@x", "Re: Printer on fire")) is None


def test_explain_names_a_fork(db):
    muted_thread(db)
    fork = reply_to("a@x", "h@x", "Re: Printer on fire")
    result = run(["explain"], fork, db=db)
    assert result.returncode == 1, result.stderr
    assert "a reply to thread 1 under a new subject: not muted" in result.stdout.decode()
    assert rule(db, fork, "--follow-forks") == "id"
