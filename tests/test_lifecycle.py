"""A thread's life after `add`, through the installed console script: `list`, `explain`,
`remove`, `expire` and `add --for`.

Old activity is made by rewriting a thread's `created` / `last_match` in the database (the
only way to age a thread without waiting); everything else goes through the CLI."""

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import message, run

FIELDS = {"id", "list", "subject", "ids", "created", "last_match", "hits", "expires_after"}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
PLANS = message("c@x", in_reply_to="b@x", references=["a@x", "b@x"], subject="Plans")


def add(db, list_name: str, raw: bytes, *options: str) -> int:
    """Record the thread of ``raw``; its thread number, as `add` reports it."""
    result = run(["add", list_name, *options], raw, db=db)
    assert result.returncode == 0, result.stderr
    return int(re.search(rb"thread (\d+)", result.stdout).group(1))


def listing(db, *lists: str) -> list[dict]:
    result = run(["list", *lists, "--json"], db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def numbers(db, *lists: str) -> list[int]:
    return [thread["id"] for thread in listing(db, *lists)]


def marked(db, raw: bytes) -> list[bytes]:
    """The lists `match` marks ``raw`` with (it learns and counts a hit, as in procmail)."""
    result = run(["match"], raw, db=db)
    assert result.returncode == 0, result.stderr
    head = result.stdout.split(b"\n\n")[0]
    return re.findall(rb"^X-Mailthread: (\S+)$", head, re.M)


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_activity(db, thread: int, created: dict, last_match: dict | None = None) -> None:
    """Pretend ``thread`` was created (and last matched) that long ago."""
    conn = sqlite3.connect(db)
    with conn:
        updated = conn.execute(
            "UPDATE threads SET created = ?, last_match = ? WHERE id = ?",
            (ago(**created), ago(**last_match) if last_match else None, thread),
        ).rowcount
    conn.close()
    assert updated == 1


def names(output: bytes) -> set[int]:
    """The thread numbers an output mentions as "thread N"."""
    return {int(n) for n in re.findall(rb"\bthread (\d+)\b", output)}


def one_line_error(result) -> bool:
    return result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1


# -- list ------------------------------------------------------------------------------------


def test_list_of_an_empty_database(db):
    run(["match"], message("m@x"), db=db)  # creates the database: no thread yet
    assert listing(db) == []
    assert run(["list"], db=db).returncode == 0


@pytest.mark.parametrize("command", [["list"], ["explain"], ["remove"], ["expire"]])
def test_commands_that_only_read_or_remove_create_no_database(tmp_path, command):
    # Issue 14: a mistyped --db (or $MAILTHREAD_DB) made a new empty database, folders and
    # all, and `list` showed nothing, as if there were no threads.
    db = tmp_path / "typo" / "threads.db"
    result = run(["--db", db, *command], message("m@x"))
    assert result.returncode == 1, result.stderr
    assert result.stderr.decode() == (
        f"mailthread: no database at {db} (from --db): nothing was recorded there yet"
        " (a mistyped --db or $MAILTHREAD_DB?)\n"
    )
    assert not (tmp_path / "typo").exists()
    from_env = run([*command], message("m@x"), db=db)
    assert b"(from $MAILTHREAD_DB)" in from_env.stderr


@pytest.mark.follow_forks
def test_list_json_has_exactly_the_documented_fields(db):
    muted = add(db, "muted", PLANS)
    watched = add(db, "watched", message("w@x", subject="Lunch"), "--for", "7d")
    untitled = add(db, "muted", b"From: a@x\nMessage-ID: <u@x>\n\nno subject\n")
    rows = {row["id"]: row for row in listing(db)}
    assert sorted(rows) == sorted([muted, watched, untitled])
    now = datetime.now(UTC)
    for row in rows.values():
        assert set(row) == FIELDS
        assert STAMP.fullmatch(row["created"]), row
        created = datetime.strptime(row["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(now - created) < timedelta(minutes=5), row
        assert all(type(row[key]) is int for key in ("id", "ids", "hits")), row
    assert {k: v for k, v in rows[muted].items() if k != "created"} == {
        "id": muted,
        "list": "muted",
        "subject": "Plans",
        "ids": 3,
        "last_match": None,
        "hits": 0,
        "expires_after": None,
    }
    assert rows[watched]["expires_after"] == "7d" and rows[watched]["list"] == "watched"
    assert rows[untitled]["subject"] is None and rows[untitled]["ids"] == 1

    # A match counts a hit, stamps last_match and teaches the thread the reply's own id.
    assert marked(db, message("d@x", in_reply_to="c@x")) == [b"muted"]
    [after] = [row for row in listing(db) if row["id"] == muted]
    assert after["hits"] == 1 and after["ids"] == 4
    assert STAMP.fullmatch(after["last_match"]), after


def test_list_is_newest_activity_first(db):
    alpha = add(db, "muted", message("alpha@x", subject="Alpha"))
    bravo = add(db, "muted", message("bravo@x", subject="Bravo"))
    charlie = add(db, "watched", message("charlie@x", subject="Charlie"))
    set_activity(db, alpha, created={"days": 30})
    set_activity(db, bravo, created={"days": 60}, last_match={"days": 1})  # old, but matched
    set_activity(db, charlie, created={"days": 5})
    assert numbers(db) == [bravo, charlie, alpha]

    # Not a terminal: the same table, one row per thread, in the same order.
    table = run(["list"], db=db)
    assert table.returncode == 0
    rows = table.stdout.decode().splitlines()
    order = []
    for subject, list_name in (("Bravo", "muted"), ("Charlie", "watched"), ("Alpha", "muted")):
        [row] = [n for n, line in enumerate(rows) if subject in line]
        assert list_name in rows[row]
        order.append(row)
    assert order == sorted(order)


def test_list_only_the_given_lists(db):
    muted = add(db, "muted", message("m@x", subject="Muted one"))
    watched = add(db, "watched", message("w@x", subject="Watched one"))
    other = add(db, "later", message("l@x", subject="Later one"))
    assert numbers(db, "watched") == [watched]
    assert sorted(numbers(db, "muted", "later")) == sorted([muted, other])
    assert listing(db, "nosuch") == []
    table = run(["list", "watched"], db=db).stdout
    assert b"Watched one" in table and b"Muted one" not in table and b"Later one" not in table


# -- explain ---------------------------------------------------------------------------------


def explain(db, raw: bytes = b"", *args: str):
    return run(["explain", *args], raw, db=db)


def decided_by(output: bytes, msgid: str, header: str) -> bool:
    """Whether a line of ``output`` names ``msgid`` together with the header it came from."""
    return any(
        msgid in line and header.lower() in line.lower()
        for line in output.decode(errors="replace").splitlines()
    )


@pytest.mark.parametrize(
    "raw, msgid, header",
    [
        (message("c@x", subject="the message itself"), "c@x", "Message-ID"),
        (message("new@x", in_reply_to="b@x", references=["elsewhere@x"]), "b@x", "In-Reply-To"),
        (message("new@x", references=["a@x", "elsewhere@x"]), "a@x", "References"),
    ],
)
@pytest.mark.follow_forks
def test_explain_names_thread_list_id_and_header(db, raw, msgid, header):
    thread = add(db, "muted", PLANS)
    result = explain(db, raw)
    assert result.returncode == 0, result.stderr
    assert names(result.stdout) == {thread} and b"muted" in result.stdout
    assert decided_by(result.stdout, msgid, header), result.stdout


@pytest.mark.follow_forks
def test_explain_nearest_stored_id_wins(db):
    root = add(db, "muted", message("root@x", subject="Root"))
    branch = add(db, "watched", message("branch@x", subject="Branch"))
    cases = [
        (message("r@x", in_reply_to="branch@x", references=["root@x"]), branch, "branch@x"),
        # References go root first: the last one is the nearest.
        (message(None, references=["root@x", "branch@x"]), branch, "branch@x"),
        (message(None, references=["branch@x", "root@x"]), root, "root@x"),
        # The message's own id beats its parent's.
        (message("root@x", in_reply_to="branch@x"), root, "root@x"),
    ]
    for raw, thread, msgid in cases:
        result = explain(db, raw)
        assert result.returncode == 0, (raw, result.stderr)
        assert names(result.stdout) == {thread}, (raw, result.stdout)
        list_name = b"watched" if thread == branch else b"muted"
        assert list_name in result.stdout and msgid.encode() in result.stdout


@pytest.mark.follow_forks
def test_explain_a_message_of_no_thread_exits_1(db):
    add(db, "muted", PLANS)
    result = explain(db, message("zz@x", in_reply_to="yy@x", references=["xx@x"]))
    assert result.returncode == 1 and names(result.stdout) == set()
    # Only the given lists count.
    reply = message("d@x", in_reply_to="c@x")
    assert explain(db, reply, "watched").returncode == 1
    assert explain(db, reply, "watched", "muted").returncode == 0


def test_explain_a_message_id_with_or_without_brackets(db):
    thread = add(db, "muted", PLANS)
    other_thread = message("o@x")
    add(db, "watched", other_thread)
    for given in ("b@x", "<b@x>"):
        # stdin is not read when an id is given.
        result = explain(db, other_thread, "--message-id", given)
        assert result.returncode == 0, result.stderr
        assert names(result.stdout) == {thread} and b"muted" in result.stdout
        assert b"b@x" in result.stdout
    assert explain(db, other_thread, "--message-id", "nope@x").returncode == 1


@pytest.mark.follow_forks
def test_explain_changes_nothing(db):
    thread = add(db, "muted", PLANS)
    before = listing(db)
    reply = message("d@x", in_reply_to="c@x")
    assert explain(db, reply).returncode == 0
    assert listing(db) == before  # no hit counted, no last_match, reply's id not learned
    assert explain(db, b"", "--message-id", "d@x").returncode == 1
    # What explain leaves alone, match does:
    assert marked(db, reply) == [b"muted"]
    [after] = listing(db)
    assert (after["id"], after["hits"], after["ids"]) == (thread, 1, 4)


@pytest.mark.parametrize(
    "stdin",
    [b"Date: Mon, 1 Jan 2024\nFrom: a@x\nSubject: weeded\n\nbody\n", b""],
    ids=["no ids", "empty"],
)
def test_explain_without_ids_is_a_usage_error(db, stdin):
    add(db, "muted", PLANS)
    result = explain(db, stdin)
    assert result.returncode == 2 and one_line_error(result)


# -- remove ----------------------------------------------------------------------------------


@pytest.mark.follow_forks
def test_remove_the_thread_of_a_message_on_stdin(db):
    gone = add(db, "muted", PLANS)
    kept = add(db, "watched", message("k@x", subject="Kept"))
    assert marked(db, message("e@x", references=["a@x"])) == [b"muted"]  # learns e@x
    result = run(["remove"], message("z@x", in_reply_to="c@x", references=["a@x", "b@x"]), db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == 1
    assert names(result.stdout) == {gone} and b"muted" in result.stdout
    assert re.search(rb"\b4\b", result.stdout), result.stdout  # a, b, c and the learned e
    assert numbers(db) == [kept]
    assert marked(db, message("f@x", references=["a@x", "b@x", "c@x"])) == []
    assert marked(db, message("g@x", in_reply_to="k@x")) == [b"watched"]


def test_remove_the_nearest_thread_of_any_list(db):
    root = add(db, "muted", message("root@x"))
    branch = add(db, "watched", message("branch@x"))
    result = run(["remove"], message("r@x", in_reply_to="branch@x", references=["root@x"]), db=db)
    assert result.returncode == 0 and names(result.stdout) == {branch}
    assert b"watched" in result.stdout
    assert numbers(db) == [root]


def test_remove_of_a_message_with_nothing_to_look_up_is_no_such_thread(db):
    # Exit 1 as for a message of no thread, not 2 (bad usage): contrib/mailthread-folder
    # takes 1 as done, and would retry a 2 at every poll.
    kept = add(db, "muted", PLANS)
    result = run(["remove"], b"From: a@example.com\n\nno ids, no subject\n", db=db)
    assert result.returncode == 1, result
    assert result.stdout == b""
    assert (
        result.stderr.startswith(b"mailthread: no Message-ID") and result.stderr.count(b"\n") == 1
    )
    assert numbers(db) == [kept]


@pytest.mark.parametrize("given", ["a@x", "<a@x>"])
def test_remove_by_message_id(db, given):
    gone = add(db, "muted", PLANS)
    kept = add(db, "muted", message("k@x"))
    result = run(["remove", "--message-id", given], message("k@x"), db=db)  # stdin unread
    assert result.returncode == 0 and names(result.stdout) == {gone}
    assert numbers(db) == [kept]


def test_remove_by_thread_number(db):
    kept = add(db, "muted", message("k@x"))
    gone = add(db, "watched", PLANS)
    result = run(["remove", "--thread", gone], db=db)
    assert result.returncode == 0 and result.stdout.count(b"\n") == 1
    assert names(result.stdout) == {gone} and b"watched" in result.stdout
    assert re.search(rb"\b3\b", result.stdout), result.stdout
    assert numbers(db) == [kept]
    assert marked(db, message("d@x", in_reply_to="b@x")) == []


def test_a_thread_number_from_an_older_list_never_names_another_thread(db):
    """`remove --thread N` copied from a `list` run before N was removed (or expired) and
    another thread added: N is not given again, so the second remove removes nothing."""
    kept = add(db, "muted", message("k@x"))
    newest = add(db, "watched", message("n@x"))
    assert run(["remove", "--thread", newest], db=db).returncode == 0
    later = add(db, "watched", message("l@x"))
    assert later != newest
    again = run(["remove", "--thread", newest], db=db)
    assert again.returncode == 1 and f"no thread {newest}".encode() in again.stderr
    assert sorted(numbers(db)) == sorted([kept, later])


@pytest.mark.parametrize(
    "args, stdin, status",
    [
        ([], message("zz@x", in_reply_to="yy@x"), 1),
        (["--message-id", "nope@x"], b"", 1),
        (["--thread", "99"], b"", 1),
        (["--message-id", "a@x", "--thread", "1"], b"", 2),
        (["--thread", "one"], b"", 2),
    ],
    ids=["unknown message", "unknown id", "no such thread", "both options", "bad number"],
)
def test_remove_nothing_or_bad_usage(db, args, stdin, status):
    add(db, "muted", PLANS)
    before = listing(db)
    result = run(["remove", *args], stdin, db=db)
    assert result.returncode == status and one_line_error(result)
    assert listing(db) == before


# -- expire ----------------------------------------------------------------------------------


def test_expire_idle_threads_and_dry_run(db):
    stale = add(db, "muted", message("stale@x", subject="Stale"))
    revived = add(db, "muted", message("revived@x", subject="Revived"))
    fresh = add(db, "watched", message("fresh@x", subject="Fresh"))
    set_activity(db, stale, created={"days": 40})
    set_activity(db, revived, created={"days": 40}, last_match={"days": 10})
    set_activity(db, fresh, created={"days": 1})
    before = listing(db)

    dry = run(["expire", "--idle", "30d", "--dry-run"], db=db)
    assert dry.returncode == 0, dry.stderr
    assert b"would remove" in dry.stdout and names(dry.stdout) == {stale}
    assert listing(db) == before

    result = run(["expire", "--idle", "30d"], db=db)
    assert result.returncode == 0, result.stderr
    assert names(result.stdout) == {stale} and b"would" not in result.stdout
    assert result.stdout.count(b"\n") == dry.stdout.count(b"\n") == 2  # the thread, a summary
    assert sorted(numbers(db)) == sorted([revived, fresh])
    assert marked(db, message("r@x", in_reply_to="stale@x")) == []


def test_expire_by_default_after_90_days(db):
    old = add(db, "muted", message("old@x"))
    younger = add(db, "muted", message("younger@x"))
    set_activity(db, old, created={"days": 91})
    set_activity(db, younger, created={"days": 89})
    result = run(["expire"], db=db)
    assert result.returncode == 0 and names(result.stdout) == {old}
    assert numbers(db) == [younger]


@pytest.mark.parametrize(
    "idle, older, newer",
    [("12h", {"hours": 13}, {"hours": 11}), ("7d", {"days": 8}, {"days": 6}),
     ("2w", {"days": 15}, {"days": 13})],
)  # fmt: skip
def test_expire_units(db, idle, older, newer):
    old = add(db, "muted", message("old@x"))
    young = add(db, "muted", message("young@x"))
    set_activity(db, old, created=older)
    set_activity(db, young, created=newer)
    result = run(["expire", "--idle", idle], db=db)
    assert result.returncode == 0 and names(result.stdout) == {old}
    assert numbers(db) == [young]


def test_bad_durations_are_usage_errors(db):
    add(db, "muted", message("old@x"))
    before = listing(db)
    for bad in ("", "7", "7x", "d", "-7d", "1.5d", "7 d", "7dd", "w2", "7d12h"):
        result = run(["expire", f"--idle={bad}"], db=db)
        assert result.returncode == 2 and one_line_error(result), (bad, result)
    for bad in ("7", "1.5d", "forever"):
        result = run(["add", "muted", "--for", bad], message("new@x"), db=db)
        assert result.returncode == 2 and one_line_error(result), (bad, result)
    assert listing(db) == before


# -- add --for -------------------------------------------------------------------------------


def test_add_for_lapses_after_its_own_lifetime_without_a_match(db):
    lapsed = add(db, "muted", message("lapsed@x"), "--for", "7d")
    young = add(db, "muted", message("young@x"), "--for", "7d")
    matched = add(db, "muted", message("matched@x"), "--for", "7d")
    plain = add(db, "muted", message("plain@x"))
    set_activity(db, lapsed, created={"days": 8})
    set_activity(db, young, created={"days": 6})
    set_activity(db, matched, created={"days": 20}, last_match={"days": 6})
    set_activity(db, plain, created={"days": 8})
    assert {t["id"]: t["expires_after"] for t in listing(db)} == {
        lapsed: "7d",
        young: "7d",
        matched: "7d",
        plain: None,
    }
    # Without any expire run, match already ignores the lapsed thread.
    assert marked(db, message(None, in_reply_to="lapsed@x")) == []
    assert marked(db, message(None, in_reply_to="young@x")) == [b"muted"]
    assert marked(db, message(None, in_reply_to="matched@x")) == [b"muted"]
    assert marked(db, message(None, in_reply_to="plain@x")) == [b"muted"]
    # expire removes it although --idle alone would keep it.
    result = run(["expire", "--idle", "30d"], db=db)
    assert result.returncode == 0 and names(result.stdout) == {lapsed}
    assert sorted(numbers(db)) == sorted([young, matched, plain])


# -- all of it -------------------------------------------------------------------------------


@pytest.mark.follow_forks
def test_round_trip_through_the_console_script(tmp_path):
    db = tmp_path / "roundtrip.db"
    added = run(["--db", db, "add", "muted"], PLANS)
    assert added.returncode == 0, added.stderr
    [thread] = json.loads(run(["--db", db, "list", "--json"]).stdout)
    assert (thread["list"], thread["subject"], thread["ids"]) == ("muted", "Plans", 3)
    reply = message("d@x", in_reply_to="c@x", references=["a@x", "b@x", "c@x"])
    explained = run(["--db", db, "explain"], reply)
    assert explained.returncode == 0 and names(explained.stdout) == {thread["id"]}
    removed = run(["--db", db, "remove"], reply)
    assert removed.returncode == 0 and names(removed.stdout) == {thread["id"]}
    assert json.loads(run(["--db", db, "list", "--json"]).stdout) == []
    assert run(["--db", db, "explain"], reply).returncode == 1


def test_unusable_database_exits_75(db):
    db.parent.mkdir()
    db.write_bytes(b"garbage" * 1000)
    for args, stdin in (
        (["list"], b""),
        (["list", "--json"], b""),
        (["explain"], PLANS),
        (["remove"], PLANS),
        (["remove", "--thread", "1"], b""),
        (["expire"], b""),
    ):
        result = run(args, stdin, db=db)
        assert result.returncode == 75 and one_line_error(result), (args, result)


# -- numbers out of range --------------------------------------------------------------------


def test_numbers_too_big_for_the_database_are_usage_errors(db):
    add(db, "muted", PLANS)
    before = listing(db)
    for args, stdin in (
        (["remove", "--thread", "99999999999999999999"], b""),
        (["add", "muted", "--for", "99999999999999999999w"], message("new@x")),
    ):
        result = run(args, stdin, db=db)
        assert result.returncode == 2 and one_line_error(result), (args, result)
    assert listing(db) == before


def test_a_lifetime_of_centuries_is_refused_or_kept(db):
    # Taken as "practically forever" or refused, but never a thread that cannot match.
    result = run(["add", "muted", "--for", "600000w"], message("forever@x"), db=db)
    if result.returncode != 2:
        assert result.returncode == 0, result.stderr
        assert marked(db, message(None, in_reply_to="forever@x")) == [b"muted"]


def test_message_id_option_takes_the_bytes_of_the_header(db):
    """--message-id with bytes that are no UTF-8 (a shell hands them over as lone
    surrogates: a traceback, "surrogates not allowed") and with 8-bit UTF-8: read as the
    header parser reads ids, so what a header stored is found as typed."""
    stored = b"From: a@x\nSubject: s\nMessage-ID: <caf\xc3\xa9-\xff@x>\n\nb\n"
    assert add(db, "muted", stored) == 1
    for command in ("explain", "remove"):
        missing = run(
            [command, "--message-id", b"<\xff>".decode("utf-8", "surrogateescape")], db=db
        )
        assert missing.returncode == 1 and b"Traceback" not in missing.stderr, missing.stderr
    typed = b"<caf\xc3\xa9-\xff@x>".decode("utf-8", "surrogateescape")
    found = run(["explain", "--message-id", typed], db=db)
    assert found.returncode == 0, found.stderr
    assert run(["remove", "--message-id", typed], db=db).returncode == 0
    assert listing(db) == []


@pytest.mark.parametrize("how", ["message", "refs file"])
def test_add_for_records_the_thread_and_its_lifetime_text_in_one_transaction(
    db, tmp_path, monkeypatch, how
):
    """`add --for 1w` records the thread and the text "1w" in one write transaction: when
    the second part fails, nothing is recorded and the exit status is 75 (the thread was
    once recorded, with 75 all the same)."""
    from click.testing import CliRunner

    from mailthread import cli
    from mailthread.database import StoreError
    from mailthread.threads import Threads

    def fail(*args):
        raise StoreError("database: disk I/O error")  # as name_lifetime's own would be

    monkeypatch.setattr(Threads, "name_lifetime", fail)
    refs = tmp_path / "refs"
    refs.write_text("<a@x> <b@x>\n")
    source = ["--refs-file", str(refs)] if how == "refs file" else []
    result = CliRunner().invoke(
        cli.cli, ["--db", str(db), "add", "muted", "--for", "1w", *source], input=message("n@x")
    )
    assert result.exit_code == 75 and "disk I/O error" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM threads").fetchone() == (0,)
    conn.close()
