"""Raw bytes in, raw bytes out: find a message's header, read its ids, insert one line.

Nothing here decodes or re-serialises a message: positions are found in the raw bytes and
every byte that is not the inserted line (or an ``Old-`` prefix) is copied as it came.
Stdlib only, and only ``re``: this module is on the per-mail ``match`` path.
"""

from __future__ import annotations

import itertools
import re

# The header ends at the first empty line (LF or CRLF). A line of blanks is not empty: it is
# a continuation line (usrp-users/cur/000476-5c49ab54db68:2, has one inside X-Spam-Report).
_END_OF_HEADER = re.compile(rb"\n\r?\n")
_THREADING_FIELD = re.compile(
    rb"^(message-id|in-reply-to|references)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M
)
# One token of a threading field: <id>, a quoted string, a comment parenthesis, a bare word.
_TOKEN = re.compile(rb'<([^<>]*)>|"(?:[^"\\]|\\.)*"?|([()])|([^\s,;<>()"]+)')
_FIELD_NAME = re.compile(rb"[!-9;-~]+")


class Header:
    """Where the header of a raw message is: ``raw[start:end]`` holds its field lines.

    ``start`` skips a leading mbox ``From `` line; ``end`` is where the empty line that ends
    the header begins (the end of input when there is none, as procmail's ``h`` may give).
    """

    __slots__ = ("raw", "start", "end", "eol")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        start = 0
        if raw.startswith(b"From "):
            newline = raw.find(b"\n")
            start = len(raw) if newline < 0 else newline + 1
        if raw.startswith(b"\n", start) or raw.startswith(b"\r\n", start):
            end = start
        else:
            found = _END_OF_HEADER.search(raw, start)
            end = found.start() + 1 if found else len(raw)
        self.start = start
        self.end = end
        first_newline = raw.find(b"\n", start)
        crlf = first_newline > 0 and raw[first_newline - 1 : first_newline] == b"\r"
        self.eol = b"\r\n" if crlf else b"\n"

    def threading_ids(self) -> tuple[list[str], list[str], list[str]]:
        """The ids of Message-ID, In-Reply-To and References, each in header order."""
        own: list[str] = []
        parents: list[str] = []
        references: list[str] = []
        for found in _THREADING_FIELD.finditer(self.raw, self.start, self.end):
            name = found.group(1).lower()
            if name == b"references":
                # Bare ids are real here: ZTE mail writes `References: id1,id2`.
                references += parse_ids(found.group(2), bare=True)
            elif name == b"in-reply-to":
                parents += parse_ids(found.group(2), bare=False)
            else:
                own += parse_ids(found.group(2), bare=False)
        return own, parents, references

    def own_id(self) -> str | None:
        own = self.threading_ids()[0]
        return own[0] if own else None

    def ids_nearest_first(self) -> list[str]:
        """Message-ID, In-Reply-To, then References from last to first; no repeats."""
        own, parents, references = self.threading_ids()
        references.reverse()
        return list(dict.fromkeys(own + parents + references))

    def field_values(self, name: bytes) -> list[bytes]:
        """The unfolded raw values of every field called ``name`` (ASCII, any case)."""
        pattern = re.compile(
            rb"^" + re.escape(name) + rb"[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M
        )
        values = []
        for found in pattern.finditer(self.raw, self.start, self.end):
            values.append(re.sub(rb"\r?\n(?=[ \t])", b"", found.group(1)).strip())
        return values

    def rewrite(self, line: bytes | None, renamed_field: bytes) -> list[bytes | memoryview]:
        """The message as pieces to write: fields called ``renamed_field`` get an ``Old-``
        prefix (as ``formail -i`` does, so a sender cannot forge what we insert), and
        ``line`` (without line ending), if given, becomes the last line of the header."""
        raw = memoryview(self.raw)
        pieces: list[bytes | memoryview] = []
        done = 0
        forged = re.compile(rb"^" + re.escape(renamed_field) + rb"[ \t]*:", re.I | re.M)
        for found in forged.finditer(self.raw, self.start, self.end):
            pieces += [raw[done : found.start()], b"Old-"]
            done = found.start()
        if line is not None:
            pieces.append(raw[done : self.end])
            if self.end == len(self.raw) and not self.raw.endswith(b"\n"):
                # A header-only input whose last line has no line ending.
                pieces += [self.eol, line]
            else:
                pieces += [line, self.eol]
            done = self.end
        pieces.append(raw[done:])
        return pieces


def parse_ids(value: bytes, bare: bool) -> list[str]:
    """The message ids in one field value, in order, without angle brackets.

    Comments ``(...)`` and quoted strings are skipped (Gnus writes `(wubo's message of "...")`
    after the id). Words without brackets count as ids when they hold an ``@`` and either
    ``bare`` is set or the value has no bracketed id at all: PHPMailer writes
    `In-Reply-To: CAB...@mail.gmail.com`, while Mutt 1.0 writes
    `In-Reply-To: <id>; from someone@example.com on ...`, whose address is not an id.
    Ids are decoded as Latin-1, which maps every byte to one character and back.
    """
    found: list[tuple[bytes, bool]] = []  # (id, was it in brackets)
    depth = 0
    for token in _TOKEN.finditer(value):
        inside, paren, word = token.groups()
        if paren:
            depth = depth + 1 if paren == b"(" else max(depth - 1, 0)
        elif depth:
            continue
        elif inside is not None:
            # Whitespace inside brackets is folding or garbage (`<Name <addr>`), never an id.
            msgid = b"".join(inside.split())
            if msgid:
                found.append((msgid, True))
        elif word is not None and b"@" in word.strip(b"@"):
            found.append((word, False))
    any_bracketed = any(was_bracketed for _, was_bracketed in found)
    return [
        msgid.decode("latin-1")
        for msgid, was_bracketed in found
        if was_bracketed or bare or not any_bracketed
    ]


def field_name(line: str) -> str:
    """The field name of a ``Name: value`` header line; ValueError when it is not one."""
    name, colon, _ = line.partition(":")
    if not colon or not name.isascii() or not _FIELD_NAME.fullmatch(name.encode("ascii")):
        raise ValueError(f"not a header line of the form 'Name: value': {line!r}")
    if "\r" in line or "\n" in line:
        raise ValueError("a header line cannot contain a line break")
    return name


# mutt pipes tagged messages (with pipe_split unset) one after another, each starting with a
# `From ` line and followed by $pipe_sep (a newline). That is not an mbox: bodies are not
# `>From`-escaped. A `From ` line starts a message only at the start of the input, or after
# an empty line when the next line is a header field.
_MESSAGE_START = re.compile(rb"(?:(?<=\n\n)|(?<=\n\r\n))From [^\n]*\r?\n[!-9;-~]+[ \t]*:")


def split_concatenated(raw: bytes) -> list[bytes]:
    """Split the messages of a mutt pipe of tagged messages; one message stays whole."""
    starts = [0] + [found.start() for found in _MESSAGE_START.finditer(raw)]
    starts.append(len(raw))
    return [raw[a:b] for a, b in itertools.pairwise(starts) if raw[a:b].strip()]
