"""`mailthread add` through the installed console script."""

import sqlite3

import pytest
from conftest import message, run


def threads(db):
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT threads.id, list, subject, group_concat(msgid, ' ') FROM threads"
        " JOIN ids ON ids.thread = threads.id GROUP BY threads.id ORDER BY threads.id"
    ).fetchall()
    return [(list_name, subject, set(ids.split())) for _, list_name, subject, ids in rows]


def marked(db, raw, *lists):
    out = run(["match", *lists], raw, db=db).stdout
    header = out.split(b"\n\n")[0].split(b"\n")
    return [line.removeprefix(b"X-Mailthread: ") for line in header if line.startswith(b"X-M")]


@pytest.mark.follow_forks
def test_whole_thread_is_recorded(db):
    raw = message("c@x", in_reply_to="b@x", references=["a@x", "b@x"], subject="Re: Plans")
    result = run(["add", "muted"], raw, db=db)
    assert result.returncode == 0
    assert b"muted: thread 1 (Re: Plans): 3 new ids" in result.stdout
    assert threads(db) == [("muted", "Re: Plans", {"a@x", "b@x", "c@x"})]
    # A sibling reply (names only the root) now matches too.
    assert marked(db, message("d@x", references=["a@x"])) == [b"muted"]


def test_encoded_subject_is_decoded(db):
    raw = message("a@x", subject="=?utf-8?q?Caf=C3=A9?=")
    run(["add", "muted"], raw, db=db)
    assert threads(db)[0][1] == "Café"


def test_watch_a_muted_thread_moves_it(db):
    run(["add", "muted"], message("b@x", references=["a@x"]), db=db)
    result = run(["add", "watched"], message("c@x", references=["a@x", "b@x"]), db=db)
    assert result.returncode == 0
    assert threads(db) == [("watched", "test", {"a@x", "b@x", "c@x"})]
    assert marked(db, message("d@x", in_reply_to="c@x")) == [b"watched"]


def test_add_merges_two_threads_a_message_links(db):
    run(["add", "muted"], message("a@x"), db=db)
    run(["add", "muted"], message("z@x"), db=db)
    result = run(["add", "muted"], message("m@x", references=["a@x", "z@x"]), db=db)
    assert b"merged 1 other thread" in result.stdout
    assert threads(db) == [("muted", "test", {"a@x", "z@x", "m@x"})]


def test_subthread_watch_inside_a_muted_thread(db):
    root = message("root@x")
    branch = message("branch@x", references=["root@x"])
    run(["add", "muted"], root, db=db)
    assert run(["add", "watched", "--subthread"], branch, db=db).returncode == 0
    reply_in_branch = message("r1@x", in_reply_to="branch@x", references=["root@x", "branch@x"])
    sibling = message("s1@x", in_reply_to="root@x", references=["root@x"])
    assert marked(db, reply_in_branch) == [b"watched"]
    assert marked(db, sibling) == [b"muted"]


def test_subthread_needs_a_message_id(db):
    raw = b"In-Reply-To: <a@x>\nSubject: x\n\nbody\n"
    result = run(["add", "muted", "--subthread"], raw, db=db)
    assert result.returncode == 1 and b"no Message-ID in the message" in result.stderr
    assert not db.exists() or threads(db) == []


def test_stdin_is_one_message_even_with_postmarks_in_it(db):
    # Issue 12: what used to be split as mutt's pipe of tagged messages (pipe_split unset)
    # is one message: a dated `From ` line in a body is a pasted `git format-patch` as often
    # as a message boundary, so only the first header's ids are read.
    one = b"From a@x Mon Jan  1 00:00:00 2024\n" + message("1@x") + b"From here\n"
    two = b"From b@x Mon Jan  1 00:00:00 2024\n" + message("2@x", references=["0@x"])
    result = run(["add", "muted"], one + b"\n" + two + b"\n", db=db)
    assert result.returncode == 0 and result.stdout.count(b"\n") == 1
    assert threads(db) == [("muted", "test", {"1@x"})]


def test_message_without_ids_is_an_error_naming_pipe_decode(db):
    # What mutt pipes with pipe_decode set: weeded headers, no ids.
    weeded = b"Date: Mon, 1 Jan 2024\nFrom: a@x\nSubject: hi\n\nbody\n"
    result = run(["add", "muted"], weeded, db=db)
    assert result.returncode == 1
    assert result.stderr.startswith(b"mailthread: ") and b"pipe_decode" in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert not db.exists() or threads(db) == []


def test_a_message_without_ids_is_not_rescued_by_ids_in_its_body(db):
    weeded = b"From b@x Mon Jan  1 00:00:00 2024\nSubject: hi\n\nbody\n"
    good = b"From a@x Mon Jan  1 00:00:00 2024\n" + message("1@x")
    result = run(["add", "muted"], weeded + b"\n" + good, db=db)
    assert result.returncode == 1 and b"no Message-ID" in result.stderr
    assert not db.exists() or threads(db) == []


@pytest.mark.parametrize(
    "args, stdin, status",
    [
        (["add", "muted"], b"", 1),
        (["add"], b"", 2),
        (["add", "no spaces"], message("a@x"), 2),
        (["add", "muted", "--bogus"], message("a@x"), 2),
    ],
)
def test_add_errors_and_exit_statuses(db, args, stdin, status):
    result = run(args, stdin, db=db)
    assert result.returncode == status
    assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1


def test_unusable_database_exits_75(db):
    db.parent.mkdir()
    db.write_bytes(b"garbage" * 1000)
    result = run(["add", "muted"], message("a@x"), db=db)
    assert result.returncode == 75 and result.stderr.startswith(b"mailthread: database")


def test_db_option_wins_over_environment(tmp_path, db):
    other = tmp_path / "other.db"
    run(["--db", other, "add", "muted"], message("a@x"), db=db)
    assert other.exists() and not db.exists()
    assert marked(db, message("b@x", in_reply_to="a@x")) == []
    out = run(["--db", other, "match"], message("b@x", in_reply_to="a@x"), db=db).stdout
    assert b"X-Mailthread: muted" in out


def test_xdg_data_home_default(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert run(["add", "muted"], message("a@x"), env=env).returncode == 0
    assert (tmp_path / "xdg" / "mailthread" / "threads.db").exists()


def test_a_header_block_in_the_body_starts_no_message(db):
    # What mutt pipes from a Maildir folder with pipe_split unset, and what a message quoting
    # another inline looks like: the second header block is body.
    raw = (
        b"From: a@x\nSubject: one\nMessage-ID: <one@x>\n\nbody\n\n"
        b"From: b@x\nSubject: two\nMessage-ID: <two@x>\n\nbody\n\n"
    )
    result = run(["add", "muted"], raw, db=db)
    assert result.returncode == 0 and result.stdout.count(b"\n") == 1
    assert threads(db) == [("muted", "one", {"one@x"})]


def test_plain_mailthread_shows_the_help():
    result = run([])
    assert b"Commands:" in result.stdout + result.stderr and b"mailthread: " not in result.stderr
