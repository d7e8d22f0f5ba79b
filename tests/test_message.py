"""Reading ids and rewriting headers on raw bytes."""

import re

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from mailthread.message import Header, field_name
from mailthread.msgid import parse_ids


def ids(raw: bytes) -> list[str]:
    return Header(raw).ids_nearest_first()


def rewritten(raw: bytes, line: bytes | None = b"X-Mailthread: muted") -> bytes:
    return b"".join(Header(raw).rewrite(line, b"X-Mailthread"))


# -- where the header is ------------------------------------------------------------------


def test_header_ends_at_first_empty_line():
    raw = b"A: 1\nB: 2\n\nbody\n\nmore\n"
    header = Header(raw)
    assert raw[header.start : header.end] == b"A: 1\nB: 2\n"


def test_from_line_is_not_part_of_the_header():
    raw = b"From someone Mon Jan  1 00:00:00 2024\nA: 1\n\nbody\n"
    header = Header(raw)
    assert raw[header.start : header.end] == b"A: 1\n"


def test_blank_continuation_line_does_not_end_the_header():
    raw = b"A: 1\n \nB: <x@y>\n\nbody\n"
    assert Header(raw).end == raw.index(b"\n\n") + 1


def test_header_only_input_has_no_blank_line():
    raw = b"A: 1\nMessage-ID: <x@y>\n"
    assert Header(raw).end == len(raw)


def test_crlf_is_detected_from_the_first_header_line():
    assert Header(b"From x\r\nA: 1\r\n\r\nb\r\n").eol == b"\r\n"
    assert Header(b"A: 1\nB: 2\n\n").eol == b"\n"


# -- ids, nearest first ---------------------------------------------------------------------


def test_ids_nearest_first():
    raw = (
        b"References: <root@x> <mid@x>\n\t<parent@x>\nIn-Reply-To: <parent@x>\n"
        b"Message-ID: <me@x>\n\n"
    )
    assert ids(raw) == ["me@x", "parent@x", "mid@x", "root@x"]


def test_field_names_any_case_and_space_before_colon():
    raw = b"MESSAGE-id : <me@x>\nin-reply-to:<p@x>\n\n"
    assert ids(raw) == ["me@x", "p@x"]


def test_ids_in_the_body_are_not_read():
    raw = b"Message-ID: <me@x>\n\nReferences: <body@x>\n"
    assert ids(raw) == ["me@x"]


def test_two_references_headers_are_joined_in_order():
    raw = b"References: <a@x>\nReferences: <b@x> <c@x>\n\n"
    assert ids(raw) == ["c@x", "b@x", "a@x"]


@pytest.mark.parametrize(
    "value, bare, expected",
    [
        (b' <a@x>\n\t(wubo\'s message of "Thu, 31 Oct")', False, ["a@x"]),
        (b" <a@x>; from someone@example.com on Thu, Mar 30, 2000", False, ["a@x"]),
        (b" CAB__x@mail.gmail.com", False, ["CAB__x@mail.gmail.com"]),
        (b" 123@zte.com.cn,456@ibm.com", True, ["123@zte.com.cn", "456@ibm.com"]),
        (b" bare@x <bracketed@y>", True, ["bare@x", "bracketed@y"]),
        (b" <>, <a@x>", True, ["a@x"]),
        (b" <Mustafa Shehabi <mustafa.shehabi@fii-na.com>", False, ["mustafa.shehabi@fii-na.com"]),
        (b" <yes>", True, ["yes"]),
        (b" ", True, []),
        (b" (comment (nested <c@x>) still) <a@x>", False, ["a@x"]),
        (b' "quoted <q@x>" <a@x>', False, ["a@x"]),
        (b" not an id", False, []),
        (b" <a\xe9@x>", False, ["a\xe9@x"]),
    ],
)
def test_parse_ids(value, bare, expected):
    assert parse_ids(value, bare) == expected


def test_repeated_ids_count_once():
    raw = b"Message-ID: <me@x>\nReferences: <a@x> <a@x> <me@x>\nIn-Reply-To: <a@x> <a@x>\n\n"
    assert ids(raw) == ["me@x", "a@x"]


def test_ids_are_compared_whole():
    # The old scripts matched by substring: "abc@x" was found inside "xabc@xy".
    assert ids(b"References: <xabc@xy>\n\n") == ["xabc@xy"]


@pytest.mark.parametrize(
    "fixture, expected",
    [
        (
            "bare-in-reply-to.eml",
            [
                "rEpI0oNgFN3mXYdbiiSi0kvisclmWY4OyuyDj1KM@lists.ettus.com",
                "CAB__hTSmthBxasOB2AQivKhCOvcac_FeUBO51RDYzfo+eXrCYA@mail.gmail.com",
            ],
        ),
        (
            "bare-comma-references.eml",
            [
                "201907111542202002207@zte.com.cn",
                "1562784731.3213.98.camel@linux.ibm.com",
                "1562743809-31133-1-git-send-email-yang.bin18@zte.com.cn",
            ],
        ),
        (
            "empty-id-in-references.eml",
            [
                "172099979104.15471.15239002304647683093@noble.neil.brown.name",
                "0e6c7c8ed259dcb50631c6fdc3d86d3080bdc6f3.camel@HansenPartnership.com",
            ],
        ),
        (
            "gnus-comment.eml",
            [
                "yq18soksgji.fsf@oracle.com",
                "EDBAAA0BBBA2AC4E9C8B6B81DEEE1D6915DFB0ED@dggeml505-mbs.china.huawei.com",
            ],
        ),
        (
            "repeated-ids.eml",
            [
                "20231205112755.3am2mazwireflpkq@skbuf",
                "20231205103559.9605-6-fancer.lancer@gmail.com",
                "20231205103559.9605-1-fancer.lancer@gmail.com",
            ],
        ),
        (
            "crlf-mbox-entry.eml",
            ["20000209154405.C265@better.net", "38A11D0E.A2064062@ipicorp.com"],
        ),
    ],
)
def test_ids_of_real_messages(fixture, expected):
    assert ids((FIXTURES / fixture).read_bytes()) == expected


def test_tens_of_thousands_of_references():
    refs = b" ".join(b"<id%d@x>" % i for i in range(50_000))
    found = ids(b"Message-ID: <me@x>\nReferences: " + refs + b"\n\n")
    assert len(found) == 50_001 and found[1] == "id49999@x" and found[-1] == "id0@x"


# -- rewriting --------------------------------------------------------------------------------


def test_line_goes_first_in_the_header():
    # The one place every MDA agrees is header (docs/threat-model.md).
    assert rewritten(b"A: 1\nB: 2\n\nbody\n") == b"X-Mailthread: muted\nA: 1\nB: 2\n\nbody\n"


def test_line_goes_after_a_postmark():
    raw = b"From x@y  Mon Jan  1 00:00:00 2024\nA: 1\n\nbody\n"
    assert rewritten(raw) == raw.replace(b"\nA: 1", b"\nX-Mailthread: muted\nA: 1")


def test_line_goes_first_whatever_ends_the_header():
    # A line of only a CR in an LF message ends the header neither for procmail nor (issue
    # 12) for mailthread: the line goes first, and a sender's field after it is renamed.
    raw = b"A: 1\n\r\nX-Mailthread: muted\n\nbody\n"
    assert rewritten(raw) == b"X-Mailthread: muted\n" + raw.replace(b"\nX-", b"\nOld-X-")
    # CR-only line ends (old Mac mail): procmail sees one line; an LF ends the mark.
    raw = b"A: 1\rX-Mailthread: muted\r\rbody\r"
    assert rewritten(raw) == b"X-Mailthread: muted\n" + raw


def test_crlf_message_gets_a_crlf_line():
    raw = b"From x\r\nA: 1\r\n\r\nbody\r\n"
    assert rewritten(raw) == b"From x\r\nX-Mailthread: muted\r\nA: 1\r\n\r\nbody\r\n"


def test_header_only_input_gets_the_line_too():
    assert rewritten(b"A: 1\nB: 2\n") == b"X-Mailthread: muted\nA: 1\nB: 2\n"
    assert rewritten(b"A: 1\nB: 2") == b"X-Mailthread: muted\nA: 1\nB: 2"
    assert rewritten(b"") == b"X-Mailthread: muted\n"


def test_existing_fields_of_that_name_are_renamed_even_without_a_match():
    raw = b"X-Mailthread: muted\nA: 1\nx-mailthread : watched\n folded\n\nX-Mailthread: body\n"
    assert rewritten(raw, None) == (
        b"Old-X-Mailthread: muted\nA: 1\nOld-x-mailthread : watched\n folded\n\n"
        b"X-Mailthread: body\n"
    )


def test_similar_field_names_are_not_renamed():
    raw = b"X-Mailthread-Info: 1\nX-Mailthreads: 2\n\n"
    assert rewritten(raw, None) == raw


def test_body_from_lines_and_8bit_bytes_are_copied_as_they_are():
    raw = b"A: \xff\xfe\n\nFrom me\n>From you\n\x00\xff\n"
    assert rewritten(raw) == b"X-Mailthread: muted\n" + raw


def test_nothing_to_do_gives_the_same_bytes():
    raw = (FIXTURES / "eight-bit-header.eml").read_bytes()
    assert rewritten(raw, None) == raw


@pytest.mark.parametrize("line", ["X-Mailthread: {list}", "Procmail-Muted: true", "X-A:b"])
def test_field_name_accepts_header_lines(line):
    assert field_name(line) == line.split(":")[0]


@pytest.mark.parametrize(
    "line", ["no colon", "Two Words: x", ": empty", "X-A: b\nX-B: c", "X-A: b\r", "Ä: x"]
)
def test_field_name_refuses_other_lines(line):
    with pytest.raises(ValueError):
        field_name(line)


# -- the scanner against a one-line specification -----------------------------------------------

# parse_ids() is a hand-written scanner (importing `re` would cost the per-mail path ~8 ms).
# This regex is its specification: one token of a threading field is an <id>, a quoted
# string, a comment parenthesis, or a bare word.
SPEC_TOKEN = re.compile(rb'<([^<>]*)>|"(?:[^"\\]|\\.)*"?|([()])|([^\s,;<>()"]+)')


def spec_parse_ids(value: bytes, bare: bool) -> list[str]:
    found, depth = [], 0
    for token in SPEC_TOKEN.finditer(value):
        inside, paren, word = token.groups()
        if paren:
            depth = depth + 1 if paren == b"(" else max(depth - 1, 0)
        elif depth:
            continue
        elif inside is not None:
            if b"".join(inside.split()):
                found.append((b"".join(inside.split()), True))
        elif word is not None and b"@" in word.strip(b"@"):
            found.append((word, False))
    any_bracketed = any(b for _, b in found)
    return [i.decode("latin-1") for i, b in found if b or bare or not any_bracketed]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"<",
                b">",
                b"(",
                b")",
                b'"',
                b"\\",
                b" ",
                b"\t",
                b"\r\n",
                b"\n",
                b",",
                b";",
                b"@",
                b"a",
                b"b.c",
                b"\xe9",
                b"\x0b",
                b"<a@b>",
            ]
        ),
        max_size=40,
    ).map(b"".join),
    st.booleans(),
)
def test_parse_ids_follows_its_specification(value, bare):
    assert parse_ids(value, bare) == spec_parse_ids(value, bare)


# Values with no comment or quote are split by bytes methods, not scanned: the same tokens.
@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"<", b">", b" ", b"\t", b"\r\n", b",", b";", b"@", b"a", b"b.c", b"\xe9", b"\x0b"]
            + [b"\\", b"<a@b>", b"<a b@c>", b"x@y", b"@@"]
        ),
        max_size=40,
    ).map(b"".join),
    st.booleans(),
)
def test_parse_ids_without_comments_or_quotes_follows_its_specification(value, bare):
    assert parse_ids(value, bare) == spec_parse_ids(value, bare)


# -- issue 11: every decode total, every parser linear --------------------------------------


def every_codec_name() -> list[str]:
    import encodings
    import encodings.aliases
    import pkgutil

    names = {name for pair in encodings.aliases.aliases.items() for name in pair}
    return sorted(names | {m.name for m in pkgutil.iter_modules(encodings.__path__)})


@pytest.mark.parametrize(
    "payload", [b"+2AA-", b"=5Cud800", b"=5CU0010ffff", b"=D8=00", b"=00=D8=00", b"=FF=FE=00"]
)
def test_an_encoded_word_in_every_codec_decodes_to_valid_text(payload):
    from mailthread.encoded_words import decode_words
    from mailthread.subject import normalise_subject, subject_hash

    for name in every_codec_name():
        for word in (b"=?%s?q?%s?=" % (name.encode(), payload), b"=?%s?b?2AA=?=" % name.encode()):
            raw = b"Subject: Re: " + word + b"\nMessage-ID: <a@b>\n\n"
            text = decode_words(b"Re: " + word)
            text.encode("utf-8")  # no lone surrogates
            assert Header(raw).subject() == " ".join(text.split())
            normalised, reply = normalise_subject(text)
            assert reply and Header(raw).facts().subject == subject_hash(normalised)


def test_encoded_words_that_decode_to_lone_surrogates_are_kept_as_written():
    from mailthread.encoded_words import decode_words

    assert decode_words(b"Re: =?utf-7?q?+2AA-?=") == "Re: =?utf-7?q?+2AA-?="
    assert decode_words(b"=?unicode-escape?q?=5Cud800?=") == "=?unicode-escape?q?=5Cud800?="
    assert decode_words(b"a =?rot13?q?nop?= b") == "a =?rot13?q?nop?= b"
    # Text utf-7 and utf-16 can hold is still decoded; a broken utf-16 unit is U+FFFD.
    assert decode_words(b"=?utf-7?q?Caf+AOk-?=") == "Caf\xe9"
    assert decode_words(b"=?utf-16-le?b?QQDY?=") == "A\ufffd"


def test_a_punycode_word_is_not_decoded():
    # Python's punycode decoder takes time cubic in its input: 400 KB took 53 s.
    from mailthread.encoded_words import decode_words

    word = b"=?punycode?q?" + b"abcdefghij" * 40_000 + b"?="
    assert decode_words(word) == word.decode()


@pytest.mark.parametrize(
    "date",
    [
        b"1 Jan " + b"9" * 5000 + b" 10:00:00 +0000",
        b"1 Jan 2024 " + b"1" * 5000 + b":00 +0000",
        b"1 Jan -2024 10:00:00 +0000",
        b"-1 Jan 2024 10:00:00",
        b"1 Jan 10000 10:00:00",
    ],
)
def test_absurd_numbers_in_a_date_give_no_date(date):
    from mailthread.dates import parse_date

    assert parse_date(date) is None
    assert Header(b"Date: " + date + b"\nMessage-ID: <a@b>\n\n").facts().date is None


def test_dates_with_leading_zeros_still_parse_and_huge_seconds_count_as_60():
    from mailthread.dates import parse_date

    assert parse_date(b"01 Jan 02024 010:00:00 +0000") == 1704103200
    assert parse_date(b"1 Jan 2024 10:00:" + b"9" * 5000) == 1704103200 + 60


# Inputs of about 1 MB that took minutes while the parsers were quadratic.
MB = 1_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"<" * MB, []),
        (b"<" * MB + b"a@b>", ["a@b"]),
        (b"<a" * (MB // 2) + b">", ["a"]),
        (b"(" * MB + b"<a@b>", []),
        (b"(a" * (MB // 2) + b")" * MB + b" <a@b>", ["a@b"]),
        (b'"' * (MB + 1) + b" <x@y>", []),
        (b'"' * MB + b" <x@y>", ["x@y"]),
        (b'"' + b"\\" * MB + b'" <x@y>', ["x@y"]),
        (b"<a@b> " * (MB // 6), ["a@b"] * (MB // 6)),
        (b"a@b," * (MB // 4), ["a@b"] * (MB // 4)),
    ],
)
def test_parse_ids_of_a_megabyte(value, expected):
    assert parse_ids(value, bare=True) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: " * (MB // 4) + "Topic", ("topic", True)),
        ("Re:" * (MB // 3) + "Topic", ("topic", True)),
        ("Re[2]: " * (MB // 7) + "Topic", ("topic", True)),
        ("[tag]" * (MB // 5) + " Topic", ("topic", False)),
        ("[tag] Re: " * (MB // 10) + "Topic", ("topic", True)),
        ("[" * MB, ("[" * MB, False)),
        (" " * MB + "Re: Topic", ("topic", True)),
    ],
)
def test_normalise_subject_of_a_megabyte(subject, expected):
    from mailthread.subject import normalise_subject

    assert normalise_subject(subject) == expected


# -- what facts() reads of a field longer than any mail client writes (issue 11) -------------


def references(count: int) -> bytes:
    """`<0.padding@example.com> <1.padding@example.com> ...`: ids of 21 to 26 bytes, so that
    a bound falls inside an id, between two, and on a blank."""
    return b" ".join(b"<%d.padding@example.com>" % n for n in range(count))


def whole_ids_within(value: bytes, first: int, last: int) -> list[str]:
    """The ids of ``value`` (written by ``references``) wholly within ``value[first:last]``."""
    found = []
    end = 0
    for n in range(len(value)):
        start = value.find(b"<%d." % n, end)
        end = value.find(b">", start) + 1
        if start < 0 or end == 0:
            return found
        if first <= start and end <= last:
            found.append(value[start + 1 : end - 1].decode())
    return found


@pytest.mark.parametrize("extra", range(27))  # ids of 26 bytes and a blank
def test_facts_read_the_nearest_fact_bytes_of_references_and_no_part_of_an_id(extra):
    from mailthread.message import FACT_BYTES

    value = b" " + references(3000) + b" " * extra  # the bound falls in each place of an id
    raw = b"Message-ID: <own@x>\nReferences:" + value + b"\n\nbody\n"
    facts = Header(raw).facts()
    value += b"\n"  # the field as written ends with its line end
    nearest = whole_ids_within(value, len(value) - FACT_BYTES, len(value))
    assert facts.ids == ["own@x", *reversed(nearest)]
    assert facts.ids[1] == ids(raw)[1] and "0.padding@example.com" not in facts.ids
    # Every id is read where no bound applies.
    assert len(ids(raw)) == len(whole_ids_within(value, 0, len(value))) + 1


@pytest.mark.parametrize("extra", range(27))  # ids of 26 bytes and a blank
def test_facts_read_the_first_fact_bytes_of_in_reply_to_and_no_part_of_an_id(extra):
    from mailthread.message import FACT_BYTES

    value = b" " * (1 + extra) + references(4000)  # the bound falls in each place of an id
    raw = b"In-Reply-To:" + value + b"\n\n"
    facts = Header(raw).facts()
    assert facts.ids == whole_ids_within(value, 0, FACT_BYTES)
    assert facts.ids[0] == "0.padding@example.com" and len(facts.ids) > 2000


def test_fields_are_read_whole_up_to_fact_bytes_and_not_at_all_beyond():
    from mailthread.message import FACT_BYTES

    def header(size: int) -> bytes:
        """Each field with its value ``size`` bytes long as written (blanks after it)."""

        def field(name: bytes, value: bytes) -> bytes:
            return name + b":" + value + b" " * (size - len(value) - 1) + b"\n"

        return (
            field(b"Message-ID", b" <own@x>")
            + field(b"In-Reply-To", b" <parent@x>")
            + field(b"References", b" <root@x> <parent@x>")
            + field(b"Subject", b" Re: topic")
            + field(b"Date", b" Mon, 1 Jan 2024 10:00:00 +0000")
            + field(b"Thread-Index", b" " + b"QUJD" * 8)
            + b"\n"
        )

    facts = Header(header(FACT_BYTES)).facts()
    assert facts.ids == ["own@x", "parent@x", "root@x"]
    assert facts.reply and facts.subject is not None and facts.date == 1704103200
    assert facts.thread_index == "thread-index:" + b"ABC".hex() * 7 + b"A".hex()

    # One byte more: the ids still count (the blanks at the end are cut), the rest not.
    raw = header(FACT_BYTES + 1)
    facts = Header(raw).facts()
    assert facts.ids == ["own@x", "parent@x", "root@x"]
    assert (facts.subject, facts.reply, facts.date, facts.thread_index) == (None, False, None, None)
    # What add shows of a Subject: its first FACT_BYTES bytes.
    assert Header(raw).subject() == "Re: topic"
    huge = Header(b"Subject: " + b"x" * (3 * FACT_BYTES) + b"\n\n").subject()
    assert huge == "x" * (FACT_BYTES - 1)  # the blank after the colon is part of the value


# email.header's own pattern (ecre), run over a value, is quadratic: 64 KiB of these took
# it 5 s, a megabyte would take over an hour. encoded_words finds the same words linearly.
@pytest.mark.parametrize(
    "value",
    [b"=?a?q?xx" * (MB // 8), b"=?a?q?x " * (MB // 8), b"=?utf-8?q?" + b"a" * MB, b"=?" * MB],
)
def test_encoded_word_lookalikes_of_a_megabyte(value):
    from mailthread.encoded_words import decode_words, encoded_words

    assert encoded_words(value) == []
    assert decode_words(value) == value.decode()
    assert Header(b"References: " + value + b" <a@b>\n\n").threading_ids()[2] == ["a@b"]


def test_encoded_words_are_those_email_header_finds():
    from email.header import ecre

    from mailthread.encoded_words import encoded_words

    for value in [
        b"=?utf-8?q?a?= =?UTF-8?B?w4E=?=x=?a?q?b c?=",
        b"=?x?y?z?= =??q?a?= =?a?Q??= =?a?q?=?=",
        b"==?a?b?c?=?= =?a?q?\x85?= tail",
    ]:
        text = value.decode("latin-1")
        expected = [
            (m.start(), m.end(), m["charset"].lower())
            for m in ecre.finditer(text)
            if m["charset"] and "\x85" not in m.group()
        ]
        assert encoded_words(value) == expected


def test_in_reply_to_ids_against_a_megabyte_of_near_miss_addresses():
    # Each id was searched for in the address fields: ids x near misses (40 s at 64 KiB).
    raw = (
        b"From: " + b"xa@ax " * (MB // 6) + b"\nCc: Doug <doug@example.org>\n"
        b"In-Reply-To: " + b"<a@a>" * (MB // 5) + b" <DOUG@example.org>\n\n"
    )
    assert Header(raw).threading_ids()[1] == ["a@a"] * (MB // 5)


def test_the_bound_is_for_all_fields_of_a_name_not_each():
    # 15 Message-ID fields of 64 KiB each cost match a second and a half when each field
    # had a bound of its own; the bound is now for all fields of one name.
    from mailthread.message import FACT_BYTES

    many = references(FACT_BYTES // 20)  # over FACT_BYTES
    raw = (
        b"Message-ID: <own@h>\nMessage-ID: " + many + b"\n"
        b"In-Reply-To: " + many + b"\nIn-Reply-To: <late@h>\n"
        b"References: <early@h>\nReferences: " + many + b"\n\n"
    )
    own, parents, refs = Header(raw).threading_ids(FACT_BYTES)
    assert own[0] == "own@h" and "late@h" not in parents and "early@h" not in refs
    for ids in (own, parents, refs):  # "<id> " for each: at most FACT_BYTES in all
        assert sum(len(msgid) + 3 for msgid in ids) <= FACT_BYTES + 3
    assert refs[-1] == whole_ids_within(many, 0, len(many))[-1]  # the nearest parent
    # Without a bound every id is read.
    own, parents, refs = Header(raw).threading_ids()
    assert "late@h" in parents and refs[0] == "early@h"


def test_facts_and_hits_behave_as_the_named_tuples_they_replace():
    """message.Record (Facts, Hit, MatchArgs: no namedtuple on the match path) keeps what
    the code and its users rely on: equality with tuples, defaults, _replace, pickle and
    copy, and no attribute that is not one of its fields."""
    import copy
    import pickle

    from mailthread.linking import Hit

    facts = Header(b"Message-ID: <a@x>\nIn-Reply-To: <p@x>\nSubject: Re: hi\n\nx\n").facts()
    hit = Hit("p@x", 1, "muted", "id")
    assert hit == ("p@x", 1, "muted", "id", False) and hit.followed is False
    assert hit._replace(rule="fork").rule == "fork" and hit.rule == "id"
    for value in (facts, hit):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value == copy.copy(value)
        assert type(copy.copy(value)) is type(value)
    with pytest.raises(AttributeError):
        hit.other = 1
    with pytest.raises(TypeError):
        hit._replace(other=1)
    with pytest.raises(TypeError):
        Hit("p@x", 1)
