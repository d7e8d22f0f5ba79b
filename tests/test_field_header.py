"""Issue 12, the header as mail is really written: RFC 2047 subjects decoded by the
standard library (adjacent words of one charset are one run of bytes, RFC 2047 6.2), and
the header boundary and fields as procmail sees them in CR-only and mixed-line-end mail.

The field cases (tests/fixtures/field/<case>/, copies of ../shared/field/<case>/) are
driven as their run.sh does, and checked against what ../shared/field/README.md says a
correct filter does; then the siblings of each kind.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import FIXTURES, run

from mailthread.encoded_words import decode_words
from mailthread.message import FACT_BYTES, Header

FIELD = FIXTURES / "field"


def rewritten(raw: bytes, line: bytes | None = b"X-Mailthread: muted") -> bytes:
    return b"".join(Header(raw).rewrite(line, b"x-mailthread"))


# -- split-utf8-encoded-subject: one decoder, the standard library's -------------------------

WHOLE_SUBJECT = "Kviečiame drauge pildyti ESO pasižadėjimų girliandą!"


def test_split_utf8_encoded_subject(tmp_path):
    """neomutt#1015, as run.sh drives it: the original muted with `add`, then a reply that
    only its subject links (one word there, the character split across two in orig-split)."""
    for original in ("orig-whole", "orig-split"):
        check_split_subject_case(tmp_path / original, original)


def check_split_subject_case(tmp_path: Path, original: str) -> None:
    case = FIELD / "split-utf8-encoded-subject"
    tmp_path.mkdir()
    db = tmp_path / "threads.db"
    raw = (case / f"{original}.eml").read_bytes()
    result = run(["match"], raw, db=db)
    assert (result.returncode, result.stdout) == (0, raw)
    added = run(["add", "muted"], raw, db=db)
    assert added.returncode == 0, added.stderr
    # add shows the subject as decoded for matching: one "ė", no U+FFFD.
    assert f"muted: thread 1 ({WHOLE_SUBJECT}): 1 new id" in added.stdout.decode()
    reply = (case / "reply.eml").read_bytes()
    explained = run(["explain"], reply, db=db)
    assert explained.returncode == 0, explained.stdout
    assert f"thread 1 (muted, 1 id, 0 hits): {WHOLE_SUBJECT}\n" in explained.stdout.decode()
    assert "(subject)" in explained.stdout.decode()
    matched = run(["match"], reply, db=db)
    assert (matched.returncode, matched.stdout) == (0, b"X-Mailthread: muted\n" + reply)
    listed = run(["list"], db=db)
    assert listed.stdout.decode().rstrip().endswith(WHOLE_SUBJECT)


def q_words(text: str, charset: str, cut: int) -> bytes:
    """``text`` in two Q encoded words of ``charset``, split after byte ``cut``."""
    data = text.encode(charset)
    quoted = [b"".join(b"=%02X" % c for c in part) for part in (data[:cut], data[cut:])]
    return b"=?%s?Q?%s?= =?%s?Q?%s?=" % (charset.encode(), quoted[0], charset.encode(), quoted[1])


def b_words(text: str, charset: str, cut: int) -> bytes:
    data = text.encode(charset)
    words = [base64.b64encode(part) for part in (data[:cut], data[cut:])]
    return b"=?%s?B?%s?= =?%s?B?%s?=" % (charset.encode(), words[0], charset.encode(), words[1])


CAFE = "café crème"  # "é" is 2 bytes in UTF-8: cut 4 splits it
SIBLINGS = {
    "split in base64 words": (CAFE.encode(), b"Re: " + b_words(CAFE, "utf-8", 4)),
    "split in Q words": (CAFE.encode(), b"Re: " + q_words(CAFE, "utf-8", 4)),
    "split across UTF-8 and utf-8": (
        CAFE.encode(),
        b"Re: =?UTF-8?q?caf=C3?= =?utf-8?Q?=A9_cr=C3=A8me?=",
    ),
    "different charsets side by side, one split": (
        CAFE.encode(),
        b"Re: =?iso-8859-1?q?caf=E9_?= =?utf-8?q?cr=C3?= =?UTF-8?q?=A8me?=",
    ),
    "split across a folded line (tab)": (
        CAFE.encode(),
        b"Re: =?utf-8?q?caf=C3?=\n\t=?utf-8?q?=A9_cr=C3=A8me?=",
    ),
    "split across a folded CRLF line": (
        CAFE.encode(),
        b"Re: =?utf-8?q?caf=C3?=\r\n =?utf-8?q?=A9_cr=C3=A8me?=",
    ),
    "encoded reply, plain UTF-8 original": (
        WHOLE_SUBJECT.encode(),
        b"Re: " + q_words(WHOLE_SUBJECT, "utf-8", 5),
    ),
    "ISO-8859-1 original, split UTF-8 reply": (
        b"=?ISO-8859-1?Q?caf=E9_cr=E8me?=",
        b"Re: " + b_words(CAFE, "utf-8", 4),
    ),
}
# 99 plain words, then "é" split across words 100 and 101 (a run is decoded 100 words a call).
SIBLINGS["a long run: the split at word 100 of 150"] = (
    b"x" * 99 + "é".encode() + b"y" * 49,
    b"Re: "
    + b" ".join([b"=?utf-8?q?x?="] * 99 + [b"=?utf-8?q?=C3?=", b"=?utf-8?q?=A9?="])
    + b" "
    + b" ".join([b"=?utf-8?q?y?="] * 49),
)


def subject_of(value: bytes) -> tuple[int | None, bool, str | None]:
    """(the hash match computes, its reply flag, what add/list/explain show)."""
    header = Header(b"Subject: " + value + b"\nMessage-ID: <m@x>\n\nbody\n")
    facts = header.facts()
    return facts.subject, facts.reply, header.subject()


@pytest.mark.parametrize("original, reply", list(SIBLINGS.values()), ids=list(SIBLINGS))
def test_sibling_subjects_link_and_show_alike(tmp_path, original, reply):
    original_hash, original_reply, shown = subject_of(original)
    reply_hash, is_reply, reply_shown = subject_of(reply)
    assert (reply_hash, is_reply, original_reply) == (original_hash, True, False)
    assert "\ufffd" not in shown and reply_shown == "Re: " + shown
    # Through the commands: the original muted, the reply (no ids to it) marked by match.
    db = tmp_path / "threads.db"
    head = b"From: a@example.com\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
    added = run(
        ["add", "muted"], head + b"Subject: " + original + b"\nMessage-ID: <o@x>\n\nb\n", db=db
    )
    assert added.returncode == 0 and shown in added.stdout.decode(), added
    raw = head + b"Subject: " + reply + b"\nMessage-ID: <r@y>\n\nb\n"
    assert run(["match"], raw, db=db).stdout == b"X-Mailthread: muted\n" + raw


def test_words_of_different_charsets_are_not_joined():
    # A UTF-8 lead byte and a Latin-1 word after it are two runs: no "é" made of them.
    assert decode_words(b"=?utf-8?q?=C3?= =?iso-8859-1?q?=A9?=") == "\ufffd©"
    # ...while the same bytes in one charset, any case, are one character.
    assert decode_words(b"=?utf-8?q?=C3?= =?UTF-8?q?=A9?=") == "é"


def test_what_decode_header_cannot_do_is_kept_never_raised():
    # A broken base64 word (decode_header raises for the whole value): kept as written, and
    # the split words after it are still joined.
    text = decode_words(b"Re: =?utf-8?B?A?= =?utf-8?q?=C3?= =?utf-8?q?=A9?=")
    assert text == "Re: =?utf-8?B?A?=é"
    # The same in a run longer than one decode_header call.
    run_ = b" ".join([b"=?utf-8?q?a?="] * 120 + [b"=?utf-8?b?A?="] + [b"=?utf-8?q?=C3=A9?="] * 3)
    assert decode_words(run_) == "a" * 120 + "=?utf-8?b?A?=" + "é" * 3
    # Raw 8-bit text next to split words (decode_header would raise on it in make_header);
    # a byte that is no UTF-8 is read as Windows-1252 (raw_text).
    assert decode_words(b"caf\xc3\xa9 =?utf-8?q?=C3?==?utf-8?q?=A9?= \xff") == "café é ÿ"
    # A charset decode_text refuses, in a run of two words: the run as written.
    assert decode_words(b"a =?rot13?q?n?= =?rot13?q?op?= b") == "a =?rot13?q?n?= =?rot13?q?op?= b"
    # A lone surrogate that only the joined run makes (utf-7 "+2AA-" split in two): as written.
    words = b"Re: =?utf-7?q?+2A?= =?utf-7?q?A-?="
    assert decode_words(words) == words.decode()
    # A word holding a byte str.splitlines() ends a line at is no word to decode_header:
    # kept as written, its raw byte read as Windows-1252 (raw_text).
    assert decode_words(b"=?utf-8?q?a\x85b?= =?utf-8?q?=C3?= =?utf-8?q?=A9?=") == (
        "=?utf-8?q?a…b?= é"
    )


def test_a_run_of_one_charset_as_long_as_a_fact_is_decoded_whole():
    # FACT_BYTES of two-word "é"s (decode_header alone is quadratic in them: chunked).
    pair = b"=?utf-8?q?=C3?= =?utf-8?q?=A9?= "
    value = (pair * ((FACT_BYTES - 20) // len(pair))).rstrip()
    text = decode_words(value)
    assert text == "é" * ((FACT_BYTES - 20) // len(pair))
    assert Header(b"Subject: Re: " + value + b"\n\n").facts().subject is not None


# -- cr-only-line-endings and bare-cr-line-forged-mark: where the header ends ---------------


def test_cr_only_line_endings(tmp_path):
    """sweetrb/apple-mail-mcp#227, as run.sh drives it: old Mac mail, one line to procmail."""
    case = FIELD / "cr-only-line-endings"
    db = tmp_path / "threads.db"
    added = run(["add", "muted"], (case / "root.eml").read_bytes(), db=db)
    assert added.returncode == 0 and b"1 new id" in added.stdout, added
    # Jane's address, in the body, is no id; nor is Mac User's, in From.
    for address in ("<jane@example.com>", "<mac@example.org>"):
        explained = run(["explain", "--message-id", address], db=db)
        assert explained.returncode == 1, explained.stdout
    # The reply: its In-Reply-To follows a bare CR, in the one line procmail sees (not a
    # field to it, nor to mailthread): nothing links it, and it comes out as it came.
    reply = (case / "reply.eml").read_bytes()
    assert run(["match"], reply, db=db).stdout == reply
    unrelated = (case / "unrelated.eml").read_bytes()
    assert run(["match", "--no-subject"], unrelated, db=db).stdout == unrelated


CR_ONLY_CASES = {
    # name: (message, its ids, its header or None for all of it); the mark ends in LF (the
    # one line end procmail's "$" knows), or CRLF when the first line does (CRLF_CASES).
    "CR-only, Message-ID first": (
        b"Message-ID: <a@x>\rFrom: Jane <jane@example.com>\r\rSee <b@x>\r",
        ["a@x"],
        None,
    ),
    "CR-only, From first": (
        b"From: Jane <jane@example.com>\rMessage-ID: <a@x>\rIn-Reply-To: <p@x>\r\rbody\r",
        [],
        None,
    ),
    "CR-only, In-Reply-To first": (
        b"In-Reply-To: <p@x>\rMessage-ID: <a@x>\rReferences: <r@x>\r\rbody <b@x>\r",
        ["p@x"],
        None,
    ),
    "CR-only with a trailing LF": (
        b"References: <r@x> <p@x>\rFrom: <jane@example.com>\r\rbody <b@x>\r\n",
        ["p@x", "r@x"],
        None,
    ),
    "CR-only CRLF-mixed": (
        b"Message-ID: <a@x>\r\r\nFrom: Jane <jane@example.com>\r\r\n\r\r\nbody\r\r\n",
        ["a@x"],
        None,
    ),
    "CR-only after a postmark": (
        b"From jane@example.com  Mon Jan  1 10:00:00 2024\n"
        b"Message-ID: <a@x>\rIn-Reply-To: Jane <jane@example.com>\r\rbody\r",
        ["a@x"],
        None,
    ),
    "CR-only with a postmark and no LF": (
        b"From jane@example.com  Mon Jan  1 10:00:00 2024\rMessage-ID: <a@x>\r\rbody <b@x>\r",
        [],
        None,
    ),
    "CR-only header, then an empty LF line": (
        b"Message-ID: <a@x>\rFrom: <jane@example.com>\r\n\nReferences: <b@x>\n",
        ["a@x"],
        b"Message-ID: <a@x>\rFrom: <jane@example.com>\r\n",
    ),
    "LF message with a CR-only line": (
        b"From: j@x\nMessage-ID: <a@x>\n\r\nIn-Reply-To: <p@x>\n\nReferences: <b@x>\n",
        ["a@x", "p@x"],
        b"From: j@x\nMessage-ID: <a@x>\n\r\nIn-Reply-To: <p@x>\n",
    ),
    "LF message with CR-only lines, CRLF empty line": (
        b"Message-ID: <a@x>\n\r\n\r\nReferences: <p@x>\n\nIn-Reply-To: <b@x>\n",
        ["a@x", "p@x"],
        b"Message-ID: <a@x>\n\r\n\r\nReferences: <p@x>\n",
    ),
    "CRLF message with a bare-LF empty line": (
        b"Message-ID: <a@x>\r\nIn-Reply-To: <p@x>\r\n\nReferences: <b@x>\r\n\r\n",
        ["a@x", "p@x"],
        b"Message-ID: <a@x>\r\nIn-Reply-To: <p@x>\r\n",
    ),
    "header only, LF": (b"Message-ID: <a@x>\nIn-Reply-To: <p@x>\n", ["a@x", "p@x"], None),
    "header only, CRLF": (b"Message-ID: <a@x>\r\nReferences: <p@x>\r\n", ["a@x", "p@x"], None),
    "header only, CR-only": (b"Message-ID: <a@x>\rIn-Reply-To: <p@x>\r", ["a@x"], None),
}


CRLF_CASES = [CR_ONLY_CASES[name][0] for name in ("CRLF message with a bare-LF empty line",)]
CRLF_CASES.append(CR_ONLY_CASES["header only, CRLF"][0])
# The siblings side by side: each group has a case that was read wrong before issue 12.
GROUPS = {
    "CR-only, Message-ID first vs From first": ["CR-only, Message-ID first", "CR-only, From first"],
    "CR-only, In-Reply-To first": ["CR-only, In-Reply-To first"],
    "CR-only with a trailing LF": ["CR-only with a trailing LF"],
    "CR-only CRLF-mixed": ["CR-only CRLF-mixed"],
    "CR-only after a postmark": ["CR-only after a postmark", "CR-only with a postmark and no LF"],
    "CR-only header, then an empty LF line": ["CR-only header, then an empty LF line"],
    "LF message with CR-only lines vs CRLF message with a bare-LF empty line": [
        "LF message with a CR-only line",
        "LF message with CR-only lines, CRLF empty line",
        "CRLF message with a bare-LF empty line",
    ],
    "header only (procmail's h)": ["header only, LF", "header only, CRLF", "header only, CR-only"],
}


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=list(GROUPS))
def test_header_boundary_and_fields_as_procmail_reads_them(group):
    for name in group:
        raw, ids, header = CR_ONLY_CASES[name]
        check_boundary_and_fields(raw, ids, header)


def check_boundary_and_fields(raw: bytes, ids: list[str], header: bytes | None) -> None:
    parsed = Header(raw)
    postmark = raw.index(b"\n") + 1 if raw.startswith(b"From ") and b"\n" in raw else 0
    expected_end = len(raw) if header is None else postmark + len(header)
    assert (parsed.start, parsed.end) == (postmark, expected_end)
    assert parsed.facts().ids == ids
    # The mark: first, after a postmark ending in LF; every other byte as it came.
    eol = b"\r\n" if raw in CRLF_CASES else b"\n"
    assert rewritten(raw) == raw[:postmark] + b"X-Mailthread: muted" + eol + raw[postmark:]


def test_cr_only_fields_end_at_their_first_bare_cr():
    raw = b"Subject: Re: hello\rDate: Thu, 30 Aug 2007 14:10:00 +0200\rThread-Index: AQHZ\r\r"
    facts = Header(raw).facts()
    assert Header(raw).subject() == "Re: hello"
    assert facts.subject == Header(b"Subject: hello\n\n").facts().subject and facts.reply
    later = b"Date: Thu, 30 Aug 2007 14:10:00 +0200\rSubject: 1 Jan 2024 10:00:00\r"
    assert Header(later).facts().date == 1188475800
    thread_index = b"Thread-Index: " + base64.b64encode(bytes(range(22))) + b"\rX: AAAAAAAA\r"
    assert Header(thread_index).facts().thread_index == "thread-index:" + bytes(range(22)).hex()


def test_a_forged_mark_after_a_cr_only_line_is_renamed(tmp_path):
    """bare-cr-line-forged-mark, as run.sh drives match: the line holding only a CR does
    not end an LF message's header (procmail reads on), so the sender's field is renamed."""
    raw = (FIELD / "bare-cr-line-forged-mark" / "forged-bare-cr.eml").read_bytes()
    result = run(["match"], raw, db=tmp_path / "threads.db")
    renamed = raw.replace(b"\r\nX-Mailthread", b"\r\nOld-X-Mailthread")
    assert renamed != raw and (result.returncode, result.stdout) == (0, renamed)
    # Unusable database: renamed all the same.
    (tmp_path / "file").write_text("")
    result = run(["match"], raw, db=tmp_path / "file" / "sub" / "threads.db")
    assert (result.returncode, result.stdout) == (0, renamed)


# -- the same through the real procmail and contrib/procmailrc.example -----------------------


@pytest.fixture
def procmail_user(tmp_path):
    from e2e.conftest import Env, require

    require("procmail", "formail")
    return Env(tmp_path)


def delivered(user) -> dict[str, list[bytes]]:
    return {
        name: [p.read_bytes() for p in user.maildir(name, "new") + user.maildir(name, "cur")]
        for name in ("inbox", "muted", "watched")
    }


@pytest.mark.e2e
def test_procmail_files_the_bare_cr_forgery_in_the_inbox_renamed(procmail_user):
    user = procmail_user
    case = FIELD / "bare-cr-line-forged-mark"
    for name in ("forged-plain.eml", "forged-bare-cr.eml"):
        raw = (case / name).read_bytes()
        user.deliver(raw)
    folders = delivered(user)
    assert folders["muted"] == [] and folders["watched"] == [], folders
    plain = (case / "forged-plain.eml").read_bytes()
    bare = (case / "forged-bare-cr.eml").read_bytes()
    assert sorted(folders["inbox"]) == sorted(
        raw.replace(b"\nX-Mailthread", b"\nOld-X-Mailthread") for raw in (plain, bare)
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    "reply",
    [
        b"In-Reply-To: <root@mac.example.org>\rMessage-ID: <r1@mac.example.org>\r"
        b"From: Mac User <mac@example.org>\rSubject: Re: diferencial\r\rreply body\r",
        b"References: <root@mac.example.org>\r\r\nMessage-ID: <r2@mac.example.org>\r\r\n"
        b"\r\r\nreply body\r\r\n",
        b"From mac@example.org  Thu Aug 30 14:10:00 2007\n"
        b"In-Reply-To: <root@mac.example.org>\rMessage-ID: <r3@mac.example.org>\r\rbody\r",
    ],
    ids=["CR-only", "CR-only CRLF-mixed", "CR-only after a postmark"],
)
def test_procmail_files_a_cr_only_reply_by_the_mark_it_sees_first(procmail_user, reply):
    user = procmail_user
    root = b"Message-ID: <root@mac.example.org>\rFrom: Mac User <mac@example.org>\r\rhi\r"
    user.add("muted", root)
    user.deliver(reply)
    folders = delivered(user)
    assert folders["inbox"] == [] and len(folders["muted"]) == 1, (folders, user.procmail_log())
    # procmail keeps no postmark in a Maildir, and ends a header with no empty LF line
    # with one more LF after a filter (tests/e2e/test_forged_mark.py, procmail_kept).
    body = reply.split(b"\n", 1)[1] if reply.startswith(b"From ") else reply
    assert folders["muted"][0] == b"X-Mailthread: muted\n" + body + b"\n"
