"""Catching the whole conversation, through the installed console script: the message index,
Outlook's Thread-Index, the reply-subject fallback and its adversarial cases, "to me"
breakthrough, and what `explain` says of each.

Every message goes through `match` first, as procmail delivers it, so that the index sees
what a user's mail system would have seen."""

import base64
import re
import sqlite3
from datetime import datetime, timedelta

import pytest
from conftest import run

DAY = 86400
# A Thread-Index as Outlook writes it: 22 bytes (reserved, FILETIME, GUID) for the first
# message of a conversation, 5 more bytes for each reply.
ROOT_INDEX = bytes([1]) + bytes(range(10, 15)) + bytes(range(100, 116))


def thread_index(extra_bytes: int = 0, root: bytes = ROOT_INDEX) -> str:
    return base64.b64encode(root + bytes(range(extra_bytes))).decode()


def mail(
    msgid=None,
    subject="Plans",
    day=0,
    in_reply_to=None,
    references=(),
    to="list@lists.example.org",
    cc=None,
    extra=(),
) -> bytes:
    """A message dated ``day`` days after 1 March 2026."""
    stamp = (datetime(2026, 3, 1) + timedelta(days=day)).strftime("%d %b %Y")
    lines = ["From: someone@example.com", f"To: {to}", f"Subject: {subject}"]
    lines.append(f"Date: {stamp} 10:00:00 +0000")
    if cc:
        lines.append(f"Cc: {cc}")
    if msgid:
        lines.append(f"Message-ID: <{msgid}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references))
    lines += list(extra)
    return ("\n".join(lines) + "\n\nbody\n").encode()


def deliver(db, raw: bytes, *options: str, env=None) -> bytes | None:
    """`match` as procmail runs it: the value of the inserted X-Mailthread line, or None.
    Every byte but that line must come out as it went in."""
    result = run(["match", *options], raw, db=db, env=env)
    assert result.returncode == 0, result.stderr
    found = re.findall(rb"^X-Mailthread: (.*)\n", result.stdout, re.M)
    assert len(found) <= 1
    if found:
        line = b"X-Mailthread: " + found[0] + b"\n"
        assert result.stdout.replace(line, b"", 1) == raw
        return found[0]
    assert result.stdout == raw
    return None


def mute(db, raw: bytes, *options: str) -> str:
    result = run(["add", "muted", *options], raw, db=db)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def rule(db, raw: bytes, *options: str) -> str | None:
    """The rule `explain` names for ``raw``, or None when it is in no thread."""
    result = run(["explain", *options], raw, db=db)
    if result.returncode == 1:
        return None
    assert result.returncode == 0, result.stderr
    return re.search(r"> \(([a-z-]+)\):", result.stdout.decode()).group(1)


# -- the message index ------------------------------------------------------------------------


def test_muting_a_late_message_records_the_whole_known_conversation(db):
    # The user mutes from a reply whose References were trimmed to its parent (iPhone
    # Mail does this): its headers do not name the root, the index does.
    root = mail("root@x", day=0)
    first = mail("a@x", "Re: Plans", 1, in_reply_to="root@x", references=["root@x"])
    trimmed = mail("b@x", "Re: Plans", 2, in_reply_to="a@x", references=["a@x"])
    for raw in (root, first, trimmed):
        assert deliver(db, raw) is None
    assert "3 new ids" in mute(db, trimmed)
    sibling = mail("c@x", "Re: Plans", 3, in_reply_to="root@x", references=["root@x"])
    assert rule(db, sibling) == "id"
    assert deliver(db, sibling) == b"muted"


@pytest.mark.follow_forks
def test_match_follows_the_index_to_a_conversation_that_joined_later(db):
    root = mail("root@x", day=0)
    deliver(db, root)
    mute(db, root)
    # A reply to a message we never got: nothing links it yet.
    stray = mail("q@x", "Re: Holidays", 1, in_reply_to="lost@x", references=["lost@x"])
    assert deliver(db, stray) is None
    # A reply that names both joins the two in the index (and is caught by root@x).
    both = mail("z@x", "Re: Plans", 2, in_reply_to="lost@x", references=["root@x", "lost@x"])
    assert deliver(db, both) == b"muted"
    # A reply to the stray message: none of its ids is in the thread, the index links them.
    answer = mail("w@x", "Re: Holidays", 3, in_reply_to="q@x", references=["lost@x", "q@x"])
    assert rule(db, answer) == "index"
    assert deliver(db, answer) == b"muted"


def test_ids_without_an_at_sign_link_nothing(db):
    # `References: <yes>` (notmuch/lkml) must not tie unrelated mail together.
    one = mail("one@x", "Alpha", 0, references=["yes"])
    deliver(db, one)
    mute(db, one)
    other = mail("two@x", "Beta", 1, references=["yes"])
    assert rule(db, other) is None  # nor does the thread store (issue 13: test_garbage_ids)
    unrelated = mail("three@x", "Gamma", 2, in_reply_to="two@x")
    assert deliver(db, other) is None
    # ...but the index did not put one@x's conversation and two@x's together:
    conn = sqlite3.connect(db)
    convs = dict(conn.execute("SELECT msgid, conv FROM seen WHERE msgid IN ('one@x', 'two@x')"))
    conn.close()
    assert "yes" not in convs and len(convs) == 2
    assert rule(db, unrelated) is None  # two@x was not learned into the thread


def test_a_watched_subthread_is_not_followed_through_the_index(db):
    root = mail("root@x", "Design", 0)
    branch = mail("s@x", "Re: Design", 1, in_reply_to="root@x", references=["root@x"])
    for raw in (root, branch):
        deliver(db, raw)
    result = run(["add", "watched", "--subthread"], branch, db=db)
    assert result.returncode == 0, result.stderr
    sibling = mail("t@x", "Re: Design", 2, in_reply_to="root@x", references=["root@x"])
    assert deliver(db, sibling) is None
    under = mail("u@x", "Re: Design", 3, in_reply_to="s@x", references=["root@x", "s@x"])
    assert deliver(db, under) == b"watched"


def test_the_index_keeps_no_subject_text(db):
    secret = "Quarterly numbers of Frobnicator-7731"
    deliver(db, mail("p@x", secret, 0))
    deliver(db, mail("r@x", f"Re: {secret}", 1, in_reply_to="p@x"))
    data = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith("threads"))
    assert b"Frobnicator" not in data
    assert sqlite3.connect(db).execute("SELECT count(*) FROM seen").fetchone()[0] == 2


def test_expire_drops_old_index_entries(db):
    deliver(db, mail("old@x", "Old", 0))
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE seen SET date = date - 400 * 86400")
    conn.close()
    deliver(db, mail("new@x", "New", 0))
    dry = run(["expire", "--index-age", "365d", "--dry-run"], db=db)
    assert dry.returncode == 0 and b"would remove 0 threads" in dry.stdout
    assert b"1 message index entry of messages dated over 365d ago" in dry.stdout
    result = run(["expire", "--index-age", "365d"], db=db)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db)
    assert [m for (m,) in conn.execute("SELECT msgid FROM seen")] == ["new@x"]


# -- Outlook's Thread-Index -------------------------------------------------------------------


@pytest.mark.follow_forks
def test_thread_index_links_an_outlook_reply_with_no_references(db):
    root = mail("root@x", "Budget", 0, extra=[f"Thread-Index: {thread_index()}"])
    deliver(db, root)
    mute(db, root)
    # Outlook 12: empty References and In-Reply-To, a child Thread-Index, a new subject.
    reply = mail(
        "r@x",
        "Budget (numbers attached)",
        5,
        extra=["References: ", "In-Reply-To: ", f"Thread-Index: {thread_index(5)}"],
    )
    assert rule(db, reply) == "thread-index"
    assert deliver(db, reply) == b"muted"
    other_root = ROOT_INDEX[:6] + bytes(16)  # same time, another conversation's GUID
    stranger = mail(
        "s@x", "RE: Budget talk", 6, extra=[f"Thread-Index: {thread_index(5, other_root)}"]
    )
    assert deliver(db, stranger, "--no-subject") is None


# -- the subject fallback ---------------------------------------------------------------------


def test_a_reply_linked_by_its_subject_alone(db):
    root = mail("root@x", "[dev] Release plans", 0)
    deliver(db, root)
    mute(db, root)
    # A Thunderbird user who strips threading headers; list tag and prefix in another order.
    bare = mail("b@x", "Re: [dev] RE: release   plans", 10)
    assert rule(db, bare) == "subject"
    assert rule(db, bare, "--no-subject") is None
    assert deliver(db, bare, "--no-subject") is None
    assert deliver(db, bare) == b"muted"
    # It joined the conversation: its own replies follow by their headers.
    assert rule(db, mail("c@x", "Re: Release plans", 11, in_reply_to="b@x")) in ("id", "index")


def test_an_encoded_subject_and_a_relay_that_rewrote_the_root_id(db):
    # The list rewrote the root's Message-ID: replies name an id nobody received.
    root = mail("rewritten@lists.example.org", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=", 0)
    deliver(db, root)
    mute(db, root)
    reply = mail("r1@x", "AW: Grüße aus Berlin", 1, in_reply_to="original@sender.example")
    assert deliver(db, reply) == b"muted"
    later = mail("r2@x", "Re: AW: Grüße aus Berlin", 2, references=["original@sender.example"])
    assert rule(db, later) in ("id", "index")


def test_two_unrelated_conversations_both_titled_help(db):
    first = mail("help1@x", "Help", 0)
    second = mail("help2@y", "Help", 1)
    deliver(db, first)
    mute(db, first)
    deliver(db, second)  # a new conversation, only reusing the subject: never flagged
    assert deliver(db, mail("help3@z", "Help", 2)) is None
    # A reply to the second one: its parent is known to be in another conversation.
    assert deliver(db, mail("r@y", "Re: Help", 3, in_reply_to="help2@y")) is None
    # A reply with no headers at all: two conversations have that subject, so it is not
    # known which one; it stays unflagged.
    assert deliver(db, mail("r@z", "Re: Help", 4)) is None


def test_a_reply_whose_parent_belongs_to_another_conversation(db):
    muted = mail("status@x", "Status", 0)
    deliver(db, muted)
    mute(db, muted)
    deliver(db, mail("other@y", "Weekly report", 1))
    reply = mail("r@y", "Re: Status", 2, in_reply_to="other@y", references=["other@y"])
    assert rule(db, reply) is None
    assert deliver(db, reply) is None


def test_an_old_subject_reused_months_later(db):
    muted = mail("plans@x", "Plans", 0)
    deliver(db, muted)
    mute(db, muted)
    assert rule(db, mail("r1@x", "Re: Plans", 29)) == "subject"  # within 30 days
    assert deliver(db, mail("r2@x", "Re: Plans", 31 + 100)) is None  # months later
    assert rule(db, mail("r3@x", "Re: Plans", 40), "--subject-window", "7d") is None
    assert deliver(db, mail("r4@x", "Re: Plans", 40), "--subject-window=60d") == b"muted"
    bad = run(["match", "--subject-window", "soon"], mail("r5@x", "Re: Plans", 41), db=db)
    assert bad.returncode == 75 and b"--subject-window" in bad.stderr


# -- to me ------------------------------------------------------------------------------------


def test_to_me_breaks_through_a_mute(db):
    me = ("--me", "Me@Example.com")
    root = mail("root@x", "Long debate", 0, to="list@x")
    deliver(db, root, *me)
    mute(db, root)
    on_list = mail("a@x", "Re: Long debate", 1, in_reply_to="root@x", to="list@x")
    assert deliver(db, on_list, *me) == b"muted"
    # Newly adds me (Cc) to a conversation that was not addressed to me.
    cc_me = mail("b@x", "Re: Long debate", 2, in_reply_to="a@x", to="list@x", cc="<me@example.com>")
    assert deliver(db, cc_me, *me) == b"muted; to-me"
    # The next reply keeps me in Cc: nothing new, it stays muted.
    again = mail("c@x", "Re: Long debate", 3, in_reply_to="b@x", to="list@x", cc="me@example.com")
    assert deliver(db, again, *me) == b"muted"
    # Addressed to me alone (To), whatever the Cc.
    alone = mail(
        "d@x", "Re: Long debate", 4, in_reply_to="c@x", to="Me <me@example.com>", cc="list@x"
    )
    assert deliver(db, alone, env={"MAILTHREAD_ME": "other@example.net, me@example.com"}) == (
        b"muted; to-me"
    )
    # Without --me nothing breaks through.
    assert deliver(
        db, mail("e@x", "Re: Long debate", 5, in_reply_to="d@x", to="me@example.com")
    ) == (b"muted")


def test_an_invalid_me_is_a_usage_error_and_the_message_passes(db):
    raw = mail("x@x")
    result = run(["match", "--me", "nobody"], raw, db=db)
    assert result.returncode == 75 and result.stdout == raw
    assert result.stderr.count(b"\n") == 1 and b"--me" in result.stderr


def test_an_imported_mailbox_feeds_the_index(db, tmp_path):
    mbox = tmp_path / "old.mbox"
    root = mail("root@x", "Build farm outage", 0)
    reply = mail("a@x", "Re: Build farm outage", 1, in_reply_to="root@x")
    postmark = b"From someone@example.com Sun Mar  1 10:00:00 2026\n"
    mbox.write_bytes(postmark + root + b"\n" + postmark + reply + b"\n")
    result = run(["add", "muted", "--mailbox", mbox], db=db)
    assert result.returncode == 0, result.stderr
    # Only the subject ties this Outlook-style reply to the imported conversation.
    late = mail("late@x", "RE: Build farm outage", 20)
    assert rule(db, late) == "subject"
    assert deliver(db, late) == b"muted"


def test_a_reply_dated_9999_does_not_pin_its_conversation(db):
    """A Date of year 9999 in one reply used to become the index date of the whole
    conversation (the parents' entries too): later replies fell outside the subject window
    and its entries never expired. The index counts it as the time it was seen."""
    from email.utils import formatdate

    now = datetime.now().timestamp()

    def dated(msgid, subject, date, in_reply_to=None):
        lines = [f"Subject: {subject}", f"Date: {date}", f"Message-ID: <{msgid}>"]
        if in_reply_to:
            lines.append(f"In-Reply-To: <{in_reply_to}>")
        return ("\n".join(lines) + "\n\nbody\n").encode()

    root = dated("root@x", "Plans", formatdate(now - 3 * DAY))
    deliver(db, root)
    mute(db, root)
    future = dated("f@x", "Re: Plans", "Fri, 31 Dec 9999 23:59:59 +0000", "root@x")
    assert deliver(db, future) == b"muted"
    # A reply whose client dropped In-Reply-To: only its subject links it.
    later = dated("l@x", "Re: Plans", formatdate(now))
    assert rule(db, later) == "subject"
    assert deliver(db, later) == b"muted"
    dates = sqlite3.connect(db).execute("SELECT max(date) FROM seen").fetchone()[0]
    assert dates <= now + DAY
