"""Forks (issue 13): a message that its ids link to a thread, under a subject that is none
of the thread's topics, starts a new conversation for muting, as Gmail's Mute does. A
thread's topics are those of the messages it was recorded from (``add``, an import); a
message's topic is its subject
without what is cosmetic (subject.subject_topic: case, blanks, encoding, reply prefixes,
list tags, trailing [tags], punctuation, a "(was: ...)" suffix). Not a fork: a patch of the
thread's series, forks that are followed (--follow-forks, $MAILTHREAD_FOLLOW_FORKS=1: mutt's
thread view), any reply to a watched thread."""

import base64

import pytest
from conftest import run
from test_conversations import deliver, mail, mute, rule


def encoded(text: str) -> str:
    """``text`` as one RFC 2047 UTF-8 B word: a subject with any characters in it."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


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
    # A patch's title teaches the thread nothing (a stranger could send any title under
    # the series' tag): a reply that drops the tag is a new topic.
    untagged = mail(
        "r3@x", "Re: mm: split frob_lock", 2, in_reply_to="r2@x", references=["p2@x", "r2@x"]
    )
    assert deliver(db, untagged) is None
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


def rkp(msgid: str, subject: str, day: int, *parents: str) -> bytes:
    parent = parents[-1] if parents else None
    return mail(msgid, subject, day, in_reply_to=parent, references=list(parents))


def test_muting_a_fork_mutes_its_topic_not_the_conversation_it_forked_from(db):
    # ksummit, 2025: "C aggregate passing (Rust kernel policy)" forked "Rust kernel policy".
    fork = "C aggregate passing (Rust kernel policy)"
    for raw in (
        rkp("r@x", "Rust kernel policy", 0),
        rkp("r1@x", "Re: Rust kernel policy", 1, "r@x"),
        rkp("f@x", f"Re: {fork}", 1, "r@x", "r1@x"),
    ):
        deliver(db, raw)
    mute(db, rkp("f@x", f"Re: {fork}", 1, "r@x", "r1@x"))
    # The conversation it came from goes on unmuted, though `add` recorded its ids...
    old_topic = rkp("r2@x", "Re: Rust kernel policy", 2, "r@x", "r1@x")
    assert deliver(db, old_topic) is None
    # ...and the fork's own replies are muted, by id and through the index alike: p@x is
    # a parent the index knows only as named, never a message a thread holds.
    assert deliver(db, rkp("a@x", f"Re: {fork}", 2, "r@x", "f@x", "p@x")) == b"muted"
    by_index = rkp("b@x", f"Re: {fork}", 3, "p@x")
    assert rule(db, by_index) == "index"
    assert deliver(db, by_index) == b"muted"


def test_muting_a_fork_too_keeps_both_topics(db):
    muted_thread(db)
    fork = reply_to("a@x", "h@x", "Re: Printer on fire")
    assert deliver(db, fork) is None
    mute(db, fork)  # the same thread now: its ids are the thread's
    assert deliver(db, reply_to("h@x", "h2@x", "Re: Printer on fire", 3)) == b"muted"
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 3)) == b"muted"
    assert deliver(db, reply_to("a@x", "c@x", "Re: Coffee", 3)) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: ILUG newsgroups? [SOLVED]",
        "Re: ILUG newsgroups!",
        "Re: ILUG -- newsgroups...",
        "Re: ILUG newsgroups? (solved)",
        "Re: ILUG newsgroups - FIXED",
    ],
)
def test_a_trailing_tag_or_punctuation_is_cosmetic(db, subject):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "c@x", subject)) == b"muted"


def test_an_imported_conversation_keeps_the_topics_of_all_its_messages(db, tmp_path):
    fork = reply_to("a@x", "h@x", "Re: Printer on fire")
    mbox = tmp_path / "muted.mbox"
    mbox.write_bytes(
        b"".join(b"From x Sun Mar  1 10:00:00 2026\n" + raw + b"\n" for raw in (ROOT, REPLY, fork))
    )
    result = run(["add", "muted", "--mailbox", mbox], db=db)
    assert result.returncode == 0, result.stderr
    assert deliver(db, reply_to("h@x", "h2@x", "Re: Printer on fire", 3)) == b"muted"
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 3)) == b"muted"
    assert deliver(db, reply_to("a@x", "c@x", "Re: Coffee", 3)) is None


def test_a_thread_recorded_before_topics_takes_them_from_its_subject(db):
    import sqlite3

    muted_thread(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE threads SET topics = NULL")  # as schema 5 finds older threads
    conn.close()
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 3)) == b"muted"
    assert deliver(db, reply_to("a@x", "c@x", "Re: Coffee", 3)) is None


def test_a_refs_file_thread_has_no_topics_and_no_forks(db, tmp_path):
    refs = tmp_path / "muted.refs"
    refs.write_text("<root@x> <a@x> \n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    assert deliver(db, reply_to("a@x", "c@x", "Re: Coffee", 3)) == b"muted"


def test_no_subject_is_a_topic_of_its_own(db):
    # perl-mail-box: a message without a Subject, answered "Re: your mail".
    bare = b"From: a@example.com\nMessage-ID: <bare@x>\nDate: 1 Mar 2026 10:00:00 +0000\n\nhi\n"
    deliver(db, bare)
    mute(db, bare)
    assert deliver(db, reply_to("bare@x", "y@x", "Re: your mail")) is None
    still_bare = b"From: b@example.com\nMessage-ID: <bare2@x>\nIn-Reply-To: <bare@x>\n\nyes\n"
    assert deliver(db, still_bare) == b"muted"


def test_a_reply_the_subject_rule_links_to_another_topic_s_thread_is_a_fork(db):
    # The index holds the fork in its parent's conversation; an Outlook "RE:" of the fork,
    # without threading headers, finds that conversation by its subject -- and its thread
    # is the old topic's.
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "h@x", "Re: Printer on fire")) is None
    outlook = mail("o@x", "RE: Printer on fire", 3)
    assert deliver(db, outlook) is None
    assert deliver(db, mail("o2@x", "RE: ILUG newsgroups?", 3)) == b"muted"


def test_a_stranger_s_patch_cannot_make_your_conversation_a_topic_of_a_muted_series(db):
    # Review of issue 13: "[PATCH 1/2] <your subject>", In-Reply-To the muted cover letter
    # and naming your message, joined your conversation to the series in the index; its
    # title then became a topic of the muted thread, and your next reply came out muted.
    cover = mail("p0@x", "[PATCH 0/2] mm: frob", 0)
    deliver(db, cover)
    mute(db, cover)
    deliver(db, mail("y1@x", "Printer on fire", 1))
    assert deliver(db, reply_to("y1@x", "y2@x", "Re: Printer on fire")) is None
    evil = mail(
        "evil@x", "[PATCH 1/2] Printer on fire", 2, in_reply_to="p0@x", references=["y1@x", "p0@x"]
    )
    deliver(db, evil)
    mine = mail("y3@x", "Re: Printer on fire", 3, in_reply_to="y2@x", references=["y1@x", "y2@x"])
    assert deliver(db, mine) is None


@pytest.mark.parametrize("tag", ["[PATCH v\u00b2 1/2]", "[PATCH 1/\u00b2]", "[PATCHv\u2460 1/2]"])
def test_a_patch_tag_with_other_digits_is_no_series_and_no_failure(db, tag):
    muted_thread(db)
    subject = encoded(f"Re: {tag} ILUG newsgroups?")
    result = run(["match"], reply_to("a@x", "t@x", subject), db=db)
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    assert result.stdout.startswith(b"X-Mailthread: muted\n")
    for command in (["add", "watched"], ["explain"], ["remove"]):
        result = run(command, reply_to("a@x", "t@x", subject), db=db)
        assert b"Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr


def test_composed_and_decomposed_letters_are_one_topic(db):
    cafe = mail("cafe@x", "Caf\u00e9 menu", 0)
    deliver(db, cafe)
    mute(db, cafe)
    nfd = encoded("Re: Cafe\u0301 menu")
    assert deliver(db, reply_to("cafe@x", "n@x", nfd)) == b"muted"


def test_a_was_suffix_needs_no_blank_before_it(db):
    renamed = mail("t@x", "Toner low(was: ILUG newsgroups?)", 0)
    deliver(db, renamed)
    mute(db, renamed)
    assert deliver(db, reply_to("t@x", "t2@x", "Re: Toner low")) == b"muted"


def test_a_subject_with_was_inside_keeps_its_replies(db):
    inner = mail("in@x", "Printer (was: x) on fire", 0)
    deliver(db, inner)
    mute(db, inner)
    assert deliver(db, reply_to("in@x", "i2@x", "Re: Printer (was: x) on fire")) == b"muted"
    assert deliver(db, reply_to("in@x", "i3@x", "Re: Printer")) is None


def test_watching_a_fork_leaves_the_muted_thread_muted(db):
    # Review of issue 13: W on a fork (it reached the inbox, unmarked) merged it into the
    # muted thread and moved that whole thread to watched.
    muted_thread(db)
    fork = reply_to("a@x", "f1@x", "Toner low (was: ILUG newsgroups?)")
    assert deliver(db, fork) is None
    result = run(["add", "watched"], fork, db=db)
    assert result.returncode == 0, result.stderr
    assert "a new subject in thread 1's conversation, which keeps its list" in (
        result.stdout.decode()
    )
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 3)) == b"muted"
    assert deliver(db, reply_to("f1@x", "f2@x", "Re: Toner low", 3)) == b"watched"
    # With forks followed, `add` merges as before: the user's model is mutt's thread view.
    other = reply_to("a@x", "f3@x", "Re: Coffee")
    deliver(db, other)
    result = run(["add", "watched"], other, db=db, env={"MAILTHREAD_FOLLOW_FORKS": "1"})
    assert "keeps its list" not in result.stdout.decode()
    assert deliver(db, reply_to("a@x", "b2@x", "Re: ILUG newsgroups?", 4)) == b"watched"


@pytest.mark.parametrize("value", ["yes", "true", "on", "2", "0"])
def test_every_command_reads_the_environment_variable_alike(db, value):
    muted_thread(db)
    fork = reply_to("a@x", "h@x", "Re: Printer on fire")
    env = {"MAILTHREAD_FOLLOW_FORKS": value}
    assert deliver(db, fork, env=env) is None
    result = run(["explain"], fork, db=db, env=env)
    assert result.returncode == 1 and "under a new subject" in result.stdout.decode()
    result = run(["remove"], fork, db=db, env=env)
    assert result.returncode == 1 and "under a new subject" in result.stderr.decode()
    assert "nothing removed" in result.stderr.decode() and "--thread 1" in result.stderr.decode()


def thread_count(db) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM threads").fetchone()[0]
    finally:
        conn.close()


def test_adding_again_inside_a_recorded_fork_leaves_the_thread_it_forked(db):
    # Second review: M on a reply to a muted fork merged the fork back into its watched
    # thread (References name the thread's ids) and moved that thread to muted.
    for raw in (ROOT, REPLY):
        deliver(db, raw)
    run(["add", "watched"], REPLY, db=db)
    fork = reply_to("a@x", "f1@x", "Lunch plans")
    deliver(db, fork)
    mute(db, fork)
    again = mail(
        "f2@x", "Re: Lunch plans", 3, in_reply_to="f1@x", references=["root@x", "a@x", "f1@x"]
    )
    deliver(db, again)
    for raw in (again, fork):  # a reply under the fork, and the same fork pressed twice
        assert "merged" not in mute(db, raw)
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 4)) == b"watched"
    assert deliver(db, reply_to("f2@x", "f3@x", "Re: Lunch plans", 4)) == b"muted"
    assert thread_count(db) == 2


def test_a_fork_without_message_id_records_nothing(db):
    muted_thread(db)
    bare = b"From: a@x\nSubject: Lunch?\nIn-Reply-To: <a@x>\nReferences: <root@x> <a@x>\n\nx\n"
    result = run(["add", "watched"], bare, db=db)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count(b"\n") == 1 and b"nothing recorded" in result.stderr
    assert deliver(db, reply_to("a@x", "b@x", "Re: ILUG newsgroups?", 3)) == b"muted"


def test_a_fork_takes_no_id_a_thread_holds(db):
    # Second review: a stranger delivers a message under your (named-only) id me@x with
    # their subject, then a fork under that subject; M on the fork moved me@x out of the
    # watched thread, and real replies to me@x were neither watched nor muted.
    deliver(db, ROOT)
    mine = mail(
        "a3@x", "Re: ILUG newsgroups?", 1, in_reply_to="me@x", references=["root@x", "me@x"]
    )
    deliver(db, mine)
    run(["add", "watched"], mine, db=db)
    deliver(db, reply_to("root@x", "me@x", "Cheap pills"))
    spam = mail("sp@x", "Re: Cheap pills", 2, in_reply_to="me@x", references=["root@x", "me@x"])
    deliver(db, spam)
    mute(db, spam)
    answer = mail(
        "a4@x", "Re: ILUG newsgroups?", 3, in_reply_to="me@x", references=["root@x", "me@x"]
    )
    assert deliver(db, answer) == b"watched"


@pytest.mark.parametrize(
    "prefix",
    [
        "\u56de\u590d: ",
        "\u56de\u590d\uff1a",
        "\u7b54\u590d: ",
        "R: ",
        "RES: ",
        "\u0391\u03a0: ",
        "\u0412\u0456\u0434\u043f: ",
    ],
)
def test_localised_reply_prefixes_are_no_new_topic(db, prefix):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "l@x", encoded(f"{prefix}ILUG newsgroups?"))) == b"muted"


@pytest.mark.parametrize("suffix", [" (SOLVED!)", " -- fixed", " \u2014 fixed", ": solved"])
def test_more_status_words_are_cosmetic(db, suffix):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "s@x", "Re: ILUG newsgroups?" + suffix)) == b"muted"
    assert deliver(db, reply_to("a@x", "s2@x", "SOLVED: ILUG newsgroups?")) == b"muted"


@pytest.mark.parametrize(
    "word", ["\u30ac\u30fc\u30c9\u306e\u4ef6", "\ud55c\uad6d\uc5b4 \uc9c8\ubb38"]
)
def test_decomposed_kana_and_hangul_are_one_topic(db, word):
    import unicodedata

    root = mail("k@x", encoded(word), 0)
    deliver(db, root)
    mute(db, root)
    nfd = encoded("Re: " + unicodedata.normalize("NFD", word))
    assert deliver(db, reply_to("k@x", "k2@x", nfd)) == b"muted"


def test_indic_vowel_signs_are_part_of_their_word(db):
    root = mail("h@x", encoded("\u0915\u093f\u0924\u093e\u092c"), 0)
    deliver(db, root)
    mute(db, root)
    other = encoded("Re: \u0915\u0940\u0924\u093e\u092c")  # another vowel sign: another word
    assert deliver(db, reply_to("h@x", "h2@x", other)) is None


def test_a_reply_without_a_subject_field_says_nothing_of_its_topic(db):
    muted_thread(db)
    bare = b"From: b@example.com\nMessage-ID: <nb@x>\nIn-Reply-To: <a@x>\n\nyes\n"
    assert deliver(db, bare) == b"muted"
    empty = b"From: b@example.com\nSubject: Re:\nMessage-ID: <ne@x>\nIn-Reply-To: <a@x>\n\nyes\n"
    assert deliver(db, empty) is None  # an empty subject is the empty topic: a new one


# Third review of issue 13.


def test_muting_a_fork_too_does_not_unmute_replies_that_go_back_to_the_old_subject(db):
    muted_thread(db)
    fork = reply_to("a@x", "o1@x", "Offtopic rant")
    deliver(db, fork)
    mute(db, fork)
    back = mail(
        "r1@x", "Re: ILUG newsgroups?", 3, in_reply_to="o1@x", references=["root@x", "a@x", "o1@x"]
    )
    assert deliver(db, back) == b"muted"
    assert rule(db, back) == "id"


def test_muting_a_renamed_message_leaves_the_old_branch_free_to_mute_whole(db):
    muted_thread(db)  # ROOT and REPLY under "ILUG newsgroups?", muted as thread 1
    run(["remove", "--thread", "1"], db=db)
    renamed = reply_to("a@x", "n1@x", "New coffee supplier (was: ILUG newsgroups?)")
    deliver(db, renamed)
    mute(db, renamed)  # the new topic: the old branch's messages are not its ids
    old = reply_to("a@x", "b4@x", "Re: ILUG newsgroups?", 3)
    assert deliver(db, old) is None
    added = mute(db, old)
    assert " new ids" in added and ": 1 new id" not in added, added
    assert deliver(db, reply_to("root@x", "b5@x", "Re: ILUG newsgroups?", 4)) == b"muted"


def test_muting_a_fork_of_a_watched_thread_takes_the_replies_it_already_had(db):
    deliver(db, ROOT)
    run(["add", "watched"], ROOT, db=db)
    f1 = reply_to("root@x", "f1@x", "Logo colours (was: ILUG newsgroups?)")
    f2 = mail("f2@x", "Re: Logo colours", 2, in_reply_to="f1@x", references=["root@x", "f1@x"])
    for raw in (f1, f2):
        assert deliver(db, raw) == b"watched"  # a watched thread follows its forks
    mute(db, f1)
    f3 = mail("f3@x", "Re: Logo colours", 3, in_reply_to="f2@x", references=["f2@x"])
    assert deliver(db, f3) == b"muted"
    assert deliver(db, reply_to("root@x", "w2@x", "Re: ILUG newsgroups?", 3)) == b"watched"


def test_a_stranger_s_message_under_a_held_id_is_not_recorded_as_a_fork(db):
    deliver(db, ROOT)
    run(["add", "watched"], ROOT, db=db)
    claim = mail("root@x", "Cheap watches", 1)  # a stranger's message with root's id
    deliver(db, claim)
    result = run(["add", "muted"], claim, db=db)
    assert result.returncode == 1 and b"a thread holds already" in result.stderr
    assert deliver(db, reply_to("root@x", "w@x", "Re: ILUG newsgroups?", 2)) == b"watched"


@pytest.mark.parametrize(
    "subject",
    [
        "Antwort: ILUG newsgroups?",
        "\ud68c\uc2e0: ILUG newsgroups?",
        "\u7b54\u8986: ILUG newsgroups?",
        "Re [2]: ILUG newsgroups?",
        "Re: ILUG newsgroups? (was: Linux) [SOLVED]",
        "Re: ILUG newsgroups? (was: Linux) - fixed",
        "Re: ILUG newsgroups? \uff08was: Linux\uff09",
    ],
)
def test_more_faithful_replies_are_no_fork(db, subject):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "c@x", encoded(subject))) == b"muted"


def test_an_emoji_variation_selector_is_no_new_topic(db):
    root = mail("e@x", encoded("Love it \u2764\ufe0f"), 0)
    deliver(db, root)
    mute(db, root)
    assert deliver(db, reply_to("e@x", "e2@x", encoded("Re: Love it \u2764"))) == b"muted"


@pytest.mark.parametrize(
    "subject", ["Re: ILUG newsgroups? [not solved]", "Re: ILUG newsgroups? [moved to ot]"]
)
def test_a_trailing_bracket_of_several_words_is_words(db, subject):
    muted_thread(db)
    assert deliver(db, reply_to("a@x", "c@x", subject)) is None


def test_a_muted_fork_catches_replies_that_name_only_ids_of_the_thread_it_forked(db):
    # usrp-users, 2020: the muted message was itself a fork of a muted thread; a reply to
    # it whose References hold the older thread's ids, and its parent only as a message
    # the index knows, is the fork's topic: muted, by the fork's thread.
    muted_thread(db)
    fork = reply_to("a@x", "f@x", "Printer on fire")
    deliver(db, fork)
    mute(db, fork)
    sibling = mail("s@x", "Re: Printer on fire", 2, in_reply_to="f@x", references=["a@x", "f@x"])
    deliver(db, sibling)  # muted: by the fork's thread
    # Its parent p@x never arrived: only a@x, of the thread it forked, is a held id.
    late = mail("l@x", "Re: Printer on fire", 3, in_reply_to="p@x", references=["a@x", "p@x"])
    assert rule(db, late) == "index"
    assert deliver(db, late) == b"muted"
