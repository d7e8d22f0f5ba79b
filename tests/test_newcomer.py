"""A newcomer's first hour (issue 14): what the commands say, in words that fit the case."""

from conftest import run


def test_a_refs_file_with_stray_lines_imports_the_rest_and_names_them(db, tmp_path):
    refs = tmp_path / "muted.refs"
    refs.write_bytes(b"# my muted threads\n<a@x> <b@x> \nb@x c@x\n<yes>\n<d@x> \n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out == (
        "read 5 lines: 2 threads added, 0 merged, 0 already stored, 3 skipped"
        f" ({refs} lines 1, 3, 4: no message id)\n"
    )
    assert "b'" not in out


def test_a_refs_file_with_blank_lines_counts_every_line(db, tmp_path):
    """Blank lines are passed over, but counted: "read 6 lines" named line 7."""
    refs = tmp_path / "muted.refs"
    refs.write_bytes(b"# mine\n<a@x> \n\n<b@x> \nbare\n\n<yes>\n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.stdout.decode() == (
        "read 7 lines: 2 threads added, 0 merged, 0 already stored, 3 skipped"
        f" ({refs} lines 1, 5, 7: no message id)\n"
    )


def test_counts_are_in_the_singular_for_one(db, tmp_path):
    refs = tmp_path / "one.refs"
    refs.write_bytes(b"<a@x> \n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.stdout.decode() == "read 1 line: 1 thread added, 0 merged, 0 already stored\n"
    mbox = tmp_path / "one.mbox"
    mbox.write_bytes(b"From x Sun Mar  1 10:00:00 2026\nMessage-ID: <m@x>\n\nhi\n")
    result = run(["add", "muted", "--mailbox", mbox], db=db)
    assert result.stdout.decode().startswith("read 1 message from 1 mailbox: 1 thread added,")
    reply = b"References: <m@x> <n@x>\nIn-Reply-To: <n@x>\n\nx\n"
    explained = run(["explain"], reply, db=db).stdout.decode()
    assert "(1 nearer one is not)" in explained, explained
    added = run(["add", "watched"], b"Message-ID: <w@x>\nSubject: W\n\nx\n", db=db)
    assert added.stdout.decode() == "watched: thread 3 (W): 1 new id\n"
    alone = run(["explain"], b"Message-ID: <z@x>\n\nx\n", db=db).stdout.decode()
    assert alone.startswith("in no thread: its one id is not recorded,"), alone


def test_add_to_a_new_list_beside_others_says_so_and_records(db):
    parent = b"Message-ID: <p@x>\nSubject: Plans\n\nx\n"
    assert run(["add", "muted"], parent, db=db).returncode == 0
    other = b"Message-ID: <q@x>\nSubject: Lunch\n\nx\n"
    result = run(["add", "mute"], other, db=db)  # a typo
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == (
        "mailthread: mute is a new list (the lists so far: muted); the example recipes"
        " file only muted and watched\n"
    )
    assert run(["add", "mute"], b"Message-ID: <r@x>\n\nx\n", db=db).stderr == b""


def on_a_terminal(args, db, typed: bytes | None = None, cwd=None):
    """Run mailthread with a pseudo-terminal as stdin (and pipes for the rest)."""
    import os
    import pty
    import subprocess

    from conftest import mailthread_command

    master, slave = pty.openpty()
    env = {**os.environ, "MAILTHREAD_DB": str(db)}
    process = subprocess.Popen(
        [*mailthread_command(), *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    os.close(slave)
    if typed is not None:
        os.write(master, typed + b"\n\x04")
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("mailthread still waits on the terminal") from None
    finally:
        os.close(master)
    return process.returncode, out, err


def test_a_list_argument_that_names_a_file_on_a_terminal_is_refused(db, tmp_path):
    (tmp_path / "reply.eml").write_bytes(b"Message-ID: <a@x>\n\nx\n")
    status, out, err = on_a_terminal(["explain", "reply.eml"], db, cwd=tmp_path)
    assert status == 2 and out == b""
    assert err.count(b"\n") == 1 and b"reply.eml" in err and b"< reply.eml" in err, err


def test_reading_a_message_from_a_terminal_says_so(db):
    status, out, err = on_a_terminal(["add", "muted"], db, typed=b"Message-ID: <t@x>\n")
    assert err.startswith(b"mailthread: reading one message on stdin"), err
    assert status == 0 and b"muted: thread 1" in out


def test_ci_run_without_the_shared_corpus_says_what_to_do(tmp_path):
    import shutil
    import subprocess

    from conftest import HERE

    # A checkout with no shared/ beside it (the check comes first: nothing else is run).
    clone = tmp_path / "clone"
    shutil.copytree(HERE.parent / ".ci", clone / ".ci")
    result = subprocess.run(
        ["bash", ".ci/run"],
        cwd=clone,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CI": "true"},
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "no ../shared/corpus beside this clone" in result.stderr
    assert "./run-tests" in result.stderr and "clone next to the shared/ folder" in result.stderr


def test_the_command_summaries_are_whole_sentences():
    result = run(["--help"])
    commands = result.stdout.decode().split("Commands:\n", 1)[1].splitlines()
    assert len(commands) == 6, commands
    for line in commands:
        summary = line.split(None, 1)[1]
        assert summary.endswith(".") and not summary.endswith("..."), line
        assert summary.count("(") == summary.count(")"), line


def test_db_and_timeout_after_the_command_name(db, tmp_path):
    """`mailthread list --db PATH` (the README says "options of every command"): --db and
    --timeout work after the command name, for every command and for match's own parser,
    and there override the ones before it."""
    elsewhere = tmp_path / "elsewhere" / "threads.db"  # $MAILTHREAD_DB: never created
    parent = b"Message-ID: <p@x>\nSubject: Plans\n\nx\n"
    reply = b"Message-ID: <r@x>\nIn-Reply-To: <p@x>\nSubject: Re: Plans\n\nx\n"
    added = run(["add", "muted", "--db", db, "--timeout", "5"], parent, db=elsewhere)
    assert added.returncode == 0, added.stderr
    listed = run(["--db", elsewhere, "list", "--db", db, "--json"], db=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert b'"list": "muted"' in listed.stdout
    explained = run(["explain", "--timeout=5", f"--db={db}"], reply, db=elsewhere)
    assert explained.returncode == 0 and b"muted" in explained.stdout, explained
    matched = run(["match", "--db", db, "--timeout", "5"], reply, db=elsewhere)
    assert (matched.returncode, matched.stderr) == (0, b"")
    assert matched.stdout == b"X-Mailthread: muted\n" + reply
    assert run(["expire", "--dry-run", "--db", db], db=elsewhere).returncode == 0
    removed = run(["remove", "--message-id", "<p@x>", "--db", db], db=elsewhere)
    assert removed.returncode == 0, removed.stderr
    assert not elsewhere.parent.exists()
    # They are checked where they are given: a bad value is bad usage.
    assert run(["list", "--timeout", "-1"], db=db).returncode == 2
    refused = run(["match", "--timeout", "soon"], reply, db=db)
    assert (refused.returncode, refused.stdout) == (75, reply)
    assert b"--timeout" in refused.stderr


def test_match_on_a_terminal_says_what_it_reads(db):
    typed = b"Message-ID: <t@x>"
    status, out, err = on_a_terminal(["match"], db, typed=typed)
    assert err.startswith(b"mailthread: reading one message on stdin, to the end (Ctrl-D)"), err
    assert err.count(b"\n") == 1 and b"< FILE" in err
    assert status == 0 and out == typed + b"\n"


def test_match_given_a_message_file_says_it_comes_on_stdin(db, tmp_path):
    """`mailthread match reply.eml`: on a terminal it reads nothing and says why (75, as
    for bad usage); with an empty stdin it says why nothing came out."""
    (tmp_path / "reply.eml").write_bytes(b"Message-ID: <a@x>\n\nx\n")
    status, out, err = on_a_terminal(["match", "reply.eml"], db, cwd=tmp_path)
    assert (status, out) == (75, b"")
    assert err == (
        b"mailthread: LIST 'reply.eml' is a file: the message comes on stdin"
        b" (mailthread match < reply.eml); nothing read\n"
    )
    result = run(["match", "--db", db, "reply.eml"], b"", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, b"")
    assert result.stderr == (
        b"mailthread: LIST 'reply.eml' is a file: the message comes on stdin"
        b" (mailthread match < reply.eml); nothing written\n"
    )
    # A path is no list name; the error says where the message goes.
    result = run(["explain", tmp_path / "reply.eml"], b"", db=db)
    assert result.returncode == 2
    assert f"it is a file: the message comes on stdin (< {tmp_path}/reply.eml)".encode() in (
        result.stderr
    )


def test_ctrl_c_on_a_command_reading_a_terminal_says_so(db):
    import os
    import pty
    import signal
    import subprocess

    from conftest import mailthread_command

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*mailthread_command(), "explain"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
    )
    os.close(slave)
    try:
        assert process.stderr.readline().startswith(b"mailthread: reading one message")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        os.close(master)
    assert (process.returncode, out) == (-signal.SIGINT, b"")
    assert (
        err == b"mailthread: stopped by SIGINT (Ctrl-C); an unfinished database change is undone\n"
    )


def shown_on_a_terminal(args, db) -> tuple[int, bytes, bytes]:
    """Run mailthread with a pseudo-terminal as stdout: (status, what the terminal shows,
    stderr)."""
    import os
    import pty
    import subprocess

    from conftest import drain_terminal, mailthread_command

    master, slave = pty.openpty()
    try:
        process = subprocess.run(
            [*mailthread_command(), *args],
            stdout=slave,
            stderr=subprocess.PIPE,
            env={**os.environ, "MAILTHREAD_DB": str(db)},
            timeout=30,
        )
        os.close(slave)
        slave = -1
        shown = drain_terminal(master)
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    return process.returncode, shown, process.stderr


def test_list_on_a_terminal_says_when_there_is_nothing(db):
    assert run(["match"], b"Message-ID: <m@x>\n\nx\n", db=db).returncode == 0
    status, shown, stderr = shown_on_a_terminal(["list", "muted"], db)
    assert status == 0, stderr
    assert shown == f"no threads on muted in {db} (from $MAILTHREAD_DB)\r\n".encode()
    assert run(["list"], db=db).stdout == b""  # not on a terminal: no rows, no words


def test_explain_tells_how_a_delivered_message_joined_its_thread(db, tmp_path):
    """Why was this muted, after the fact: once `match` learned the message's own id,
    explain says how it was learned (which field, which parent, when), and for ids that
    `add` or an import recorded, which of them and when."""
    parent = b"Message-ID: <p@x>\nSubject: Plans\n\nx\n"
    reply = b"Message-ID: <r@x>\nIn-Reply-To: <p@x>\nSubject: Re: Plans\n\nx\n"
    later = b"Message-ID: <s@x>\nReferences: <p@x> <r@x>\nSubject: Re: Plans\n\nx\n"
    assert run(["add", "muted"], parent, db=db).returncode == 0
    for message in (reply, later):
        assert run(["match"], message, db=db).stdout.startswith(b"X-Mailthread: muted\n")
    day = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    import re

    said = run(["explain"], reply, db=db).stdout.decode().splitlines()[1]
    assert re.fullmatch(
        rf"decided by <r@x> \(id\): its own Message-ID; it was learned {day} when it"
        r" matched by its In-Reply-To <p@x>",
        said,
    ), said
    said = run(["explain"], later, db=db).stdout.decode().splitlines()[1]
    assert said.endswith("when it matched by its References <r@x>"), said
    said = run(["explain", "--message-id", "p@x"], db=db).stdout.decode().splitlines()[1]
    assert re.fullmatch(
        rf"decided by <p@x> \(id\): the id given; <p@x> was recorded {day} by add", said
    )
    refs = tmp_path / "muted.refs"
    refs.write_bytes(b"<q@x> <q2@x>\n")
    assert run(["add", "muted", "--refs-file", refs], db=db).returncode == 0
    said = run(["explain", "--message-id", "q2@x"], db=db).stdout.decode().splitlines()[1]
    assert re.search(rf"; <q2@x> was imported {day} from {re.escape(str(refs))}$", said), said


def test_a_lifetime_is_listed_as_it_was_given(db):
    """`add --for 1w` lists as 1w (it listed as 7d: only seconds were stored), in the
    table, in --json and in explain; a later add with another lifetime, or none, wins."""
    import json

    plans = b"Message-ID: <p@x>\nSubject: Plans\n\nx\n"
    assert run(["add", "muted", "--for", "1w"], plans, db=db).returncode == 0
    assert run(["add", "watched", "--for", "2w", "--subthread"], b"Message-ID: <q@x>\n\n", db=db)
    rows = json.loads(run(["list", "--json"], db=db).stdout)
    assert [(row["id"], row["expires_after"]) for row in rows] == [(2, "2w"), (1, "1w")]
    assert "lapses after 1w idle" in run(["explain", "--message-id", "p@x"], db=db).stdout.decode()
    assert run(["add", "muted", "--for", "14d"], plans, db=db).returncode == 0
    assert json.loads(run(["list", "--json"], db=db).stdout)[1]["expires_after"] == "14d"
    assert run(["add", "muted"], plans, db=db).returncode == 0
    assert json.loads(run(["list", "--json"], db=db).stdout)[1]["expires_after"] is None
    refs = b"<r@x> <s@x>\n"
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".refs") as file:
        file.write(refs)
        file.flush()
        assert run(["add", "muted", "--for", "3w", "--refs-file", file.name], db=db).returncode == 0
    table = run(["list"], db=db).stdout.decode().splitlines()
    assert [line.split()[7] for line in table[1:]] == ["3w", "2w", "-"], table


def test_raw_latin1_subjects_are_shown_and_compared_as_their_letters(db):
    """A subject written raw in Latin-1 (or Windows-1252: "€", curly quotes) by an old
    mailer shows its letters in add, list and explain (it showed U+FFFD), and a raw
    "Re: Café" answering an RFC 2047 "Café" is the same topic, no fork."""
    parent = b"Message-ID: <p@x>\nSubject: =?iso-8859-1?q?Caf=E9_=80_10?=\n\nx\n"
    added = run(["add", "muted"], parent, db=db)
    assert added.stdout.decode() == "muted: thread 1 (Café € 10): 1 new id\n"
    reply = b"Message-ID: <r@x>\nIn-Reply-To: <p@x>\nSubject: Re: Caf\xe9 \x80 10\n\nx\n"
    assert run(["match"], reply, db=db).stdout == b"X-Mailthread: muted\n" + reply
    mixed = b"Message-ID: <m@x>\nSubject: caf\xc3\xa9 \x93quoted\x94\n\nx\n"
    assert "(café “quoted”)" in run(["add", "watched"], mixed, db=db).stdout.decode()
    assert "café “quoted”" in run(["list"], db=db).stdout.decode()
    # Mislabelled encoded words, read as browsers and Thunderbird read them (WHATWG).
    labelled = b"Message-ID: <u@x>\nSubject: =?us-ascii?q?na=C3=AFve?=\n\nx\n"
    assert "(naïve)" in run(["add", "watched"], labelled, db=db).stdout.decode()


def test_explain_after_add_subthread_says_the_subthread_took_the_id(db):
    """An id `match` learned into a thread, then taken into a subthread by `add
    --subthread`: explain says the add did it (it told the old "learned by match" story of
    the thread it left)."""
    root = b"Message-ID: <root@x>\nSubject: Noisy\n\nx\n"
    reply = b"Message-ID: <r1@x>\nIn-Reply-To: <root@x>\nSubject: Re: Noisy\n\nx\n"
    sub = b"Message-ID: <s1@x>\nIn-Reply-To: <r1@x>\nSubject: Re: Noisy\n\nx\n"
    assert run(["add", "muted"], root, db=db).returncode == 0
    for message in (reply, sub):
        assert run(["match"], message, db=db).stdout.startswith(b"X-Mailthread: muted\n")
    moved = run(["add", "watched", "--subthread"], sub, db=db)
    assert moved.stdout.decode().startswith("watched: thread 2 "), moved
    said = run(["explain"], sub, db=db).stdout.decode().splitlines()
    assert said[0].startswith("thread 2 (watched,")
    assert said[1].startswith("decided by <s1@x> (id): its own Message-ID; it was recorded ")
    assert said[1].endswith(" UTC by add --subthread"), said


def test_a_timeout_that_is_no_wait_is_refused(db):
    """--timeout nan, inf or 1e308 asked to wait forever and got no wait at all (SQLite's
    busy timeout is an int of milliseconds): refused, before or after the command name, by
    click and by match's own parser alike."""
    reply = b"Message-ID: <r@x>\n\nx\n"
    for value in ("nan", "inf", "1e308", "2147484"):
        for args in (["--timeout", value, "list"], ["list", "--timeout", value]):
            result = run(args, db=db)
            assert result.returncode == 2, (args, result)
            assert b"a number of seconds from 0 to 2147483 is needed" in result.stderr
        matched = run(["match", "--timeout", value], reply, db=db)
        assert (matched.returncode, matched.stdout) == (75, reply)
    assert run(["match", "--timeout", "2147483"], reply, db=db).returncode == 0


def test_a_hand_edited_lifetime_text_is_shown_from_the_seconds(db):
    import sqlite3

    assert run(["add", "muted", "--for", "1w"], b"Message-ID: <p@x>\n\nx\n", db=db).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE threads SET expires_given = 'soon'")
    listed = run(["list", "--json"], db=db)
    assert listed.returncode == 0 and b'"expires_after": "7d"' in listed.stdout, listed


def test_review_two_wording(db, tmp_path):
    """What a second review found misleading: W after M warned that "watched is a new
    list"; add --subthread said "0 new ids" for a new thread; explain told a message
    claiming a learned Message-ID that *it* had matched by an In-Reply-To it does not have;
    an import named its refs file as typed (relative to a folder long left)."""
    root = b"Message-ID: <s0@x>\nSubject: T\n\nx\n"
    reply = b"Message-ID: <s1@x>\nIn-Reply-To: <s0@x>\nSubject: Re: T\n\nx\n"
    assert run(["add", "muted"], root, db=db).returncode == 0
    assert run(["match"], reply, db=db).stdout.startswith(b"X-Mailthread: muted\n")
    watched = run(["add", "watched", "--subthread"], reply, db=db)
    assert watched.stderr == b"" and watched.stdout.endswith(b": 1 new id\n"), watched
    impostor = b"Message-ID: <s1@x>\nReferences: <other@x>\nSubject: Else\n\nx\n"
    assert run(["remove", "--thread", "2"], db=db).returncode == 0
    assert run(["match"], reply, db=db).stdout.startswith(b"X-Mailthread: muted\n")
    said = run(["explain"], impostor, db=db).stdout.decode().splitlines()[1]
    assert said.endswith("when a message with it matched by its In-Reply-To <s0@x>"), said
    said = run(["explain"], reply, db=db).stdout.decode().splitlines()[1]
    assert said.endswith("when it matched by its In-Reply-To <s0@x>"), said
    # Naming the parent in another field is not having matched by that field.
    elsewhere = b"Message-ID: <s1@x>\nReferences: <s0@x>\nSubject: Else\n\nx\n"
    said = run(["explain"], elsewhere, db=db).stdout.decode().splitlines()[1]
    assert said.endswith("when a message with it matched by its In-Reply-To <s0@x>"), said
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "rel.refs").write_bytes(b"<i1@x> <i2@x>\n")
    imported = run(["add", "muted", "--refs-file", "rel.refs"], db=db, cwd=tmp_path / "sub")
    assert imported.returncode == 0, imported
    said = run(["explain", "--message-id", "i2@x"], db=db).stdout.decode()
    assert said.rstrip().endswith(f"from {tmp_path}/sub/rel.refs"), said


def test_list_of_an_unknown_list_on_a_terminal_names_the_lists(db):
    assert run(["add", "muted"], b"Message-ID: <m@x>\n\nx\n", db=db).returncode == 0
    status, shown, stderr = shown_on_a_terminal(["list", "mute"], db)
    assert status == 0, stderr
    assert (
        shown == f"no threads on mute in {db} (from $MAILTHREAD_DB); the lists: muted\r\n".encode()
    )


def test_list_prints_the_formats_sqlite_utils_users_know(db):
    """--nl, --csv and --tsv (issue 15): the --json objects, one a line, or their columns
    with a header row; exact in a pipe, a comma, quote, tab or line break in a subject
    included; one format at a time."""
    import csv
    import io
    import json

    odd = "=?utf-8?q?a=2C_=22b=22=09c?="  # a, "b"<TAB>c
    assert run(["add", "muted"], f"Message-ID: <p@x>\nSubject: {odd}\n\nx\n".encode(), db=db)
    assert run(["add", "watched", "--for", "1w"], b"Message-ID: <q@x>\nSubject: Q\n\nx\n", db=db)
    whole = json.loads(run(["list", "--json"], db=db).stdout)
    assert [row["subject"] for row in whole] == ["Q", 'a, "b" c']
    lines = run(["list", "--nl"], db=db).stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == whole
    as_text = [{k: "" if v is None else str(v) for k, v in row.items()} for row in whole]
    for flag, delimiter in (("--csv", ","), ("--tsv", "\t")):
        out = run(["list", flag], db=db).stdout.decode()
        assert out.startswith(delimiter.join(whole[0]) + "\n"), out
        assert list(csv.DictReader(io.StringIO(out), delimiter=delimiter)) == as_text
    # Control characters and bidi overrides: exact (escaped) in --json and --nl, replaced in
    # --csv and --tsv, in a pipe too (`list --csv | grep x` ends on a terminal).
    hostile = "=?utf-8?q?x_=1B=5B31mRED_=E2=80=AE_evil?="
    assert run(["add", "muted"], f"Message-ID: <h@x>\nSubject: {hostile}\n\nx\n".encode(), db=db)
    assert json.loads(run(["list", "--json"], db=db).stdout)[0]["subject"] == (
        "x \x1b[31mRED \u202e evil"
    )
    for flag in ("--csv", "--tsv"):
        out = run(["list", flag], db=db).stdout.decode()
        assert "x \ufffd[31mRED \ufffd evil" in out and "\x1b" not in out, out
    refused = run(["list", "--csv", "--json"], db=db)
    assert (
        refused.returncode == 2 and b"give one of --json, --nl, --csv and --tsv" in refused.stderr
    )


def test_match_options_are_declared_once_for_both_parsers(db):
    """arguments.MATCH_OPTIONS is the one declaration of match's options (issue 15): click's
    match shows exactly those (with --db and --timeout), completion offers them, and when
    click runs match it hands the arguments, unread, to the same parser as the fast path:
    the same output and status for the same arguments."""
    import io

    from click.testing import CliRunner

    from mailthread import arguments, cli, filter

    names = [name for name, *_ in arguments.MATCH_OPTIONS]
    command = cli.cli.commands["match"]
    options = [p.opts[0] for p in command.params if isinstance(p, cli.click.Option)]
    assert options == [*names, "--db", "--timeout"]
    shown = run(["match", "--help"]).stdout.decode()
    for name, metavar, _, help in arguments.MATCH_OPTIONS:
        assert (f"{name} {metavar}" if metavar else name) in shown
        assert " ".join(help.split()[:4]) in " ".join(shown.split())
    assert run(["add", "muted"], b"Message-ID: <p@x>\nSubject: P\n\nx\n", db=db).returncode == 0
    reply = b"Message-ID: <r@x>\nIn-Reply-To: <p@x>\nSubject: Re: P\n\nx\n"
    for argv in (
        ["match"],
        ["match", "muted", "--header", "X-Seen: {list}"],
        ["match", "watched"],
        ["match", "--me=me@x", "--no-subject", "--follow-forks"],
        ["match", "--subject-window", "nonsense"],
        ["match", "--bogus"],
        ["match", "--", "muted"],
    ):
        out, err = io.BytesIO(), io.StringIO()
        fast = filter.run(argv, io.BytesIO(reply), out, err, {"MAILTHREAD_DB": str(db)})
        clicked = CliRunner().invoke(cli.cli, ["--db", str(db), *argv], input=reply)
        assert (clicked.exit_code, clicked.stdout_bytes) == (fast, out.getvalue()), argv
