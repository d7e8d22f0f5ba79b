"""What one delivery does to the store: ``Matcher``, the store as the per-mail ``match``
opens it -- the linking rules (``linking.Linking``), then what the message teaches: its
entry in the message index, with the rules on claimed ids (``Matcher._observe``;
docs/threat-model.md), and a matched message's own id joining its thread (``learn``). And
for ``--me``: whether a reply's parent was addressed to me (``parent_to_me``).

It never loads the management side (``threads``, ``store``).
"""

from mailthread.database import chunks, qmarks
from mailthread.index import BOUND_PREFIX, MAX_KEYS, index_date, index_keys, subject_bound
from mailthread.linking import SUBJECT_WINDOW, Hit, Linking
from mailthread.schema import NOW_SQL


class Matcher(Linking):
    """The store as ``match`` uses it: the linking rules, and recording a delivery."""

    def parent_to_me(self, facts) -> bool | None:
        """Whether the nearest parent the index saw was addressed to me (None: unknown).
        A parent that its subject linked counts for a message of the same subject."""
        parents = facts.parents[:MAX_KEYS]
        if not parents:
            return None
        bound = subject_bound(facts, parents)
        with self._errors():
            known = dict(
                self.conn.execute(
                    "SELECT msgid, to_me FROM seen"
                    f" WHERE msgid IN ({qmarks(len(parents) + len(bound))}) AND to_me IS NOT NULL",
                    parents + bound,
                )
            )
        for msgid in parents + bound:
            if msgid in known:
                return bool(known[msgid])
        return None

    def record(
        self,
        facts,
        hit: Hit | None = None,
        to_me: bool | None = None,
        window: int | None = SUBJECT_WINDOW,
        by: str | None = None,
    ) -> None:
        """Put a message into the index and, when it matched ``hit``, count the match and
        add its own id to that thread -- one write transaction; ``by`` names the header
        field that held ``hit.msgid`` ("In-Reply-To", "References"), kept with the id
        (``joined``; default: the rule). A reply that nothing else
        links -- no rule stronger than the subject links it to a thread, on any list --
        joins, in the index, the conversation its subject names (see ``decide``) whether
        or not that one is in a thread, unless ``window`` is None. What a claimed
        id may teach: docs/threat-model.md, "Claimed ids"."""
        with self._errors(), self._transaction():
            learnable = self._observe(facts, hit, to_me, window)
            if hit is not None:
                self._learn(hit, facts.own if learnable and not hit.followed else None, by)

    def _observe(
        self,
        facts,
        hit: Hit | None = None,
        to_me: bool | None = None,
        window: int | None = None,
    ) -> bool:
        """Put a message into the index; whether its own id is its to teach (False when
        the id is claimed: see docs/threat-model.md, "Claimed ids").

        A message that only its subject links (or only ids that a subject linked, under
        the same subject, or only its Outlook Thread-Index) joins that conversation with its
        ids bound to its subject (``subject_bound``): they link later messages of that subject
        only, and no conversation its ids are in already joins on the subject's word. A
        message whose own id the index holds as a delivered message's, in a conversation
        its other ids are not all in (another message claiming that id), leaves that entry
        as it is. A list digest is no message of the index: its Message-ID goes into the
        table of digests (``without_digests``) -- unless the index or a thread knows that
        id already: a "digest" claiming a message's id must not cut that message's replies
        from it."""
        if facts.digest:
            if facts.own is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO digests (msgid, date) SELECT ?, ?"
                    " WHERE NOT EXISTS (SELECT 1 FROM seen WHERE msgid = ?)"
                    " AND NOT EXISTS (SELECT 1 FROM ids WHERE msgid = ?)",
                    (facts.own, index_date(facts), facts.own, facts.own),
                )
            return False
        keys = index_keys(facts)
        if not keys:
            return False
        conn = self.conn
        bound_keys = subject_bound(facts, keys)
        found: dict[str, tuple[int, int]] = {}  # key -> (conversation, seen as a message)
        bound = set()  # the conversations that subject-bound ids of this subject link it to
        every = keys + bound_keys
        for chunk in chunks(every):
            for key, conv, delivered in conn.execute(
                "SELECT msgid, conv, subject IS NOT NULL OR to_me IS NOT NULL FROM seen"
                f" WHERE msgid IN ({qmarks(len(chunk))})",
                chunk,
            ):
                if key.startswith(BOUND_PREFIX):
                    bound.add(conv)
                else:
                    found[key] = (conv, delivered)
        by_subject = None
        if hit is not None and hit.rule == "subject":
            by_subject = next(iter(self._convs([hit.msgid]).values()), None)
        else:
            # Linked, if at all, only as a subject links: by ids that a subject linked,
            # by its subject, or by its Outlook Thread-Index alone (a sender writes that as
            # freely as a subject, and it vouches for as little).
            if not found and bound:
                by_subject = min(bound)
            elif not found and hit is None and window is not None:
                by_subject = self._subject_conv(facts, window)
            elif len(found) == 1 and facts.thread_index in found:
                by_subject = found[facts.thread_index][0]
            # ...unless a thread holds one of its ids: the id rule links it, and a weaker
            # one never overrides it (a hit by id, or none under a list filter).
            if by_subject is not None and (
                hit.rule == "id" if hit is not None else self.find(facts.ids) is not None
            ):
                by_subject = None
        own = facts.own if facts.own in keys else None
        if by_subject is not None:
            # Linked by its subject alone: its ids follow only for the same subject, and no
            # conversation its ids are in joins on the subject's word.
            subject = facts.subject
            keys, target = bound_keys, by_subject
        elif hit is not None and hit.rule == "subject":
            return False  # the thread's entry went meanwhile (not inside one delivery)
        else:
            mine = found.get(own, (None, 0))
            if mine[1] and any(found.get(key, (None,))[0] != mine[0] for key in keys):
                # Another message claims a delivered message's id: the rest of it counts.
                keys = [key for key in keys if key != own]
                found.pop(own)
                own = None
            # A delivered message's own entry keeps a subject (0: it had none), the mark of
            # an id taken; the ids only named as parents keep none.
            subject = None if own is None else (facts.subject or 0)
            convs = {conv for conv, _ in found.values()}
            if not convs:
                (target,) = conn.execute("SELECT coalesce(max(conv), 0) + 1 FROM seen").fetchone()
            elif len(convs) == 1:
                (target,) = convs
            else:
                # Renumber the smaller conversations: the work is their size, never the
                # index's.
                sizes = {
                    conv: conn.execute(
                        "SELECT count(*) FROM seen WHERE conv = ?", (conv,)
                    ).fetchone()[0]
                    for conv in convs
                }
                target = max(sorted(convs), key=sizes.__getitem__)
                others = sorted(convs - {target})
                conn.execute(
                    f"UPDATE seen SET conv = ? WHERE conv IN ({qmarks(len(others))})",
                    [target, *others],
                )
        date = index_date(facts)
        mark = None if own is None or to_me is None else int(to_me)
        conn.executemany(
            "INSERT INTO seen (msgid, conv, date, subject, to_me) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (msgid) DO UPDATE SET conv = excluded.conv,"
            " date = max(date, excluded.date), subject = coalesce(excluded.subject, subject),"
            " to_me = coalesce(excluded.to_me, to_me)",
            [
                (key, target, date, subject if i == 0 else None, mark if i == 0 else None)
                for i, key in enumerate(keys)
            ],
        )
        return own is not None and by_subject is None

    def index_messages(self, messages) -> None:
        """Put messages (``message.Facts``) into the index, in one transaction: what an
        import read, so that later replies find their conversation (by subject too)."""
        with self._errors(), self._transaction():
            for facts in messages:
                self._observe(facts)

    def learn(self, hit: Hit, own_id: str | None, by: str | None = None) -> None:
        """Count a match and add the message's own id to the thread that matched it."""
        with self._errors(), self._transaction():
            self._learn(hit, own_id, by)

    def _learn(self, hit: Hit, own_id: str | None, by: str | None) -> None:
        # The thread is looked up again inside the write transaction: an ``add`` running
        # meanwhile may have merged it into another one.
        if own_id is not None:
            self.conn.execute(
                f"INSERT OR IGNORE INTO ids (msgid, thread, how, joined)"
                f" SELECT ?, thread, ?, {NOW_SQL} FROM ids WHERE msgid = ?",
                (own_id, f"match {by or hit.rule} {hit.msgid}", hit.msgid),
            )
        self.conn.execute(
            f"UPDATE threads SET hits = hits + 1, last_match = {NOW_SQL}"
            " WHERE id = (SELECT thread FROM ids WHERE msgid = ?)",
            (hit.msgid,),
        )

    def _insert_ids(self, rows, how: str) -> int:
        """Insert the (msgid, thread) ``rows`` no thread holds yet, noting ``how`` and when
        they joined (schema 6); how many were inserted."""
        before = self.conn.total_changes
        self.conn.executemany(
            f"INSERT OR IGNORE INTO ids (msgid, thread, how, joined) VALUES (?, ?, ?, {NOW_SQL})",
            ((msgid, thread, how) for msgid, thread in rows),
        )
        return self.conn.total_changes - before
