"""Header text: RFC 2047 encoded words (``=?charset?Q|B?text?=``) decoded by the standard
library's ``email.header``, and raw 8-bit bytes read as UTF-8 (RFC 6532), else
Windows-1252: one decoder for what is matched and what is shown (issue 12).

On the per-mail ``match`` path: imports nothing when loaded; ``email.header`` (which imports
``re``) is loaded only for a value with an encoded word in it.
"""

from __future__ import annotations

from mailthread.scan import Next


def encoded_words(value: bytes) -> list[tuple[int, int, str]]:
    """(start, end, lower-case charset) of each RFC 2047 encoded word of ``value``, as
    ``email.header`` reads them (its ``ecre``: ``=?charset?Q|B?text?=``, the text up to the
    first ``?=``, blanks allowed), but no word holds a line break (``decode_header`` splits
    lines first) and the charset is never empty.

    Found by bytes searches that only move forward: time linear in ``value``. (``ecre``
    itself, run over a value, is quadratic: 64 KiB of an unterminated ``=?a?q?xx`` took it
    5 s.)"""
    n = len(value)
    starts, charset_ends = Next(value, b"=?"), Next(value, b"?")
    text_starts, ends = Next(value, b"?"), Next(value, b"?=")
    breaks = Next(value.translate(_LINE_BREAKS_AS_LF), b"\n")
    found: list[tuple[int, int, str]] = []
    start = starts.at(0)
    while start < n:
        charset_end = charset_ends.at(start + 2)
        text_start = text_starts.at(charset_end + 1) if charset_end < n else n
        end = ends.at(text_start + 1) if text_start < n else n
        if end == n:
            break
        if (
            charset_end > start + 2
            and text_start == charset_end + 2
            and value[charset_end + 1] in b"QqBb"
            and breaks.at(start) > end
        ):
            charset = value[start + 2 : charset_end].decode("latin-1").lower()
            found.append((start, end + 2, charset))
            start = starts.at(end + 2)
        else:
            start = starts.at(start + 1)
    return found


def raw_text(data: bytes) -> str:
    """Raw 8-bit header text: UTF-8 where it is (RFC 6532), and every byte sequence that is
    no UTF-8 as Windows-1252, the charset older mailers wrote raw most often (Latin-1 for
    its printable characters; what browsers read for ISO-8859-1, per WHATWG), or as Latin-1
    for the five bytes Windows-1252 leaves unassigned. Never raises; time linear."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        import codecs  # loaded with the interpreter

        codecs.register_error("mailthread-windows-1252", _as_windows_1252)
        return data.decode("utf-8", "mailthread-windows-1252")


def _as_windows_1252(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start : error.end]
    try:
        return bad.decode("cp1252"), error.end
    except UnicodeDecodeError:
        return bad.decode("latin-1"), error.end


def decode_words(value: bytes) -> str:
    """A header value with its RFC 2047 encoded words decoded; other bytes as ``raw_text``
    reads them (UTF-8, else Windows-1252). Never raises.

    The words are decoded by the standard library, ``email.header.decode_header``, which
    joins the bytes of adjacent encoded words of one charset (any case) before decoding them
    (RFC 2047 6.2): a UTF-8 character split across two words is one character, as every
    mail reader shows it. Blanks between two encoded words vanish (RFC 2047 6.2). Loaded
    only for a value with ``=?`` in it: ``email.header`` imports ``re`` and part of the
    ``email`` package, about 7 ms (``python -X importtime``) of a ``match`` that takes 30.

    What decode_header cannot do is kept as written, never raised: a run of words whose
    charset ``decode_text`` refuses (unknown, no mail charset, lone surrogates), a word it
    raises on (broken base64, ``=?utf-8?B?A?=``: the words around it are decoded without
    it); raw 8-bit text next to a word is UTF-8 text like any other (decode_header only
    ever sees the words). Time: decode_header is quadratic in the words it is given (2 MB
    of adjacent words of one charset took 39 s), so it gets 100 at a time; ``FACT_BYTES``
    of the worst inputs take 20 to 200 ms (8,192 one-word runs in alternating charsets is
    the slowest: bench/encoded_subject.py), and every caller bounds ``value`` so.
    """
    if b"=?" not in value:
        return raw_text(value)
    out: list[str] = []
    done = 0  # value[:done] is in out
    run: list[tuple[int, int]] = []  # adjacent words of one charset: (start, end)
    run_charset = ""
    for start, end, charset in encoded_words(value):
        if run and not value[run[-1][1] : start].strip(b" \t\r\n"):  # adjacent to the run
            if charset == run_charset:
                run.append((start, end))
                done = end
                continue
            out.append(_decoded_run(value, run, run_charset))
            run = [(start, end)]  # the blanks between the two words vanish
        else:
            if run:
                out.append(_decoded_run(value, run, run_charset))
            out.append(raw_text(value[done:start]))
            run = [(start, end)]
        run_charset, done = charset, end
    if run:
        out.append(_decoded_run(value, run, run_charset))
    out.append(raw_text(value[done:]))
    return "".join(out)


# What str.splitlines() ends a line at among Latin-1 characters: decode_header splits at
# them, so a word holding one of them is no word to it.
_LINE_BREAKS_AS_LF = bytes.maketrans(b"\r\x0b\x0c\x1c\x1d\x1e\x85", b"\n" * 7)


def _decoded_run(value: bytes, run: list[tuple[int, int]], charset: str) -> str:
    """The text of ``run``, adjacent encoded words of ``value`` in one ``charset``: the
    bytes decode_header gives for them, joined, decoded by ``decode_text``; as written
    when it refuses the charset. A word decode_header raises on is kept as written, and
    the words between such words are runs of their own."""
    out: list[str] = []
    data: list[bytes] = []  # of the words value[first:last] since the last broken one
    first = last = 0

    def flush() -> None:
        text = decode_text(b"".join(data), charset) if data else ""
        out.append(raw_text(value[first:last]) if text is None else text)
        data.clear()

    # decode_header takes time quadratic in the words it is given (list.pop(0) for each):
    # a call per _WORDS_A_CALL words, whose bytes it would only have joined, keeps it linear.
    for i in range(0, len(run), _WORDS_A_CALL):
        part = run[i : i + _WORDS_A_CALL]
        got = word_bytes(value, part)
        if got is not None:
            pieces = [(part, got)]
        else:  # a word in it is broken: each alone
            pieces = [([word], word_bytes(value, [word])) for word in part]
        for words, got in pieces:
            if got is None:  # broken base64: text as written
                flush()
                out.append(raw_text(value[words[0][0] : words[-1][1]]))
                continue
            if not data:
                first = words[0][0]
            data.append(got)
            last = words[-1][1]
    flush()
    return "".join(out)


_WORDS_A_CALL = 100


def word_bytes(value: bytes, words: list[tuple[int, int]]) -> bytes | None:
    """The bytes decode_header gives for ``words``, adjacent encoded words of one charset
    in ``value``, joined (RFC 2047 6.2); None when it raises (broken base64)."""
    from email.errors import HeaderParseError
    from email.header import decode_header

    try:
        chunks = decode_header(value[words[0][0] : words[-1][1]].decode("latin-1"))
    except HeaderParseError:
        return None
    return b"".join(data for data, _ in chunks)


# Codecs Python knows that are no character set a mail could be written in: the escapes of
# Python string literals (which can give lone surrogates, and warn), and punycode, whose
# decoder takes time cubic in its input (400 KB: a minute).
_NOT_CHARSETS = frozenset(["unicode-escape", "raw-unicode-escape", "punycode"])


# Charsets mailers name for what is Windows-1252 (Outlook's "iso-8859-1" with a "€" in
# it) or UTF-8 (an "us-ascii" word with 8-bit bytes): read as raw 8-bit text is, as browsers
# and Thunderbird read them (WHATWG maps both labels to windows-1252).
_AS_RAW_TEXT = frozenset({"iso8859-1", "ascii"})


def decode_text(data: bytes, charset: str) -> str | None:
    """``data`` decoded from the character set an RFC 2047 encoded word names (an RFC 2231
    language suffix, ``utf-8*en``, is ignored), undecodable bytes as U+FFFD (ISO-8859-1
    and US-ASCII as ``raw_text``: Windows-1252 and UTF-8 are what such words hold in
    practice); None when
    ``charset`` names no text encoding Python knows, names one of ``_NOT_CHARSETS``,
    or the text would hold lone surrogates (utf-7 can encode them): the caller keeps the
    encoded word as it was written. Never raises."""
    import codecs  # loaded by every interpreter at startup

    try:
        name = codecs.lookup(charset.partition("*")[0]).name
        if name in _NOT_CHARSETS:
            return None
        if name in _AS_RAW_TEXT:
            return raw_text(data)
        text = data.decode(name, "replace")  # LookupError for bytes-to-bytes codecs
        if not text.isascii():
            text.encode("utf-8")  # UnicodeEncodeError on lone surrogates
    except (LookupError, ValueError):  # the Unicode errors, "embedded null character"
        return None
    return text
