"""Id extraction as real mailers write threading fields (issue 12): no address ever becomes
an id, no encoded or quoted id is missed, no id is read past a bare CR.

The field cases are driven as ../shared/field/<case>/run.sh drives them, with the copies in
tests/fixtures/field/ (through the installed console script); their siblings are read with
Header and parse_ids directly, and a few of them through `match` and `add` again.
docs/leniency.md gives the rule and the peers it follows.
"""

import io

import pytest
from conftest import FIXTURES, forks_setting, marked, run
from hypothesis import given, settings
from hypothesis import strategies as st

from mailthread import filter
from mailthread.message import Header
from mailthread.msgid import parse_ids, reply_ids, typed_id

FIELD = FIXTURES / "field"


def fixture(case: str, name: str) -> bytes:
    return (FIELD / case / name).read_bytes()


def ok(result, status=0):
    assert result.returncode == status, (result.stdout, result.stderr)
    return result.stdout.decode()


def match(raw: bytes, db, *args) -> bytes:
    """`match` in this process (the CLI's own entry point, as test_fuzz runs it)."""
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = filter.run(
        ["match", *args],
        io.BytesIO(raw),
        stdout,
        stderr,
        {"MAILTHREAD_DB": str(db), **forks_setting()},
    )
    assert (status, stderr.getvalue()) == (0, "")
    return stdout.getvalue()


def parents(raw: bytes) -> list[str]:
    """The ids a message names as its parents, nearest first (what the index keys on)."""
    return Header(raw).facts().parents


# -- exmh-in-reply-to-address ---------------------------------------------------------------

EXMH = "exmh-in-reply-to-address"


def test_exmh_scenario_1_muting_from_the_exmh_reply_does_not_mute_the_senders_other_thread(db):
    a2, b2 = fixture(EXMH, "a2.eml"), fixture(EXMH, "b2.eml")
    assert "2 new ids" in ok(run(["add", "muted"], a2, db=db))  # a2's own and its parent's
    assert "in no thread" in ok(run(["explain"], b2, db=db), 1)
    assert run(["match"], b2, db=db).stdout == b2
    # The parent's sender address was never recorded as an id.
    ok(run(["explain", "--message-id", "<doug@example.org>"], db=db), 1)
    # What was recorded still links: thread A's root and a reply naming it.
    ok(run(["explain", "--message-id", "<thread-a-root@example.org>"], db=db))


def test_exmh_scenario_2_replies_learned_by_match_keep_threads_apart(db):
    for name in ("a1", "b1", "a2", "b2"):
        run(["match"], fixture(EXMH, f"{name}.eml"), db=db)
    ok(run(["add", "muted"], fixture(EXMH, "a1.eml"), db=db))
    b3 = fixture(EXMH, "b3.eml")
    assert "in no thread" in ok(run(["explain"], b3, db=db), 1)
    assert run(["match"], b3, db=db).stdout == b3
    a2 = fixture(EXMH, "a2.eml")
    assert run(["match"], a2, db=db).stdout == marked(a2)  # its id does link it


def test_exmh_scenario_3_an_import_keeps_the_two_conversations_apart(db, tmp_path):
    box = tmp_path / "box.mbox"
    box.write_bytes(
        b"".join(
            b"From doug@example.org Wed May  2 12:00:00 2001\n"
            + fixture(EXMH, f"{name}.eml")
            + b"\n"
            for name in ("a1", "b1", "a2", "b2")
        )
    )
    out = ok(run(["add", "muted", "--mailbox", box], db=db))
    assert "2 threads added" in out, out
    listing = ok(run(["list"], db=db))
    assert "Topic A" in listing and "Topic B" in listing, listing


# -- rfc2047-encoded-in-reply-to ------------------------------------------------------------

ENCODED = "rfc2047-encoded-in-reply-to"
P1_ID = "f90fcb94abf016741cbd83c8422a6d3c8e1ff664.1588717517.git.user@example.com"


def test_encoded_parent_ids_link_patch_2_to_patch_1(db):
    p1, p2 = fixture(ENCODED, "p1.eml"), fixture(ENCODED, "p2.eml")
    ok(run(["add", "muted"], p1, db=db))
    out = ok(run(["explain", "--no-subject"], p2, db=db))
    assert f"decided by <{P1_ID}> (id): its In-Reply-To" in out, out
    assert run(["match", "--no-subject"], p2, db=db).stdout == marked(p2)


def test_add_records_the_decoded_parent_ids(db):
    p1, p2 = fixture(ENCODED, "p1.eml"), fixture(ENCODED, "p2.eml")
    assert "2 new ids" in ok(run(["add", "muted"], p2, db=db))
    ok(run(["explain", "--no-subject"], p1, db=db))


# -- quoted-local-part-id (these passed before issue 12: kept as regression tests) ----------

QUOTED = "quoted-local-part-id"
QUOTED_AS_WRITTEN = '<"16913 Tue Apr 9 14:24:59 1996"@bnr.example>'


def test_quoted_local_part_linked_however_folded_and_found_as_written(db):
    ok(run(["add", "muted"], fixture(QUOTED, "root.eml"), db=db))
    ok(run(["explain", "--no-subject"], fixture(QUOTED, "reply.eml"), db=db))
    for name in ("reply.eml", "reply2.eml"):
        raw = fixture(QUOTED, name)
        assert run(["match", "--no-subject"], raw, db=db).stdout == marked(raw), name
    ok(run(["explain", "--message-id", QUOTED_AS_WRITTEN], db=db))
    assert "removed thread 1" in ok(run(["remove", "--message-id", QUOTED_AS_WRITTEN], db=db))


# -- cr-only-line-endings (the id side) -----------------------------------------------------

CR = "cr-only-line-endings"


def test_cr_only_message_records_no_address_from_its_from_line_or_body(db):
    root = fixture(CR, "root.eml")
    assert Header(root).threading_ids() == (["OUTLOOK2MAC-root@mac.example.org"], [], [])
    ok(run(["add", "muted"], root, db=db))
    for address in ("<jane@example.com>", "<mac@example.org>"):
        ok(run(["explain", "--message-id", address], db=db), 1)
    unrelated = fixture(CR, "unrelated.eml")
    assert run(["match", "--no-subject"], unrelated, db=db).stdout == unrelated


# -- pass today, keep passing ---------------------------------------------------------------


def test_stray_lt_folded_in_reply_to_still_links(db):
    case = "stray-lt-folded-in-reply-to"
    ok(run(["add", "muted"], fixture(case, "orig.eml"), db=db))
    reply = fixture(case, "reply.eml")
    assert "its In-Reply-To" in ok(run(["explain", "--no-subject"], reply, db=db))
    assert run(["match", "--no-subject"], reply, db=db).stdout == marked(reply)


def test_notmuch_t510_broken_in_reply_to_and_garbage_after_references(db):
    case = "notmuch-t510-broken-irt-garbage-refs"
    ok(run(["add", "muted"], fixture(case, "one.eml"), db=db))
    one_reply = fixture(case, "one-reply.eml")
    assert "its References" in ok(run(["explain", "--no-subject"], one_reply, db=db))
    assert run(["match", "--no-subject"], one_reply, db=db).stdout == marked(one_reply)
    ok(run(["add", "watched"], fixture(case, "five.eml"), db=db))
    five_reply = fixture(case, "five-reply.eml")
    assert run(["match", "--no-subject"], five_reply, db=db).stdout == marked(
        five_reply, b"X-Mailthread: watched"
    )


# -- siblings: In-Reply-To as mailers write it ----------------------------------------------

DATE = b'"Wed, 02 May 2001 11:20:14 EDT."'
# Each family holds the forms that must give the id and the siblings that name an address.
FAMILIES = {
    "exmh, nmh, MH-E": [
        (
            b"Message from Doug <doug@example.org> of " + DATE + b" <id-1@host.example>",
            ["id-1@host.example"],
        ),
        (b'Message from "Doug Smith" <doug@example.org> of ' + DATE + b" <id-1@h>", ["id-1@h"]),
        (b"MESSAGE FROM DOUG <DOUG@EXAMPLE.ORG> OF " + DATE + b" <ID-1@H>", ["ID-1@H"]),
        (b"Message from Doug <doug@example.org>\n  of " + DATE + b"\n  <id-1@h>", ["id-1@h"]),
        (b"Message from Doug\r\n <doug@example.org> of\r\n " + DATE + b" <id-1@h>", ["id-1@h"]),
        (b"Message from <doug@example.org> of " + DATE + b" <id-1@h>", ["id-1@h"]),
        (b"Message from doug@example.org of " + DATE + b" <id-1@h>", ["id-1@h"]),
        (b"Your message of " + DATE + b" <id-1@h>", ["id-1@h"]),
        (b"Your message of " + DATE + b"\n             <id-1@h>", ["id-1@h"]),
    ],
    "the address alone": [
        (b"Message from Doug <doug@example.org>", []),
        (b'Message from "Doug Smith" <doug@example.org>', []),
        (b"message from doug <doug@example.org> of " + DATE, []),
        (b"Message from jane@example.com", []),
    ],
    "Mutt 1.0, long local parts both": [
        # as in ../shared/corpus/perl-mail-box/mbox.src
        (
            b"<8172.960997992@mystic>; from cristy@mystic.example on Wed, Jun 14, 2000",
            ["8172.960997992@mystic"],
        ),
        (
            b"<averyverylongmessageidentifier.1234567@mail.example.net>; from A Very Long"
            b" Name <averyverylongaddresslocalpart@example.org> on Wed, May 02, 2001",
            ["averyverylongmessageidentifier.1234567@mail.example.net"],
        ),
    ],
    "Gnus and rmail, now and before": [
        (b'<id-1@h> (Doug Smith\'s message of "Wed, 02 May 2001 11:20:14 -0400")', ["id-1@h"]),
        (b'<id-1@h> (doug@example.org\'s message of "Wed, 02 May 2001")', ["id-1@h"]),
        (b'Doug Smith\'s message of "Wed, 02 May 2001 11:20:14 -0400" <id-1@h>', ["id-1@h"]),
        (b"Doug Example <doug@example.org>'s message of Wed, 2 May 2001 11:20:14 -0400", []),
        # the date unquoted: after "of", a time or a year says it is a date, not a name
        (b"Doug Example's message of Wed, 2 May 2001 11:20:14 -0400 <id-1@h>", ["id-1@h"]),
        (b"Your message of Wed, 02 May 2001 11:20:14 EDT. <id-1@h>", ["id-1@h"]),
        (b"Message from Doug <doug@example.org> of Wed, 02 May 2001 11:20. <id-1@h>", ["id-1@h"]),
        (b"Your message of 2 May 2001 11:20 <id-1@h>; from Al <al@o.example>", ["id-1@h"]),
        # ... while "of" in a display name dates nothing
        (b"Message from John of Acme <john@acme.example>", []),
        # ... nor does a year or a time in one: every word after "of" must be a date's
        (b"Message from Class of 1999 Reunion <reunion@school.example>", []),
        (b"Message from Class of 1999 <reunion@school.example>", []),
        (b"Message from Dept of Physics 2001 <phys@x.example>", []),
        (b"Message from Team of 24:7 Support <support@example.org>", []),
        (b"Message from Bob of Accounts, ext 12:30 <bob@x.example>", []),
        (b'Message from "Bob" of 2001 <bob@x.example>', []),
        (b"Your message of Wed, 02 May 2001 <id-1@h>", []),  # no time: not known a date
        (
            b"Message from Class of 1999 Reunion <reunion@school.example>\n   of "
            + DATE
            + b" <picnic-1@school.example>",
            ["picnic-1@school.example"],
        ),
        (b"Message from John of Acme <john@acme.example> of " + DATE + b" <id-1@h>", ["id-1@h"]),
        (b'Message from "John" of Acme <john@acme.example> of 02 May 2001 9:15 <i@h>', ["i@h"]),
    ],
    "plain and bare ids, and bare words in a sentence": [
        (b"<id-1@h> <id-2@h>", ["id-1@h", "id-2@h"]),  # usrp-users/cur/003908
        (b"<id-1@h>,\n <id-2@h>", ["id-1@h", "id-2@h"]),
        (b"CAB__x@mail.gmail.com", ["CAB__x@mail.gmail.com"]),  # PHPMailer
        (b"CAB__x@mail.gmail.com id-2@h", ["CAB__x@mail.gmail.com", "id-2@h"]),
        (b"Message from jane@example.com of " + DATE, []),
    ],
    # garbage git send-email was given (openbmc/cur/012990): a name-addr, not an id
    "git send-email --in-reply-to with an address": [
        (b"<Mustafa Shehabi <mustafa@fii.example>", []),
    ],
}


@pytest.mark.parametrize("family", FAMILIES)
def test_in_reply_to_forms(family):
    for value, expected in FAMILIES[family]:
        assert reply_ids(b" " + value)[0] == expected, value


def exmh_reply(in_reply_to: bytes, to: bytes = b"list@example.com", extra: bytes = b"") -> bytes:
    return (
        b"From: Eddie <eddie@example.net>\nTo: " + to + b"\nSubject: Re: x\n"
        b"Message-Id: <reply-1@host.example>\nIn-Reply-To: "
        + in_reply_to
        + b"\n"
        + extra
        + b"\nbody\n"
    )


@pytest.mark.parametrize("field", [b"From", b"To", b"Cc", b"Reply-To", b"Sender", b"cc"])
def test_an_in_reply_to_token_that_is_an_own_address_is_never_an_id(field):
    raw = (
        b"Message-ID: <m@x>\nIn-Reply-To: <Doug.Smith@Example.ORG> <xdoug.smith@example.org>\n"
        + field
        + b": Doug Smith <doug.smith@example.org>\n\n"
    )
    # Compared whole and case-insensitively: the other token is kept.
    assert parents(raw) == ["xdoug.smith@example.org"]


def test_a_free_text_in_reply_to_ranks_below_references():
    raw = exmh_reply(
        b'Message from Doug <doug@example.org> of "DATE." <older@h>',
        extra=b"References: <root@h> <parent@h>\n",
    )
    assert parents(raw) == ["parent@h", "root@h", "older@h"]
    # A plain In-Reply-To stays the nearest parent.
    raw = exmh_reply(b"<irt@h>", extra=b"References: <root@h> <parent@h>\n")
    assert parents(raw) == ["irt@h", "parent@h", "root@h"]


@pytest.mark.follow_forks
def test_exmh_reply_to_a_list_does_not_mute_the_senders_other_mail(db):
    # No own address to tell: the structure alone must.
    root = b"From: Doug <doug@example.org>\nMessage-ID: <doug-root@h>\nSubject: a\n\nx\n"
    ok(
        run(
            ["add", "muted"],
            exmh_reply(b"Message from Doug <doug@example.org> of " + DATE + b" <doug-root@h>"),
            db=db,
        )
    )
    other = exmh_reply(b'Message from "Doug" <doug@example.org> of "Thu." <unrelated@h>')
    other = other.replace(b"reply-1@", b"reply-2@")
    assert match(other, db, "--no-subject") == other
    assert match(root, db, "--no-subject") == marked(root)


# -- siblings: RFC 2047 encoded words in threading fields -----------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (b"=?utf-8?q?=3Cid-1=40host=2Eexample=3E?=", ["id-1@host.example"]),
        (b"=?UTF-8?Q?=3Cid-1=40h=3E?=", ["id-1@h"]),
        (b"=?utf-8?b?PGlkLTFAaD4=?=", ["id-1@h"]),
        (b"=?utf-8?B?PGlkLTFAaD4?=", ["id-1@h"]),  # padding left out
        (b"=?utf-8?q?=3Cid-1=40?=\n =?utf-8?q?h=3E?=", ["id-1@h"]),  # one id over two words
        (b"=?utf-8?q?=3Cid-1=40h=3E?= =?utf-8?b?PGlkLTJAaD4=?=", ["id-1@h", "id-2@h"]),
        (b"=?us-ascii?q?=3Cid-1=40h=3E_=3Cid-2=40h=3E?=", ["id-1@h", "id-2@h"]),
        (b"<plain@h> =?utf-8?q?=3Cid-1=40h=3E?=", ["plain@h", "id-1@h"]),
        # adjacent words with nothing between them are one run (RFC 2047 6.2)
        (b"=?utf-8?q?=3Cid-1=40?==?utf-8?q?h=3E?=", ["id-1@h"]),
        (b"=?utf-8?q?=3Cid-1=40?==?utf-8?b?aD4=?= <plain@h>", ["id-1@h", "plain@h"]),
        (
            b"<x=?utf-8?q?=3Cid-1=40?==?utf-8?q?h=3E?=@h>",
            ["x=?utf-8?q?=3Cid-1=40?==?utf-8?q?h=3E?=@h"],
        ),
        (b"=?utf-8?q?=3Cid-1=40h=3E?=, <plain@h>", ["id-1@h", "plain@h"]),
        # undecodable: kept as written; inside an id: no encoded word
        (b"=?utf-8?q?=3Cb=40h=3E?= <plain@h> =?utf-8?b?!!!?=", ["b@h", "plain@h"]),
        (b"<a=?utf-8?q?x?=@h> =?utf-8?q?=3Cb=40h=3E?=", ["a=?utf-8?q?x?=@h", "b@h"]),
    ],
)
def test_encoded_words_in_threading_fields(value, expected):
    for field in (b"Message-ID", b"In-Reply-To", b"References"):
        ids = Header(field + b": " + value + b"\n\n").threading_ids()
        assert [i for found in ids for i in found] == expected, field


@pytest.mark.follow_forks
def test_encoded_message_id_is_the_own_id_match_and_add_see(db):
    root = b"Message-ID: =?utf-8?q?=3Croot-1=40h=3E?=\nSubject: a\n\nx\n"
    ok(run(["add", "muted"], root, db=db))
    reply = b"Message-ID: <reply-1@h>\nIn-Reply-To: <root-1@h>\nSubject: b\n\nx\n"
    assert match(reply, db, "--no-subject") == marked(reply)
    ok(run(["explain", "--message-id", "=?utf-8?q?=3Croot-1=40h=3E?="], db=db))


# -- siblings: quoted local parts -----------------------------------------------------------

FOLDINGS = [
    b'<"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
    b'<"16913 Tue Apr  9 14:24:59 1996"@bnr.example>',  # two blanks, as cr.yp.to shows it
    b'<\n "16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
    b'<"16913 Tue Apr 9\n 14:24:59 1996"@bnr.example>',
    b'<"16913 Tue Apr 9 14:24:59 1996"\r\n\t@bnr.example\r\n >',
    b'(comment) <"16913 Tue Apr 9 14:24:59 1996"@bnr.example> (another)',
    # encoded, as relays do with whole fields (see the RFC 2047 siblings)
    b"=?utf-8?q?=3C=2216913_Tue_Apr_9_14=3A24=3A59_1996=22=40bnr=2Eexample=3E?=",
    b"=?utf-8?q?=3C=2216913_Tue_Apr_9?=\n =?utf-8?q?_14=3A24=3A59_1996=22=40bnr=2Eexample=3E?=",
]


def test_quoted_local_part_however_folded_or_encoded():
    expected = '"16913TueApr914:24:591996"@bnr.example'
    for value in FOLDINGS:
        for field in (b"Message-ID", b"In-Reply-To", b"References"):
            ids = Header(field + b": " + value + b" <next@h>\n\n").threading_ids()
            assert [i for found in ids for i in found] == [expected, "next@h"], (field, value)
        if not value.startswith(b"("):  # what --message-id is given: no comments
            assert typed_id(value) == expected, value
    # A "(" or a backslash-quoted '"' inside the quotes is part of the id too.
    value = b'<"a (b) c"@h> <"d \\" e"@h>'
    assert parse_ids(value, bare=True) == reply_ids(value)[0] == ['"a(b)c"@h', '"d\\"e"@h']


def test_message_id_option_finds_a_quoted_id_however_typed(db):
    ok(run(["add", "muted"], fixture(QUOTED, "root.eml"), db=db))
    # An unbracketed value is taken whole: an id may hold ";" or "(" (test_security).
    assert (
        typed_id(b"sub');DROP/**/TABLE/**/ids;--@evil.example")
        == "sub');DROP/**/TABLE/**/ids;--@evil.example"
    )
    for typed in [
        '<"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
        '"16913 Tue Apr 9 14:24:59 1996"@bnr.example',
        ' <"16913 Tue Apr 9\n 14:24:59 1996"@bnr.example> ',
        "=?utf-8?q?=3C=2216913_Tue_Apr_9_14=3A24=3A59_1996=22=40bnr=2Eexample=3E?=",
        # the header line pasted whole
        'Message-ID: <"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
        'message-id:<"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
        'In-Reply-To: Message from Doug <doug@example.org> of "Wed."'
        ' <"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
        'References: <doug@example.org> <"16913 Tue Apr 9 14:24:59 1996"@bnr.example>',
    ]:
        assert "the id given" in ok(run(["explain", "--message-id", typed], db=db)), typed


# -- siblings: a bare CR ends a threading field's value -------------------------------------


def test_no_id_is_read_past_a_bare_cr():
    for value, expected in [
        (b"<a@h>\rFrom: Jane <jane@example.com>\r", ["a@h"]),
        (b"<a@h>\r<b@h>", ["a@h"]),
        (b"<a\r@h>", []),  # no id spans a bare CR
        (b"=?utf-8?q?=3Ca=40h=3E?=\r=?utf-8?q?=3Cb=40h=3E?=", ["a@h"]),
        (b"<a@h>\r\n <b@h>\r\n", ["a@h", "b@h"]),  # CRLF folding is no bare CR
    ]:
        assert parse_ids(value, bare=True) == expected, value
        assert reply_ids(value)[0] == expected, value


# -- the fast path and the scanner agree ----------------------------------------------------


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"<", b">", b" ", b"\n ", b",", b";", b"@", b"a", b"of", b"Doug", b"<a@b>", b"<<"]
        ),
        max_size=20,
    ).map(b"".join)
)
def test_in_reply_to_without_quotes_reads_as_the_scanner_reads_it(value):
    # A value without '"', "(" or ")" is split by bytes methods; an empty comment (which
    # changes nothing) sends it through the scanner instead.
    assert reply_ids(value) == reply_ids(value + b" ()")
