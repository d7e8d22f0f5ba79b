"""Thread records as the management commands read and end them: ``list``, ``explain``'s
details, ``remove``, ``expire``. Off the per-mail path: the reads and writes go through
sqlite-utils (``Database.tables``), except those ``explain`` makes (see ``thread``).
"""

from __future__ import annotations

from collections import namedtuple

from mailthread.database import EXPIRE_BATCH, chunks, qmarks
from mailthread.delivery import Matcher
from mailthread.schema import ACTIVITY_SQL, LAPSED_SQL

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
        """The names of the lists that hold at least one thread. (On sqlite3: ``add`` reads
        it, on a key press in mutt; sqlite-utils' import would double its time.)"""
        with self._errors():
            return {name for (name,) in self.conn.execute("SELECT DISTINCT list FROM threads")}

    def threads(self, lists: tuple[str, ...] = ()) -> list[Thread]:
        """Every thread (on one of ``lists``), newest activity first."""
        return self._threads(
            f"threads.list IN ({qmarks(len(lists))})" if lists else None,
            list(lists),
            order_by=f"{ACTIVITY_SQL} DESC, threads.id DESC",
        )

    # thread() and joined() stay on sqlite3: `explain` reads them, and it runs once per mail
    # as a procmail condition (`* ? mailthread explain muted`), where importing sqlite-utils
    # would cost more than the whole command otherwise does (measured: 210 -> 530 ms).

    def thread(self, thread_id: int) -> Thread | None:
        """Thread number ``thread_id``, or None when there is none."""
        with self._errors():
            row = self.conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return Thread(*row) if row else None

    def _threads(self, where: str | None, args: list, order_by: str | None = None) -> list[Thread]:
        with self._errors():
            rows = self.tables()["threads"].rows_where(
                where, args, select=_THREAD_COLUMNS, order_by=order_by
            )
            return [Thread(*row.values()) for row in rows]

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
        table = self.tables()["threads"]
        with self._errors(), self._transaction():
            for chunk in chunks(sorted(set(thread_ids))):
                rows = table.rows_where(
                    f"expires_after = ? AND id IN ({qmarks(len(chunk))})",
                    [seconds, *chunk],
                    select="id",
                )
                for row in list(rows):
                    table.update(row["id"], {"expires_given": given})

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
        table = self.tables()["threads"]
        since = (f"-{int(idle)} seconds",)
        after = 0
        while True:
            with self._errors():
                # The last number of this batch, read outside the write transaction.
                last = table.rows_where(
                    "id > ?", [after], select="id", order_by="id", limit=1, offset=batch - 1
                )
                upto = next((row["id"] for row in last), None)
            span = "threads.id > ?" + (" AND threads.id <= ?" if upto is not None else "")
            bounds = [after] if upto is None else [after, upto]
            with self._errors(), self._snapshot() if dry_run else self._transaction():
                expired = self._threads(
                    f"{span} AND ({ACTIVITY_SQL} < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)"
                    f" OR {LAPSED_SQL})",
                    [*bounds, *since],
                    order_by="threads.id",
                )
                if expired and not dry_run:
                    self._delete([thread.id for thread in expired])
            yield from expired
            if upto is None:
                return
            after = upto

    def _delete(self, thread_ids: list[int]) -> None:
        """Delete threads and their ids, inside the caller's write transaction."""
        tables = self.tables()
        with self._errors():
            for chunk in chunks(thread_ids):
                marks = qmarks(len(chunk))
                tables["ids"].delete_where(f"thread IN ({marks})", chunk)
                tables["threads"].delete_where(f"id IN ({marks})", chunk)
