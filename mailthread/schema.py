"""The store's tables and their migrations (PRAGMA user_version counts the steps taken).

docs/schema.md tells what each table and column means and which are stable; the SQL
fragments at the end are the time rules that `match`, `list` and `expire` share.
"""

# Now, as the store keeps times: UTC, YYYY-MM-DDTHH:MM:SSZ.
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

# MIGRATIONS[n] takes a database from schema version n to n + 1 (PRAGMA user_version).
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE threads (
            id INTEGER PRIMARY KEY,
            list TEXT NOT NULL,
            subject TEXT,
            created TEXT NOT NULL,
            last_match TEXT,
            hits INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE ids (
            msgid TEXT PRIMARY KEY,
            thread INTEGER NOT NULL REFERENCES threads(id)
        ) WITHOUT ROWID""",
        "CREATE INDEX ids_thread ON ids(thread)",
    ],
    # 2: `add --for`: a thread's own idle lifetime, in seconds (NULL: until `expire`).
    ["ALTER TABLE threads ADD COLUMN expires_after INTEGER"],
    # 3: the message index. Every id a message names (and Outlook's conversation key, as
    # "thread-index:HEX") is a row; the ids of messages linked by their headers share a
    # conversation number. date: the Date of the latest message that named the id (seconds
    # since the epoch); subject (a hash of the normalised subject, never its text) and
    # to_me are known for the messages that were seen, not for ids only named as parents.
    # A `--subthread` thread is followed by its own ids only, never through the index (its
    # message is indexed like any other: its siblings share that conversation).
    [
        """CREATE TABLE seen (
            msgid TEXT PRIMARY KEY,
            conv INTEGER NOT NULL,
            date INTEGER NOT NULL,
            subject INTEGER,
            to_me INTEGER
        ) WITHOUT ROWID""",
        "CREATE INDEX seen_conv ON seen(conv)",
        "CREATE INDEX seen_subject ON seen(subject, date) WHERE subject IS NOT NULL",
        "CREATE INDEX seen_date ON seen(date)",
        "ALTER TABLE threads ADD COLUMN subthread INTEGER NOT NULL DEFAULT 0",
    ],
    # 4: thread numbers are never reused (counters keeps the highest ever given), so
    # `remove --thread N` read off an old `list` cannot hit another thread; and index dates
    # outside the sane window (see index_date) count as now. (A counter, not a rebuild of
    # threads with AUTOINCREMENT: the migration stays instant on millions of threads.)
    [
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        "INSERT INTO counters SELECT 'threads', coalesce(max(id), 0) FROM threads",
        "UPDATE seen SET date = CAST(strftime('%s', 'now') AS INTEGER)"
        " WHERE date > CAST(strftime('%s', 'now') AS INTEGER) + 86400 OR date < 631152000",
    ],
    # 5: a thread's topics (``thread_topics``): what a reply linked to it must be under not to
    # be a fork -- "t" and the hash of a subject's topic (subject.subject_topic), "p" and
    # a patch series (subject.patch_series), blank-separated. NULL: read them off the
    # thread's subject (threads recorded before). And the Message-IDs of the list digests
    # `match` saw, with their Date (seconds since the epoch): a reply naming one links by
    # its own subject, not through the digest (``without_digests``).
    [
        "ALTER TABLE threads ADD COLUMN topics TEXT",
        "CREATE TABLE digests (msgid TEXT PRIMARY KEY, date INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE INDEX digests_date ON digests(date)",
    ],
    # 6: how and when each id joined its thread, for `explain` (``joined``): how is "add",
    # "add --subthread", "import FROM" (FROM: the mailboxes and refs files) or, for an id
    # `match` learned, "match BY ID" (BY: In-Reply-To, References, index, thread-index or
    # subject, the field or rule that linked the message; ID the id it found in the
    # thread); joined is UTC, YYYY-MM-DDTHH:MM:SSZ. NULL for ids recorded before. And a
    # thread's lifetime as `add --for` was given it ("1w"), for `list` to show it so; it
    # counts only while expires_after is that many seconds (``name_lifetime``).
    [
        "ALTER TABLE ids ADD COLUMN how TEXT",
        "ALTER TABLE ids ADD COLUMN joined TEXT",
        "ALTER TABLE threads ADD COLUMN expires_given TEXT",
    ],
]
# When a thread was last active: its last match, or when it was recorded.
ACTIVITY_SQL = "coalesce(threads.last_match, threads.created)"
# Threads whose own lifetime (`add --for`) has passed without a match; `match` skips them.
LAPSED_SQL = (
    f"(threads.expires_after IS NOT NULL AND {ACTIVITY_SQL} <"
    " strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || threads.expires_after || ' seconds'))"
)
SCHEMA_VERSION = len(MIGRATIONS)
