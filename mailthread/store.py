"""The thread store: one SQLite file of threads, each a set of message ids on a list, and
the message index that links replies to them. ``Store`` is the whole of it; this module
holds what records threads (``add``, the imports: merging, forks, sub-threads).

Where to look for a change, one concern a module, each part built on the one before:

- ``schema``: the tables and their migrations (docs/schema.md describes them);
- ``database``: the path rules, opening, locking and transactions, ``StoreError``;
- ``index``: the message index (conversations) that links replies to threads;
- ``linking``: the linking rules of ``match``, ``explain`` and ``remove``, strongest first;
- ``delivery``: what a delivery records (``Matcher``: all that ``match`` loads);
- ``threads``: reading and ending thread records (``list``, ``remove``, ``expire``);
- ``store``: recording threads (``add``, imports), and ``Store``, all of the above.
"""

from __future__ import annotations

from collections import namedtuple

from mailthread.database import chunks, qmarks
from mailthread.index import index_keys
from mailthread.linking import (
    SUBJECT_WINDOW,
    is_fork,
    message_topics,
    subject_topics,
    thread_topics,
    topics_of,
    topics_text,
)
from mailthread.msgid import is_msgid
from mailthread.schema import NOW_SQL
from mailthread.threads import Threads

# new_ids: ids that were not stored before; merged: other threads merged into this one;
# changed: whether anything changed (new, merged, more ids, another list or lifetime);
# fork_of: the thread the message is a fork of, when it was recorded as a thread of its own
# (``add_message``), else None.
Added = namedtuple("Added", "thread list new_ids merged created changed fork_of", defaults=(None,))


class Store(Threads):
    """The whole store: ``Threads`` (and so ``Matcher``, ``MessageIndex``, ``Database``),
    and recording threads."""

    def add_message(
        self,
        facts,
        list_name: str,
        subject: str | None,
        lifetime: int | None = None,
        to_me: bool | None = None,
        window: int | None = SUBJECT_WINDOW,
        follow_forks: bool = False,
    ) -> Added:
        """Record the thread of a message on ``list_name``: its own ids (merging the stored
        threads that hold one of them, as ``add_thread``) and every id of the conversation
        the message index links it to (those already in another thread stay there).

        A reply that nothing else links joins, as ``match`` would record it (``_observe``,
        ``linking.Linking._subject_conv``), the one conversation its subject names within ``window``
        seconds (None: never), its ids bound to its subject: muting from an Outlook "RE:"
        with no References mutes the conversation it answers.

        Unless ``follow_forks``, threads of other topics are left as they are: a thread
        holding one of its ids whose topics the message's is none of keeps its ids and its
        list. When the nearest such id decides (``decide``: the message is a fork of that
        thread), the message is recorded as a thread of its own: its own id (taken from
        the thread that followed it, if one did) and those of its conversation's messages
        under its subject that no thread holds. Pressing W on a fork of a muted thread
        watches the fork, and leaves the thread muted. A fork with no Message-ID of its
        own, or whose Message-ID a thread already holds (another message claiming it),
        records nothing: the Added has thread None. The ids of the message and of its
        conversation that the index knows under another subject are not recorded either:
        they are other topics' (``_same_subject``)."""
        with self._errors(), self._transaction():
            self._observe(facts, None, to_me, window)
            other = set() if follow_forks else self._other_topics(facts)
            if other:
                hit = self.find(facts.ids)
                if hit is not None and hit.thread in other:
                    return self._record_fork(facts, hit.thread, list_name, subject, lifetime)
            ids, members = facts.ids, self._members(facts)
            if not follow_forks:
                ids, members = self._same_subject(facts, ids), self._same_subject(facts, members)
            added = self._record(ids, list_name, subject, lifetime, topics_of(facts), keep=other)
            more = self._insert_ids(((msgid, added.thread) for msgid in members), "add")
        return added._replace(new_ids=added.new_ids + more, changed=added.changed or more > 0)

    def _same_subject(self, facts, ids: list[str]) -> list[str]:
        """``ids`` without those the index knows as messages under another normalised
        subject than the message's (``message.Facts``); its own id stays. Ids only named
        as parents, whose subject nobody knows, stay."""
        mine = facts.subject or 0  # what _observe keeps for a message without a subject
        other: set[str] = set()
        for chunk in chunks(ids):
            other.update(
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM seen WHERE msgid IN ({qmarks(len(chunk))})"
                    " AND subject IS NOT NULL AND subject != ?",
                    [*chunk, mine],
                )
            )
        return [msgid for msgid in ids if msgid == facts.own or msgid not in other]

    def _other_topics(self, facts) -> set[int]:
        """The threads holding one of a message's ids (``message.Facts``) that it is a fork
        of (``is_fork``)."""
        mine = message_topics(facts)
        if mine is None:
            return set()
        other = set()
        for chunk in chunks(facts.ids):
            for thread, *known in self.conn.execute(
                "SELECT DISTINCT threads.id, threads.topics, threads.subject FROM ids"
                " JOIN threads ON threads.id = ids.thread"
                f" WHERE ids.msgid IN ({qmarks(len(chunk))})",
                chunk,
            ):
                if is_fork(mine, thread_topics(*known)):
                    other.add(thread)
        return other

    def _record_fork(self, facts, fork_of: int, list_name, subject, lifetime) -> Added:
        """A fork of thread ``fork_of`` as a thread of its own (``add_message``)."""
        conn = self.conn
        if (
            facts.own is None
            or conn.execute("SELECT 1 FROM ids WHERE msgid = ?", (facts.own,)).fetchone()
        ):
            return Added(None, list_name, 0, 0, False, False, fork_of)
        ids = [facts.own]
        if facts.subject is not None:
            # Its conversation's messages under its subject, unless a thread holds them:
            # a stranger who sent a message under this subject naming your message, with
            # your message's id, must not pull that id out of the thread it is in.
            convs = sorted(set(self._convs(index_keys(facts)).values()))
            for chunk in chunks(convs):
                ids += [
                    msgid
                    for (msgid,) in conn.execute(
                        "SELECT msgid FROM seen WHERE subject = ?"
                        f" AND conv IN ({qmarks(len(chunk))})"
                        " AND NOT EXISTS (SELECT 1 FROM ids WHERE ids.msgid = seen.msgid)",
                        [facts.subject, *chunk],
                    )
                    if is_msgid(msgid)
                ]
        target = self._new_thread(list_name, subject, lifetime, topics=topics_of(facts))
        new = self._insert_ids(((msgid, target) for msgid in dict.fromkeys(ids)), "add")
        return Added(target, list_name, new, 0, True, True, fork_of)

    def add_thread(
        self, ids: list[str], list_name: str, subject: str | None, lifetime: int | None = None
    ) -> Added:
        """Record ``ids`` as one thread on ``list_name``, merging every stored thread that
        holds one of them into it. ``lifetime``: seconds without a match after which the
        thread lapses (None: it stays until ``expire``); the latest add decides."""
        return self.add_threads([(ids, subject)], list_name, lifetime, how="add")[0]

    def add_threads(
        self,
        threads,
        list_name: str,
        lifetime: int | None = None,
        topics=None,
        how: str = "import",
    ) -> list[Added]:
        """``add_thread`` for each (ids, subject) of ``threads``, in one transaction. The
        threads must not share ids with each other (``importer.Conversations`` sees to it).
        ``topics``: for each thread, the topics of its messages (``topics_of``), or None
        for those of its subject. ``how``: how the new ids joined, as schema 6 keeps it
        ("import FROM").

        An import of a million ids must take seconds: the threads that touch no stored one
        (all of them, on a first import) are written in two bulk statements. They stay on
        sqlite3's ``executemany``: sqlite-utils' ``insert_all`` takes 1.4x as long for the
        same rows (bench/sqlite_utils_insert.py: 1,000,000 ids, 4.9 s against 6.9 s).
        """
        conn = self.conn
        with self._errors(), self._transaction():
            stored: dict[str, int] = {}  # msgid -> thread, for the ids already recorded
            every_id = [msgid for ids, _ in threads for msgid in ids]
            for chunk in chunks(every_id):
                stored.update(
                    conn.execute(
                        f"SELECT msgid, thread FROM ids WHERE msgid IN ({qmarks(len(chunk))})",
                        chunk,
                    )
                )
            results: list[Added | None] = [None] * len(threads)
            fresh, whole = [], []
            for number, (ids, subject) in enumerate(threads):
                touched = {stored[msgid] for msgid in ids if msgid in stored}
                if not ids:
                    results[number] = Added(None, list_name, 0, 0, False, False)
                elif not touched:
                    fresh.append(number)
                elif len(touched) == 1 and all(msgid in stored for msgid in ids):
                    whole.append((number, touched.pop()))  # recorded before as one thread
                else:
                    mine = topics[number] if topics is not None else subject_topics(subject)
                    results[number] = self._record(ids, list_name, subject, lifetime, mine, how=how)
            settings: dict[int, tuple] = {}
            for chunk in chunks([thread for _, thread in whole]):
                for thread, *setting in conn.execute(
                    "SELECT id, list, expires_after FROM threads"
                    f" WHERE id IN ({qmarks(len(chunk))})",
                    chunk,
                ):
                    settings[thread] = tuple(setting)
            moved = [thread for _, thread in whole if settings[thread] != (list_name, lifetime)]
            conn.executemany(
                "UPDATE threads SET list = ?, expires_after = ? WHERE id = ?",
                ((list_name, lifetime, thread) for thread in moved),
            )
            for number, thread in whole:
                changed = settings[thread] != (list_name, lifetime)
                results[number] = Added(thread, list_name, 0, 0, False, changed)
            first = self._numbers(len(fresh))
            conn.executemany(
                "INSERT INTO threads (id, list, subject, created, expires_after, topics)"
                f" VALUES (?, ?, ?, {NOW_SQL}, ?, ?)",
                (
                    (
                        first + n,
                        list_name,
                        threads[number][1],
                        lifetime,
                        topics_text(
                            topics[number]
                            if topics is not None
                            else subject_topics(threads[number][1])
                        ),
                    )
                    for n, number in enumerate(fresh)
                ),
            )
            # In key order, the B-tree grows at its end instead of splitting pages everywhere.
            rows = sorted(
                (msgid, first + n) for n, number in enumerate(fresh) for msgid in threads[number][0]
            )
            self._insert_ids(rows, how)
            for n, number in enumerate(fresh):
                new_ids = len(set(threads[number][0]))
                results[number] = Added(first + n, list_name, new_ids, 0, True, True)
        return results

    def _record(
        self,
        ids: list[str],
        list_name: str,
        subject: str | None,
        lifetime: int | None,
        topics: set[str] | None = None,
        keep: set[int] = frozenset(),
        how: str = "add",
    ) -> Added:
        """Record ``ids`` on one thread: the stored threads holding one of them, except
        those of ``keep`` (which keep their ids), merge into the oldest, with the union of
        their topics and ``topics``. ``how``: as schema 6 keeps it for each new id."""
        conn = self.conn
        existing: set[int] = set()
        for chunk in chunks(ids):
            existing.update(
                row[0]
                for row in conn.execute(
                    f"SELECT DISTINCT thread FROM ids WHERE msgid IN ({qmarks(len(chunk))})",
                    chunk,
                )
            )
        existing -= keep
        if existing:
            target, *others = sorted(existing)
            hits, last_match = 0, None
            union = set(topics or ())
            for chunk in chunks(sorted(existing)):
                for thread_hits, thread_last, *known in conn.execute(
                    "SELECT hits, last_match, topics, subject FROM threads"
                    f" WHERE id IN ({qmarks(len(chunk))})",
                    chunk,
                ):
                    hits += thread_hits
                    if thread_last and (last_match is None or thread_last > last_match):
                        last_match = thread_last
                    union |= thread_topics(*known)
            for chunk in chunks(others):
                marks = qmarks(len(chunk))
                conn.execute(
                    f"UPDATE ids SET thread = ? WHERE thread IN ({marks})", [target, *chunk]
                )
                conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)
            conn.execute(
                "UPDATE threads SET list = ?, hits = ?, last_match = ?, expires_after = ?,"
                " subthread = 0, topics = ? WHERE id = ?",
                (list_name, hits, last_match, lifetime, topics_text(union), target),
            )
        else:
            target, others = self._new_thread(list_name, subject, lifetime, topics=topics), []
        new = self._insert_ids(((msgid, target) for msgid in ids), how)
        return Added(target, list_name, new, len(others), not existing, True)

    def add_subthread(
        self,
        own_id: str,
        list_name: str,
        subject: str | None,
        lifetime: int | None = None,
        facts=None,
        to_me: bool | None = None,
    ) -> Added:
        """Record ``own_id`` alone as a thread on ``list_name`` (Thunderbird's "Ignore
        Subthread"); the thread it was in keeps its other ids, so the message's siblings
        keep their list and its replies follow the new one (the nearest stored id decides).

        ``facts`` (``message.Facts`` of the message): it goes into the message index like
        any other added message, so that its link to its parents outlives the sub-thread:
        once the sub-thread is removed or expired, a reply naming only this message falls
        back to the enclosing thread through the index. The sub-thread itself is found by
        its ids only (rule 1), never through the index: the message's siblings share its
        conversation and must keep the enclosing thread's list. ValueError when ``own_id``
        is no message id (``msgid.is_msgid``)."""
        if not is_msgid(own_id):
            raise ValueError(f"not a message id: {own_id!r}")
        conn = self.conn
        topics = None if facts is None else topics_of(facts)
        with self._errors(), self._transaction():
            if facts is not None:
                self._observe(facts, None, to_me)
            row = conn.execute("SELECT thread FROM ids WHERE msgid = ?", (own_id,)).fetchone()
            if row is not None:
                (old,) = row
                (size,) = conn.execute(
                    "SELECT count(*) FROM ids WHERE thread = ?", (old,)
                ).fetchone()
                # The id is in its thread now by this add (explain tells how it joined).
                joined = f"how = 'add --subthread', joined = {NOW_SQL}"
                if size == 1:
                    conn.execute(
                        "UPDATE threads SET list = ?, expires_after = ?, subthread = 1,"
                        " topics = coalesce(nullif(?, ''), topics) WHERE id = ?",
                        (list_name, lifetime, topics_text(topics), old),
                    )
                    conn.execute(f"UPDATE ids SET {joined} WHERE msgid = ?", (own_id,))
                    return Added(old, list_name, 0, 0, False, True)
                target = self._new_thread(list_name, subject, lifetime, True, topics)
                conn.execute(
                    f"UPDATE ids SET thread = ?, {joined} WHERE msgid = ?", (target, own_id)
                )
                return Added(target, list_name, 1, 0, True, True)  # new to this thread
            target = self._new_thread(list_name, subject, lifetime, True, topics)
            self._insert_ids([(own_id, target)], "add --subthread")
            return Added(target, list_name, 1, 0, True, True)

    def _new_thread(
        self,
        list_name: str,
        subject: str | None,
        lifetime: int | None,
        subthread: bool = False,
        topics: set[str] | None = None,
    ) -> int:
        number = self._numbers(1)
        self.conn.execute(
            "INSERT INTO threads (id, list, subject, created, expires_after, subthread, topics)"
            f" VALUES (?, ?, ?, {NOW_SQL}, ?, ?, ?)",
            (number, list_name, subject, lifetime, int(subthread), topics_text(topics)),
        )
        return number

    def _numbers(self, count: int) -> int:
        """Take ``count`` thread numbers never given before (inside a write transaction,
        nobody else can take them); the first of them."""
        (first,) = self.conn.execute(
            "SELECT max((SELECT value FROM counters WHERE name = 'threads'),"
            " coalesce((SELECT max(id) FROM threads), 0)) + 1"
        ).fetchone()
        if count:
            self.conn.execute(
                "UPDATE counters SET value = ? WHERE name = 'threads'", (first + count - 1,)
            )
        return first
