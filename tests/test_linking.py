"""The linking rules in their order of strength (id > index > thread-index > subject), through
the installed console script: the first rule that links a message to a thread decides, on
whatever list that thread is; with LISTs given, a thread on another list means "on none of
these lists", never "try a weaker rule" (issue 12). And sub-threads (`add --subthread`):
their message is indexed like any other, so that removing or expiring one gives its replies
back to the enclosing thread, while they themselves are followed by their ids only."""

import sqlite3

import pytest
from conftest import run
from test_conversations import deliver, mail, rule, thread_index

# The muted thread whose subject a reply of another thread reuses: "Re: Plans" names its
# conversation, and no other conversation of that subject is in the index.
PLANS = mail("plans@x", "Plans", 0)


def add(db, raw: bytes, *args: str) -> None:
    result = run(["add", *args], raw, db=db)
    assert result.returncode == 0, result.stderr


def thread_ids(db, list_name: str) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {
            msgid
            for (msgid,) in conn.execute(
                "SELECT msgid FROM ids JOIN threads ON threads.id = ids.thread"
                " WHERE threads.list = ?",
                (list_name,),
            )
        }
    finally:
        conn.close()


def linked_elsewhere(db, tmp_path, stronger: str) -> bytes:
    """A muted thread of subject "Plans", and a watched thread that ``stronger`` links the
    returned reply to; the reply's subject is "Re: Plans", so the subject rule alone would
    take it to the muted thread."""
    deliver(db, PLANS)
    add(db, PLANS, "muted")
    if stronger == "id":
        # As the README's migration recipe does: the watched thread comes from a refs
        # file, so the message index knows none of its ids.
        refs = tmp_path / "refs.watched"
        refs.write_text("<budget@x> <budget-1@x>\n")
        add(db, b"", "watched", "--refs-file", str(refs))
        return mail("r@x", "Re: Plans", 2, in_reply_to="budget-1@x", references=["budget@x"])
    if stronger == "index":
        # A reply that arrived before its parent named r@x: the index holds r@x in the
        # watched conversation, which r@x itself (arriving late, with no parents) does not
        # say.
        budget = mail("budget@x", "Budget", 0)
        deliver(db, budget)
        add(db, budget, "watched")
        early = mail("e@x", "Re: Budget", 1, in_reply_to="r@x", references=["budget@x", "r@x"])
        assert deliver(db, early) == b"watched"
        return mail("r@x", "Re: Plans", 2)
    assert stronger == "thread-index"
    budget = mail("budget@x", "Budget", 0, extra=[f"Thread-Index: {thread_index()}"])
    deliver(db, budget)
    add(db, budget, "watched")
    # Outlook: no References or In-Reply-To, the conversation's key in its Thread-Index.
    return mail("r@x", "RE: Plans", 2, extra=[f"Thread-Index: {thread_index(5)}"])


STRONGER = ["id", "index", "thread-index"]


@pytest.mark.parametrize("lists", [("muted",), ("muted", "later")])
@pytest.mark.parametrize("stronger", STRONGER)
def test_a_stronger_link_to_another_list_is_not_overridden_by_the_subject(
    db, tmp_path, stronger, lists
):
    reply = linked_elsewhere(db, tmp_path, stronger)
    assert rule(db, reply) == stronger
    muted_before = thread_ids(db, "muted")
    # `match muted`, as the migration recipe runs it: the reply is on the watched list.
    header = ["--header", "Procmail-Muted: true"]
    result = run(["match", *lists, *header], reply, db=db)
    assert (result.returncode, result.stdout) == (0, reply)
    explained = run(["explain", *lists], reply, db=db)
    assert explained.returncode == 1
    assert f"in no thread on {', '.join(lists)}: decided by".encode() in explained.stdout
    assert b"watched" in explained.stdout
    # Its id was not learned into the muted thread, nor tied to it in the index: a later
    # reply naming only it, of the same subject, is not muted either.
    assert thread_ids(db, "muted") == muted_before
    later = mail("t@x", "Re: Plans", 3, in_reply_to="r@x", references=["r@x"])
    assert run(["match", *lists], later, db=db).stdout == later
    assert rule(db, later, *lists) is None


@pytest.mark.parametrize("stronger", STRONGER)
def test_without_a_list_filter_the_stronger_link_wins(db, tmp_path, stronger):
    reply = linked_elsewhere(db, tmp_path, stronger)
    assert deliver(db, reply) == b"watched"
    # What it taught follows the rule that decided, not the subject: a reply naming only
    # it is watched too (it was: muted, through the reply's ids bound to the muted
    # conversation by its subject, when the id rule had linked it).
    later = mail("t@x", "Re: Plans", 3, in_reply_to="r@x", references=["r@x"])
    assert deliver(db, later) == b"watched"


@pytest.mark.parametrize(
    "stronger, weaker", [("id", "index"), ("id", "thread-index"), ("index", "thread-index")]
)
def test_a_stronger_link_to_another_list_is_not_overridden_by_a_weaker_id_rule(
    db, stronger, weaker
):
    # Muted: alpha's conversation, with an Outlook Thread-Index, and q@x, a message of it
    # that never reached us (only the index holds it).
    alpha = mail("alpha@x", "Alpha", 0, extra=[f"Thread-Index: {thread_index()}"])
    deliver(db, alpha)
    add(db, alpha, "muted")
    a2 = mail("a2@x", "Re: Alpha", 1, in_reply_to="q@x", references=["alpha@x", "q@x"])
    assert deliver(db, a2) == b"muted"
    # Watched, and newer: beta's conversation, and p@x, known to the index only.
    beta = mail("beta@x", "Beta", 1)
    deliver(db, beta)
    add(db, beta, "watched")
    b2 = mail("b2@x", "Re: Beta", 2, in_reply_to="p@x", references=["beta@x", "p@x"])
    assert deliver(db, b2) == b"watched"
    parent = "beta@x" if stronger == "id" else "p@x"
    references = [parent]
    extra = []
    if weaker == "index":
        references = ["q@x", parent]  # a farther parent, in the muted conversation
    else:
        extra = [f"Thread-Index: {thread_index(5)}"]  # the muted conversation's key
    reply = mail("r@x", "Re: Beta", 3, in_reply_to=parent, references=references, extra=extra)
    assert rule(db, reply) == stronger
    assert rule(db, reply, "muted") is None
    assert deliver(db, reply, "muted") is None
    assert "r@x" not in thread_ids(db, "muted")
    assert deliver(db, reply, "muted", "watched") == b"watched"


def test_a_reply_linked_by_id_teaches_by_id_though_its_parent_came_by_subject(db):
    deliver(db, PLANS)
    add(db, PLANS, "muted")
    # A stranger's "Re: Plans" that nothing but its subject links: its ids are bound to
    # that subject in the index. The user watches it (a branch of the muted thread).
    branch = mail("p@x", "Re: Plans", 1, in_reply_to="unknown@x")
    assert deliver(db, branch) == b"muted"
    add(db, branch, "watched")
    # A reply to it: its id links it to the watched thread (rule 1)...
    reply = mail("m2@x", "Re: Plans", 2, in_reply_to="p@x", references=["p@x"])
    assert deliver(db, reply) == b"watched"
    # ...so its own id is learned there, and a reply naming only it follows (it was:
    # muted, through the reply's ids bound to the subject's conversation).
    trimmed = mail("m3@x", "Re: Plans", 3, in_reply_to="m2@x", references=["m2@x"])
    assert rule(db, trimmed) == "id"
    assert deliver(db, trimmed) == b"watched"


def test_a_conversation_reached_by_ids_comes_before_one_reached_by_thread_index(db):
    alpha = mail("alpha@x", "Alpha", 0)
    deliver(db, alpha)
    add(db, alpha, "muted")
    # a2@x answers q@x, a message that never reached us: the index holds q@x in alpha's
    # conversation, no thread holds it.
    a2 = mail("a2@x", "Re: Alpha", 1, in_reply_to="q@x", references=["alpha@x", "q@x"])
    assert deliver(db, a2) == b"muted"
    beta = mail("beta@x", "Beta", 1, extra=[f"Thread-Index: {thread_index()}"])
    deliver(db, beta)
    add(db, beta, "watched")  # the newer thread
    # A reply to q@x whose (copied, or forged) Thread-Index is beta's conversation's: its
    # ids link it to the muted thread, a weaker rule to the newer watched one.
    extra = [f"Thread-Index: {thread_index(5)}"]
    reply = mail("r@x", "Re: Alpha", 2, in_reply_to="q@x", references=["q@x"], extra=extra)
    assert rule(db, reply) == "index"
    assert rule(db, reply, "watched") is None
    assert deliver(db, reply) == b"muted"


def test_the_nearest_id_decides_under_a_list_filter(db):
    root = mail("root@x", "Design", 0)
    branch = mail("s@x", "Re: Design", 1, in_reply_to="root@x", references=["root@x"])
    for raw in (root, branch):
        deliver(db, raw)
    add(db, root, "muted")
    add(db, branch, "watched", "--subthread")
    under = mail("u@x", "Re: Design", 2, in_reply_to="s@x", references=["root@x", "s@x"])
    # Its nearest recorded id is the watched sub-thread's: not muted, even under `match muted`.
    assert deliver(db, under, "muted") is None
    assert rule(db, under, "muted") is None
    sibling = mail("v@x", "Re: Design", 2, in_reply_to="root@x", references=["root@x"])
    assert deliver(db, sibling, "watched") is None
    assert deliver(db, sibling, "watched", "muted") == b"muted"


# -- sub-threads ------------------------------------------------------------------------------


@pytest.mark.follow_forks
@pytest.mark.parametrize("outer, inner", [("muted", "watched"), ("watched", "muted")])
def test_removing_a_subthread_gives_its_replies_back_to_the_enclosing_thread(db, outer, inner):
    root = mail("root@x", "Design", 0)
    deliver(db, root)
    add(db, root, outer)
    # The branch's first message never went through `match` (written here, or read before
    # mailthread ran): only `add --subthread` tells the index its parent.
    branch = mail("s@x", "Re: Design", 1, in_reply_to="root@x", references=["root@x"])
    add(db, branch, inner, "--subthread")
    # Replies naming only the branch's message (trimmed References), with a subject of
    # their own, so that only ids can link them.
    first = mail("r1@x", "Re: Design, part 2", 2, in_reply_to="s@x", references=["s@x"])
    assert deliver(db, first) == inner.encode()
    sibling = mail("t@x", "Re: Design", 2, in_reply_to="root@x", references=["root@x"])
    assert deliver(db, sibling) == outer.encode()
    removed = run(["remove", "--message-id", "s@x"], db=db)
    assert removed.returncode == 0 and inner.encode() in removed.stdout, removed.stderr
    # The nearest recorded ancestor now is the enclosing thread's root.
    second = mail("r2@x", "Re: Design, part 2", 3, in_reply_to="s@x", references=["s@x"])
    assert rule(db, second) == "index"
    assert deliver(db, second) == outer.encode()
    below = mail("r3@x", "Re: Design, part 2", 3, in_reply_to="r1@x", references=["r1@x"])
    assert deliver(db, below) == outer.encode()


@pytest.mark.follow_forks
def test_expiring_a_subthread_gives_its_replies_back_to_the_enclosing_thread(db):
    root = mail("root@x", "Design", 0)
    deliver(db, root)
    add(db, root, "muted")
    branch = mail("s@x", "Re: Design", 1, in_reply_to="root@x", references=["root@x"])
    add(db, branch, "watched", "--subthread", "--for", "12h")
    reply = mail("r1@x", "Re: Design, part 2", 2, in_reply_to="s@x", references=["s@x"])
    assert rule(db, reply) == "id"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE threads SET created = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')"
            " WHERE subthread = 1"
        )
    conn.close()
    # Lapsed: match ignores it, as if it were gone...
    assert rule(db, reply) == "index"
    # ...and expire deletes it, the enclosing thread staying.
    expired = run(["expire", "--index-age", "3650d"], db=db)
    assert expired.returncode == 0 and b"removed 1 thread" in expired.stdout, expired.stdout
    assert deliver(db, reply) == b"muted"
    assert thread_ids(db, "watched") == set()


@pytest.mark.follow_forks
def test_a_subthread_is_still_not_followed_through_the_index(db):
    # Its message is in the index now, in the enclosing conversation: messages of that
    # conversation that are not below it must keep the enclosing thread's list.
    root = mail("root@x", "Design", 0)
    deliver(db, root)
    add(db, root, "muted")
    branch = mail("s@x", "Re: Design", 1, in_reply_to="root@x", references=["root@x"])
    assert deliver(db, branch) == b"muted"
    add(db, branch, "watched", "--subthread")  # the newest thread of the conversation
    # y@x answers q@x, a message of the conversation that never reached us: the index
    # holds q@x in the conversation, no thread holds it.
    other = mail("y@x", "Re: Design", 2, in_reply_to="q@x", references=["root@x", "q@x"])
    assert deliver(db, other) == b"muted"
    assert "q@x" not in thread_ids(db, "muted")
    # A reply naming only q@x: the index links it to the conversation, whose whole thread
    # (not the newer sub-thread) decides.
    answer = mail("z@x", "Re: Design (q)", 3, in_reply_to="q@x", references=["q@x"])
    assert rule(db, answer) == "index"
    assert deliver(db, answer) == b"muted"
    # And by subject, the same.
    bare = mail("w@x", "Re: Design", 4)
    assert rule(db, bare) == "subject"
    assert deliver(db, bare) == b"muted"
