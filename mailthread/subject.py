"""Subjects as the message index and the fork rule compare them: reply prefixes and list
tags removed (``normalise_subject``), the topic and patch series (``topic_keys``), list
digests by the subjects Mailman, Majordomo, ezmlm, LISTSERV, Yahoo Groups, groups.io and
Google Groups give them (``is_digest_subject``), and the hash the index keeps. Text in,
already decoded (``encoded_words.decode_words``).

On the per-mail ``match`` path: imports nothing when loaded (``unicodedata`` only for the
rare subject that needs it).
"""

from mailthread.scan import run_end

# Reply prefixes, as mail clients write them in many languages (compared case-folded, after
# a counter such as "Re[2]" or "Re^2" is dropped). Forward prefixes (Fwd:, WG:, TR:) are not
# here: a forwarded message starts a conversation of its own.
# Reply prefixes, casefolded, as mailers localise "Re:": German AW and Antwort (Lotus
# Notes), Scandinavian SV, Finnish VS, Dutch Antw, French Réf, Polish Odp, Italian R and
# RIF, Portuguese RES, Turkish Ynt, Greek ΑΠ and ΣΧΕΤ, Ukrainian Відп, Russian Ответ,
# Croatian Odg, Latvian Atb, Lithuanian Ats, Vietnamese TL and Vá, Arabic رد, Hebrew השב,
# Korean 회신, Chinese Outlook's 回复, 答复, 回覆 and 答覆 (also before a full-width colon).
REPLY_PREFIXES = frozenset(
    ["re", "aw", "antwort", "sv", "vs", "antw", "réf", "ref", "odp", "rif", "ynt", "r", "res"]
    + ["απ", "σχετ", "відп", "ответ", "odg", "atb", "ats", "tl", "vá", "رد", "השב", "회신"]
    + ["回复", "答复", "回覆", "答覆"]
)


def normalise_subject(text: str) -> tuple[str, bool]:
    """(the subject without list tags and reply prefixes, case-folded, blanks collapsed;
    whether it had a reply prefix). "[list] Re: AW: [list] Topic" gives ("topic", True).

    Time linear in ``text``, however many prefixes and tags it starts with."""
    pos = run_end(text, 0)
    reply = False
    while pos < len(text):
        if text.startswith("[", pos):
            close = text.find("]", pos)
            if close < 0:
                break
            pos = run_end(text, close + 1)
            continue
        colon = text.find(":", pos + 1, pos + 11)
        wide = text.find("\uff1a", pos + 1, pos + 11)  # "：", as Chinese mailers write it
        if wide > 0 and (colon < 0 or wide < colon):
            colon = wide
        word = text[pos:colon].rstrip() if colon > 0 else ""
        for counter in "[^(":
            word = word.split(counter, 1)[0]
        if word.rstrip().casefold() not in REPLY_PREFIXES:  # "Re [2]:" too
            break
        reply = True
        pos = run_end(text, colon + 1)
    return " ".join(text[pos:].casefold().split()), reply


# Words that only say how the topic stands: alone in a trailing "(...)", after a trailing
# dash or colon, or before a leading colon -- "Printer on fire (solved!)", "... -- fixed",
# "SOLVED: Printer on fire" are "Printer on fire".
_STATUS_WORDS = frozenset(["solved", "resolved", "fixed", "closed", "done", "answered"])
_DASHES = "-:\u2013\u2014\uff1a"  # hyphen, colon, en and em dash, full-width colon


def topic_keys(text: str | None) -> tuple[int | None, int | None]:
    """What the fork rule compares of a decoded subject: (the hash of its topic
    (``subject_topic``), its patch series (``patch_series``) or None). An empty subject has
    the topic of "" (a reply that adds words is a fork); no Subject field at all (None)
    says nothing: (None, None)."""
    if text is None:
        return None, None
    normalised = normalise_subject(text)[0]
    if not normalised:
        return subject_hash(""), None
    return subject_hash(subject_topic(normalised)), patch_series(text)


def subject_topic(normalised: str) -> str:
    """The topic of a subject, as the fork rule compares it: ``normalised`` (the first value
    of ``normalise_subject``: case, blanks, encoding, list tags and reply prefixes already
    gone), Unicode NFC-composed, without a "(was: ...)" or "[was ...]" that runs to its end
    -- "suse 8 disks? (was: ilug newsgroups?)" is the topic "suse 8 disks", "printer (was:
    x) on fire" keeps its words -- without trailing "[tags]" ("[solved]") and status words
    (``_STATUS_WORDS``), and with every character that is no letter, digit or mark
    (punctuation, symbols) read as a blank: a changed "?" or "..." is no new topic. ""
    when nothing is left. Time linear in its length."""
    text = normalised
    if not text.isascii() and any(c >= "\u0300" and _decomposed(c) for c in text):
        import unicodedata  # only for the rare subject written decomposed (macOS, NFD)

        text = unicodedata.normalize("NFC", text)
    words = _words(text)
    opened: dict[int, int] = {}  # where each closing bracket's group opens
    stack: list[int] = []
    for pos, word in enumerate(words):
        if word in "([":
            stack.append(pos)
        elif word in ")]" and stack:
            opened[pos] = stack.pop()
    end = len(words)
    for opening in stack:  # a "(was: ..." cut off before it closes
        if 0 < opening < end - 1 and words[opening + 1] == "was":
            end = opening
            break
    while True:  # from the end: "(was: ...)", "[tags]", "(solved)", "- fixed", in any order
        was = opened.get(end - 1, 0)
        if was > 0 and words[was + 1] == "was":
            end = was
        elif end >= 4 and words[end - 1] == "]" and words[end - 3] == "[":
            end -= 3  # a one-word tag: "[solved]", "[ot]" ("[not solved]" is words)
        elif end >= 4 and words[end - 3 : end] in (["(", w, ")"] for w in _STATUS_WORDS):
            end -= 3
        elif end >= 3 and words[end - 1] in _STATUS_WORDS and words[end - 2] in "-:":
            end -= 2
        else:
            break
    start = 2 if end >= 3 and words[0] in _STATUS_WORDS and words[1] == ":" else 0
    return " ".join(word for word in words[start:end] if word not in "()[]-:")


def _words(text: str) -> list[str]:
    """The words of a subject, and its brackets (full-width ones too), dashes (one "-" for
    any) and colons as words of their own; other punctuation and symbols are blanks, and
    variation selectors (an emoji's U+FE0F) nothing."""
    out = []
    for c in text:
        if c.isalnum():
            out.append(c)
        elif c in _BRACKETS:
            out.append(f" {_BRACKETS[c]} ")
        elif c in _DASHES:
            out.append(" : " if c in ":\uff1a" else " - ")
        elif "\ufe00" <= c <= "\ufe0f":
            continue
        elif c >= "\u0300" and _mark(c):
            out.append(c)
        else:
            out.append(" ")
    return "".join(out).split()


_BRACKETS = {"(": "(", ")": ")", "[": "[", "]": "]", "\uff08": "(", "\uff09": ")"}
_BRACKETS |= {"\uff3b": "[", "\uff3d": "]"}


# Code points of letters written decomposed, which NFC composes: the combining
# diacritical marks (U+0300, U+1AB0, U+1DC0, U+20D0, U+FE20 blocks), the kana voicing marks
# and Hangul conjoining jamo.
_DECOMPOSED = (("\u0300", "\u036f"), ("\u1ab0", "\u1aff"), ("\u1dc0", "\u1dff"))
_DECOMPOSED += (("\u20d0", "\u20ff"), ("\ufe20", "\ufe2f"), ("\u3099", "\u309a"))
_DECOMPOSED += (("\u1100", "\u11ff"),)


def _decomposed(c: str) -> bool:
    return any(low <= c <= high for low, high in _DECOMPOSED)


def _mark(c: str) -> bool:
    """Whether a character that is no letter or digit to str.isalnum() is a mark (Unicode
    category M: accents NFC cannot compose, Indic vowel signs), part of its word."""
    import unicodedata  # only for such characters: ~0.5 ms

    return unicodedata.category(c)[0] == "M"


def _digits(word: str) -> bool:
    """Whether ``word`` is ASCII digits: str.isdigit() also takes "\u00b2", which int()
    refuses."""
    return word.isascii() and word.isdigit()


_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def is_digest_subject(normalised: str) -> bool:
    """Whether a normalised subject (``normalise_subject``: leading "[NAME]" tags gone) is
    the subject a list manager gives its digests, in exactly one of their shapes:

    - Mailman 2 and 3: "NAME Digest, Vol 12, Issue 3" (also "Volume");
    - Majordomo: "NAME-digest V1 #123";
    - ezmlm: "NAME Digest 12 Jan 2002 10:00:00 -0000 Issue 123";
    - LISTSERV: "NAME Digest - 1 Jan 2002 to 2 Jan 2002 (#2002-1)";
    - Yahoo Groups: "[NAME] Digest Number 1234"; groups.io: "[NAME] Digest #123";
    - Google Groups: "Digest for NAME@googlegroups.com - 3 updates in 2 topics", and
      "Abridged summary of NAME@googlegroups.com - 3 updates in 2 topics".

    "[PATCH] crypto: fix digest issue with short keys", "md5 digest number mismatch" and
    GitHub's "[org/repo] Pin image digest (#1234)" are none. Time linear in its length."""
    words = normalised.replace(",", " ").split()
    if words[:3] == ["abridged", "summary", "of"] and len(words) >= 8 and "@" in words[3]:
        if words[-1] in ("topic", "topics") and _digits(words[-2]):
            return True  # Google Groups' abridged digest
    for i, word in enumerate(words):
        if word != "digest" and not word.endswith("-digest"):
            continue
        if len(words) - i > 15 and i:
            continue  # no shape but Google Groups' (first word) is that long: no copy
        rest = words[i + 1 :]
        if len(rest) == 4 and rest[0] in ("vol", "vol.", "volume") and rest[2] == "issue":
            if _digits(rest[1]) and _digits(rest[3]):
                return True  # Mailman
        if len(rest) == 2 and rest[0][:1] == "v" and _digits(rest[0][1:]) and i <= 1:
            if rest[1][:1] == "#" and _digits(rest[1][1:]):
                return True  # Majordomo: the list's name, then this
        if 5 <= len(rest) <= 8 and _digits(rest[0]) and rest[1][:3] in _MONTH_NAMES:
            if _digits(rest[2]) and rest[-2] == "issue" and _digits(rest[-1]):
                return True  # ezmlm
        if 8 <= len(rest) <= 14 and rest[0] == "-" and rest[-1][:2] == "(#":
            if rest[-1][-1:] == ")" and _digits(rest[-1][2:-1].replace("-", "")):
                if _digits(rest[1]) and rest[2][:3] in _MONTH_NAMES and rest[4] == "to":
                    return True  # LISTSERV: "- 1 Jan 2002 to 2 Jan 2002 (#2002-1)"
        if i == 0 and len(rest) == 2 and rest[0] == "number" and _digits(rest[1]):
            return True  # Yahoo Groups
        if i == 0 and len(rest) == 1 and rest[0][:1] == "#" and _digits(rest[0][1:]):
            return True  # groups.io
        if i == 0 and len(rest) >= 6 and rest[0] == "for" and "@" in rest[1]:
            if rest[-1] in ("topic", "topics") and _digits(rest[-2]):
                return True  # Google Groups
    return False


def patch_series(text: str) -> int | None:
    """The identity of the patch series a subject's leading tags name, as one number
    (version * 10**6 + total), or None. A tag counts when it holds the word "patch" (or
    "patchvN") and "n/m" (blanks around the slash allowed): "[PATCH 2/3]", "[RFC PATCH
    v2 0/5]", "[PATCHv2 1/2]", "[RFC][PATCH 08/10]"; the version is vN, else 1. Reply
    prefixes and other tags may come before it ("Re: [PATCH 2/3] x"). The rule of
    bench/replay.py's topic truth (``topic_of``): the cover letter, its patches and their
    review are one series. Time linear in ``text``."""
    pos = run_end(text, 0)
    while pos < len(text):
        if text.startswith("[", pos):
            close = text.find("]", pos)
            if close < 0:
                return None
            series = _series_tag(text[pos + 1 : close])
            if series is not None:
                return series
            pos = run_end(text, close + 1)
            continue
        colon = text.find(":", pos + 1, pos + 11)
        word = text[pos:colon].rstrip() if colon > 0 else ""
        for counter in "[^(":
            word = word.split(counter, 1)[0]
        if word.casefold() not in REPLY_PREFIXES and word.casefold() not in ("fw", "fwd"):
            return None
        pos = run_end(text, colon + 1)
    return None


def _series_tag(tag: str) -> int | None:
    words = tag.casefold().replace("/", " / ").split()
    patch = version = numbered = None
    for i, word in enumerate(words):
        if word == "patch" or (word[:6] == "patchv" and _digits(word[6:]) and len(word) < 12):
            patch = word[6:] or patch or "1"
        elif word[:1] == "v" and _digits(word[1:]) and len(word) < 7 and version is None:
            version = word[1:]
        elif word == "/" and 0 < i < len(words) - 1 and numbered is None:
            n, m = words[i - 1], words[i + 1]
            if _digits(n) and _digits(m) and len(m) < 7:
                numbered = int(m)
    if patch is None or numbered is None:
        return None
    number = patch if patch != "1" or version is None else version
    return int(number) * 10**6 + numbered


def subject_hash(normalised: str) -> int:
    """A signed 64-bit hash of a normalised subject: the index keeps this, not the text."""
    try:
        from _blake2 import blake2b  # hashlib would also load OpenSSL: 5 ms more per mail
    except ImportError:  # pragma: no cover - interpreters without the builtin module
        from hashlib import blake2b
    # decode_words never gives lone surrogates; should any come, hash them, do not fail.
    digest = blake2b(normalised.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
