"""The linking rules: which thread a message belongs to (``Linking.decide``, the rules in
their order of strength, read top to bottom; the fork rule, ``Linking._fork``, and the
topics it compares). ``match``, ``explain`` and ``remove`` all decide here; what a delivery
then records is ``delivery.Matcher``'s.
"""

from mailthread.database import chunks, qmarks
from mailthread.index import MAX_KEYS, MessageIndex, index_date, index_keys, subject_bound
from mailthread.message import Record
from mailthread.schema import LAPSED_SQL
from mailthread.subject import topic_keys


# msgid: the stored id that linked the message to the thread; rule: how it was linked --
# "id" (one of its own ids is in the thread), "index" (the message index links one of its
# ids to the thread), "thread-index" (Outlook's conversation key does) or "subject"; or
# "fork": one of the first three links it, but under a new subject (``Linking.decide``), and
# forks of that thread are not followed -- it belongs to no thread.
# followed: a fork that matched only because its thread is on FOLLOWED_LIST; matching it
# teaches that thread nothing (its id stays free for a thread of its own: ``add``).
class Hit(Record):
    __slots__ = ()
    _fields = ("msgid", "thread", "list", "rule", "followed")
    _defaults = (False,)


# How long after a thread's last message a reply that only its subject links still counts.
SUBJECT_WINDOW = 30 * 86400
# Forks of threads on this list are followed unless ``follow_forks`` says otherwise: a
# watcher wants the branches of a conversation, and watched mail is delivered anyway.
FOLLOWED_LIST = "watched"


def topics_of(facts) -> set[str]:
    """The topics a message (``message.Facts``) gives a thread recorded from it: "t" and
    the hash of its subject's topic (of "" when it has no Subject: a reply that gives it one
    is a fork), "p" and its patch series when it has one."""
    return subject_topics("" if facts.text is None else facts.text)


def subject_topics(text: str | None) -> set[str]:
    """The topics of a decoded subject (``subject.topic_keys``), as the ``topics`` column
    holds them. None (a thread recorded without one: a refs file) gives no topics --
    unknown, not empty."""
    topic, series = topic_keys(text)
    if topic is None:
        return set()
    return {f"t{topic}"} if series is None else {f"t{topic}", f"p{series}"}


def message_topics(facts) -> tuple[str, str | None] | None:
    """A message's (``message.Facts``) topic and patch series as ``topics`` tokens, or None
    without a Subject field (no topic: no fork)."""
    topic, series = topic_keys(facts.text)
    if topic is None:
        return None
    return f"t{topic}", None if series is None else f"p{series}"


def is_fork(mine: tuple[str, str | None], topics: set[str]) -> bool:
    """Whether a message of ``mine`` (``message_topics``) is a fork of a thread of
    ``topics``: they are known, its topic is none of them, and it is no patch of their
    series. (A patch of the series is followed whatever its title, but its title never
    becomes a topic: a stranger's "[PATCH 1/2] <your topic>" naming one of your messages
    would otherwise make your conversation a topic of the muted series.)"""
    topic, series = mine
    return bool(topics) and topic not in topics and series not in topics


def thread_topics(stored: str | None, subject: str | None) -> set[str]:
    """A thread's topics from its row: the ``topics`` column, or for a thread recorded
    before schema 5 (NULL), those of its stored subject."""
    return set(stored.split()) if stored is not None else subject_topics(subject)


def topics_text(topics: set[str] | None) -> str:
    """The ``topics`` column for a set of topics ("" when none is known)."""
    return " ".join(sorted(topics or ()))


class Linking(MessageIndex):
    """The linking rules: which thread a message belongs to."""

    # The linking rules, their order of strength and when each stops the weaker ones:
    # ``decide``. Lists given to ``match`` filter its answer (``lookup``), nothing more.

    def find(self, ids: list[str], lists: tuple[str, ...] = ()) -> Hit | None:
        """The thread of the first id in ``ids`` that is stored (on one of ``lists``)."""
        list_filter = f" AND threads.list IN ({qmarks(len(lists))})" if lists else ""
        with self._errors():
            for chunk in chunks(ids):
                rows = self.conn.execute(
                    "SELECT ids.msgid, threads.id, threads.list FROM ids"
                    " JOIN threads ON threads.id = ids.thread"
                    f" WHERE ids.msgid IN ({qmarks(len(chunk))}){list_filter}"
                    f" AND NOT {LAPSED_SQL}",
                    [*chunk, *lists],
                ).fetchall()
                if rows:
                    found = {row[0]: row for row in rows}
                    for msgid in chunk:
                        if msgid in found:
                            return Hit(*found[msgid], "id")
        return None

    def lookup(
        self,
        facts,
        lists: tuple[str, ...] = (),
        window: int | None = SUBJECT_WINDOW,
        follow_forks: bool = False,
    ) -> Hit | None:
        """The thread of a message (``message.Facts``) as ``decide`` finds it, if it is on
        one of ``lists`` (any list when none is given). A message whose thread is on another
        list is on none of them: no weaker rule, nor a farther id, is tried for it; nor for
        a fork that is not followed."""
        hit = self.decide(facts, window, follow_forks)
        if hit is None or hit.rule == "fork" or (lists and hit.list not in lists):
            return None
        return hit

    def decide(
        self, facts, window: int | None = SUBJECT_WINDOW, follow_forks: bool = False
    ) -> Hit | None:
        """The one thread a message (``message.Facts``) belongs to, on whatever list, or
        None; ``Hit.rule`` names the rule that decided. The rules, strongest first: the
        first that finds a live thread (that the message is no fork of: see below)
        decides, and no weaker rule, nor a farther id, is tried after it.

        1. ``id``: the nearest of its ids (``facts.ids``: Message-ID, In-Reply-To, then
           References last to first) that a thread holds. The only rule that finds a
           sub-thread (``add --subthread``).
        2. ``index``: the conversations the message index holds its ids in (its message
           ids, and those bound to its subject): the newest whole thread holding an id of
           one of them.
        3. ``thread-index``: the conversation of its Outlook Thread-Index key, the same way.
           Tried also when rule 2 found conversations in no thread: recording the message
           joins them to the key's (docs/threat-model.md, "Claimed ids", known limit).
        4. ``subject``, with a ``window`` (seconds): the one conversation of its normalised
           reply subject dated within the window (``_subject_conv``), the same way. Never
           for a message without a reply prefix; stopped when the index holds one of its
           parents in another conversation (rule 2 linked it there, thread or none), and
           when two conversations fit.

        A fork -- a message that a rule links to a thread whose topics its subject's is
        none of (``_fork``) -- starts a new conversation, as in Gmail. Each rule tries its
        threads in order (nearest id, newest thread) for one the message is no fork of, and
        the first such thread, by any rule, decides; when there is none, the first thread
        found decides as a fork: its Hit has rule "fork". Unless ``follow_forks`` (mutt's
        thread view), or the thread is on the list "watched".

        A list digest (``subject.is_digest_subject``, or Content-Type multipart/digest)
        belongs to no thread; pass a reply through ``without_digests`` first, so that it
        links by its own subject, not through the digest's id.

        A thread whose own lifetime has passed (``add --for``) counts as none. ``match``,
        ``explain`` and ``remove`` all decide here; what ``record`` teaches follows the
        same decision."""
        if facts.digest:
            return None  # many conversations in one message: it belongs to none
        # One read transaction: a delivery that renumbers a conversation meanwhile cannot
        # show one statement the old numbers and the next the new ones.
        with self._errors(), self._snapshot():
            # Each rule tries its threads in order, and the first one the message is no
            # fork of decides; a fork is the answer only when no rule finds a thread of
            # its topic (muting a fork too must not unmute the replies that go back to the
            # old subject; muting a fork must catch its replies that name only ids of the
            # thread it forked).
            fork = None
            # 1. id: the nearest id a thread holds.
            hits = self._holders(facts.ids)
            if hits:
                hit = self._first_not_forked(facts, hits, follow_forks)
                if hit.rule != "fork":
                    return hit
                fork = hit
            # 2. index, 3. thread-index: the conversations its keys are in. Recording the
            # message joins them, so the key's conversation counts as well -- after the
            # conversations of its ids.
            keys = index_keys(facts)
            convs = self._convs(keys + subject_bound(facts, keys))
            if convs:
                by_ids = {conv for key, conv in convs.items() if "thread-index:" not in key}
                rows = self._threads_of_convs(convs.values(), by_ids)
                if rows:
                    hits = [
                        Hit(msgid, thread, list_name, "index" if conv in by_ids else "thread-index")
                        for msgid, thread, list_name, conv in rows
                    ]
                    hit = self._first_not_forked(facts, hits, follow_forks)
                    if hit.rule != "fork":
                        return hit
                    fork = fork or hit
            # 4. subject: only for a reply that nothing above links (see _subject_conv).
            if window is None:
                return fork
            conv = self._subject_conv(facts, window)
            rows = [] if conv is None else self._threads_of_convs([conv])
            if not rows:
                return fork
            # The conversation may be another topic's thread, holding the one this subject
            # names as a fork of it.
            hits = [Hit(row[0], row[1], row[2], "subject") for row in rows]
            hit = self._first_not_forked(facts, hits, follow_forks)
            return hit if hit.rule != "fork" else fork or hit

    def _first_not_forked(self, facts, hits: list[Hit], follow_forks: bool) -> Hit:
        """The first of ``hits`` (in order of preference) that the message is no fork of;
        else the first, as a fork (``_fork``)."""
        mine = message_topics(facts)  # once, for all of them
        first = None
        for hit in hits:  # each a query: none after the one that decides
            decided = self._fork(facts, hit, follow_forks, mine)
            if decided.rule != "fork":
                return decided
            first = first or decided
        return first

    def _holders(self, ids: list[str]) -> list[Hit]:
        """For each live thread holding one of ``ids``, the nearest id it holds: nearest
        first (``find`` for all of them)."""
        found: dict[str, tuple] = {}
        with self._errors():
            for chunk in chunks(ids):
                for row in self.conn.execute(
                    "SELECT ids.msgid, threads.id, threads.list FROM ids"
                    " JOIN threads ON threads.id = ids.thread"
                    f" WHERE ids.msgid IN ({qmarks(len(chunk))}) AND NOT {LAPSED_SQL}",
                    chunk,
                ):
                    found[row[0]] = row
        hits, seen = [], set()
        for msgid in ids:
            row = found.get(msgid)
            if row is not None and row[1] not in seen:
                seen.add(row[1])
                hits.append(Hit(*row, "id"))
        return hits

    def _fork(self, facts, hit: Hit, follow_forks: bool, mine) -> Hit:
        """``hit``, with rule "fork" when the message is a fork of its thread that is not
        followed.

        A thread's topics are those of the messages it was recorded from (``add``, an
        import: ``topics_of``). A message is a fork when its topic is none of them, and it
        is no patch of their series: so its place in the conversation does not matter (a
        reply under the old subject to a fork is no fork; a reply to the fork under the
        fork's subject is). Not a fork: a message whose own Message-ID the thread holds
        (no reply), a reply to a thread whose topics are unknown (a refs-file import), a
        message without a Subject field (it says nothing of its topic). An empty subject is
        the empty topic: a fork of a thread with a subject, and the reverse (a thread
        recorded from a message without a Subject has the empty topic too). ``mine``: the
        message's ``message_topics``."""
        if mine is None or hit.msgid == facts.own:
            return hit
        row = self.conn.execute(
            "SELECT topics, subject FROM threads WHERE id = ?", (hit.thread,)
        ).fetchone()
        if not is_fork(mine, thread_topics(*row) if row is not None else set()):
            return hit
        if follow_forks:
            return hit
        if hit.list == FOLLOWED_LIST:
            return hit._replace(followed=True)  # marked, but it joins no thread
        return hit._replace(rule="fork")

    def _subject_conv(self, facts, window: int) -> int | None:
        """For a reply that nothing else links: the one conversation with a message of the
        same normalised subject, if the reply is dated within ``window`` after that
        conversation's last message. None when the index knows one of the reply's parents
        to be in another conversation, or when several conversations of that subject fit."""
        if not facts.reply or facts.subject is None:
            return None
        date = index_date(facts)
        # The message itself may be in the index already (explain after match).
        itself = set(self._convs([facts.own]).values()) if facts.own else set()
        first: dict[int, int] = {}  # conversation -> its earliest date with this subject
        for conv, when in self.conn.execute(
            "SELECT conv, date FROM seen WHERE subject = ? ORDER BY date DESC LIMIT 50",
            (facts.subject,),
        ):
            first[conv] = when
        candidates = set()
        for conv, earliest in first.items():
            if conv in itself:
                continue
            (last,) = self.conn.execute(
                "SELECT max(date) FROM seen WHERE conv = ?", (conv,)
            ).fetchone()
            if earliest - window <= date <= last + window:
                candidates.add(conv)
        if len(candidates) != 1:
            return None  # no conversation of this subject, or several: two called "Help"
        parents = self._convs(facts.parents[:MAX_KEYS])
        if set(parents.values()) - candidates - itself:
            return None
        return candidates.pop()
