"""Recording threads, for ``mailthread add``: the message on stdin checked for ids to record
(``message_to_record``), its thread recorded (``record_message``), or the conversations of
mailboxes and refs files imported (``import_threads``). Each returns the line to print and
raises ``Failure`` when nothing is recorded."""

from __future__ import annotations

import os
import sys

import click

from mailthread import arguments
from mailthread.filter import printable
from mailthread.message import FACT_BYTES, Facts, Header
from mailthread.options import name_lifetime
from mailthread.output import plural
from mailthread.settings import Failure, Settings


def message_to_record(raw: bytes, subthread: bool) -> tuple[Header, Facts]:
    """The header and facts of the one message in ``raw`` (stdin), when it has ids to record:
    its Message-ID for a ``subthread``, else any of its Message-ID, In-Reply-To and
    References. A Failure (1) that says why otherwise: nothing on stdin, no ids (or tokens
    that are no message ids), a list digest."""
    if not raw.strip():
        raise Failure("no message on stdin")
    # One message, always: no split can be proven at a `From ` line, since a pasted `git
    # format-patch` is byte for byte an mbox entry, and the example macros set pipe_split.
    header = Header(raw)
    facts = header.facts()
    if not (facts.own if subthread else facts.ids):
        what = "Message-ID" if subthread else "Message-ID, In-Reply-To or References"
        own, parents, references = header.threading_ids(FACT_BYTES)
        garbage = own[:1] if subthread else own + parents + references
        if garbage:
            raise Failure(
                f"no message id in its {what}, nothing recorded: <{garbage[0]}>"
                " is none (a message id has an @ with text on each side)"
            )
        raise Failure(
            f"no {what} in the message, nothing recorded (mutt drops them when"
            " pipe_decode is set; the macros of contrib/muttrc.example unset it)"
        )
    if facts.digest:
        raise Failure(
            "the message is a list digest, many conversations in one: nothing recorded"
            " (mute one of them from its own message, or from a reply)"
        )
    return header, facts


def record_message(
    settings: Settings,
    header: Header,
    facts: Facts,
    list_name: str,
    lifetime: int | None,
    subthread: bool,
    window: int | None,
) -> str:
    """Record the thread of the message (``message_to_record``) on ``list_name``: all of its
    conversation (``Store.add_message``, linking by subject within ``window`` seconds, None:
    not), or only the message itself (``subthread``). Returns the summary line; a reply under
    a new subject that cannot start a thread of its own is a Failure (1). A list that is new
    and none of the example recipes' gets one warning line on stderr."""
    subject = header.subject()
    with settings.store() as store, store.transaction():
        lists_before = store.list_names()
        facts = store.without_digests(facts)  # a reply to a digest: its own subject counts
        if subthread:
            added = store.add_subthread(facts.own, list_name, subject, lifetime, facts)
        else:
            follow = arguments.follows_forks(os.environ)
            added = store.add_message(
                facts, list_name, subject, lifetime, window=window, follow_forks=follow
            )
        name_lifetime(store, [added.thread], lifetime)
    if added.thread is None:
        why = (
            "without a Message-ID of its own to follow"
            if facts.own is None
            else f"whose Message-ID <{printable(facts.own)}> a thread holds already"
        )
        raise Failure(
            f"a reply to thread {added.fork_of} under a new subject, {why}:"
            " nothing recorded (the thread keeps its list)"
        )
    # A typo (`add mute`) starts a list the example recipes never file; the lists they do
    # file are no news.
    if lists_before and list_name not in lists_before and list_name not in EXAMPLE_LISTS:
        click.echo(
            f"mailthread: {printable(list_name)} is a new list (the lists so far:"
            f" {', '.join(map(printable, sorted(lists_before)))}); the example recipes"
            " file only muted and watched",
            err=True,
        )
    merged = f", merged {plural(added.merged, 'other thread')}" if added.merged else ""
    if added.fork_of is not None:
        merged += f"; a new subject in thread {added.fork_of}'s conversation, which keeps its list"
    return (
        f"{added.list}: thread {added.thread} ({subject or 'no subject'}):"
        f" {plural(added.new_ids, 'new id')}{merged}"
    )


# The lists contrib/procmailrc.example and contrib/maildroprc.example file.
EXAMPLE_LISTS = ("muted", "watched")


def import_threads(
    settings: Settings,
    list_name: str,
    lifetime: int | None,
    mailboxes: tuple[str, ...],
    refs_files: tuple[str, ...],
) -> str:
    """Record every conversation of ``mailboxes`` (mbox, Maildir, MH) and every line of the
    old scripts' ``refs_files`` as a thread on ``list_name`` (``lifetime`` in seconds, or
    None), in one transaction, with a progress bar on a terminal for big mailboxes. Returns
    the summary line (threads added, merged, already stored, skipped and why); a source
    that cannot be read is a Failure (1), and nothing is recorded."""
    from mailthread.importer import Conversations, SourceError, mailbox_messages, refs_file_lines

    conversations = Conversations()
    read, stray, stray_count = [], [], 0
    try:
        for path in refs_files:
            lines, skipped, count = refs_file_lines(path)
            for ids in lines:
                conversations.add(ids)
            read.append(plural(count, "line"))
            if skipped:
                numbers = ", ".join(map(str, skipped[:10])) + (", ..." if skipped[10:] else "")
                where = "line" if len(skipped) == 1 else "lines"
                stray.append(f"{printable(path)} {where} {numbers}: no message id")
                stray_count += len(skipped)
        count = 0
        for path in mailboxes:
            total, messages = mailbox_messages(path)
            if sys.stderr.isatty() and total > 100:
                label = printable(path)
                with click.progressbar(messages, length=total, label=label, file=sys.stderr) as bar:
                    for raw in bar:
                        conversations.add_message(raw)
            else:
                for raw in messages:
                    conversations.add_message(raw)
            count += total
        if mailboxes:
            read.append(f"{plural(count, 'message')} from {plural(len(mailboxes), 'mailbox')}")
    except SourceError as e:
        raise Failure(str(e)) from None
    threads = conversations.threads()
    with settings.store() as store:
        sources = ", ".join(printable(os.path.abspath(path)) for path in (*mailboxes, *refs_files))
        with store.transaction():  # the threads and their lifetime's text: all or nothing
            results = store.add_threads(
                threads, list_name, lifetime, conversations.topics(), how=f"import {sources}"
            )
            name_lifetime(store, [r.thread for r in results], lifetime)
        store.index_messages(conversations.facts)
    added = sum(r.created for r in results)
    merged = sum(r.changed and not r.created for r in results)  # or extended, or moved
    reasons = sorted(conversations.skipped.items())
    skipped = sum(n for _, n in reasons) + stray_count
    why = [f"{n} {reason}" for reason, n in reasons] + stray
    return (
        f"read {' and '.join(read)}: {plural(added, 'thread')} added, {merged} merged,"
        f" {len(results) - added - merged} already stored"
        + (f", {skipped} skipped" if skipped or mailboxes else "")
        + (f" ({'; '.join(why)})" if why else "")
    )
