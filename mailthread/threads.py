"""Thread records as the management commands read and end them: ``list``, ``explain``'s
details, ``remove``, ``expire``. Off the per-mail path: sqlite-utils is imported here, lazily.
"""

from __future__ import annotations

from collections import namedtuple

from mailthread.database import EXPIRE_BATCH, _chunks, _marks
from mailthread.linking import Matcher
from mailthread.schema import _ACTIVITY, _LAPSED

# A thread as `list`, `remove` and `expire` show it; ids: how many message ids it holds.
# expires_after: the thread's own lifetime in seconds (None: none); expires_given: that
# lifetime as `add --for` was given it ("1w"), if it still is that one.
Thread = namedtuple(
    "Thread", "id list subject ids created last_match hits expires_after expires_given"
)
_THREAD_COLUMNS = (
    "threads.id, threads.list, threads.subject,"
    " (SELECT count(*) FROM ids WHERE ids.thread = threads.id),"
    " threads.created, threads.last_match, threads.hits, threads.expires_after,"
    " threads.expires_given"
)


class Threads(Matcher):
    """Reading, naming and deleting thread records."""

    def list_names(self) -> set[str]:
        """The names of the lists that hold at least one thread."""
        with self._errors():
            return {name for (name,) in self.conn.execute("SELECT DISTINCT list FROM threads")}

    def threads(self, lists: tuple[str, ...] = ()) -> list[Thread]:
        """Every thread (on one of ``lists``), newest activity first. Read with
        sqlite-utils' ``rows_where`` (imported here: never on the match path), on this
        connection, with neither its plugins nor its recursive-triggers pragma."""
        from sqlite_utils import Database

        table = Database(self.conn, recursive_triggers=False, execute_plugins=False)["threads"]
        with self._errors():
            rows = table.rows_where(
                f"threads.list IN ({_marks(len(lists))})" if lists else None,
                list(lists),
                select=_THREAD_COLUMNS,
                order_by=f"{_ACTIVITY} DESC, threads.id DESC",
            )
            return [Thread(*row.values()) for row in rows]

    def thread(self, thread_id: int) -> Thread | None:
        with self._errors():
            row = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return Thread(*row) if row else None

    def joined(self, msgid: str) -> tuple[str, str] | None:
        """How and when ``msgid`` joined the thread that holds it (see schema 6: e.g.
        ("match In-Reply-To p@host", "2026-11-30T15:07:00Z")); None when no thread holds
        it or it was recorded before schema 6."""
        with self._errors():
            row = self.conn.execute(
                "SELECT how, joined FROM ids WHERE msgid = ? AND how IS NOT NULL", (msgid,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def name_lifetime(self, thread_ids, seconds: int, given: str) -> None:
        """Keep ``given``, the text of the lifetime (``add --for``) the threads got, for
        ``list``: only on those whose lifetime is still ``seconds``."""
        with self._errors(), self._transaction():
            for chunk in _chunks(sorted(set(thread_ids))):
                self.conn.execute(
                    "UPDATE threads SET expires_given = ?"
                    f" WHERE expires_after = ? AND id IN ({_marks(len(chunk))})",
                    [given, seconds, *chunk],
                )

    def remove(self, thread_id: int) -> Thread | None:
        """Delete a thread and its ids; what was deleted, or None when there is none."""
        with self._errors(), self._transaction():
            removed = self.thread(thread_id)
            if removed is not None:
                self._delete([thread_id])
        return removed

    def expire(self, idle: int, dry_run: bool = False, batch: int = EXPIRE_BATCH):
        """Delete the threads with no activity for ``idle`` seconds, and those whose own
        lifetime has passed; yield them (``Thread``), in thread number order.

        The threads are scanned ``batch`` numbers at a time, each batch one short write
        transaction (a read one for ``dry_run``) that is over before its threads are
        yielded: deliveries wait behind one batch at most, memory holds one batch, and the
        threads yielded are deleted even if the caller stops early.
        """
        conn = self.conn
        since = (f"-{int(idle)} seconds",)
        after = 0
        while True:
            with self._errors():
                # The last number of this batch, read outside the write transaction.
                row = conn.execute(
                    "SELECT id FROM threads WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?",
                    (after, batch - 1),
                ).fetchone()
            upto = row[0] if row is not None else None
            span = "threads.id > ?" + (" AND threads.id <= ?" if upto is not None else "")
            bounds = (after,) if upto is None else (after, upto)
            with self._errors(), self._snapshot() if dry_run else self._transaction():
                rows = conn.execute(
                    f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {span} AND"
                    f" ({_ACTIVITY} < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) OR {_LAPSED})"
                    " ORDER BY threads.id",
                    bounds + since,
                ).fetchall()
                if rows and not dry_run:
                    self._delete([row[0] for row in rows])
            for row in rows:
                yield Thread(*row)
            if upto is None:
                return
            after = upto

    def _delete(self, thread_ids: list[int]) -> None:
        for chunk in _chunks(thread_ids):
            marks = _marks(len(chunk))
            self.conn.execute(f"DELETE FROM ids WHERE thread IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)
