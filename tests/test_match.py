"""`mailthread match` through the installed console script, on raw bytes."""

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading

import pytest
from conftest import FIXTURES, marked, message, run

GOLDEN = FIXTURES / "golden"

PARENT = message("parent@x", subject="Help")
REPLY = message("reply@x", in_reply_to="parent@x", references=["parent@x"], subject="Re: Help")
# A reply whose sender wrote a mark of their own, and what every outcome of match makes of it.
FORGED = message(
    "reply@x", in_reply_to="parent@x", subject="Re: Help", extra=b"X-Mailthread: muted\n"
)
DEFANGED = FORGED.replace(b"X-Mailthread:", b"Old-X-Mailthread:")


def mute(db, raw=PARENT, list_name="muted", *options):
    result = run(["add", list_name, *options], raw, db=db)
    assert result.returncode == 0, result.stderr
    return result


def test_unknown_message_comes_out_unchanged(db):
    mute(db)
    raw = message("other@x", references=["elsewhere@x"]) + b"From me\n\xff\n"
    result = run(["match"], raw, db=db)
    assert (result.returncode, result.stdout, result.stderr) == (0, raw, b"")


def test_reply_to_muted_thread_is_marked(db):
    mute(db)
    result = run(["match"], REPLY, db=db)
    assert result.returncode == 0
    assert result.stdout == marked(REPLY)


@pytest.mark.follow_forks
def test_in_reply_to_alone_is_enough(db):
    mute(db)
    raw = message("r@x", in_reply_to="parent@x")
    assert run(["match"], raw, db=db).stdout == marked(raw)


def test_learning_catches_replies_with_trimmed_references(db):
    mute(db, message("root@x"))
    assert b"X-Mailthread" in run(["match"], message("r1@x", references=["root@x"]), db=db).stdout
    # iPhone Mail keeps only the parent in References: r2 names r1, never root.
    trimmed = message("r2@x", in_reply_to="r1@x", references=["r1@x"])
    assert b"X-Mailthread: muted" in run(["match"], trimmed, db=db).stdout
    hits = sqlite3.connect(db).execute("SELECT hits, last_match FROM threads").fetchone()
    assert hits[0] == 2 and hits[1]


def test_header_only_input_as_procmail_h_gives_it(db):
    mute(db)
    head = REPLY[: REPLY.index(b"\n\n") + 2]
    assert run(["match"], head, db=db).stdout == b"X-Mailthread: muted\n" + head
    # A header without the empty line, its last line without a line ending.
    assert run(["match"], head[:-2], db=db).stdout == b"X-Mailthread: muted\n" + head[:-2]


def test_custom_header_and_list_filter(db):
    mute(db)
    mute(db, message("w@x"), "watched")
    result = run(["match", "--header", "Procmail-Muted: true"], REPLY, db=db)
    assert result.stdout == marked(REPLY, b"Procmail-Muted: true")
    result = run(["match", "--header", "X-Thread: {list}!"], REPLY, db=db)
    assert result.stdout == marked(REPLY, b"X-Thread: muted!")
    assert run(["match", "watched"], REPLY, db=db).stdout == REPLY
    assert b"X-Mailthread: muted" in run(["match", "watched", "muted"], REPLY, db=db).stdout


@pytest.mark.follow_forks
def test_forged_mark_is_renamed_matched_or_not(db):
    mute(db)
    forged = message("f@x", extra=b"X-Mailthread: muted\n")
    assert run(["match"], forged, db=db).stdout == forged.replace(
        b"X-Mailthread", b"Old-X-Mailthread"
    )
    forged_reply = message("f2@x", in_reply_to="parent@x", extra=b"X-MAILTHREAD: watched\n")
    out = run(["match"], forged_reply, db=db).stdout
    assert out == marked(forged_reply.replace(b"X-MAILTHREAD", b"Old-X-MAILTHREAD"))


def test_empty_input(db):
    result = run(["match"], b"", db=db)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["match", "--bogus"], b"no such option: --bogus"),
        (["match", "--header"], b"requires an argument"),
        (["match", "--header", "no colon here"], b"invalid --header"),
        (["match", "--header", "X-{list}: yes"], b"only in the value"),
        (["match", "--header", "X-Bad: a\nBcc: b"], b"line break"),
        (["match", "--header", "X-Bad: \udcff{list}"], b"invalid --header"),
        (["match", "bad list!"], b"invalid list name"),
        (["--bogus", "match"], b"no such option: --bogus"),
        (["--timeout", "soon", "match"], b"invalid --timeout"),
    ],
)
def test_bad_options_pass_the_message_through(db, args, complaint):
    mute(db)
    result = run(args, REPLY, db=db)
    assert (result.returncode, result.stdout) == (75, REPLY)
    assert complaint in result.stderr
    assert result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"mailthread: ")


def unmarked(result, complaint: bytes) -> bool:
    """match could not use its database: the message went out with the sender's own mark
    renamed (that needs no database), exit 0 so that the MDA delivers that, and one line."""
    assert (result.returncode, result.stdout) == (0, DEFANGED), result.stderr
    assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1
    assert result.stderr.endswith(b"; message passed through unmarked\n")
    return complaint in result.stderr


def test_corrupt_database_passes_the_message_through(db):
    db.parent.mkdir()
    db.write_bytes(os.urandom(8192))
    assert unmarked(run(["match"], FORGED, db=db), b"mailthread: database")


def test_folder_that_cannot_be_created_passes_the_message_through(tmp_path):
    (tmp_path / "file").write_text("")
    result = run(["match"], FORGED, db=tmp_path / "file" / "sub" / "threads.db")
    assert unmarked(result, b"cannot create database")


def test_database_locked_too_long_passes_the_message_through(db):
    mute(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a stuck writer would
    try:
        result = run(["--timeout", "0.2", "match"], FORGED, db=db)
    finally:
        holder.execute("ROLLBACK")
    assert unmarked(result, b"locked")


def test_writer_waits_for_the_lock_instead_of_failing(db):
    mute(db)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.0, lambda: holder.execute("ROLLBACK"))
    release.start()
    result = run(["match"], REPLY, db=db)  # default busy timeout: 5 s
    release.join()
    assert result.returncode == 0 and b"X-Mailthread: muted" in result.stdout


def match_with_a_stream_closed(db, args: str, redirection: str):
    """Run the installed script from a shell that closes one of its standard streams."""
    return subprocess.run(
        f"exec {shutil.which('mailthread')} {args} {redirection}",
        shell=True,
        input=REPLY,
        capture_output=True,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
    )


def test_closed_stderr_never_spills_into_the_message(db):
    mute(db)
    proc = match_with_a_stream_closed(db, "match --bogus", "2>&-")
    assert (proc.returncode, proc.stdout) == (75, REPLY)


def test_closed_stdout_is_reported_not_a_traceback(db):
    mute(db)
    proc = match_with_a_stream_closed(db, "match", ">&-")
    assert proc.returncode == 75
    assert proc.stderr.startswith(b"mailthread: cannot write") and b"Traceback" not in proc.stderr


def test_closed_stdin_is_a_failure_not_an_empty_message(db):
    # An empty output would replace the header under procmail's "fh": exit 75 keeps it.
    proc = match_with_a_stream_closed(db, "match", "<&-")
    assert (proc.returncode, proc.stdout) == (75, b"")
    assert proc.stderr == b"mailthread: cannot read the message: standard input is closed\n"


def test_a_full_log_file_does_not_fail_the_filter(db, tmp_path):
    """procmail's LOGFILE is the filter's stderr. When it cannot grow, the line match could
    not write must not turn its exit status into 120 at the interpreter's exit: procmail
    would then keep the original, with the sender's own mark."""
    db.parent.mkdir()
    db.write_bytes(os.urandom(8192))  # something to complain about
    log = tmp_path / "procmail.log"
    log.write_bytes(b"x" * 8192)

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    with open(log, "ab") as stderr:
        proc = subprocess.run(
            [shutil.which("mailthread"), "match"],
            input=FORGED,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "MAILTHREAD_DB": str(db)},
            preexec_fn=limit,
        )
    assert (proc.returncode, proc.stdout) == (0, DEFANGED)
    assert log.read_bytes() == b"x" * 8192


def test_messages_without_ids_need_no_database(tmp_path):
    raw = b"Subject: no ids\n\nbody\n"
    result = run(["match"], raw, db=tmp_path / "file-not-folder" / "x.db")
    assert (result.returncode, result.stdout) == (0, raw)


def test_python_dash_m(db):
    mute(db)
    result = subprocess.run(
        [sys.executable, "-m", "mailthread", "match"],
        input=REPLY,
        capture_output=True,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
    )
    assert result.returncode == 0 and b"X-Mailthread: muted" in result.stdout


def test_help_lists_exit_statuses():
    result = run(["match", "--help"])
    assert result.returncode == 0 and b"75" in result.stdout and b"Exit status" in result.stdout


def imported_modules(argv, stdin=b"", env=None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], input=stdin, capture_output=True, env=env
    )
    lines = result.stderr.decode().splitlines()
    return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}


def test_match_path_does_not_load_what_it_does_not_need(db):
    """The installed launcher, run the way procmail runs it, loads nothing for `match` beyond
    what a bare interpreter loads but SQLite's C module and mailthread's own filter modules:
    not even the sqlite3 package around it, which imports datetime."""
    mute(db)
    env = {**os.environ, "MAILTHREAD_DB": str(db)}
    launcher = shutil.which("mailthread")
    assert run(["match"], REPLY, db=db).stdout == marked(REPLY)
    loaded = imported_modules([launcher, "match"], REPLY, env) - imported_modules(["-c", "pass"])
    assert {"mailthread.linking", "mailthread.message", "_sqlite3"} <= loaded
    unneeded = {"click", "sqlite_utils", "email", "mailthread.cli", "typing", "re", "argparse"}
    unneeded |= {"mailthread.store", "mailthread.threads"}  # recording and ending threads
    unneeded |= {"sqlite3", "datetime", "hashlib", "json", "time"}
    assert not loaded & unneeded
    # ...while the other commands do load click.
    assert "click" in imported_modules([launcher, "add", "--help"], env=env)


# -- golden outputs: real messages, byte for byte ----------------------------------------------

GOLDEN_CASES = {
    # fixture: the id of its parent, which gets muted first
    "gnus-comment.eml": "EDBAAA0BBBA2AC4E9C8B6B81DEEE1D6915DFB0ED@dggeml505-mbs.china.huawei.com",
    "bare-in-reply-to.eml": "CAB__hTSmthBxasOB2AQivKhCOvcac_FeUBO51RDYzfo+eXrCYA@mail.gmail.com",
    "crlf-mbox-entry.eml": "38A11D0E.A2064062@ipicorp.com",
    "eight-bit-header.eml": "1cc193d7-d0c0-4605-8bf2-e8b6dab5c3ec@itsystems.it",
}


@pytest.mark.follow_forks
@pytest.mark.parametrize("fixture", sorted(GOLDEN_CASES))
def test_golden_output(db, fixture):
    mute(db, message(GOLDEN_CASES[fixture]))
    result = run(["match"], (FIXTURES / fixture).read_bytes(), db=db)
    assert result.returncode == 0
    assert result.stdout == (GOLDEN / (fixture + ".out")).read_bytes()


def test_list_name_with_a_line_break_is_never_injected(db):
    mute(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE threads SET list = 'muted\nBcc: victim@x'")
    conn.commit()
    assert unmarked(run(["match"], FORGED, db=db), b"line break")


def test_match_leaves_the_wal_for_the_next_mail_and_keeps_it_bounded(db):
    """Closing the database after every mail checkpointed the WAL into it and deleted it (4
    fdatasyncs, 2 unlinks, a new WAL for the next mail): match leaves it, and checkpoints
    and empties it once it holds more than WAL_LIMIT bytes (the next process to open the
    database reads all of it). What was committed is in the database either way."""
    from mailthread.database import WAL_LIMIT

    mute(db)
    wal = f"{db}-wal"
    sizes = []
    for n in range(30):
        reply = message(f"reply{n}@x", in_reply_to="parent@x", subject="Re: Help")
        assert run(["match"], reply, db=db).stdout == marked(reply)
        sizes.append(os.path.getsize(wal) if os.path.exists(wal) else None)
    assert sizes[0], "the WAL was not left for the next mail"
    assert max(sizes) <= WAL_LIMIT + (64 << 10), sizes  # at most one delivery past the limit
    assert 0 in sizes, sizes  # emptied once past the limit
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT hits FROM threads").fetchone() == (30,)
    conn.close()
