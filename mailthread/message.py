"""Raw bytes in, raw bytes out: find a message's header, read its ids, insert one line.

Nothing here decodes or re-serialises a message: positions are found in the raw bytes and
every byte that is not the inserted line (or an ``Old-`` prefix) is copied as it came.

This module is on the per-mail ``match`` path, so it imports nothing at all: not even
``re``, whose import (it pulls in ``enum``) costs about half a bare interpreter's start.
"""

from __future__ import annotations

from collections import namedtuple

from mailthread.dates import parse_date
from mailthread.encoded_words import decode_words, encoded_words, word_bytes
from mailthread.scan import Next, run_end
from mailthread.subject import is_digest_subject, normalise_subject, subject_hash

_BLANKS = b" \t"
# Bytes that end a bare word in a threading field.
_WORD_END = frozenset(b' \t\r\n\x0b\x0c,;<>()"')
_SPACE = frozenset(b" \t\r\n\x0b\x0c,;>")


# What the message index keeps of a message: own id (or None), its parents' ids nearest
# first (In-Reply-To, then References from last to first), every id (own first), Outlook's
# conversation key ("thread-index:" + hex of the first 22 bytes of Thread-Index, or None),
# the hash of its normalised subject (or None), whether the subject has a reply prefix,
# its Date in seconds since the epoch (or None), its subject decoded (None without a
# Subject field: what ``topic_keys`` reads, only when the fork rule needs it), and whether
# it is a list digest (``is_digest_subject``, or Content-Type multipart/digest, and no
# parent named).
Facts = namedtuple(
    "Facts",
    "own parents ids thread_index subject reply date text digest",
    defaults=(None, False),
)


def without_ids(facts: Facts, dropped) -> Facts:
    """``facts`` with the ids of ``dropped`` (a set) taken out of its parents and ids: the
    Message-IDs of list digests, which a reply names without belonging to their many
    conversations."""
    return facts._replace(
        parents=[msgid for msgid in facts.parents if msgid not in dropped],
        ids=[msgid for msgid in facts.ids if msgid not in dropped],
    )


# The most of one field that Header.facts() and Header.subject() read (bytes). RFC 5322 2.1.1
# allows 998 bytes a line, and real fields are far shorter (in ../shared/corpus the longest
# References has 1,023 bytes, the most ids 18, the longest field 3,845 bytes); 64 KiB of
# References is over 800 ids of 80 bytes, eight times the 100 ids the message index keeps
# of a message (store._MAX_KEYS). A longer field is no mail client's, and reading all of it
# (10 MB of ids, reply prefixes or encoded words) cost `match` 3 to 10 seconds.
FACT_BYTES = 64 * 1024


class Header:
    """Where the header of a raw message is: ``raw[start:end]`` holds its field lines, as
    procmail finds them.

    ``start`` skips a leading mbox ``From `` postmark line (up to its LF); ``end`` is where
    the empty line that ends the header begins (the end of input when there is none, as
    procmail's ``h`` may give). procmail's lines end at LF only, so which empty line ends
    the header depends on how the first line ends (``kind``):

    - ``"lf"`` (first line ends in LF): the first empty LF line only. A line holding only
      a CR is a header line, as it is to procmail: a sender's field after it is a field.
    - ``"crlf"`` (first line ends in CRLF): the first empty CRLF or empty LF line.
    - ``"cr"`` (a bare CR, one not followed by LF, ends the first line: old Mac mail): the
      first empty LF line if any, so usually all of it is header; fields start only where
      procmail's lines start (after an LF), and each field's value ends at its first bare
      CR for every reading (ids, Subject, Date, Thread-Index), so nothing after it, from
      the next "line" or the body, is ever read as part of a field.

    ``eol`` is the line ending of the line ``rewrite`` inserts: CRLF for a ``"crlf"``
    message, else LF (the one line end procmail's ``$`` knows).
    """

    __slots__ = ("_fields", "_threading", "end", "eol", "kind", "raw", "start")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        start = 0
        if raw.startswith(b"From "):
            # A postmark ends at an LF, as procmail reads it. With no LF at all (CR-only
            # mail) there is no postmark line to keep first: the mark goes before it all,
            # never after the body.
            newline = raw.find(b"\n")
            start = 0 if newline < 0 else newline + 1
        newline = raw.find(b"\n", start)
        cr = raw.find(b"\r", start, len(raw) if newline < 0 else newline)
        if cr < 0:
            kind = "lf"
        elif cr + 1 == newline:
            kind = "crlf"
        else:
            kind = "cr"
        # A line of blanks is not empty: it continues a field (usrp-users/cur/
        # 000476-5c49ab54db68:2, has one).
        if raw.startswith(b"\n", start) or (kind == "crlf" and raw.startswith(b"\r\n", start)):
            end = start
        else:
            lf = raw.find(b"\n\n", start)
            found = lf
            if kind == "crlf":
                # An empty CRLF line before the first "\n\n" ends the header even when an
                # LF-only one follows it at once ("\r\n\r\n\n"): its "\n\r\n" starts before lf.
                crlf = raw.find(b"\n\r\n", start, len(raw) if lf < 0 else lf + 2)
                found = crlf if crlf >= 0 else lf
            end = found + 1 if found >= 0 else len(raw)
        self.start = start
        self.end = end
        self.kind = kind
        self.eol = b"\r\n" if kind == "crlf" else b"\n"
        self._fields: list[tuple[bytes, int, int, int]] | None = None
        # threading_ids for each bound, read once: match's lookup and what it records of
        # the hit (the field that named the parent) both need them.
        self._threading: dict = {}

    def fields(self) -> list[tuple[bytes, int, int, int]]:
        """(lower-case name, where the field starts, where its value starts, where its
        value ends) of every field of the header, in order: a field starts at the start of
        a line (after an LF) and ends with its continuation lines, or in a ``"cr"`` message
        at its first bare CR.

        Time linear in the header: continuation lines are found by bytes methods, so a
        field folded over millions of lines costs one step, not one per line."""
        if self._fields is not None:
            return self._fields
        raw, start, end = self.raw, self.start, self.end
        cr_only = self.kind == "cr"
        # The header with every line break that starts a continuation line blanked (same
        # length, same positions): each line break left in it ends a field.
        ends = raw[start:end].replace(b"\n ", b"  ").replace(b"\n\t", b"  ")
        fields: list[tuple[bytes, int, int, int]] = []
        pos = start
        while pos < end:
            newline = ends.find(b"\n", pos - start)
            field_end = end if newline < 0 else start + newline + 1
            if raw[pos] not in _BLANKS:  # else continuation lines with no field: dropped
                newline = raw.find(b"\n", pos, field_end)
                line_end = field_end if newline < 0 else newline + 1
                value_end = _bare_cr(raw, pos, field_end) if cr_only else field_end
                line_end = min(line_end, value_end)
                colon = raw.find(b":", pos, line_end)
                name = raw[pos:colon].rstrip(_BLANKS).lower() if colon > 0 else b""
                fields.append((name, pos, colon + 1 if colon > 0 else line_end, value_end))
            pos = field_end
        self._fields = fields
        return fields

    def threading_ids(self, bound: int | None = None) -> tuple[list[str], list[str], list[str]]:
        """The ids of Message-ID, In-Reply-To and References, each in header order.

        In-Reply-To is read as ``reply_ids`` reads it, and an id there that is an address of
        the message's own From, To, Cc, Reply-To or Sender is dropped (it is the parent's
        sender, docs/leniency.md). When In-Reply-To is free text and References has ids, the
        In-Reply-To ids go before References' first one: the nearest parent is References'
        last id (notmuch does the same).

        With a ``bound`` (bytes), each of the three is read from at most ``bound`` bytes in
        all, whole ids only (``_bounded``): the first of Message-ID and In-Reply-To, whose
        first id is the message's own and its parent's, and the last of References, which
        ends with the nearest ancestors (RFC 5322 3.6.4). In all, not in each field: a
        message of 15 Message-ID fields of 64 KiB each made one bound per field cost a
        second and a half. Read once for each ``bound``; the lists returned are the
        caller's to change."""
        read = self._threading.get(bound)
        if read is None:
            read = self._threading[bound] = self._read_threading_ids(bound)
        own, parents, references = read
        return own[:], parents[:], references[:]

    def _read_threading_ids(self, bound: int | None) -> tuple[list[str], list[str], list[str]]:
        own: list[str] = []
        parents: list[str] = []
        references: list[str] = []
        free_text = False
        raw = self.raw
        threading = [
            (name, value_start, field_end)
            for name, _, value_start, field_end in self.fields()
            if name in _THREADING_FIELDS
        ]
        for name, value_start, field_end, left in _within(threading, bound):
            if name == b"references":
                # Bare ids are real here: ZTE mail writes `References: id1,id2`.
                value = _bounded(raw, value_start, field_end, left, last=True)
                references += parse_ids(value, bare=True)
            elif name == b"in-reply-to":
                found, text = reply_ids(_bounded(raw, value_start, field_end, left))
                parents += found
                free_text = free_text or text
            else:
                own += parse_ids(_bounded(raw, value_start, field_end, left), bare=False)
        if parents:
            parents = self._not_own_addresses(parents, bound)
            if free_text and references:
                references[:0] = parents
                parents = []
        return own, parents, references

    def _not_own_addresses(self, ids: list[str], bound: int | None) -> list[str]:
        """``ids`` without those that are, compared case-insensitively, an address in the
        message's From, To, Cc, Reply-To or Sender (the first ``bound`` bytes of each)."""
        values = [
            self.raw[
                value_start : field_end if bound is None else min(field_end, value_start + bound)
            ]
            for name, _, value_start, field_end in self.fields()
            if name in _ADDRESS_FIELDS
        ]
        if not values:
            return ids
        # A set of words, not a search for each id: many ids and many near-miss addresses
        # (`<a@a>` x 13,000 against `xa@ax` x 11,000) took a search per id 40 s.
        own = addresses(values)
        return [msgid for msgid in ids if msgid.lower() not in own]

    def own_id(self) -> str | None:
        own = self.threading_ids()[0]
        return own[0] if own else None

    def ids_nearest_first(self) -> list[str]:
        """Message-ID, In-Reply-To, then References from last to first; no repeats."""
        own, parents, references = self.threading_ids()
        references.reverse()
        return list(dict.fromkeys(own + parents + references))

    def facts(self) -> Facts:
        """What the message index and the thread lookup use (``Facts``), read from at most
        ``FACT_BYTES`` bytes of each field as written: a longer Subject, Date or Thread-Index
        counts as none, and of a longer threading field only the part nearest the message
        counts (``threading_ids``). Only message ids (``is_msgid``) count: ``<yes>`` links
        nothing and is no own id."""
        own, parents, references = self.threading_ids(FACT_BYTES)
        references.reverse()
        own = [msgid for msgid in own if is_msgid(msgid)]
        ids = [msgid for msgid in dict.fromkeys(own + parents + references) if is_msgid(msgid)]
        own_id = own[0] if own else None
        parents = [msgid for msgid in ids if msgid != own_id]
        subject, reply, text, normalised, digest = None, False, None, "", False
        value = self._fact_value(b"subject")
        if value is not None:
            text = decode_words(value)
            normalised, reply = normalise_subject(text)
            if normalised:
                subject = subject_hash(normalised)
        # A list digest answers nothing: a reply under a digest's subject, or messages
        # forwarded as a MIME digest in reply to one (neomutt's forward_references), are a
        # message of a conversation.
        if not parents:
            digest = is_digest_subject(normalised)
            if not digest:
                value = self._fact_value(b"content-type")
                kind = b"" if value is None else value.lstrip().lower()[:17]
                digest = kind[:16] == b"multipart/digest" and kind[16:] in (b"", b";", b" ", b"\t")
        date = self._fact_value(b"date")
        return Facts(
            own_id,
            parents,
            ids,
            self.thread_index(),
            subject,
            reply,
            None if date is None else parse_date(date),
            text,
            digest,
        )

    def thread_index(self) -> str | None:
        """Outlook's conversation key: the first 22 bytes of Thread-Index (a reserved byte,
        a time and a GUID), which every message of one conversation shares. None when there
        is no Thread-Index or it has more than ``FACT_BYTES`` bytes."""
        value = self._fact_value(b"thread-index")
        if value is None:
            return None
        import binascii

        value = b"".join(value.split())
        try:
            data = binascii.a2b_base64(value + b"=" * (-len(value) % 4))
        except ValueError:
            return None
        return f"thread-index:{data[:22].hex()}" if len(data) >= 22 else None

    def recipients(self) -> tuple[set[str], set[str]]:
        """The addresses in To (and Resent-To) and in Cc, lower-cased."""
        to = self.field_values(b"to", FACT_BYTES)
        return addresses(to), addresses(self.field_values(b"cc", FACT_BYTES))

    def field_values(self, name: bytes, bound: int | None = None) -> list[bytes]:
        """The unfolded raw values of every field called ``name`` (ASCII, any case); with a
        ``bound``, of the first ``bound`` bytes of each value as written."""
        name = name.lower()
        values = []
        for field, _, value_start, field_end in self.fields():
            if field == name:
                end = field_end if bound is None else min(field_end, value_start + bound)
                values.append(_unfold(self.raw[value_start:end]))
        return values

    def _fact_value(self, name: bytes) -> bytes | None:
        """The unfolded value of the first field called ``name`` (lower case); None when
        there is none or it has more than ``FACT_BYTES`` bytes as written."""
        for field, _, value_start, field_end in self.fields():
            if field == name:
                if field_end - value_start > FACT_BYTES:
                    return None
                return _unfold(self.raw[value_start:field_end])
        return None

    def subject(self) -> str | None:
        """The Subject (its first ``FACT_BYTES`` bytes), RFC 2047-decoded by
        ``decode_words``, as for the message index (one decoder for what is shown and what
        is matched), blanks collapsed; None when there is none. Never raises; time linear,
        and bounded."""
        values = self.field_values(b"subject", FACT_BYTES)
        if not values:
            return None
        return " ".join(decode_words(values[0]).split()) or None

    def rewrite(self, line: bytes | None, renamed_field: bytes) -> list[bytes | memoryview]:
        """The message as pieces to write: fields called ``renamed_field`` get an ``Old-``
        prefix (as ``formail -i`` does), and ``line`` (without line ending), if given,
        becomes the first line of the header, after an mbox ``From `` postmark.

        The first line is the one place every MDA agrees belongs to the header: procmail
        ends a header only at an empty LF line, maildrop also at an empty CRLF one (and
        mailthread too, in a CRLF message), so a line further down may be header to one and
        body to another. A
        recipe that tests only that place (procmail's ``^^``) cannot be fooled by a
        sender's own field, wherever it stands (docs/threat-model.md).
        """
        raw = memoryview(self.raw)
        renamed_field = renamed_field.lower()
        pieces: list[bytes | memoryview] = [raw[: self.start]]
        if line is not None:
            pieces += [line, self.eol]
        done = self.start
        for name, field_start, _, _ in self.fields():
            if name == renamed_field:
                pieces += [raw[done:field_start], b"Old-"]
                done = field_start
        pieces.append(raw[done:])
        return pieces


def is_msgid(token: str) -> bool:
    """Whether a token read from a threading field is a message id: an ``@`` with something
    other than ``@`` on each side (RFC 5322 3.6.4 msg-id: id-left "@" id-right), as a bare
    word must be to count at all (docs/leniency.md). Not ``yes`` (``git send-email
    --in-reply-to=yes``), ``1``, a date, ``@``, ``a@``, ``@b``: such tokens are no message's,
    so they would tie together unrelated mail that carries the same garbage."""
    return "@" in token.strip("@")


def parse_ids(value: bytes, bare: bool) -> list[str]:
    """The message ids in one field value, in order, without angle brackets.

    Comments ``(...)`` and quoted strings are skipped (Gnus writes `(wubo's message of "...")`
    after the id). Words without brackets count as ids when they hold an ``@`` and either
    ``bare`` is set or the value has no bracketed id at all: PHPMailer writes
    `In-Reply-To: CAB...@mail.gmail.com`, while Mutt 1.0 writes
    `In-Reply-To: <id>; from someone@example.com on ...`, whose address is not an id.
    Ids are decoded as Latin-1, which maps every byte to one character and back.

    The value ends at a bare CR (a CR not followed by LF: old Mac mail ends its lines so),
    and RFC 2047 encoded words in it are decoded first (``_decoded_words``).

    Time linear in ``value``: a value without comments or quoted strings (nearly every
    one) is split by bytes methods; in others every search only moves forward, and a run of
    one delimiter (``<<<<``, ``((((``, quotes, backslashes) is one step.
    """
    value = _readable(value)
    if b'"' in value or b"(" in value or b")" in value:
        found = _scanned_ids(value)[0]
    else:
        found = _plain_ids(value)
    any_bracketed = any(kind for _, kind in found)
    return [msgid.decode("latin-1") for msgid, kind in found if kind or bare or not any_bracketed]


def reply_ids(value: bytes) -> tuple[list[str], bool]:
    """(the parent ids in an In-Reply-To value, in order; whether the value is free text).

    Free text is a value with a word that holds no ``@``, or a quoted string, outside
    comments: exmh's `Message from NAME <ADDRESS> of "DATE." <ID>`, nmh's `Your message of
    "DATE." <ID>`, Mutt 1.0's `<ID>; from NAME on DATE`. Other values are read as
    ``parse_ids`` reads them. In free text
      - a bracketed token right after a word (`Doug <doug@example.org>`) or after a quoted
        string (`"Doug Smith" <doug@example.org>`) is a name-addr, an address: not an id;
      - but one right after a quoted string that follows the word ``of`` is an id: MH and
        Gnus write `of "DATE" <ID>`;
      - every other bracketed token is an id (at the start, after a separator ``,`` ``;``,
        after another bracketed token, comments being transparent);
      - words without brackets are never ids (`from someone@example.com on ...`).
    docs/leniency.md gives the forms and what peers do. Time linear in ``value``."""
    value = _readable(value)
    if b'"' in value or b"(" in value or b")" in value:
        found, text = _scanned_ids(value)
    else:
        text = _has_text(value)
        found = _plain_ids(value, text)
    if text:
        ids = [msgid for msgid, kind in found if kind == 1]
    else:
        any_bracketed = any(kind for _, kind in found)
        ids = [msgid for msgid, kind in found if kind or not any_bracketed]
    return [msgid.decode("latin-1") for msgid in ids], text


def typed_id(typed: bytes) -> str | None:
    """The id in what a user typed (``--message-id``), read so that it is the id stored for
    the message: encoded words decoded, then ``<id>`` as a Message-ID field's first id is
    read (blanks and line breaks anywhere, a quoted local part with blanks as in
    `<"16913 Tue Apr 9 14:24:59 1996"@host>`), and anything else whole, without its blanks
    (an id holding ``;`` or ``(``, a garbage id such as `yes`). A header line pasted whole
    gives what the field names: a Message-ID line its id, an In-Reply-To line the parent
    ``reply_ids`` reads (never the sender's address), a References line its last id. None
    when nothing is left."""
    value = _readable(typed).strip()
    name, colon, rest = value.partition(b":")
    name = name.strip().lower()
    if colon and name in _THREADING_FIELDS:  # a header line pasted whole
        value = rest.strip()
        if name == b"in-reply-to":  # the parent, read as the field is
            found = reply_ids(value)[0]
            return found[0] if found else None
        if name == b"references":  # the nearest parent: the last id
            found = parse_ids(value, bare=True)
            return found[-1] if found else None
    if value.startswith(b"<"):
        if b'"' in value or b"(" in value or b")" in value:
            found = _scanned_ids(value)[0]
        else:
            found = _plain_ids(value)
        bracketed = [msgid for msgid, kind in found if kind]
        if bracketed:
            return bracketed[0].decode("latin-1")
        if value.endswith(b">"):
            value = value[1:-1]
    return b"".join(value.split()).decode("latin-1") or None


def _readable(value: bytes) -> bytes:
    """``value`` up to its first bare CR, its encoded words decoded. Cheap tests first:
    nearly every value has neither a CR nor ``=?``."""
    if b"\r" in value:
        # Same length, every CRLF out of the way: the first CR left is a bare one.
        bare_cr = value.replace(b"\r\n", b"\n\n").find(b"\r")
        if bare_cr >= 0:
            value = value[:bare_cr]
    if b"=?" in value:
        value = _decoded_words(value)
    return value


def _has_text(value: bytes) -> bool:
    """Whether a value without ``"``, ``(`` or ``)`` has, outside its bracketed tokens, a
    word holding no ``@`` (a lone ``<``, ``,`` and ``;`` separate words)."""
    pieces = value.split(b">")
    outside = [pieces.pop()]  # no ">" follows: all of it is outside
    for piece in pieces:
        before, opening, inside = piece.rpartition(b"<")
        outside.append(before if opening else inside)
    words = b" ".join(outside).translate(_BREAKS).split()
    return any(b"@" not in word.strip(b"@") for word in words)


def _plain_ids(value: bytes, after_word: bool = False) -> list[tuple[bytes, int]]:
    """(id, kind) of each id of a value with no ``(``, ``)`` or ``"``, kinds as
    ``_scanned_ids`` gives them: 0 a bare word, 1 a bracketed token, and with
    ``after_word`` 2 a bracketed token right after a word (with no quotes, the only phrase).

    Split at each ">": the last "<" before it, if any, opens a bracketed id, and any other
    "<" is lone (another "<" follows it before a ">"); the rest are words. Python steps once
    for each ">", not for each byte or word."""
    found: list[tuple[bytes, int]] = []
    pieces = value.split(b">")
    rest = pieces.pop()  # no ">" follows: words and lone "<" only
    for piece in pieces:
        outside, opening, inside = piece.rpartition(b"<")
        if not opening:
            outside = inside
        if b"@" in outside:
            found += _bare_words(outside)
        if opening:
            msgid = b"".join(inside.split())  # blanks inside brackets are never part of it
            if msgid:
                # What stands before "<": nothing (the start, or the ">" of the token
                # before), a separator (",", ";", a lone "<"), or the end of a word.
                kind = 1
                if after_word:
                    before = outside.rstrip(_WHITESPACE)[-1:]
                    if before and before not in b",;<" and not _dated(outside):
                        kind = 2
                found.append((msgid, kind))
    if b"@" in rest:
        found += _bare_words(rest)
    return found


def _dated(text: bytes) -> bool:
    """Whether ``text`` (no quotes) ends in the word ``of`` and a date: every word after
    the last ``of`` a word of a date (``_date_word``), a time among them. `Your message of
    Wed, 2 May 2001 11:20:14 -0400 <ID>` (rmail, older Gnus) is dated; a display name such
    as `Class of 1999 Reunion` or `Bob of Accounts, ext 12:30` is not."""
    words = text.translate(_BREAKS).lower().split()
    if b"of" not in words:
        return False
    after = words[len(words) - words[::-1].index(b"of") :]
    return all(_date_word(word) for word in after) and any(map(_time_word, after))


def _date_word(word: bytes) -> bool:
    """Whether ``word`` (lower case) can be part of an RFC 5322 date as mailers write one
    in a reply line: a weekday or month name, a day or year number, a time, a zone
    (``-0400``, ``edt``), ``at``, ``am``, ``pm``; a trailing ``.`` or ``,`` allowed."""
    word = word.rstrip(b".,")
    if word.isdigit():
        return len(word) <= 4
    if word[:1] in (b"+", b"-"):
        return len(word) == 5 and word[1:].isdigit()
    return (
        _time_word(word)
        or word[:3] in _DATE_NAMES
        and word.isalpha()
        and len(word) <= 9
        or word in _DATE_WORDS
    )


def _time_word(word: bytes) -> bool:
    """Whether ``word`` is a time: ``11:20``, ``11:20:14``, a trailing ``.`` allowed."""
    parts = word.rstrip(b".,").split(b":", 3)
    return 2 <= len(parts) <= 3 and all(p.isdigit() and len(p) <= 2 for p in parts)


_DATE_NAMES = frozenset(b"mon tue wed thu fri sat sun jan feb mar apr may jun jul aug sep".split())
_DATE_NAMES |= frozenset(b"oct nov dec".split())
_DATE_WORDS = frozenset(
    b"at am pm ut utc gmt z edt est cdt cst mdt mst pdt pst bst ist cet cest met mest dst"
    b" eet eest wet west jst".split()
)


def _bare_words(text: bytes) -> list[tuple[bytes, int]]:
    """(word, 0) of each word of ``text`` (no comment or quote) that is a bare id."""
    return [(word, 0) for word in text.translate(_BREAKS).split() if b"@" in word.strip(b"@")]


def _scanned_ids(value: bytes) -> tuple[list[tuple[bytes, int]], bool]:
    """(id, kind) of each id of any value, comments and quotes skipped, and whether the
    value is free text (``reply_ids``). Kinds: 0 a bare word, 1 a bracketed token, 2 a
    bracketed token right after a phrase (a word, or a quoted string not after ``of``):
    an address when the value is free text."""
    found: list[tuple[bytes, int]] = []
    depth = 0  # of comment parentheses
    # What came last outside comments: 0 the start, a separator or a bracketed token;
    # 1 a word; 2 a quoted string after the word "of" (a date: `of "DATE." <ID>`); 3 another
    # quoted string (a display name: `"Doug Smith" <doug@example.org>`).
    last = 0
    last_word = b""
    # Since the last bracketed token: whether the word "of" came with only words of a
    # date after it, and a time among them (`of Wed, 2 May 2001 11:20:14 -0400 <ID>`,
    # unquoted; ``_dated``).
    after_of = dated = False
    text = False
    n = len(value)
    kinds = value.translate(_KINDS)
    blank, special, word_byte = Next(kinds, b" "), Next(kinds, b"("), Next(kinds, b"w")
    opening, closing = Next(value, b"<"), Next(value, b">")
    quote, backslash = Next(value, b'"'), Next(value, b"\\")
    i = 0
    while i < n:
        c = value[i]
        if c == 60:  # "<"
            # In a run of "<", all but the last are lone: the next "<" comes before any ">".
            last_opening = run_end(value, i, b"<") - 1
            if last_opening > i and not depth:
                last = 0  # a lone "<" separates
            i = last_opening
            close = closing.at(i + 1)
            if close == n or opening.at(i + 1) < close:
                # No closing bracket, or garbage like `<Name <addr>`: a lone "<" separates.
                i += 1
                if not depth:
                    last = 0
                continue
            if not depth:
                # Blanks inside brackets are folding or garbage, never part of an id.
                msgid = b"".join(value[i + 1 : close].split())
                if msgid:
                    found.append((msgid, 2 if last in (1, 3) and not dated else 1))
                last = 0
                after_of = dated = False
            i = close + 1
        elif c == 34:  # '"': a quoted string, inside a comment or not
            if not depth:
                text = True
                last = 2 if last == 1 and last_word.lower() == b"of" else 3
            run = run_end(value, i, b'"') - i
            i += run - run % 2  # pairs of quotes are empty strings
            if not run % 2:
                continue
            i += 1
            while True:
                end, escape = quote.at(i), backslash.at(i)
                if escape < end:
                    # A backslash quotes the next byte (so pairs of them quote each other),
                    # but not a line end.
                    after = run_end(value, escape, b"\\")
                    if (after - escape) % 2 == 0:
                        i = after
                    elif after == n or value[after] == 10:
                        i = after - 1
                        break
                    else:
                        i = after + 1
                else:
                    i = end + 1
                    break
        elif c == 40:  # "("
            end = run_end(value, i, b"(")
            depth += end - i
            i = end
        elif c == 41:  # ")"
            end = run_end(value, i, b")")
            depth = max(depth - (end - i), 0)
            i = end
        elif depth:  # inside a comment: on to the next "<", '"', "(" or ")"
            i = special.at(i)
        elif c in _SPACE:
            j = min(word_byte.at(i), special.at(i))
            if value[i:j].strip(_WHITESPACE):  # a ",", ";" or stray ">" separates
                last = 0
            i = j
        else:
            j = min(blank.at(i), special.at(i))
            word = value[i:j]
            if b"@" in word.strip(b"@"):
                found.append((word, 0))
                after_of = dated = False
            else:
                text = True
                lower = word.lower()
                if lower == b"of":
                    after_of, dated = True, False
                elif after_of and _date_word(lower):
                    dated = dated or _time_word(lower)
                else:
                    after_of = dated = False
            last, last_word = 1, word
            i = j
    return found, text


# For parse_ids: each byte of a value as its kind, so that one bytes.find finds the next
# of a kind. " ": a byte that ends a bare word and separates; "(": one of <"() that ends a
# bare word and means more; "w": a byte of a bare word.
_KINDS = bytearray(b"w" * 256)
for _c in _WORD_END:
    _KINDS[_c] = 32 if _c in _SPACE else 40  # " " or "("
_KINDS = bytes(_KINDS)
del _c
# For _bare_words: the bytes that end a bare word (_WORD_END), as blanks.
_BREAKS = bytes.maketrans(b'\t\r\n\x0b\x0c,;<>()"', b" " * 12)
_WHITESPACE = b" \t\r\n\x0b\x0c"
# What may stand before and after an RFC 2047 encoded word in a threading field.
_WORD_BEFORE = frozenset(b" \t\r\n\x0b\x0c<,;")
_WORD_AFTER = frozenset(b" \t\r\n\x0b\x0c>,;")
_BLANKS_AS_SPACE = bytes.maketrans(b"\t\r\n\x0b\x0c", b"     ")
# The fields whose addresses are never a parent's id (Header.threading_ids).
_ADDRESS_FIELDS = frozenset([b"from", b"to", b"cc", b"reply-to", b"sender"])


def _decoded_words(value: bytes) -> bytes:
    """``value`` with each RFC 2047 encoded word (``=?charset?Q|B?text?=``, RFC 2047 2) that
    stands as a word of its own (after the start, a blank, ``<``, ``,`` or ``;``; before the
    end, a blank, ``>``, ``,`` or ``;``; no blank inside) replaced by its bytes, and the
    blanks between two such words dropped (RFC 2047 6.2): some mailers and relays encode
    whole In-Reply-To and References fields (`=?utf-8?q?=3Cid=40host=3E?=`; neomutt decodes
    them, neomutt#2315). Decoded by ``email.header`` (``word_bytes``), the charset not
    applied: ids are bytes, read as Latin-1 like raw ones. A word ``email.header`` cannot
    decode (broken base64) stays as written; an ``=?`` inside an id (`<a=?b?q?c?=@d>`) is no
    word. Time linear in ``value`` (``encoded_words``)."""
    out: list[bytes] = []
    pos = 0  # value[:pos] is done
    after_word = False
    n = len(value)
    blanks = Next(value.translate(_BLANKS_AS_SPACE), b" ")
    # Words with nothing between them are one run (RFC 2047 6.2; neomutt and email.header
    # decode `=?utf-8?q?=3C12?==?utf-8?q?34=40host=3E?=` so), standing alone as a whole.
    runs: list[list[tuple[int, int]]] = []
    for start, end, _ in encoded_words(value):
        if runs and runs[-1][-1][1] == start:
            runs[-1].append((start, end))
        else:
            runs.append([(start, end)])
    for run in runs:
        start, end = run[0][0], run[-1][1]
        before = value[start - 1] if start else 32
        after = value[end] if end < n else 32
        if before not in _WORD_BEFORE or after not in _WORD_AFTER or blanks.at(start) < end:
            continue
        pieces = [word_bytes(value, [one]) for one in run]
        if None in pieces:
            continue
        word = b"".join(pieces)
        between = value[pos:start]
        if not (after_word and not between.strip(_WHITESPACE)):
            out.append(between)
        out.append(word)
        after_word = True
        pos = end
    out.append(value[pos:])
    return b"".join(out)


_THREADING_FIELDS = frozenset([b"message-id", b"in-reply-to", b"references"])


def _within(
    fields: list[tuple[bytes, int, int]], bound: int | None
) -> list[tuple[bytes, int, int, int | None]]:
    """``fields`` (name, value start, value end) with the bound each is read with
    (``_bounded``), so that each name has at most ``bound`` bytes of values in all:
    References the last ones, the others the first ones; fields past it are left out.
    In header order."""
    if bound is None:
        return [(name, start, end, None) for name, start, end in fields]
    left = dict.fromkeys(_THREADING_FIELDS, bound)
    kept: list[tuple[bytes, int, int, int | None]] = []
    for name, start, end in reversed(fields):
        if name == b"references" and left[name] > 0:
            kept.append((name, start, end, left[name]))
            left[name] -= end - start
    for name, start, end in fields:
        if name != b"references" and left[name] > 0:
            kept.append((name, start, end, left[name]))
            left[name] -= end - start
    return sorted(kept, key=lambda field: field[1])


def _bounded(raw: bytes, start: int, end: int, bound: int | None, last: bool = False) -> bytes:
    """``raw[start:end]`` when it has at most ``bound`` bytes (or ``bound`` is None). Else
    the whole tokens of its first ``bound`` bytes: up to the last separator (a blank, ``,``,
    ``;`` or ``>``) among them, or all of them when a separator follows; with ``last``, those
    of its last ``bound`` bytes. So no id is cut in two, unless it holds blanks (garbage)."""
    if bound is None or end - start <= bound:
        return raw[start:end]
    if last:
        tail = raw[end - bound - 1 : end]  # a byte more: does a token start at the bound?
        cut = tail.translate(_KINDS).find(b" ")
        return tail[cut + 1 :] if cut >= 0 else b""
    head = raw[start : start + bound + 1]  # a byte more: does a token end at the bound?
    kinds = head.translate(_KINDS)
    return head[:bound] if kinds[bound] == 32 else head[: kinds.rfind(b" ") + 1]


def _bare_cr(raw: bytes, pos: int, end: int) -> int:
    """Where the first CR not followed by LF in ``raw[pos:end]`` is; ``end`` when none."""
    cr = raw.find(b"\r", pos, end)
    if cr < 0 or not raw.startswith(b"\n", cr + 1):
        return end if cr < 0 else cr
    found = raw[cr:end].replace(b"\r\n", b"\n\n").find(b"\r")  # one step, however many CRLF
    return end if found < 0 else cr + found


def _unfold(value: bytes) -> bytes:
    """A field value as written, without its line breaks and outer blanks."""
    return value.rstrip(b"\r\n").replace(b"\r\n", b"").replace(b"\n", b"").strip()


def field_name(line: str) -> str:
    """The field name of a ``Name: value`` header line; ValueError when it is not one."""
    name, colon, _ = line.partition(":")
    # RFC 5322 3.6.8: a field name is printable US-ASCII but the colon, at least one byte.
    if not colon or not name or not all(33 <= ord(c) <= 126 for c in name):
        raise ValueError(f"not a header line of the form 'Name: value': {line!r}")
    if "\r" in line or "\n" in line:
        raise ValueError("a header line cannot contain a line break")
    return name


def addresses(values: list[bytes]) -> set[str]:
    """The mail addresses (words with an @) of address fields, lower-cased."""
    found = set()
    for value in values:
        for word in set(value.translate(_BREAKS).split()):  # each once: 10 MB of `a@b, `
            if b"@" in word.strip(b"@"):
                found.add(word.decode("latin-1").lower())
    return found
