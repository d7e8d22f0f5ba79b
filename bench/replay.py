#!/usr/bin/env python3
"""Recall and false positives of `mailthread` and of the baseline shell filter, replaying real
mailing-list mail in Date order, the way procmail and mutt would run them.

    PATH=.venv/bin:$PATH python3 bench/replay.py [PATH]... [--tool mailthread|baseline|both]
        [--protocol first|third|both] [--only SUBSTRING] [--jobs 2] [--per-mailbox]
        [--misses] [--json] [--truth ids|topic|both]

PATH (default ../shared/corpus) is searched for mailboxes; each one is replayed on its own,
as if one user were subscribed to that list, with a fresh database / refs file per tool and
protocol:

- an mbox file (a file starting with "From "), split at every line starting with "From ";
  an entry keeps its bytes exactly as in the file, From_ line and line ends (CRLF) included;
- a folder holding message files directly and/or cur/ and new/: its own files plus those of
  its cur/ and new/. Each such folder is its own mailbox: notmuch/default, notmuch/default/bar,
  notmuch/default/bar/baz, ... are five mailboxes, not one.

A mailbox's messages are delivered in Date order (a stable sort; a missing or unparsable Date
counts as the date of the message before it in the file). Delivering a message runs the
filter on the whole message, one process per message, and notes whether it came out flagged:

- mailthread: `mailthread --db DB match`; flagged when the output's header has an
  `X-Mailthread:` line that the input's header has not. Muting: `mailthread --db DB add muted`
  with the same message on stdin. `mailthread` is the one found on PATH.
- baseline: `../shared/baseline/match-thread.sh REFS "Procmail-Muted: true"`; flagged when the
  output's header has that line and the input's has not. Muting emulates add-thread.sh as
  ../shared/baseline/README.md describes it (it is not published): the whitespace-separated
  tokens of `formail -x references -x message-id` (run for real, newlines deleted as
  match-thread.sh does); the first line of REFS containing one of them as a substring is
  replaced by the union of its tokens and the new ones, else a line is appended; written
  back through REFS.tmp and a rename; each token is followed by a space.

Ground truth, computed here and not with mailthread's code: conversations are the connected
components of a union-find over each message's ids - Message-ID, In-Reply-To, References,
both <bracketed> ids and bare tokens containing "@" (outside parenthesised comments and
before a ";": Mutt 1.0 writes "; from user@host on DATE"), case-sensitive, and only ids with
an "@" between other characters: <yes> from git send-email --in-reply-to=yes, <1234> or <a@>
are no message ids and link nothing (issue 13; before it, this truth linked through them,
which joined 20 unrelated notmuch/lkml topics into 7 conversations) - and the first
22 bytes of its base64-decoded Thread-Index (Outlook's conversation key), plus messages
with the same non-empty normalised subject less than 45 days apart (RFC 2047-decoded,
leading Re:/RE:/Fwd:/Fw:/AW:/SV:/Antw:/Réf:/Re[2]: prefixes and [tags] stripped however
many, whitespace collapsed, casefolded; [PATCH v2] is a tag too; a message with no date at
all takes no part) when the later one is a reply that nothing else links: its subject has
a reply prefix (Re:, AW:, SV:...), none of the ids it names as parents is a message of this
mailbox, and no earlier message here has its Thread-Index key. A new posting that only
reuses a subject (a "[PATCH v2]" resent without References, a "Fw:" of meeting notes)
starts a conversation of its own, as it does for every mail client, and a reply whose
parent is here belongs to its parent's conversation, not to another one that its subject
names ("Re: [PATCH v2] x" answers v2, not v1). --subject-rule all joins those too, which is how
../shared/corpus/SOURCES.md built its samples (a superset: a filter that must not flag new
threads cannot reach full recall there). The first lines of output count the
conversations that only the subject rule holds together.

Two ground truths (--truth, default both; each is reported on its own, "ids" first, in the
format it always had). "ids" is the one above: conversations as threads, as mutt's thread
view shows them. "topic" is conversations as a reader (and Gmail's Mute) sees them, with
the same rules but three changes:

- an id or Thread-Index key joins two messages only while their normalised subjects agree.
  The subjects are read with mailthread's own code (mailthread.encoded_words.decode_words, then
  normalise_subject: RFC 2047 decoded, reply prefixes and leading [tags] removed, blanks
  collapsed, casefolded), so that a difference in case, blanks, encoding, list tag or
  reply prefix is cosmetic and any other is a new topic (punctuation and a trailing
  "[SOLVED]" included: counted apart as "cosmetic" forks for the record). A trailing
  "(was: ...)" or "[was ...]" is then dropped: "SUSE 8 disks? (was: ILUG newsgroups?)"
  differs from "ILUG newsgroups?" (a new topic), and its replies, with or without the
  suffix, are that new topic;
- except within a patch series: two messages whose leading tags hold a [PATCH ... n/m] tag
  ([RFC PATCH 3/10], [PATCH v2 0/5], [PATCHv2 1/2], [RFC][PATCH 08/10]...; "Re:" before
  it allowed) of the same series identity, (version - vN, else 1 -, m), are joined by an id
  or key they share whatever their subjects: the cover letter, its patches and their
  "Re: [PATCH 2/3] ..." review are one topic. A reply that drops the tag joins by its
  subject as any reply; a message without such a tag linked to a series under another
  subject is a fork. A v2 sent In-Reply-To v1's cover joins v1 when the covers' subjects
  agree (different m: not by the series rule);
- ids without "@" link nothing (<yes> from git send-email --in-reply-to=yes, <1234>), in
  the id links and in "names a parent that is here" below.
The subject rule is the same, on the topic subjects: a reply that nothing links (no parent
here by an "@" id, no earlier Thread-Index key) joins the last message of its topic subject
within 45 days; a fork (its parent is here, under another subject) is linked, so it starts
a topic and never joins an older one by subject. Its first lines count the ids truth's
conversations split by a subject change (compared with the ids truth without the ids that
lack "@") and by an id without "@", the forks (topics whose first message shares an "@" id
or a Thread-Index key with an earlier message of another topic), those with a "(was:"
suffix, those differing from their parent only in punctuation or a trailing [tag], and the
patch series kept whole (topics holding [PATCH n/m] messages under several subjects).

Protocols, conversations numbered by first arrival in the mailbox:

- first: the 1st, 3rd, 5th... conversation is muted right after its first message;
- third: among conversations of at least 3 messages, the 1st, 3rd, 5th... is muted right after
  its third message has been delivered.

Counts per protocol and tool: muted conversations; "later" = their messages delivered after
the mute point; "caught" = those that came out flagged (recall = caught / later); "other" =
the messages of conversations never selected for muting; "false positives" = those that came
out flagged. Messages of a muted conversation up to its mute point count nowhere, nor do
conversations selected but never muted. `match` exiting 75 (message passed unchanged) counts
as not flagged and is reported, as is any other failure.

--misses lists every later message mailthread missed (the baseline's with --tool baseline),
with its Refs/IRT/TI headers (present or not), grouped by what links it to the muted
conversation in the ground truth: an id recorded at the mute, an id of a caught later
message, only the Thread-Index, only the subject (a Re:-type reply or a new posting such as
[PATCH v2]), only messages from before the mute that the muted one does not name, only
later messages that were missed too; and every false positive with the id, Thread-Index or
subject it shares with a muted conversation.

--jobs N replays N mailboxes at a time, one process each; results do not depend on N. The
elapsed time is printed last. Tests can import this file (bench/ on sys.path) and call
replay_mailbox(path, tool, protocol, workdir, truth="ids"), which returns a Counts, or
load_mailbox(path) for both truths' conversations (Mailbox.as_truth("topic")).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.errors
import email.header
import email.utils
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
BASELINE = HERE.parent.parent / "shared" / "baseline" / "match-thread.sh"
BASELINE_HEADER = "Procmail-Muted: true"
TOOLS = ("mailthread", "baseline")
PROTOCOLS = ("first", "third")
TRUTHS = ("ids", "topic")
MUTE_AT = {"first": 1, "third": 3}
SUBJECT_WINDOW = timedelta(days=45)
EX_TEMPFAIL = 75

_FIELD_NAME = re.compile(rb"[!-9;-~]+:")  # a header line "Name:" (printable, no colon)
_BRACKETED = re.compile(r"<([^<>]*)>")
_BRACKET_TAGS = re.compile(r"\[[^\]]*\]")
_COMMENT = re.compile(r"\([^()]*\)")
_BARE_SPLIT = re.compile(r"[\s,<>]+")
_PREFIXES = re.compile(
    r"^(?:\s*(?:\[[^\]]*\]|(?:re|fwd?|aw|sv|antw|réf)\s*(?:\[\d+\]|\(\d+\))?\s*:))+", re.I
)
_REPLY_PREFIX = re.compile(r"(?:re|aw|sv|antw|réf)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.I)
_AWK_BLANKS = re.compile(rb"[ \t\n]+")  # awk's default field separator


# ---------------------------------------------------------------------------------------
# Mailboxes


@dataclass
class Message:
    """One message of a mailbox, with what the ground truth needs from its header."""

    name: str  # "cur/FILE" (relative to the mailbox) or "entry N" (1-based, mbox)
    raw: bytes
    date: datetime | None  # the effective date (see the module docstring)
    subject: str  # decoded, whitespace collapsed (for display)
    raw_subject: str  # as written, unfolded (bytes that are not UTF-8 as U+FFFD)
    own: list[str]  # Message-ID ids
    parents: list[str]  # In-Reply-To and References ids, minus its own
    thread_index: bytes | None  # the 22-byte conversation key
    has_refs: bool
    has_irt: bool
    has_ti: bool

    @property
    def ids(self) -> list[str]:
        return self.own + self.parents

    def flags(self) -> str:
        return " ".join(
            f"{label}{'+' if present else '-'}"
            for label, present in (
                ("Refs", self.has_refs),
                ("IRT", self.has_irt),
                ("TI", self.has_ti),
            )
        )


def find_mailboxes(paths: list[str]) -> list[tuple[str, str]]:
    """(path, label) of every mailbox under ``paths``, sorted by label. The label is the
    path relative to the argument it was found under (the argument's name for itself)."""
    found: dict[str, str] = {}
    for top in paths:
        top = os.path.normpath(top)
        if os.path.isfile(top):
            found[top] = top
            continue
        if not os.path.isdir(top):
            sys.exit(f"replay: {top}: no such file or folder")
        for folder, subfolders, files in os.walk(top):
            subfolders.sort()
            if os.path.basename(folder) in ("cur", "new", "tmp") and folder != top:
                continue  # part of its parent's Maildir
            label = os.path.basename(top) if folder == top else os.path.relpath(folder, top)
            messages = False
            for name in sorted(files):
                if name.startswith("."):
                    continue
                start = _first_line(os.path.join(folder, name))
                if start.startswith(b"From "):
                    found[os.path.join(folder, name)] = os.path.join(label, name)
                elif _FIELD_NAME.match(start):
                    messages = True
            if messages or "cur" in subfolders or "new" in subfolders:
                found[folder] = label
    return sorted(found.items(), key=lambda item: item[1])


def _first_line(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.readline(200)


def is_mbox(path: str) -> bool:
    return os.path.isfile(path)


def raw_messages(path: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the messages of the mailbox at ``path``, in file order."""
    if is_mbox(path):
        with open(path, "rb") as f:
            data = f.read()
        starts = [m.start() for m in re.finditer(rb"(?m)^From ", data)]
        if not starts or starts[0] != 0:
            starts.insert(0, 0)  # text before the first postmark: a message of its own
        ends = starts[1:] + [len(data)]
        return [
            (f"entry {n}", data[start:end])
            for n, (start, end) in enumerate(zip(starts, ends, strict=True), 1)
            if data[start:end]
        ]
    names = []
    for sub in ("", "cur", "new"):
        folder = os.path.join(path, sub)
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            file = os.path.join(folder, name)
            if name.startswith(".") or not os.path.isfile(file):
                continue
            if sub or _FIELD_NAME.match(_first_line(file)):
                names.append(os.path.join(sub, name))
    messages = []
    for name in sorted(names):
        with open(os.path.join(path, name), "rb") as f:
            messages.append((name, f.read()))
    return messages


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) of each header field. The header ends at the first
    empty line (LF or CRLF); a line of blanks continues the field before it."""
    fields_: list[tuple[str, str]] = []
    lines = raw.split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    for line in lines:
        line = line.removesuffix(b"\r")
        if not line:
            break
        text = line.decode("utf-8", "replace")
        if line[:1] in (b" ", b"\t"):
            if fields_:
                fields_[-1] = (fields_[-1][0], fields_[-1][1] + text)
            continue
        name, colon, value = text.partition(":")
        if colon:
            fields_.append((name.strip().lower(), value))
    return fields_


def parse_ids(value: str) -> list[str]:
    """<bracketed> ids and bare tokens containing "@" (those outside comments, before a ";")."""
    value = _COMMENT.sub(" ", value)
    ids = [i.strip() for i in _BRACKETED.findall(value)]
    rest = _BRACKETED.sub(" ", value).split(";", 1)[0]
    ids += [token for token in _BARE_SPLIT.split(rest) if "@" in token]
    return [i for i in ids if i]


def decode_subject(value: str) -> str:
    try:
        text = str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        text = value
    return " ".join(text.split())


def normalised_subject(subject: str) -> str:
    return " ".join(_PREFIXES.sub("", subject).split()).casefold()


def is_reply(subject: str) -> bool:
    """Whether the subject's leading prefixes include a reply one (Re:, AW:, SV:...)."""
    prefixes = _PREFIXES.match(subject)
    return bool(prefixes and _REPLY_PREFIX.search(_BRACKET_TAGS.sub("", prefixes.group(0))))


def conversation_key(value: str) -> bytes | None:
    text = "".join(value.split())
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return decoded[:22] if len(decoded) >= 22 else None


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date


def read_message(name: str, raw: bytes, previous: datetime | None) -> Message:
    own: list[str] = []
    parents: list[str] = []
    subject = date = ti = None
    raw_subject = ""
    has = Counter()
    for fname, value in header_fields(raw):
        if fname == "message-id":
            own += parse_ids(value)
        elif fname in ("in-reply-to", "references"):
            parents += parse_ids(value)
        elif fname == "subject" and subject is None:
            subject, raw_subject = decode_subject(value), value
        elif fname == "date" and date is None:
            date = parse_date(value)
        elif fname == "thread-index" and ti is None:
            ti = conversation_key(value)
        has[fname] += 1
    own = list(dict.fromkeys(own))
    return Message(
        name=name,
        raw=raw,
        date=date or previous,
        subject=subject or "",
        raw_subject=raw_subject,
        own=own,
        parents=[i for i in dict.fromkeys(parents) if i not in own],
        thread_index=ti,
        has_refs=bool(has["references"]),
        has_irt=bool(has["in-reply-to"]),
        has_ti=bool(has["thread-index"]),
    )


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass
class Mailbox:
    """A mailbox in delivery order, with its ground-truth conversations (those of the
    "ids" truth; ``topics`` holds the "topic" truth's, ``as_truth`` swaps them in)."""

    path: str
    label: str
    messages: list[Message]  # in delivery order
    conversation: list[int]  # per message: its conversation, numbered by first arrival
    subject_joined: int  # conversations that only the subject rule holds together
    thread_index_joined: int  # conversations that Thread-Index joins beyond the ids
    linked_by: list[str]  # per message: "ids", "Thread-Index", "subject" or "" (first)
    topics: Partition | None = None  # the "topic" truth
    topic_stats: Counter[str] = field(default_factory=Counter)  # see TOPIC_STATS

    def as_truth(self, truth: str) -> Mailbox:
        """This mailbox with the conversations of ``truth`` ("ids" or "topic")."""
        if truth == "ids":
            return self
        assert self.topics is not None
        return replace(
            self,
            conversation=self.topics.conversation,
            subject_joined=self.topics.subject_joined,
            thread_index_joined=self.topics.thread_index_joined,
            linked_by=self.topics.linked_by,
        )


@dataclass
class Partition:
    """Conversations of one ground truth, as in Mailbox."""

    conversation: list[int]
    linked_by: list[str]
    subject_joined: int
    thread_index_joined: int


@dataclass
class Topic:
    """What the "topic" truth reads from a message's Subject."""

    key: str  # normalised by mailthread's own code, minus a "(was: ...)" suffix
    reply: bool  # a reply prefix (Re:, AW:, SV:...), as mailthread reads it
    was: bool  # it had a "(was: ...)" suffix
    series: tuple[int, int] | None  # (version, total) of a "[PATCH vN n/m]" tag


_WAS = re.compile(r"\s*[(\[]\s*was\b\s*:?.*$", re.S)
_PATCH_WORD = re.compile(r"\bpatch(?:v(\d+))?\b", re.I)
_VERSION = re.compile(r"(?:^|\s)v(\d+)(?:\s|$)", re.I)
_NUMBERED = re.compile(r"(?:^|\s)0*(\d+)\s*/\s*0*(\d+)(?:\s|$)")
_COSMETIC = re.compile(r"\s*\[[^\]]*\]\s*$|[^\w]+")


def topic_of(message: Message) -> Topic:
    """The topic truth's reading of ``message``'s Subject: RFC 2047 words decoded by
    ``mailthread.encoded_words.decode_words``, reply prefixes, leading [tags], blanks and case
    removed by ``mailthread.subject.normalise_subject`` (the tool's own normalisation, so
    the truth and the tool never disagree on what a subject is); then a trailing
    "(was: ...)" / "[was ...]" dropped, so that the replies to a renamed message, with or
    without the suffix, are one topic. A "[PATCH ...]" tag with "n/m" in it (RFC PATCH,
    PATCHv2, PATCH v2, PATCH net-next... included) among the leading tags gives the series'
    identity, (version, m): v1 unless the tag says "vN"."""
    try:
        from mailthread.encoded_words import decode_words
        from mailthread.subject import normalise_subject
    except ImportError:  # not installed: this checkout's
        sys.path.append(str(HERE.parent))
        from mailthread.encoded_words import decode_words
        from mailthread.subject import normalise_subject

    text = decode_words(message.raw_subject.encode("utf-8"))
    normalised, reply = normalise_subject(text)
    key = _WAS.sub("", normalised)
    was = key != normalised and bool(key)
    if not was:
        key = normalised  # "(was: x)" and nothing else: no new title to strip it from
    series = None
    prefixes = _PREFIXES.match(text)
    for tag in _BRACKET_TAGS.findall(prefixes.group(0) if prefixes else ""):
        patch = _PATCH_WORD.search(tag)
        numbered = _NUMBERED.search(tag.strip("[] "))
        if patch and numbered:
            version = _VERSION.search(tag.strip("[] "))
            version = patch.group(1) or (version.group(1) if version else "1")
            series = (int(version), int(numbered.group(2)))
            break
    return Topic(key=key, reply=reply, was=was, series=series)


def partition(
    messages: list[Message], subject_rule: str, topics: list[Topic] | None, split: bool = True
) -> tuple[Partition, UnionFind, UnionFind]:
    """The connected components of ``messages`` (see the module docstring), with the
    union-finds of the ids and of ids + Thread-Index. With ``topics`` (the topic truth) only
    ids with "@" count, the subject rule compares the topics' keys, and (unless ``split`` is
    false) an id or a Thread-Index key joins two messages only when their topics' keys are
    equal or both carry the [PATCH n/m] tags of one series."""
    n = len(messages)

    def usable(msgid: str) -> bool:
        # Only message ids link, in both truths: a token with no "@" between other
        # characters (<yes>, <1234>, <a@>) is none (issue 13).
        return "@" in msgid.strip("@")

    def keys(i: int) -> list:
        if topics is None or not split:
            return [None]
        return [("subject", topics[i].key)] + [("series", topics[i].series)] * bool(
            topics[i].series
        )

    by_ids = UnionFind(n)
    first_with: dict = {}
    for i, message in enumerate(messages):
        for msgid in filter(usable, message.ids):
            for key in keys(i):
                by_ids.union(first_with.setdefault((msgid, key), i), i)
    by_index = UnionFind(n)
    first_with_key: dict = {}
    for i, message in enumerate(messages):
        by_index.union(i, by_ids.find(i))
        if message.thread_index:
            for key in keys(i):
                by_index.union(first_with_key.setdefault((message.thread_index, key), i), i)
    # A reply that names a message of this mailbox as its parent, or shares its Outlook
    # conversation key with one, belongs to that one's conversation: not to another that
    # only its subject names (a "Re: [PATCH v2] x" answers v2, not v1). Under the topic
    # truth a reply under a new subject (a fork) is such a reply too: a topic of its own.
    present = {msgid for message in messages for msgid in message.own if usable(msgid)}
    linked = []
    earlier_keys: set[bytes] = set()
    for message in messages:
        linked.append(
            any(p in present for p in message.parents) or message.thread_index in earlier_keys
        )
        if message.thread_index is not None:
            earlier_keys.add(message.thread_index)
    final = UnionFind(n)
    last_with_subject: dict[str, int] = {}
    for i, message in enumerate(messages):
        final.union(i, by_index.find(i))
        if topics is None:
            subject, reply = normalised_subject(message.subject), is_reply(message.subject)
        else:
            subject, reply = topics[i].key, topics[i].reply
        if subject and message.date is not None:
            j = last_with_subject.get(subject)
            # Delivery order is date order: within 45 days of the previous one suffices.
            # "replies": only a reply (Re:, AW:...) joins by its subject; a new posting
            # that reuses a subject (a [PATCH v2], a forward) starts a conversation.
            joins = subject_rule == "all" or (reply and not linked[i])
            if joins and j is not None and message.date - messages[j].date < SUBJECT_WINDOW:
                final.union(j, i)
            last_with_subject[subject] = i

    number: dict[int, int] = {}
    conversation = [number.setdefault(final.find(i), len(number)) for i in range(n)]
    groups: dict[int, set[int]] = {}
    index_groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(conversation[i], set()).add(by_index.find(i))
        index_groups.setdefault(by_index.find(i), set()).add(by_ids.find(i))
    linked_by = []
    seen: dict[int, tuple[set[int], set[int]]] = {}
    for i in range(n):
        id_groups, index_keys = seen.setdefault(conversation[i], (set(), set()))
        if not id_groups:
            linked_by.append("")
        elif by_ids.find(i) in id_groups:
            linked_by.append("ids")
        elif by_index.find(i) in index_keys:
            linked_by.append("Thread-Index")
        else:
            linked_by.append("subject")
        id_groups.add(by_ids.find(i))
        index_keys.add(by_index.find(i))
    result = Partition(
        conversation=conversation,
        linked_by=linked_by,
        subject_joined=sum(len(g) > 1 for g in groups.values()),
        thread_index_joined=sum(len(g) > 1 for g in index_groups.values()),
    )
    return result, by_ids, by_index


TOPIC_STATS = {
    "split": "conversations of the ids truth split by a subject change",
    "forks": "topics that start as a reply under a new subject (forks)",
    "was_forks": "of them with a '(was: ...)' suffix",
    "cosmetic_forks": "of them that differ from their parent only in punctuation"
    " or a trailing [tag]",
    "series_whole": "patch series kept whole across subjects (topics holding [PATCH n/m]"
    " messages under more than one subject)",
}


def topic_statistics(
    messages: list[Message],
    subject_rule: str,
    topics: list[Topic],
    topic: Partition,
) -> Counter[str]:
    """The TOPIC_STATS counts of one mailbox."""
    stats: Counter[str] = Counter()
    # The ids truth with the topic truth's subject rule: what splitting by subject starts from.
    at_conv = partition(messages, subject_rule, topics, split=False)[0].conversation
    parts: dict[int, set[int]] = {}
    for i, c in enumerate(at_conv):
        parts.setdefault(c, set()).add(topic.conversation[i])
    stats["split"] = sum(len(p) > 1 for p in parts.values())
    # A topic whose first message is linked by an "@" id or a Thread-Index key to an earlier
    # message of another topic: a fork; what it forks from is the nearest such message.
    earlier: dict = {}
    started: set[int] = set()
    for i, message in enumerate(messages):
        links = [p for p in message.ids if "@" in p.strip("@")]
        links += [("ti", message.thread_index)] if message.thread_index else []
        c = topic.conversation[i]
        if c not in started:
            started.add(c)
            parents = [earlier[key] for key in links if key in earlier]
            parents = [j for j in parents if topic.conversation[j] != c]
            if parents:
                parent = topics[max(parents)]
                stats["forks"] += 1
                stats["was_forks"] += topics[i].was
                stats["cosmetic_forks"] += _COSMETIC.sub("", topics[i].key) == _COSMETIC.sub(
                    "", parent.key
                )
        for key in links:
            earlier[key] = i
    subjects: dict[int, set[str]] = {}
    for i, t in enumerate(topics):
        if t.series:
            subjects.setdefault(topic.conversation[i], set()).add(t.key)
    stats["series_whole"] = sum(len(s) > 1 for s in subjects.values())
    return stats


def load_mailbox(
    path: str, label: str | None = None, subject_rule: str = "replies", topic: bool = True
) -> Mailbox:
    """The messages of the mailbox at ``path`` in delivery order, with the conversations of
    the ids truth, and of the topic truth unless ``topic`` is false."""
    read: list[Message] = []
    previous = None
    for name, raw in raw_messages(path):
        message = read_message(name, raw, previous)
        previous = message.date
        read.append(message)
    earliest = datetime.min.replace(tzinfo=UTC)
    messages = sorted(read, key=lambda m: m.date or earliest)  # stable: file order on ties
    ids, _, _ = partition(messages, subject_rule, None)
    box = Mailbox(
        path=path,
        label=label or path,
        messages=messages,
        conversation=ids.conversation,
        subject_joined=ids.subject_joined,
        thread_index_joined=ids.thread_index_joined,
        linked_by=ids.linked_by,
    )
    if topic:
        topics = [topic_of(message) for message in messages]
        box.topics = partition(messages, subject_rule, topics)[0]
        box.topic_stats = topic_statistics(messages, subject_rule, topics, box.topics)
    return box


# ---------------------------------------------------------------------------------------
# The tools


def header_part(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return raw[: min(ends) + 1] if ends else raw


def added_lines(before: bytes, after: bytes, prefix: bytes) -> int:
    """How many header lines starting with ``prefix`` (any case) ``after`` has and
    ``before`` has not (as a multiset)."""

    def lines(raw: bytes) -> Counter[bytes]:
        return Counter(
            line.rstrip(b"\r")
            for line in header_part(raw).split(b"\n")
            if line.lower().startswith(prefix)
        )

    return sum((lines(after) - lines(before)).values())


class Tool:
    """One tool's state for one replay: a fresh database or refs file in ``workdir``."""

    name = ""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.problems: list[str] = []
        self.tempfails = 0  # match exited 75
        self.failures = 0  # any other non-zero exit, or text on stderr

    def deliver(self, message: Message) -> bool: ...

    def mute(self, message: Message) -> bool: ...

    def problem(
        self, what: str, message: Message, result: subprocess.CompletedProcess, count=True
    ) -> None:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        self.problems.append(f"{what} {message.name}: exit {result.returncode}: {stderr}")
        if count and what == "match" and result.returncode == EX_TEMPFAIL:
            self.tempfails += 1
        elif count:
            self.failures += 1


class Mailthread(Tool):
    name = "mailthread"

    def __init__(self, workdir: str) -> None:
        super().__init__(workdir)
        self.command = shutil.which("mailthread")
        if self.command is None:
            raise SystemExit("replay: no mailthread on PATH (PATH=.venv/bin:$PATH)")
        self.db = os.path.join(workdir, "threads.db")

    def deliver(self, message: Message) -> bool:
        result = subprocess.run(
            [self.command, "--db", self.db, "match"], input=message.raw, capture_output=True
        )
        if result.returncode != 0 or result.stderr:
            self.problem("match", message, result)
        if result.returncode != 0:
            return False
        return added_lines(message.raw, result.stdout, b"x-mailthread:") > 0

    def mute(self, message: Message) -> bool:
        result = subprocess.run(
            [self.command, "--db", self.db, "add", "muted"], input=message.raw, capture_output=True
        )
        if result.returncode != 0 or result.stderr:
            # Exit 1: no ids in the message; counted as a mute not recorded, not a failure.
            self.problem("add muted", message, result, count=result.returncode != 1)
        return result.returncode == 0


class Baseline(Tool):
    name = "baseline"

    def __init__(self, workdir: str) -> None:
        super().__init__(workdir)
        if shutil.which("formail") is None:
            raise SystemExit("replay: no formail on PATH (Debian package procmail)")
        self.refs = os.path.join(workdir, "refs.muted")
        self.prefix = BASELINE_HEADER.split(":")[0].lower().encode() + b":"

    def deliver(self, message: Message) -> bool:
        result = subprocess.run(
            [str(BASELINE), self.refs, BASELINE_HEADER], input=message.raw, capture_output=True
        )
        if result.returncode != 0 or result.stderr:
            self.problem("match-thread.sh", message, result)
        if result.returncode != 0:
            return False
        return added_lines(message.raw, result.stdout, self.prefix) > 0

    def tokens(self, message: Message) -> list[bytes]:
        result = subprocess.run(
            ["formail", "-x", "references", "-x", "message-id"],
            input=message.raw,
            capture_output=True,
        )
        if result.returncode != 0:
            self.problem("formail -x", message, result)
        joined = result.stdout.replace(b"\n", b"")  # tr -d '\n', as match-thread.sh
        return [token for token in _AWK_BLANKS.split(joined) if token]

    def mute(self, message: Message) -> bool:
        """add-thread.sh, as the baseline's README describes it."""
        new = self.tokens(message)
        if not new:
            self.problems.append(f"add-thread {message.name}: no tokens, nothing recorded")
            return False
        try:
            with open(self.refs, "rb") as f:
                lines = f.read().split(b"\n")
            if lines[-1] == b"":
                lines.pop()
        except FileNotFoundError:
            lines = []
        for n, line in enumerate(lines):
            if any(token in line for token in new):
                tokens = list(dict.fromkeys([*_AWK_BLANKS.split(line), *new]))
                lines[n] = b"".join(token + b" " for token in tokens if token)
                break
        else:
            lines.append(b"".join(token + b" " for token in dict.fromkeys(new)))
        with open(self.refs + ".tmp", "wb") as f:
            f.write(b"".join(line + b"\n" for line in lines))
        os.replace(self.refs + ".tmp", self.refs)
        return True


TOOL_CLASSES = {"mailthread": Mailthread, "baseline": Baseline}


# ---------------------------------------------------------------------------------------
# The replay


@dataclass
class Counts:
    muted: int = 0  # conversations muted
    later: int = 0  # their messages delivered after the mute point
    caught: int = 0  # ... that came out flagged
    other: int = 0  # messages of conversations never selected for muting
    false_positives: int = 0  # ... that came out flagged
    unrecorded_mutes: int = 0  # mutes the tool refused (no ids, failure)
    tempfails: int = 0  # match exits 75 (message passed unchanged)
    failures: int = 0  # other non-zero exits or stderr output
    misses: list[dict] = field(default_factory=list)
    false_positive_list: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    NUMBERS = (
        "muted",
        "later",
        "caught",
        "other",
        "false_positives",
        "unrecorded_mutes",
        "tempfails",
        "failures",
    )

    def __iadd__(self, other: Counts) -> Counts:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def recall(self) -> float | None:
        return self.caught / self.later if self.later else None

    def numbers(self) -> dict:
        return {name: getattr(self, name) for name in self.NUMBERS} | {"recall": self.recall}


def mute_points(box: Mailbox, protocol: str) -> dict[int, int]:
    """conversation -> index (in delivery order) of the message after which it is muted."""
    at = MUTE_AT[protocol]
    sizes = Counter(box.conversation)
    candidates = [c for c in range(len(sizes)) if sizes[c] >= at]  # numbered by first arrival
    selected = set(candidates[::2])
    points: dict[int, int] = {}
    delivered: Counter[int] = Counter()
    for i, c in enumerate(box.conversation):
        delivered[c] += 1
        if c in selected and delivered[c] == at:
            points[c] = i
    return points


def replay(box: Mailbox, tool_name: str, protocol: str, workdir: str) -> Counts:
    """Deliver every message of ``box`` through a fresh ``tool_name``, muting as ``protocol``
    says, and count."""
    os.makedirs(workdir, exist_ok=True)
    tool = TOOL_CLASSES[tool_name](workdir)
    points = mute_points(box, protocol)
    counts = Counts()
    muted: dict[int, int] = {}  # conversation -> index of the message it was muted on
    # id, ("ti", key) or ("subject", text) -> the muted conversation it was recorded for
    # (on the muted message) or could have been learned for (from a caught message)
    known: dict = {}
    state: dict[int, dict[str, set[str]]] = {}  # conversation -> own ids by their fate
    for i, message in enumerate(box.messages):
        flagged = tool.deliver(message)
        c = box.conversation[i]
        fate = state.setdefault(c, {"before": set(), "caught": set(), "missed": set()})
        if c in muted:
            counts.later += 1
            if flagged:
                counts.caught += 1
                for key in [*message.own, *traits(message)]:
                    known.setdefault(key, c)
            else:
                counts.misses.append(describe_miss(box, i, muted[c], fate))
            fate["caught" if flagged else "missed"].update(message.own)
        elif c in points:
            fate["before"].update(message.own)
            if i == points[c]:
                if not tool.mute(message):
                    counts.unrecorded_mutes += 1
                muted[c] = i
                counts.muted += 1
                for key in [*message.ids, *traits(message)]:
                    known.setdefault(key, c)
        else:
            counts.other += 1
            if flagged:
                counts.false_positives += 1
                counts.false_positive_list.append(describe_false_positive(box, i, muted, known))
    counts.tempfails, counts.failures = tool.tempfails, tool.failures
    counts.problems = [f"{box.label}: {tool_name}, {protocol}: {p}" for p in tool.problems]
    return counts


def replay_mailbox(
    path: str,
    tool: str,
    protocol: str,
    workdir: str,
    subject_rule: str = "replies",
    truth: str = "ids",
) -> Counts:
    """Replay one mailbox (a Maildir/MH-like folder or an mbox file) with one tool
    ("mailthread" or "baseline"), one protocol ("first" or "third") and one ground truth
    ("ids" or "topic")."""
    box = load_mailbox(path, subject_rule=subject_rule, topic=truth == "topic")
    return replay(box.as_truth(truth), tool, protocol, workdir)


SUBJECT_ONLY = "only the subject links it"
MISS_KINDS = (
    "names an id recorded at the mute: the tool should catch it",
    "names a caught later message: a tool that learns should catch it",
    "no References/In-Reply-To ids; Thread-Index links it",
    f"no References/In-Reply-To ids; {SUBJECT_ONLY}",
    "no References/In-Reply-To ids; ids link it (a duplicate)",
    "names only messages from before the mute that the muted one does not name"
    " (another branch, or References trimmed)",
    "names only later messages that were missed too",
    "its References/In-Reply-To name no message of the conversation here"
    " (parent not in the mailbox, another tree); Thread-Index links it",
    "its References/In-Reply-To name no message of the conversation here"
    f" (parent not in the mailbox, another tree); {SUBJECT_ONLY}",
)


def miss_kind(box: Mailbox, i: int, mute: int, fate: dict[str, set[str]]) -> str:
    """Why the ground truth puts message ``i`` into the conversation muted on message
    ``mute`` while the tool did not flag it: the first of MISS_KINDS that applies; when only
    the subject links it, whether that subject has a reply prefix (Re:, AW:...)."""
    kind = _miss_kind(box, i, mute, fate)
    if kind.endswith(SUBJECT_ONLY):
        if is_reply(box.messages[i].subject):
            kind += ", a reply (Re:-type prefix)"
        else:
            kind += ", a new posting (no Re:-type prefix: [PATCH v2], Fw:, [RESULT]...)"
    return kind


def _miss_kind(box: Mailbox, i: int, mute: int, fate: dict[str, set[str]]) -> str:
    message = box.messages[i]
    ids = set(message.ids)
    if ids & set(box.messages[mute].ids):
        return MISS_KINDS[0]
    if ids & fate["caught"]:
        return MISS_KINDS[1]
    linked_by = box.linked_by[i]
    if not message.parents:
        if linked_by == "Thread-Index":
            return MISS_KINDS[2]
        return MISS_KINDS[4] if linked_by == "ids" else MISS_KINDS[3]
    if ids & fate["before"]:
        return MISS_KINDS[5]
    if ids & fate["missed"]:
        return MISS_KINDS[6]
    return MISS_KINDS[7] if linked_by == "Thread-Index" else MISS_KINDS[8]


def describe_miss(box: Mailbox, i: int, mute: int, fate: dict[str, set[str]]) -> dict:
    message = box.messages[i]
    return {
        "mailbox": box.label,
        "message": message.name,
        "subject": message.subject,
        "headers": message.flags(),
        "kind": miss_kind(box, i, mute, fate),
        "muted_on": box.messages[mute].name,
        "muted_subject": box.messages[mute].subject,
    }


def traits(message: Message) -> list[tuple[str, str | bytes]]:
    """What besides ids may tie a message to a thread: its Thread-Index conversation key and
    its normalised subject."""
    keys: list[tuple[str, str | bytes]] = []
    if message.thread_index:
        keys.append(("Thread-Index", message.thread_index))
    if normalised_subject(message.subject):
        keys.append(("subject", normalised_subject(message.subject)))
    return keys


def describe_false_positive(box: Mailbox, i: int, muted: dict[int, int], known: dict) -> dict:
    message = box.messages[i]
    shared = [key for key in [*message.ids, *traits(message)] if key in known]
    via = box.messages[muted[known[shared[0]]]] if shared else None
    if not shared:
        why = "shares no id, Thread-Index or subject with a muted conversation"
    elif isinstance(shared[0], str):
        why = f"shares <{shared[0]}>"
    else:
        why = f"shares its {shared[0][0]}"
    return {
        "mailbox": box.label,
        "message": message.name,
        "subject": message.subject,
        "headers": message.flags(),
        "why": why,
        "muted_on": via.name if via else None,
        "muted_subject": via.subject if via else None,
    }


@dataclass
class TruthResult:
    """One mailbox under one ground truth."""

    conversations: int
    subject_joined: int
    thread_index_joined: int
    counts: dict[tuple[str, str], Counts]  # (protocol, tool) -> counts


@dataclass
class MailboxResult:
    label: str
    messages: int
    truths: dict[str, TruthResult]  # "ids", "topic" -> its figures
    topic_stats: Counter[str]  # see TOPIC_STATS


def run_mailbox(
    path: str,
    label: str,
    tools: list[str],
    protocols: list[str],
    subject_rule: str,
    truths: tuple[str, ...] = ("ids",),
) -> MailboxResult:
    whole = load_mailbox(path, label, subject_rule, topic="topic" in truths)
    results = {}
    with tempfile.TemporaryDirectory(prefix="replay.") as workdir:
        for truth in truths:
            box = whole.as_truth(truth)
            counts = {}
            for protocol in protocols:
                for tool in tools:
                    counts[protocol, tool] = replay(
                        box, tool, protocol, os.path.join(workdir, f"{truth}.{tool}.{protocol}")
                    )
            results[truth] = TruthResult(
                conversations=len(set(box.conversation)),
                subject_joined=box.subject_joined,
                thread_index_joined=box.thread_index_joined,
                counts=counts,
            )
    return MailboxResult(
        label=label, messages=len(whole.messages), truths=results, topic_stats=whole.topic_stats
    )


# ---------------------------------------------------------------------------------------
# Output


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def table(rows: list[list[str]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def totals_table(totals: dict[tuple[str, str], Counts]) -> str:
    rows = [
        [
            "protocol",
            "tool",
            "muted conversations",
            "later messages",
            "caught",
            "recall",
            "other messages",
            "false positives",
        ]
    ]
    for (protocol, tool), c in totals.items():
        rows.append(
            [protocol, tool]
            + [str(n) for n in (c.muted, c.later, c.caught)]
            + [percent(c.caught, c.later), str(c.other), str(c.false_positives)]
        )
    return table(rows)


def per_mailbox_table(results: list[MailboxResult], tools, protocols, truth: str = "ids") -> str:
    short = {"mailthread": "mt", "baseline": "bl"}
    header = ["mailbox", "msgs", "convs", "subj-joined"]
    for protocol in protocols:
        header += [f"{protocol}: muted", "later"]
        header += [f"caught {short[t]}" for t in tools]
        header += ["other"] + [f"FP {short[t]}" for t in tools]
    rows = [header]
    for r in results:
        t_ = r.truths[truth]
        row = [r.label, str(r.messages), str(t_.conversations), str(t_.subject_joined)]
        for protocol in protocols:
            any_tool = t_.counts[protocol, tools[0]]
            row += [str(any_tool.muted), str(any_tool.later)]
            row += [str(t_.counts[protocol, t].caught) for t in tools]
            row += [str(any_tool.other)]
            row += [str(t_.counts[protocol, t].false_positives) for t in tools]
        rows.append(row)
    return table(rows)


def misses_report(tool: str, protocol: str, counts: Counts) -> str:
    out = [f"## {tool}, protocol {protocol}: {len(counts.misses)} missed later messages"]
    order = {kind: n for n, kind in enumerate(MISS_KINDS)}
    kinds = sorted(
        {m["kind"] for m in counts.misses},
        key=lambda k: (min(n for known, n in order.items() if k.startswith(known)), k),
    )
    for kind in kinds:
        misses = [m for m in counts.misses if m["kind"] == kind]
        if not misses:
            continue
        out.append(f"\n### {kind}: {len(misses)}\n")
        for m in misses:
            out.append(
                f"- {m['mailbox']}/{m['message']}  [{m['headers']}]  {clip(m['subject'])!r}\n"
                f"    muted on {m['muted_on']}  {clip(m['muted_subject'])!r}"
            )
    fps = counts.false_positive_list
    out.append(f"\n## {tool}, protocol {protocol}: {len(fps)} false positives")
    if fps:
        out.append("")
    for m in fps:
        why = m["why"]
        if m["muted_on"]:
            why += f" with the conversation muted on {m['muted_on']} {clip(m['muted_subject'])!r}"
        out.append(
            f"- {m['mailbox']}/{m['message']}  [{m['headers']}]  {clip(m['subject'])!r}\n    {why}"
        )
    return "\n".join(out)


def clip(text: str | None, width: int = 70) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Replay mailboxes in Date order through mailthread and the baseline "
        "filter; count caught later messages of muted conversations and false positives."
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", default=[str(CORPUS)])
    parser.add_argument("--tool", choices=("mailthread", "baseline", "both"), default="both")
    parser.add_argument("--protocol", choices=("first", "third", "both"), default="both")
    parser.add_argument("--only", metavar="SUBSTRING", help="only mailboxes whose path has it")
    parser.add_argument("--jobs", type=int, default=2, help="mailboxes replayed at a time")
    parser.add_argument("--per-mailbox", action="store_true", help="a row per mailbox too")
    parser.add_argument("--misses", action="store_true", help="list misses, false positives")
    parser.add_argument("--json", action="store_true", help="the counts as JSON")
    parser.add_argument(
        "--subject-rule",
        choices=("replies", "all"),
        default="replies",
        help="which messages the ground truth joins by subject (see above)",
    )
    parser.add_argument(
        "--truth",
        choices=(*TRUTHS, "both"),
        default="both",
        help="the ground truth: ids (conversations as threads), topic (as a reader sees"
        " them: a new subject is a new conversation), both (default)",
    )
    args = parser.parse_args(argv)
    tools = list(TOOLS) if args.tool == "both" else [args.tool]
    protocols = list(PROTOCOLS) if args.protocol == "both" else [args.protocol]
    if "mailthread" in tools and shutil.which("mailthread") is None:
        parser.error("no mailthread on PATH (PATH=.venv/bin:$PATH)")

    truths = TRUTHS if args.truth == "both" else (args.truth,)

    start = time.monotonic()
    mailboxes = [
        (p, label) for p, label in find_mailboxes(args.paths) if args.only is None or args.only in p
    ]
    if not mailboxes:
        parser.error("no mailbox found")
    # The biggest first, so that the last job to finish is a small one.
    order = sorted(mailboxes, key=lambda m: -mailbox_size(m[0]))
    job = (tools, protocols, args.subject_rule, truths)
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {label: pool.submit(run_mailbox, path, label, *job) for path, label in order}
            done = {label: future.result() for label, future in futures.items()}
    else:
        done = {label: run_mailbox(path, label, *job) for path, label in order}
    results = [done[label] for _, label in mailboxes]
    elapsed = time.monotonic() - start
    messages = sum(r.messages for r in results)
    report_tools = ["mailthread"] if "mailthread" in tools else tools
    stats: Counter[str] = Counter()
    for r in results:
        stats.update(r.topic_stats)

    sections = {}
    for truth in truths:
        totals = {(p, t): Counts() for p in protocols for t in tools}
        for r in results:
            for key, counts in r.truths[truth].counts.items():
                totals[key] += counts
        sections[truth] = totals

    if args.json:
        doc: dict = {
            "mailboxes": len(results),
            "messages": messages,
            "elapsed_seconds": round(elapsed, 1),
        }
        for truth, totals in sections.items():
            part = json_section(results, truth, totals, report_tools, args.misses)
            if truth == "topic":
                doc["topic"] = part | {"topic_stats": {k: stats[k] for k in TOPIC_STATS}}
            else:
                doc |= part
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0

    for truth, totals in sections.items():
        subject_joined = sum(r.truths[truth].subject_joined for r in results)
        index_joined = sum(r.truths[truth].thread_index_joined for r in results)
        conversations = sum(r.truths[truth].conversations for r in results)
        problems = [p for counts in totals.values() for p in counts.problems]
        if truth == "topic":
            if "ids" in sections:
                print()
            print(
                "## Topic ground truth: an id links two messages only while their subjects"
                " agree, except within a patch series; ids without '@' link nothing\n"
            )
        print(
            f"{len(results)} mailboxes, {messages} messages, {conversations} conversations"
            f" ({subject_joined} joined only by the subject rule, {index_joined} by Thread-Index"
            " beyond the ids)\n"
        )
        if truth == "topic":
            for key, text in TOPIC_STATS.items():
                print(f"{stats[key]:5d} {text}")
            print()
        print(totals_table(totals))
        if args.per_mailbox:
            print()
            print(per_mailbox_table(results, tools, protocols, truth))
        for (p, t), c in totals.items():
            if c.tempfails or c.failures or c.unrecorded_mutes:
                print(
                    f"\n{t}, {p}: {c.tempfails} match exits 75 (passed unchanged), "
                    f"{c.failures} other failures, {c.unrecorded_mutes} mutes not recorded"
                )
        if problems:
            print("\nProblems (stderr of the tools):")
            for text in problems:
                print(f"  {text}")
        if args.misses:
            for (p, t), c in totals.items():
                if t in report_tools:
                    print()
                    print(misses_report(t, p, c))
    print(f"\nelapsed: {elapsed:.1f} s ({args.jobs} jobs)")
    return 0


def json_section(
    results: list[MailboxResult], truth: str, totals: dict, report_tools: list[str], misses: bool
) -> dict:
    """The JSON figures of one ground truth."""
    part = {
        "conversations": sum(r.truths[truth].conversations for r in results),
        "subject_joined": sum(r.truths[truth].subject_joined for r in results),
        "thread_index_joined": sum(r.truths[truth].thread_index_joined for r in results),
        "totals": [{"protocol": p, "tool": t} | c.numbers() for (p, t), c in totals.items()],
        "per_mailbox": [
            {
                "mailbox": r.label,
                "messages": r.messages,
                "conversations": r.truths[truth].conversations,
                "subject_joined": r.truths[truth].subject_joined,
                "thread_index_joined": r.truths[truth].thread_index_joined,
                "results": [
                    {"protocol": p, "tool": t} | c.numbers()
                    for (p, t), c in r.truths[truth].counts.items()
                ],
            }
            for r in results
        ],
        "problems": [p for counts in totals.values() for p in counts.problems],
    }
    if misses:
        part["misses"] = [
            {"protocol": p, "tool": t, "misses": c.misses, "false_positives": c.false_positive_list}
            for (p, t), c in totals.items()
            if t in report_tools
        ]
    return part


def mailbox_size(path: str) -> int:
    """Roughly how many messages: the number of subprocesses a replay runs."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read().count(b"\nFrom ") + 1
    return sum(
        len(os.listdir(os.path.join(path, sub)))
        for sub in ("", "cur", "new")
        if os.path.isdir(os.path.join(path, sub))
    )


if __name__ == "__main__":
    sys.exit(main())
