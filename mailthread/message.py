"""Raw bytes in, raw bytes out: find a message's header and its fields as procmail does
(``Header``), read what the message index keeps of it (``Facts``), insert one line.

Nothing here decodes or re-serialises a message: positions are found in the raw bytes and
every byte that is not the inserted line (or an ``Old-`` prefix) is copied as it came. The
values are read by the modules of their fields: ``msgid`` (Message-ID, In-Reply-To,
References), ``encoded_words`` and ``subject`` (Subject), ``dates`` (Date).

This module is on the per-mail ``match`` path, so it imports nothing but those: not even
``re``, whose import (it pulls in ``enum``) costs about half a bare interpreter's start.
"""

from operator import itemgetter  # loaded already: collections imports it

from mailthread.dates import parse_date
from mailthread.msgid import BREAKS, KINDS, THREADING_FIELDS, is_msgid, parse_ids, reply_ids
from mailthread.subject import is_digest_subject, normalise_subject, subject_hash

_BLANKS = b" \t"


# What the message index keeps of a message: own id (or None), its parents' ids nearest
# first (In-Reply-To, then References from last to first), every id (own first), Outlook's
# conversation key ("thread-index:" + hex of the first 22 bytes of Thread-Index, or None),
# the hash of its normalised subject (or None), whether the subject has a reply prefix,
# its Date in seconds since the epoch (or None), its subject decoded (None without a
# Subject field: what ``topic_keys`` reads, only when the fork rule needs it), and whether
# it is a list digest (``is_digest_subject``, or Content-Type multipart/digest, and no
# parent named).
class Record(tuple):
    """A tuple whose items have names, as ``collections.namedtuple`` makes them (equality,
    unpacking, ``_replace``), written out: namedtuple builds each class with ``eval``, about
    0.2 ms a class on the start of every mail's ``match``. A subclass names its items in
    ``_fields``, the defaults of the last ones in ``_defaults``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: tuple = ()

    def __init_subclass__(cls) -> None:
        for i, name in enumerate(cls._fields):
            setattr(cls, name, property(itemgetter(i)))

    def __new__(cls, *values):
        missing = len(cls._fields) - len(values)
        if missing > 0 and missing <= len(cls._defaults):
            values += cls._defaults[len(cls._defaults) - missing :]
        if len(values) != len(cls._fields):
            raise TypeError(f"{cls.__name__} takes {len(cls._fields)} values, not {len(values)}")
        return tuple.__new__(cls, values)

    def __getnewargs__(self) -> tuple:  # for pickle and copy
        return tuple(self)

    def _replace(self, **changes):
        """A copy with the ``changes`` (name=value) made."""
        values = [changes.pop(name, value) for name, value in zip(self._fields, self, strict=True)]
        if changes:
            raise TypeError(f"{type(self).__name__} has no {', '.join(changes)}")
        return tuple.__new__(type(self), values)

    def __repr__(self) -> str:
        items = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True)
        )
        return f"{type(self).__name__}({items})"


class Facts(Record):
    __slots__ = ()
    _fields = ("own", "parents", "ids", "thread_index", "subject", "reply", "date", "text")
    _fields += ("digest",)
    _defaults = (None, False)


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
            if name in THREADING_FIELDS
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
            text = _subject_text(value)
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
        return " ".join(_subject_text(values[0]).split()) or None

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


# The fields whose addresses are never a parent's id (Header.threading_ids).
_ADDRESS_FIELDS = frozenset([b"from", b"to", b"cc", b"reply-to", b"sender"])


def _within(
    fields: list[tuple[bytes, int, int]], bound: int | None
) -> list[tuple[bytes, int, int, int | None]]:
    """``fields`` (name, value start, value end) with the bound each is read with
    (``_bounded``), so that each name has at most ``bound`` bytes of values in all:
    References the last ones, the others the first ones; fields past it are left out.
    In header order."""
    if bound is None:
        return [(name, start, end, None) for name, start, end in fields]
    left = dict.fromkeys(THREADING_FIELDS, bound)
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
        cut = tail.translate(KINDS).find(b" ")
        return tail[cut + 1 :] if cut >= 0 else b""
    head = raw[start : start + bound + 1]  # a byte more: does a token end at the bound?
    kinds = head.translate(KINDS)
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
        for word in set(value.translate(BREAKS).split()):  # each once: 10 MB of `a@b, `
            if b"@" in word.strip(b"@"):
                found.add(word.decode("latin-1").lower())
    return found


def _subject_text(value: bytes) -> str:
    """A Subject's text (``encoded_words.decode_words``), that module loaded only for a
    value with encoded words or 8-bit bytes in it: most subjects are plain ASCII."""
    if value.isascii() and b"=?" not in value:
        return value.decode("ascii")
    from mailthread.encoded_words import decode_words

    return decode_words(value)
