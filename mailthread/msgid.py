"""Message ids in the threading fields (Message-ID, In-Reply-To, References): RFC 5322
3.6.4 msg-id, read as real mailers write it (bare ids, comments, the free-text In-Reply-To
of MH, Gnus and Mutt 1.0: docs/leniency.md), and the id a user types. Raw bytes in, ids as
Latin-1 str out; every parser takes time linear in its input.

On the per-mail ``match`` path: imports nothing (encoded ids are decoded by
``encoded_words``, which loads ``email.header`` only for them).
"""

from mailthread.scan import Next, run_end

# Bytes that end a bare word in a threading field.
_WORD_END = frozenset(b' \t\r\n\x0b\x0c,;<>()"')
_SPACE = frozenset(b" \t\r\n\x0b\x0c,;>")


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
    if colon and name in THREADING_FIELDS:  # a header line pasted whole
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
    words = b" ".join(outside).translate(BREAKS).split()
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
    words = text.translate(BREAKS).lower().split()
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
    return [(word, 0) for word in text.translate(BREAKS).split() if b"@" in word.strip(b"@")]


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
    kinds = value.translate(KINDS)
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


# KINDS and BREAKS also serve message.py: whole ids within a bound, addresses.
# For parse_ids: each byte of a value as its kind, so that one bytes.find finds the next
# of a kind. " ": a byte that ends a bare word and separates; "(": one of <"() that ends a
# bare word and means more; "w": a byte of a bare word.
KINDS = bytearray(b"w" * 256)
for _c in _WORD_END:
    KINDS[_c] = 32 if _c in _SPACE else 40  # " " or "("
KINDS = bytes(KINDS)
del _c
# For _bare_words: the bytes that end a bare word (_WORD_END), as blanks.
BREAKS = bytes.maketrans(b'\t\r\n\x0b\x0c,;<>()"', b" " * 12)
_WHITESPACE = b" \t\r\n\x0b\x0c"
# What may stand before and after an RFC 2047 encoded word in a threading field.
_WORD_BEFORE = frozenset(b" \t\r\n\x0b\x0c<,;")
_WORD_AFTER = frozenset(b" \t\r\n\x0b\x0c>,;")
_BLANKS_AS_SPACE = bytes.maketrans(b"\t\r\n\x0b\x0c", b"     ")


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
    from mailthread.encoded_words import encoded_words, word_bytes  # only for such fields

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


# The fields that hold message ids (Header reads them; typed_id takes a pasted one).
THREADING_FIELDS = frozenset([b"message-id", b"in-reply-to", b"references"])
