"""Why a message belongs to a thread, or to none, as ``mailthread explain`` says it: the
decision ``match`` would take (``Store.decide``), walked in words -- which rule decided, by
which id and header field, and how that id joined its thread. Text only, no click."""

from __future__ import annotations

from mailthread.message import FACT_BYTES, Facts, Header
from mailthread.output import describe, format_duration, none_recorded
from mailthread.store import Store


def explanation(
    store: Store,
    facts: Facts,
    header: Header | None,
    lists: tuple[str, ...],
    window: int | None,
    follow_forks: bool,
) -> tuple[bool, list[str]]:
    """Whether the message (``facts``; ``header`` None: an id given, no message) belongs to
    a thread on ``lists`` (any, when empty), and the lines that say which and why. Looked up
    as ``match`` does, with a subject ``window`` in seconds (None: no subject rule), but
    nothing is learned, counted or indexed. The lines are not yet ``printable``."""
    facts = store.without_digests(facts)
    hit = store.decide(facts, window, follow_forks)
    thread = store.thread(hit.thread) if hit else None
    joined = store.joined(hit.msgid) if hit else None
    lines: list[str] = []
    if hit is None or thread is None:
        where = f" on {', '.join(lists)}" if lists else ""
        lines.append(
            f"in no thread{where}: {none_recorded(len(facts.ids))},"
            " and nothing else links it to a thread"
        )
        return False, lines
    if lists and hit.list not in lists:  # a weaker rule is not tried: see Linking.lookup
        lines.append(describe(thread))
        lines.append(
            f"in no thread on {', '.join(lists)}: decided by <{hit.msgid}> ({hit.rule}),"
            f" to this thread on {hit.list}; weaker rules are not tried"
        )
        return False, lines
    if hit.rule == "fork":
        lines.append(describe(thread))
        by = f"<{hit.msgid}>" if hit.msgid in facts.ids else "the message index"
        lines.append(
            f"a reply to thread {hit.thread} under a new subject: not {hit.list}"
            f" (linked by {by}; --follow-forks follows it)"
        )
        return False, lines
    if hit.rule == "index":
        why = "the message index links its ids to this message of the thread"
    elif hit.rule == "thread-index":
        why = "its Outlook Thread-Index is that of this message's conversation"
    elif hit.rule == "subject":
        why = (
            "nothing else links it: its reply subject is that of the thread, within"
            f" {format_duration(window)} of the thread's last message"
        )
    elif header is None:
        why = "the id given"
    else:
        own, parents, _ = header.threading_ids(FACT_BYTES)  # what match reads of them
        field = (
            "its own Message-ID"
            if hit.msgid in own
            else "its In-Reply-To"
            if hit.msgid in parents
            else "its References"
        )
        position = facts.ids.index(hit.msgid)
        nearer = (
            f", nearest of its ids recorded ({position} nearer"
            f" {'one is' if position == 1 else 'ones are'} not)"
            if position
            else ""
        )
        why = f"{field}{nearer}"
    if joined is not None:
        own = header is not None and hit.msgid == facts.own
        words = joined_words(*joined, header if own else None)
        why += f"; {'it' if own else f'<{hit.msgid}>'} {words}"
    lines += [describe(thread), f"decided by <{hit.msgid}> ({hit.rule}): {why}"]
    return True, lines


# How `match` linked a message whose id it learned (schema 6's "match BY ID"), in words.
_LINKED_BY = {
    "In-Reply-To": "its In-Reply-To",
    "References": "its References",
    "id": "its ids",
    "index": "the message index",
    "thread-index": "its Outlook Thread-Index",
    "subject": "its reply subject",
}


def joined_words(how: str, joined: str, header: Header | None) -> str:
    """How an id joined its thread (``Store.joined``), as explain says it: "was learned
    2026-11-30 15:07 UTC when it matched by its In-Reply-To <p@host>". ``header``: that of
    the message explained, when the id is its own Message-ID; "it matched" only when it
    names <p@host> in that field too (another message may carry the same Message-ID),
    else "a message with it matched"."""
    when = f"{joined[:10]} {joined[11:16]} UTC" if joined else "at an unknown time"
    word, _, rest = how.partition(" ")
    if word == "match":
        by, _, msgid = rest.partition(" ")
        own = header is not None
        if own and by in ("In-Reply-To", "References"):
            _, in_reply_to, references = header.threading_ids(FACT_BYTES)
            own = msgid in (in_reply_to if by == "In-Reply-To" else references)
        message = "it" if own else "a message with it"
        return f"was learned {when} when {message} matched by {_LINKED_BY.get(by, by)} <{msgid}>"
    if word == "import":
        return f"was imported {when} from {rest}"
    return f"was recorded {when} by {how}"
