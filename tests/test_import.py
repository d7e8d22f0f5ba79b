"""`mailthread add LIST --mailbox` and `--refs-file`: mbox, Maildir and MH folders built from
real mail (../shared/corpus), and refs files in the old shell scripts' format.

The expected threads are computed here independently of mailthread: ids are read with the
stdlib's email parser and joined by a union-find, so a conversation is every message linked
by a shared Message-ID, In-Reply-To or References id, transitively."""

import io
import json
import mailbox
import os
import random
import re
import shutil
import sqlite3
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from conftest import CORPUS, message, run

from mailthread import filter

BASELINE = CORPUS.parent / "baseline" / "match-thread.sh"
BRACKETED = re.compile(r"<([^<>]*)>")
COMMENT = re.compile(r"\([^()]*\)")
SUMMARY = re.compile(
    rb"read (\d+) messages? from (\d+) mailbox(?:es)?: (\d+) threads? added, (\d+) merged"
)
REFS_SUMMARY = re.compile(rb"read (\d+) lines?: (\d+) threads? added, (\d+) merged")


# -- what the threads should be, computed without mailthread --------------------------------


def thread_ids(raw: bytes) -> set[str]:
    """The ids of Message-ID, In-Reply-To and References as the email package reads them.

    Bracketed ids, blanks removed (folding inside brackets); bare words holding an "@" too
    where a field has no bracketed id (PHPMailer's `In-Reply-To: id@host`) and always in
    References (ZTE's `References: id1,id2`). Comments are dropped (Gnus's "(X's message
    of ...)")."""
    header = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    ids: set[str] = set()
    for name in ("Message-ID", "In-Reply-To", "References"):
        for value in header.get_all(name, []):
            text = COMMENT.sub(" ", str(value))
            bracketed = {"".join(found.split()) for found in BRACKETED.findall(text)} - {""}
            ids |= bracketed
            if not bracketed or name == "References":
                words = re.split(r"[\s,;<>]+", BRACKETED.sub(" ", text))
                ids |= {word for word in words if "@" in word.strip("@")}
    return ids


def conversations(raws) -> tuple[set[frozenset[str]], int]:
    """The id sets of the conversations among ``raws``, and how many messages had no id."""
    parent: dict[str, str] = {}

    def root(msgid: str) -> str:
        while parent.setdefault(msgid, msgid) != msgid:
            parent[msgid] = parent[parent[msgid]]
            msgid = parent[msgid]
        return msgid

    without_ids = 0
    for raw in raws:
        ids = sorted(thread_ids(raw))
        if not ids:
            without_ids += 1
        for msgid in ids:
            parent[root(msgid)] = root(ids[0])
    groups: dict[str, set[str]] = {}
    for msgid in parent:
        groups.setdefault(root(msgid), set()).add(msgid)
    return {frozenset(group) for group in groups.values()}, without_ids


# -- mailboxes built from the corpus ---------------------------------------------------------


def build_mbox(corpus: Path, tmp_path: Path) -> Path:
    path = tmp_path / "httpd-users.mbox"
    shutil.copyfile(corpus / "ponymail-apache" / "httpd-users-2020-07.mbox", path)
    return path


def build_maildir(corpus: Path, tmp_path: Path) -> Path:
    path = tmp_path / "open-iscsi"
    shutil.copytree(corpus / "open-iscsi" / "cur", path / "cur")
    (path / "tmp").mkdir()
    (path / "new").mkdir()
    # Some of it unread, as a delivery leaves it: in new/, without the info suffix.
    for name in sorted(os.listdir(path / "cur"))[::10]:
        os.rename(path / "cur" / name, path / "new" / name.split(":")[0])
    return path


def build_mh(corpus: Path, tmp_path: Path) -> Path:
    """An MH folder of the 45 perl-mail-box messages (one of which has no id at all), some in
    the unseen sequence."""
    path = tmp_path / "mh-inbox"
    source = mailbox.mbox(corpus / "perl-mail-box" / "mbox.src", create=False)
    folder = mailbox.MH(path, create=True)
    keys = [folder.add(source.get_bytes(key)) for key in source.iterkeys()]  # bytes: as they are
    folder.set_sequences({"unseen": keys[::3]})
    folder.close()
    assert (path / ".mh_sequences").exists()
    return path


# kind: (builder, messages, conversations as notmuch counts them, SOURCES.md)
BUILDERS = {
    "mbox": (build_mbox, 108, 41),
    "maildir": (build_maildir, 163, 45),
    "mh": (build_mh, 45, 28),
}


def messages_of(kind: str, path: Path) -> list[bytes]:
    """The messages as the stdlib's mailbox module reads them."""
    box = {"mbox": mailbox.mbox, "maildir": mailbox.Maildir, "mh": mailbox.MH}[kind]
    opened = box(path, factory=None, create=False)
    return [opened.get_bytes(key) for key in opened.iterkeys()]


def listing(db) -> list[dict]:
    if not Path(db).exists():  # `list` refuses a database that is not there (issue 14)
        return []
    result = run(["list", "--json"], db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored_threads(db) -> set[frozenset[str]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT thread, msgid FROM ids").fetchall()
    conn.close()
    groups: dict[int, set[str]] = {}
    for thread, msgid in rows:
        groups.setdefault(thread, set()).add(msgid)
    return {frozenset(group) for group in groups.values()}


def database_content(db) -> tuple[list, list]:
    conn = sqlite3.connect(db)
    content = (
        conn.execute("SELECT * FROM threads ORDER BY id").fetchall(),
        conn.execute("SELECT msgid, thread FROM ids ORDER BY msgid").fetchall(),
    )
    conn.close()
    return content


def marks(db, raw: bytes) -> bool:
    """Whether `match` marks ``raw`` (in-process: hundreds of messages, same code as the
    console script's `match`)."""
    out, err = io.BytesIO(), io.StringIO()
    status = filter.run(["match"], io.BytesIO(raw), out, err, {"MAILTHREAD_DB": str(db)})
    assert (status, err.getvalue()) == (0, "")
    return b"\nX-Mailthread: muted\n" in b"\n" + out.getvalue().split(b"\n\n")[0] + b"\n"


def explain_id(db, msgid: str):
    return run(["explain", "--message-id", msgid], db=db)


# -- --mailbox -------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("kind", BUILDERS)
def test_import_records_each_conversation_as_one_thread(corpus, tmp_path, db, kind):
    build, count, threads_by_notmuch = BUILDERS[kind]
    path = build(corpus, tmp_path)
    raws = messages_of(kind, path)
    expected, without_ids = conversations(raws)
    # notmuch counts the message without ids as a thread of its own.
    assert (len(raws), len(expected) + without_ids) == (count, threads_by_notmuch)

    # stdin holds another message: it must not be read.
    result = run(["add", "muted", "--mailbox", path], message("stdin@x"), db=db)
    assert result.returncode == 0, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary, result.stdout
    assert [int(n) for n in summary.groups()] == [len(raws), 1, len(expected), 0]
    if without_ids:
        n = b"%d" % without_ids
        assert re.search(rb"\b%s skipped \((%s )?no ids\)" % (n, n), result.stdout), result.stdout
    else:
        assert re.search(rb"\b0 skipped\b", result.stdout), result.stdout

    threads = listing(db)
    assert len(threads) == len(expected)
    assert {thread["list"] for thread in threads} == {"muted"}
    assert sorted(thread["ids"] for thread in threads) == sorted(map(len, expected))
    assert stored_threads(db) == expected
    assert explain_id(db, "stdin@x").returncode == 1

    # The same mailbox again: nothing changes.
    content = database_content(db)
    again = run(["add", "muted", "--mailbox", path], db=db)
    assert again.returncode == 0, again.stderr
    assert [int(n) for n in SUMMARY.search(again.stdout).groups()[2:]] == [0, 0]
    assert listing(db) == threads
    assert database_content(db) == content

    # Every message with an id now belongs to its thread: explain some, match them all.
    with_ids = [raw for raw in raws if thread_ids(raw)]
    rng = random.Random(kind)
    for raw in rng.sample(with_ids, 3):
        msgid = rng.choice(sorted(thread_ids(raw)))
        assert explain_id(db, msgid).returncode == 0, msgid
    unmarked = [raw[:300] for raw in with_ids if not marks(db, raw)]
    assert unmarked == []


@pytest.mark.corpus
def test_import_merges_with_stored_threads(corpus, tmp_path, db):
    path = build_mbox(corpus, tmp_path)
    expected, _ = conversations(messages_of("mbox", path))
    first, second, third = sorted(expected, key=lambda ids: (-len(ids), sorted(ids)))[:3]
    # A watched thread that shares one id with the first conversation, and one that
    # links the second and third: stored before the import.
    touching = message("outside-1@example.org", references=[min(first)])
    bridging = message("outside-2@example.org", references=[min(second), min(third)])
    assert run(["add", "watched"], touching, db=db).returncode == 0
    assert run(["add", "watched"], bridging, db=db).returncode == 0

    result = run(["add", "muted", "--mailbox", path], db=db)
    assert result.returncode == 0, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary and int(summary.group(3)) == len(expected) - 3, result.stdout
    assert int(summary.group(4)) >= 2, result.stdout

    merged = (expected - {first, second, third}) | {
        first | {"outside-1@example.org"},
        second | third | {"outside-2@example.org"},
    }
    assert stored_threads(db) == merged
    threads = listing(db)
    assert len(threads) == len(expected) - 1
    assert {thread["list"] for thread in threads} == {"muted"}
    one = explain_id(db, "outside-1@example.org")
    other = explain_id(db, max(first))
    assert one.returncode == other.returncode == 0
    assert (
        re.search(rb"thread (\d+)", one.stdout)[1] == re.search(rb"thread (\d+)", other.stdout)[1]
    )


@pytest.mark.corpus
def test_several_mailboxes_one_conversation_each(corpus, tmp_path, db):
    # The same 10 mails as three archivers exported them: 10 conversations, not 30.
    names = ("listsao_1", "mailarchivesao", "mboxvm")
    paths = [corpus / "ponymail-apache" / f"maven_duplicates_2017_{name}.mbox" for name in names]
    expected, _ = conversations(raw for path in paths for raw in messages_of("mbox", path))
    assert len(expected) == 10
    result = run(["add", "muted", "--mailbox", paths[0], paths[1], "--mailbox", paths[2]], db=db)
    assert result.returncode == 0, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary and summary.groups()[:2] == (b"30", b"3"), result.stdout
    assert stored_threads(db) == expected


def test_an_empty_file_is_an_empty_mbox(tmp_path, db):
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    result = run(["add", "muted", "--mailbox", empty], db=db)
    assert result.returncode == 0, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary and summary.groups()[:3] == (b"0", b"1", b"0"), result.stdout
    assert listing(db) == []


def folder_of_notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("not mail\n")
    return folder


def folder_of_years(tmp_path: Path) -> Path:
    """Numbered subfolders are not MH messages: an MH message is a numbered file."""
    folder = tmp_path / "photos"
    for year in ("2023", "2024"):
        (folder / year).mkdir(parents=True)
    return folder


@pytest.mark.parametrize(
    "make",
    [
        folder_of_notes,
        folder_of_years,
        lambda tmp: tmp / "missing",
        lambda tmp: (tmp / "notes.txt", (tmp / "notes.txt").write_text("hello\nworld\n"))[0],
    ],
    ids=["folder of files", "folder of numbered folders", "missing", "text file"],
)
def test_what_is_not_a_mailbox_is_an_error(tmp_path, db, make):
    path = make(tmp_path)
    result = run(["add", "muted", "--mailbox", path], db=db)
    assert result.returncode == 1
    assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1
    assert str(path).encode() in result.stderr
    assert listing(db) == []


# -- --refs-file -----------------------------------------------------------------------------


def refs_line(*ids: str) -> str:
    """A line as add-thread.sh writes it: each `<id>` followed by a space."""
    return "".join(f"<{msgid}> " for msgid in ids) + "\n"


def test_refs_file_lines_sharing_ids_become_one_thread(tmp_path, db):
    refs = tmp_path / "refs.muted"
    refs.write_text(
        refs_line("a1@x", "a2@x", "a3@x")
        + refs_line("b1@x", "b2@x")
        + "\n"
        + refs_line("c1@x")
        + refs_line("a3@x", "d1@x")  # shares a3 with the first line
        + refs_line("d1@x", "e1@x")  # and this one with the line before: one thread of 5
        + refs_line("f1@x", "f2@x").rstrip("\n")  # no final newline
    )
    result = run(["add", "muted", "--refs-file", refs], message("stdin@x"), db=db)
    assert result.returncode == 0, result.stderr
    summary = REFS_SUMMARY.search(result.stdout)
    assert summary and int(summary.group(1)) in (6, 7) and summary.group(2) == b"4", result.stdout
    assert stored_threads(db) == {
        frozenset({"a1@x", "a2@x", "a3@x", "d1@x", "e1@x"}),
        frozenset({"b1@x", "b2@x"}),
        frozenset({"c1@x"}),
        frozenset({"f1@x", "f2@x"}),
    }
    threads = listing(db)
    assert sorted(thread["ids"] for thread in threads) == [1, 2, 2, 5]
    assert {thread["list"] for thread in threads} == {"muted"}
    out = run(["match"], message("r@x", in_reply_to="e1@x"), db=db).stdout
    assert out.startswith(b"X-Mailthread: muted\n")
    assert explain_id(db, "stdin@x").returncode == 1

    content = database_content(db)
    again = run(["add", "muted", "--refs-file", refs], db=db)
    assert again.returncode == 0 and REFS_SUMMARY.search(again.stdout).group(2) == b"0"
    assert database_content(db) == content


def test_refs_file_merges_with_stored_threads(tmp_path, db):
    assert run(["add", "watched"], message("x2@x", references=["stored@x"]), db=db).returncode == 0
    refs = tmp_path / "refs.muted"
    refs.write_text(refs_line("x1@x", "x2@x") + refs_line("y1@x"))
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    assert stored_threads(db) == {
        frozenset({"x1@x", "x2@x", "stored@x"}),
        frozenset({"y1@x"}),
    }
    assert {thread["list"] for thread in listing(db)} == {"muted"}


def test_refs_file_with_a_bad_line_imports_the_rest(tmp_path, db):
    # Issue 14: the bad line is skipped and named; before, it cost the whole import.
    refs = tmp_path / "refs.muted"
    refs.write_text(refs_line("a@x") + "\n" + "b@x c@x\n" + refs_line("d@x"))
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    assert re.search(rb"\bline 3: no message id\b", result.stdout), result.stdout
    assert sorted(row["ids"] for row in listing(db)) == [1, 1]


def test_an_mbox_given_as_a_refs_file_imports_nothing(tmp_path, db):
    mbox = tmp_path / "box"
    mbox.write_bytes(b"From a@x Mon Jan  1 00:00:00 2024\nMessage-ID: <m@x>\n\nx\n")
    result = run(["add", "muted", "--refs-file", mbox], db=db)
    assert result.returncode == 1 and b"--mailbox" in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert listing(db) == []


@pytest.mark.parametrize(
    "make", [lambda tmp: tmp / "missing", lambda tmp: tmp], ids=["missing", "folder"]
)
def test_unreadable_refs_file_is_an_error(tmp_path, db, make):
    result = run(["add", "muted", "--refs-file", make(tmp_path)], db=db)
    assert result.returncode == 1
    assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1
    assert listing(db) == []


def thread_ids_own(raw: bytes) -> set[str]:
    header = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    return {"".join(i.split()) for i in BRACKETED.findall(str(header.get("Message-ID", "")))}


@pytest.mark.corpus
def test_imported_refs_file_flags_what_the_baseline_flagged(corpus, tmp_path, db):
    """The old scripts' own file, imported, keeps every decision the old filter made."""
    if not BASELINE.exists():
        pytest.skip(f"no baseline at {BASELINE} (only a developer checkout has ../shared)")
    if shutil.which("formail") is None:
        pytest.skip("the baseline needs formail: apt-get install procmail")
    raws = [path.read_bytes() for path in sorted((corpus / "openbmc" / "cur").iterdir())]
    sample = random.Random(5).sample(raws, 60)
    # The ancestors of every other sampled message, in the refs file's format.
    threads = [sorted(thread_ids(raw) - thread_ids_own(raw)) for raw in sample[::2]]
    refs = tmp_path / "refs.muted"
    refs.write_text("".join(refs_line(*ids) for ids in threads if ids))
    assert run(["add", "muted", "--refs-file", refs], db=db).returncode == 0
    flagged = 0
    for raw in sample:
        theirs = subprocess.run(
            ["bash", str(BASELINE), str(refs), "X-Mailthread: muted"],
            input=raw,
            capture_output=True,
            timeout=60,
        ).stdout
        if theirs != raw:
            flagged += 1
            assert marks(db, raw), raw[:300]
    assert flagged >= 20


def test_one_message_that_broke_parsing_does_not_stop_an_import(tmp_path, db):
    # Issue 11: a subject decoding to a lone surrogate (SQLite refuses it) or a 5,000-digit
    # year made `add --mailbox` record nothing at all.
    path = tmp_path / "box.mbox"
    path.write_bytes(
        b"From a@b Mon Jan  1 10:00:00 2024\n"
        + message("one@x", subject="=?utf-7?q?+2AA-?=")
        + b"\nFrom a@b Mon Jan  1 10:00:00 2024\n"
        + message("two@x", extra=b"Date: 1 Jan " + b"9" * 5000 + b" 10:00:00 +0000\n")
        + b"\nFrom a@b Mon Jan  1 10:00:00 2024\n"
        + message("three@x", subject="=?unicode-escape?q?=5Cud800?=")
    )
    result = run(["add", "muted", "--mailbox", path], db=db)
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    assert [int(n) for n in SUMMARY.search(result.stdout).groups()] == [3, 1, 3, 0]
    assert {thread["subject"] for thread in listing(db)} == {
        "=?utf-7?q?+2AA-?=",
        "test",
        "=?unicode-escape?q?=5Cud800?=",
    }


def test_a_message_the_parser_fails_on_is_skipped_and_counted(tmp_path, db, monkeypatch):
    from mailthread import importer

    facts = importer.Header.facts

    def failing(header):
        if b"bad@x" in header.raw:
            raise ValueError("a parser fault")
        return facts(header)

    monkeypatch.setattr(importer.Header, "facts", failing)
    conversations = importer.Conversations()
    for msgid in ("good@x", "bad@x", "other@x"):
        conversations.add_message(message(msgid))
    conversations.add_message(None)
    assert conversations.skipped == {"unparsable": 1, "unreadable": 1}
    assert [ids for ids, _ in conversations.threads()] == [["good@x"], ["other@x"]]


# -- what is not a file: a FIFO blocked the import for ever, /dev/zero filled memory ----------


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_a_fifo_or_a_device_is_no_mailbox_nor_refs_file(db, tmp_path):
    for source in (fifo(tmp_path / "fifo"), Path("/dev/zero")):
        for option in ("--mailbox", "--refs-file"):
            result = run(["add", "muted", option, source], db=db)
            assert result.returncode == 1, (option, source, result.stderr)
            assert b"not a regular file" in result.stderr, result.stderr


@pytest.mark.parametrize("kind", ["maildir", "mh"])
def test_a_fifo_or_a_device_among_the_messages_is_skipped(db, tmp_path, kind):
    folder = tmp_path / kind
    messages = folder / "cur" if kind == "maildir" else folder
    messages.mkdir(parents=True)
    name = "1.x:2," if kind == "maildir" else "1"
    (messages / name).write_bytes(message("real@x", subject="Real"))
    fifo(messages / ("2.x:2," if kind == "maildir" else "2"))
    (messages / ("3.x:2," if kind == "maildir" else "3")).symlink_to("/dev/zero")
    if kind == "mh":
        (folder / "4").mkdir()  # a numbered subfolder is no message
    result = run(["add", "muted", "--mailbox", folder], db=db)
    assert result.returncode == 0, result.stderr
    assert re.search(rb"read 3 messages .*: 1 threads? added", result.stdout), result.stdout
    assert b"2 skipped" in result.stdout, result.stdout
