"""The thread store on real SQLite files."""

import sqlite3
import stat

import pytest

from mailthread.database import StoreError, default_path
from mailthread.message import Facts
from mailthread.schema import SCHEMA_VERSION
from mailthread.store import Store


@pytest.fixture
def store(db):
    s = Store.open(str(db))
    yield s
    s.close()


def thread_of(store, msgid):
    row = store.conn.execute(
        "SELECT threads.id, list FROM ids JOIN threads ON threads.id = thread WHERE msgid = ?",
        (msgid,),
    ).fetchone()
    return row


def test_created_private_with_its_folder_in_wal_mode(db):
    Store.open(str(db)).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_default_path():
    assert default_path({"MAILTHREAD_DB": "/a/b.db", "XDG_DATA_HOME": "/x"}) == "/a/b.db"
    assert default_path({"XDG_DATA_HOME": "/x"}) == "/x/mailthread/threads.db"
    assert default_path({"XDG_DATA_HOME": "relative", "HOME": "/home/u"}) == (
        "/home/u/.local/share/mailthread/threads.db"
    )
    assert default_path({"HOME": "/home/u"}) == "/home/u/.local/share/mailthread/threads.db"


def test_newer_schema_is_refused(db):
    Store.open(str(db)).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    with pytest.raises(StoreError, match="newer than this mailthread"):
        Store.open(str(db))


def test_other_sqlite_database_is_refused(db):
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    with pytest.raises(StoreError, match="not mailthread's"):
        Store.open(str(db))


def test_corrupt_file_is_a_store_error(db):
    db.parent.mkdir()
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store.open(str(db))


def test_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot create database"):
        Store.open(str(tmp_path / "file" / "threads.db"))


def test_find_takes_the_nearest_stored_id(store):
    store.add_thread(["root@x"], "muted", "s")
    store.add_subthread("mid@x", "watched", "s")
    hit = store.find(["me@x", "mid@x", "root@x"])
    assert (hit.msgid, hit.list) == ("mid@x", "watched")
    assert store.find(["nothing@x"]) is None


def test_find_only_on_given_lists(store):
    store.add_thread(["root@x"], "muted", "s")
    store.add_subthread("mid@x", "watched", "s")
    assert store.find(["me@x", "mid@x", "root@x"], ("muted",)).msgid == "root@x"
    assert store.find(["me@x", "mid@x"], ("muted",)) is None


def test_find_beyond_the_parameter_limit(store):
    store.add_thread(["root@x"], "muted", "s")
    many = [f"id{i}@x" for i in range(40_000)] + ["root@x"]
    assert store.find(many).msgid == "root@x"


def test_learn_adds_own_id_and_counts(store):
    added = store.add_thread(["root@x"], "muted", "s")
    store.learn(store.find(["root@x"]), "reply@x")
    assert thread_of(store, "reply@x") == (added.thread, "muted")
    hits, last = store.conn.execute(
        "SELECT hits, last_match FROM threads WHERE id = ?", (added.thread,)
    ).fetchone()
    assert hits == 1 and last.endswith("Z")


def test_learn_follows_a_merge_made_meanwhile(store):
    first = store.add_thread(["a@x"], "muted", "s")
    second = store.add_thread(["b@x"], "muted", "s")
    hit = store.find(["b@x"])
    assert hit.thread == second.thread
    store.add_thread(["a@x", "b@x"], "watched", "s")  # thread `second` is merged away
    store.learn(hit, "reply@x")
    assert thread_of(store, "reply@x") == (first.thread, "watched")
    assert store.conn.execute("SELECT id, hits FROM threads").fetchall() == [(first.thread, 1)]


def test_add_merges_threads_that_share_ids(store):
    one = store.add_thread(["a@x", "b@x"], "muted", "first")
    two = store.add_thread(["c@x"], "muted", "second")
    store.learn(store.find(["c@x"]), None)
    merged = store.add_thread(["b@x", "c@x", "d@x"], "watched", "third")
    assert merged.thread == one.thread and merged.merged == 1 and merged.new_ids == 1
    assert {thread_of(store, i) for i in ["a@x", "b@x", "c@x", "d@x"]} == {(one.thread, "watched")}
    rows = store.conn.execute("SELECT id, subject, hits FROM threads").fetchall()
    assert rows == [(one.thread, "first", 1)]
    assert two.thread != one.thread


def test_add_again_changes_the_list(store):
    store.add_thread(["a@x"], "muted", "s")
    again = store.add_thread(["a@x"], "watched", "s")
    assert not again.created and again.new_ids == 0
    assert thread_of(store, "a@x")[1] == "watched"


def test_subthread_splits_one_id_off(store):
    whole = store.add_thread(["root@x", "mid@x", "leaf@x"], "muted", "s")
    sub = store.add_subthread("mid@x", "watched", "s")
    assert sub.created and sub.thread != whole.thread
    assert thread_of(store, "mid@x") == (sub.thread, "watched")
    assert thread_of(store, "root@x") == (whole.thread, "muted")
    # A reply to mid follows the subthread; a sibling's reply keeps the thread's list.
    assert store.find(["r@x", "mid@x", "root@x"]).list == "watched"
    assert store.find(["s@x", "leaf@x", "root@x"]).list == "muted"


def test_subthread_of_a_lone_id_just_changes_its_list(store):
    whole = store.add_thread(["root@x"], "muted", "s")
    sub = store.add_subthread("root@x", "watched", "s")
    assert sub.thread == whole.thread and thread_of(store, "root@x")[1] == "watched"


def test_add_tens_of_thousands_of_ids(store):
    ids = [f"id{i}@x" for i in range(30_000)]
    store.add_thread(ids[:10], "muted", "s")
    store.add_thread(ids[-10:], "watched", "s")
    added = store.add_thread(ids, "muted", "s")
    assert added.merged == 1 and added.new_ids == 30_000 - 20
    assert store.conn.execute("SELECT count(DISTINCT thread) FROM ids").fetchone()[0] == 1


# -- schema migrations ------------------------------------------------------------------------


def database_at(db, version: int) -> sqlite3.Connection:
    """A database as a mailthread of schema ``version`` made it, open for the test's rows
    (the test commits and closes it)."""
    from mailthread.schema import MIGRATIONS

    db.parent.mkdir()
    conn = sqlite3.connect(db)
    for step in MIGRATIONS[:version]:
        for statement in step:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn


def test_version_1_database_is_migrated_keeping_its_threads(db):
    conn = database_at(db, 1)
    conn.execute("INSERT INTO threads VALUES (7, 'muted', 's', '2026-01-01T00:00:00Z', NULL, 3)")
    conn.execute("INSERT INTO ids VALUES ('a@x', 7)")
    conn.commit()
    conn.close()
    store = Store.open(str(db))
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert store.thread(7) == (7, "muted", "s", 1, "2026-01-01T00:00:00Z", None, 3, None, None)
    assert store.find(["a@x"]).thread == 7
    # v3: the message index starts empty, and the old thread is a whole one.
    assert store.conn.execute("SELECT count(*) FROM seen").fetchone() == (0,)
    assert store.conn.execute("SELECT subthread FROM threads").fetchall() == [(0,)]


def test_version_5_database_keeps_its_ids_and_learns_how_new_ones_join(db):
    """Schema 6 keeps how and when each id joined its thread, for `explain`; the ids of a
    version 5 database keep their threads, their origin unknown."""
    conn = database_at(db, 5)
    conn.execute(
        "INSERT INTO threads (id, list, subject, created, hits) VALUES"
        " (3, 'muted', 'Plans', '2026-01-01T00:00:00Z', 0)"
    )
    conn.execute("INSERT INTO ids VALUES ('p@x', 3)")
    conn.commit()
    conn.close()
    store = Store.open(str(db))
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert store.joined("p@x") is None and store.find(["p@x"]).thread == 3
    reply = Facts("r@x", ["p@x"], ["r@x", "p@x"], None, None, True, None, None, False)
    store.record(reply, store.find(reply.ids), by="In-Reply-To")
    how, when = store.joined("r@x")
    assert how == "match In-Reply-To p@x" and when.endswith("Z") and len(when) == 20
    assert store.find(["r@x"]).thread == 3
    store.add_thread(["q@x"], "muted", "s")
    assert store.joined("q@x")[0] == "add"
    store.add_threads([(["i@x"], "s")], "muted", how="import old.mbox")
    assert store.joined("i@x")[0] == "import old.mbox"
    store.close()


# -- lifetimes, list, remove, expire ----------------------------------------------------------


def age(store, thread, days):
    store.conn.execute(
        "UPDATE threads SET created = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) WHERE id = ?",
        (f"-{days} days", thread),
    )


def test_thread_past_its_own_lifetime_no_longer_matches(store):
    week = store.add_thread(["a@x"], "muted", "s", lifetime=7 * 86400)
    store.add_thread(["b@x"], "muted", "s")
    age(store, week.thread, 6)
    assert store.find(["a@x"]) is not None
    age(store, week.thread, 8)
    assert store.find(["a@x"]) is None
    age(store, store.find(["b@x"]).thread, 800)
    assert store.find(["b@x"]) is not None  # no lifetime of its own: only expire removes it


def test_a_later_add_without_lifetime_makes_it_permanent(store):
    week = store.add_thread(["a@x"], "muted", "s", lifetime=7 * 86400)
    store.add_thread(["a@x", "b@x"], "muted", "s")
    assert store.thread(week.thread).expires_after is None


def test_expire_removes_idle_and_lapsed_threads(store):
    old = store.add_thread(["old@x"], "muted", "old")
    lapsed = store.add_thread(["lapsed@x"], "muted", "lapsed", lifetime=86400)
    fresh = store.add_thread(["fresh@x"], "muted", "fresh")
    recent_match = store.add_thread(["hit@x"], "muted", "hit")
    age(store, old.thread, 100)
    age(store, lapsed.thread, 2)
    age(store, recent_match.thread, 100)
    store.learn(store.find(["hit@x"]), None)  # matched today: active
    assert [t.id for t in store.expire(90 * 86400, dry_run=True)] == [old.thread, lapsed.thread]
    assert store.thread(old.thread) is not None
    assert [t.subject for t in store.expire(90 * 86400)] == ["old", "lapsed"]
    assert [t.id for t in store.threads()] == [recent_match.thread, fresh.thread]
    assert store.find(["old@x"]) is None
    assert store.conn.execute("SELECT count(*) FROM ids").fetchone() == (2,)


def test_threads_newest_activity_first_and_by_list(store):
    a = store.add_thread(["a@x", "a2@x"], "muted", "a")
    b = store.add_thread(["b@x"], "watched", "b")
    age(store, a.thread, 3)
    age(store, b.thread, 2)
    store.learn(store.find(["a@x"]), "a3@x")
    assert [(t.id, t.ids, t.hits) for t in store.threads()] == [(a.thread, 3, 1), (b.thread, 1, 0)]
    assert [t.id for t in store.threads(("watched",))] == [b.thread]


def test_remove_deletes_the_thread_and_its_ids(store):
    a = store.add_thread(["a@x", "b@x"], "muted", "a")
    assert store.remove(a.thread).ids == 2
    assert store.remove(a.thread) is None
    assert store.find(["a@x", "b@x"]) is None
    assert store.conn.execute("SELECT count(*) FROM ids").fetchone() == (0,)


# -- bulk import --------------------------------------------------------------------------------


def test_add_threads_mixes_new_stored_and_merging_threads(store):
    stored = store.add_thread(["s1@x", "s2@x"], "muted", "stored")
    other = store.add_thread(["o1@x"], "muted", "other")
    results = store.add_threads(
        [
            (["n1@x", "n2@x"], "new"),  # touches nothing stored
            (["s1@x", "s2@x"], "again"),  # exactly a stored thread
            (["o1@x", "o2@x"], "more"),  # extends a stored thread
        ],
        "watched",
    )
    assert [(r.created, r.changed, r.new_ids) for r in results] == [
        (True, True, 2),
        (False, True, 0),
        (False, True, 1),
    ]
    assert results[1].thread == stored.thread and results[2].thread == other.thread
    assert {t.list for t in store.threads()} == {"watched"}
    assert store.thread(stored.thread).subject == "stored"
    again = store.add_threads([(["s1@x", "s2@x"], "again")], "watched")
    assert again[0].changed is False


# -- thread numbers, index dates ----------------------------------------------------------------


def test_thread_numbers_are_never_reused(store):
    a = store.add_thread(["a@x"], "muted", "a")
    b = store.add_thread(["b@x"], "muted", "b")
    store.remove(b.thread)
    c = store.add_thread(["c@x"], "muted", "c")
    assert c.thread > b.thread > a.thread
    # The bulk path of an import takes its numbers from the same counter.
    store.remove(c.thread)
    (d,) = store.add_threads([(["d@x"], "d")], "muted")
    assert d.created and d.thread > c.thread
    # A merge deletes the higher number: it is not given again either.
    merged = store.add_thread(["a@x", "d@x"], "muted", "ad")
    assert merged.thread == a.thread
    assert store.add_thread(["e@x"], "muted", "e").thread > d.thread


def test_version_3_database_is_migrated_keeping_every_row(db):
    import time

    conn = database_at(db, 3)
    threads = [
        (2, "muted", "two", "2026-01-01T00:00:00Z", None, 0, None, 0),
        (5, "watched", None, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", 4, 86400, 1),
    ]
    conn.executemany("INSERT INTO threads VALUES (?, ?, ?, ?, ?, ?, ?, ?)", threads)
    conn.executemany("INSERT INTO ids VALUES (?, ?)", [("a@x", 2), ("b@x", 2), ("c@x", 5)])
    seen = [("a@x", 1, 1700000000, 11, 1), ("b@x", 1, 253402300799, 12, None)]  # year 9999
    conn.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", seen)
    conn.commit()
    conn.close()
    store = Store.open(str(db))
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    # Version 5 adds the topics column, NULL (read off the subject) for the rows it finds,
    # and version 6 the lifetime as given, NULL (shown in days or hours).
    assert store.conn.execute("SELECT * FROM threads ORDER BY id").fetchall() == [
        (*thread, None, None) for thread in threads
    ]
    # Version 6 adds how and when each id joined: unknown (NULL) for the rows it finds.
    assert store.conn.execute("SELECT * FROM ids ORDER BY msgid").fetchall() == [
        ("a@x", 2, None, None),
        ("b@x", 2, None, None),
        ("c@x", 5, None, None),
    ]
    rows = store.conn.execute(
        "SELECT msgid, conv, date, subject, to_me FROM seen ORDER BY msgid"
    ).fetchall()
    # ... and the table of digests, empty.
    assert store.conn.execute("SELECT count(*) FROM digests").fetchone() == (0,)
    assert rows[0] == seen[0]
    # The poisoned date now counts as the migration's time.
    assert rows[1][:2] == seen[1][:2] and rows[1][3:] == seen[1][3:]
    assert abs(rows[1][2] - time.time()) < 600
    store.remove(5)
    assert store.add_thread(["d@x"], "muted", "d").thread == 6
    assert store.find(["a@x"]).thread == 2
    store.close()


def index_dates(store):
    return dict(store.conn.execute("SELECT msgid, date FROM seen"))


@pytest.mark.parametrize(
    "date, kept",
    [
        ("Fri, 31 Dec 9999 23:59:59 +0000", False),  # would pin its conversation for good
        ("Thu, 01 Jan 1970 00:00:00 +0000", False),  # a broken client's zero
        ("Mon, 01 Jan 1900 00:00:00 +0000", False),
        ("Sun, 31 Dec 1989 23:59:59 +0000", False),
        ("Mon, 01 Jan 1990 00:00:00 +0000", True),  # old mailboxes keep their dates
        ("Tue, 03 May 2005 10:00:00 +0000", True),
    ],
)
def test_index_dates_outside_the_window_count_as_now(store, date, kept):
    import time

    from mailthread.dates import parse_date
    from mailthread.message import Header

    raw = f"Subject: Re: x\nDate: {date}\nMessage-ID: <m@x>\nIn-Reply-To: <p@x>\n\n".encode()
    before = int(time.time())
    store.record(Header(raw).facts())
    after = int(time.time())
    dates = index_dates(store)
    assert dates["m@x"] == dates["p@x"]
    if kept:
        assert dates["m@x"] == parse_date(date.encode())
    else:
        assert before <= dates["m@x"] <= after


def test_an_index_date_up_to_a_day_ahead_is_kept(store):
    import time
    from email.utils import formatdate

    from mailthread.message import Header

    ahead = int(time.time()) + 20 * 3600  # a wrong time zone, a fast clock
    too_far = int(time.time()) + 2 * 86400
    for msgid, when in (("ahead@x", ahead), ("far@x", too_far)):
        raw = f"Subject: s\nDate: {formatdate(when)}\nMessage-ID: <{msgid}>\n\n".encode()
        store.record(Header(raw).facts())
    dates = index_dates(store)
    assert dates["ahead@x"] == ahead
    assert dates["far@x"] < ahead


def test_sqlite_utils_writes_join_the_stores_transaction(store):
    """The management side writes with sqlite-utils (``update`` for ``name_lifetime``,
    ``delete_where`` for ``remove`` and ``expire``) inside the store's write transaction,
    and a failure before its commit undoes them: sqlite-utils 4 writes in a savepoint there,
    while 3.x's ``update`` and ``insert_all`` committed the caller's transaction (hence
    sqlite-utils>=4.0 in pyproject.toml)."""
    added = store.add_thread(["a@x", "b@x"], "muted", "s")
    tables = store.tables()
    with pytest.raises(RuntimeError), store._transaction():
        tables["threads"].update(added.thread, {"list": "watched", "expires_given": "1w"})
        tables["ids"].delete_where("thread = ?", [added.thread])
        raise RuntimeError("a failure before the commit")
    assert not store.conn.in_transaction
    thread = store.thread(added.thread)
    assert (thread.list, thread.ids, thread.expires_given) == ("muted", 2, None)


def test_sqlite_utils_3_is_refused_before_it_writes(store, monkeypatch):
    """A virtualenv left with sqlite-utils 3.x (installed after mailthread: pip only warns)
    would commit the store's transaction at its first write: the management commands refuse
    it with one StoreError (exit 75) instead. 3.x has no ``Database.atomic``."""
    import sqlite_utils

    monkeypatch.delattr(sqlite_utils.Database, "atomic")
    with pytest.raises(StoreError, match=r"sqlite-utils 4\.0 or newer"):
        store.tables()
