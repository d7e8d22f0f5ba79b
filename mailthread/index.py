"""The message index (tables ``seen`` and ``digests``): every message ``match`` and the
imports saw, by its ids, in conversations -- the ids of messages linked by their headers
share a conversation number. What the linking rules read to find a reply's conversation;
what a delivery writes there is ``delivery.Matcher._observe``.
"""

from mailthread.database import EXPIRE_BATCH, Database, chunks, qmarks
from mailthread.message import without_ids
from mailthread.msgid import is_msgid
from mailthread.schema import LAPSED_SQL

# The ids of a message that only its subject links to a conversation go into the index as
# "subject:HASH:ID" (HASH: its normalised subject's): only a message of the same subject
# follows them (docs/threat-model.md, "Claimed ids").
BOUND_PREFIX = "subject:"
# At most this many ids of one message go into the index (real References hold under 40).
MAX_KEYS = 100
# The index takes a message's Date only within this window, else the time it sees it: one
# reply dated 9999 would raise its conversation's date for good (later replies beyond the
# subject window, the entries never expired), one dated 1970 would hide it. A day ahead
# covers wrong time zones (at most 14 h) and skewed clocks; 1990-01-01 comes before any
# mailbox worth importing, and after the epoch (0) and misread years (1900) of broken
# clients. Old mail within the window keeps its date: an import of a 2005 mailbox must
# not look recent.
_DATE_AHEAD = 86400
_DATE_EARLIEST = 631152000  # 1990-01-01T00:00:00Z


def _now() -> int:
    import time

    return int(time.time())


def index_date(facts) -> int:
    """The date the index gives a message (seconds since the epoch): its Date header
    field, unless it has none or one outside the window above; then now."""
    now = _now()
    date = facts.date
    if date is None or not _DATE_EARLIEST <= date <= now + _DATE_AHEAD:
        return now
    return date


# Every id handed to the store is a message id (``msgid.is_msgid``): ``Header.facts``,
# ``settings.message_facts`` and the refs-file import drop `<yes>` and its kind where ids are
# read, so the store looks up and records what it is given; only ids read back from an
# older database are filtered (``_members``).


def index_keys(facts) -> list[str]:
    """What the index keeps of a message: its message ids, and its Outlook conversation
    key."""
    keys = facts.ids[:MAX_KEYS]
    if facts.thread_index:
        keys.append(facts.thread_index)
    return keys


def subject_bound(facts, keys: list[str]) -> list[str]:
    """``keys`` as the index holds them for a message of ``facts``'s subject that only its
    subject linked."""
    if facts.subject is None:
        return []
    return [f"{BOUND_PREFIX}{facts.subject}:{key}" for key in keys]


class MessageIndex(Database):
    """The store's message index: reading conversations, and expiring old entries."""

    def without_digests(self, facts):
        """``facts`` (``message.Facts``) without the ids of the list digests the index
        knows (``_observe`` notes each digest delivered): a reply to a digest names many
        conversations through it, and is linked by what else it names and by its own
        subject. The same ``facts`` when it names none."""
        parents = facts.parents[:MAX_KEYS]
        if not parents:
            return facts
        with self._errors():
            digests = {
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM digests WHERE msgid IN ({qmarks(len(parents))})",
                    parents,
                )
            }
        return without_ids(facts, digests) if digests else facts

    def conversation(self, facts) -> list[str]:
        """The ids of every message the index links to this one (its own included)."""
        with self._errors(), self._snapshot():
            return self._members(facts)

    def _members(self, facts) -> list[str]:
        keys = index_keys(facts)
        convs = sorted(set(self._convs(keys + subject_bound(facts, keys)).values()))
        members: list[str] = []
        for chunk in chunks(convs):
            members += [
                msgid
                for (msgid,) in self.conn.execute(
                    f"SELECT msgid FROM seen WHERE conv IN ({qmarks(len(chunk))})", chunk
                )
                if is_msgid(msgid) and not msgid.startswith(BOUND_PREFIX)
            ]
        return members

    def _convs(self, keys: list[str]) -> dict[str, int]:
        """key -> conversation, for the keys the index knows."""
        found: dict[str, int] = {}
        for chunk in chunks(keys):
            found.update(
                self.conn.execute(
                    f"SELECT msgid, conv FROM seen WHERE msgid IN ({qmarks(len(chunk))})",
                    chunk,
                )
            )
        return found

    def _threads_of_convs(self, convs, first=(), limit: int = 8) -> list[tuple]:
        """(msgid, thread, list, conv) of the live whole threads holding an id of one of
        ``convs``, newest first (those holding one of ``first`` before the rest), at most
        ``limit``. Sub-threads are never found here: a sibling of a sub-thread's message is
        in its conversation too."""
        convs = sorted(set(convs))
        first = sorted(set(first))
        preferred = f"seen.conv IN ({qmarks(len(first))})" if first else "0"
        # One row per thread; SQLite takes the bare columns from the row of max().
        rows = self.conn.execute(
            f"SELECT ids.msgid, threads.id, threads.list, seen.conv, max({preferred}) AS pref"
            " FROM seen JOIN ids ON ids.msgid = seen.msgid"
            " JOIN threads ON threads.id = ids.thread"
            f" WHERE seen.conv IN ({qmarks(len(convs))}) AND threads.subthread = 0"
            f" AND NOT {LAPSED_SQL} GROUP BY threads.id ORDER BY pref DESC, threads.id DESC"
            " LIMIT ?",
            [*first, *convs, limit],
        ).fetchall()
        return [row[:4] for row in rows]

    def expire_index(self, age: int, dry_run: bool = False, batch: int = EXPIRE_BATCH) -> int:
        """Drop the index entries of messages (and list digests) dated more than ``age``
        seconds ago; return how many. At most ``batch`` entries go in one write transaction
        (see ``expire``)."""
        cutoff = _now() - age
        seen, digests = self.tables()["seen"], self.tables()["digests"]
        if dry_run:
            with self._errors():
                return seen.count_where("date < ?", [cutoff]) + digests.count_where(
                    "date < ?", [cutoff]
                )
        with self._errors(), self._transaction():
            count = _deleted(digests, "date < ?", [cutoff])
        while True:
            with self._errors(), self._transaction():
                oldest = "msgid IN (SELECT msgid FROM seen WHERE date < ? LIMIT ?)"
                deleted = _deleted(seen, oldest, [cutoff, batch])
            count += deleted
            if deleted < batch:
                return count


def _deleted(table, where: str, args: list) -> int:
    """sqlite-utils' ``delete_where``, and how many rows it deleted."""
    before = table.db.conn.total_changes
    table.delete_where(where, args)
    return table.db.conn.total_changes - before
