"""Issue 12, `add` and imports: the field cases inline-format-patch-split,
mbox-unescaped-from-body-line and maildir-odd-filenames (inputs in tests/fixtures/field/,
copied from ../shared/field/), driven as their run.sh does, and their siblings.

- `add` reads stdin as one message, whatever its body holds, and only its header's ids.
- An import counts what mutt shows: an mbox message starts at a postmark mutt's is_from()
  accepts, after an empty line.
"""

from __future__ import annotations

import json
import mailbox
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, message, run

FIELD = FIXTURES / "field"
SUMMARY = re.compile(
    rb"^read (\d+) messages? from (\d+) mailbox(?:es)?: (\d+) threads? added, (\d+) merged,"
    rb" (\d+) already stored, (\d+) skipped"
)
POSTMARK = b"From a@example.com Mon Jan  1 10:00:00 2024\n"


def listing(db) -> list[dict]:
    result = run(["list", "--json"], db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def recorded(db, msgid: str) -> bool:
    """Whether a thread holds ``msgid`` (`explain --message-id`: 0 found, 1 not)."""
    result = run(["explain", "--message-id", msgid], db=db)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def summary(result) -> list[int]:
    """messages, mailboxes, added, merged, already stored, skipped."""
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    found = SUMMARY.match(result.stdout)
    assert found, result.stdout
    return [int(n) for n in found.groups()]


# -- `add` reads one message -------------------------------------------------------------------


def assert_one_message_recorded(db, raw: bytes, header_ids, body_ids) -> None:
    result = run(["add", "muted"], raw, db=db)
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    assert result.stdout.count(b"\n") == 1, result.stdout  # one line: one message
    threads = listing(db)
    assert len(threads) == 1 and threads[0]["ids"] == len(header_ids), threads
    assert all(recorded(db, msgid) for msgid in header_ids)
    assert not any(recorded(db, msgid) for msgid in body_ids)


def test_inline_format_patch_split(tmp_path):
    """The field case, as its run.sh: (a) plain format-patch output in the body, (b) with
    --thread's Message-Id lines, and the same message imported from a Maildir."""
    case = FIELD / "inline-format-patch-split"
    for name, own in (("review.eml", "review-1@example.org"), ("review-threaded-patch.eml", "")):
        db = tmp_path / name / "threads.db"
        own = own or "review-2@example.org"
        body_ids = ["other-series-0@example.net", "3f2a9c1e0b.1591000000.git.reviewer@example.org"]
        raw = (case / name).read_bytes()
        assert_one_message_recorded(db, raw, [own, "patch-1@example.com"], body_ids)
        assert listing(db)[0]["subject"] == "Re: [PATCH] foo: fix bar"
    md = tmp_path / "md"
    (md / "cur").mkdir(parents=True)
    (md / "cur" / "1.host:2,S").write_bytes((case / "review-threaded-patch.eml").read_bytes())
    db = tmp_path / "import" / "threads.db"
    assert summary(run(["add", "muted", "--mailbox", md], db=db)) == [1, 1, 1, 0, 0, 0]
    assert not recorded(db, "other-series-0@example.net")


def format_patch(sha: str, msgid: str, parent: str | None, subject: str) -> bytes:
    threading = f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n" if parent else ""
    return (
        f"From {sha} Mon Sep 17 00:00:00 2001\nMessage-Id: <{msgid}>\n{threading}"
        f"From: Dev <dev@example.net>\nDate: Tue, 2 Jun 2020 09:00:00 +0200\n"
        f"Subject: {subject}\n\n---\n foo.c | 2 +-\n\n-- \n2.26.2\n\n"
    ).encode()


REPLY = (
    b"From: Reviewer <reviewer@example.org>\nSubject: Re: stuff\n"
    b"Message-ID: <own@example.org>\nIn-Reply-To: <parent@example.org>\n"
    b"References: <root@example.org> <parent@example.org>\n"
)
HEADER_IDS = ["own@example.org", "parent@example.org", "root@example.org"]
ORIGINAL = (
    b"Return-Path: <someone@example.net>\nReceived: from mx.example.net by mx.example.org\n"
    b"From: Someone <someone@example.net>\nTo: nobody@example.org\nSubject: lost\n"
    b"Date: Mon, 1 Jun 2020 10:00:00 +0200\nMessage-ID: <original@example.net>\n"
    b"References: <older@example.net>\n"
)
BODY_IDS = ["original@example.net", "older@example.net"]


def bounce_report(part_type: bytes) -> bytes:
    """A Postfix-style delivery status notification returning the original (message/rfc822,
    or its header only as text/rfc822-headers), the original delivered from an mbox (its
    postmark kept)."""
    return (
        REPLY + b"Content-Type: multipart/report; report-type=delivery-status;\n"
        b'\tboundary="B.1591000000/mx"\nMIME-Version: 1.0\n\n'
        b"--B.1591000000/mx\nContent-Type: text/plain\n\nundeliverable\n\n"
        b"--B.1591000000/mx\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; nobody@example.org\n"
        b"Action: failed\nStatus: 5.1.1\n\n"
        b"--B.1591000000/mx\nContent-Type: " + part_type + b"\n\n"
        b"From someone@example.net Mon Jun  1 10:00:00 2020\n" + ORIGINAL + b"\nhello\n\n"
        b"--B.1591000000/mx--\n"
    )


SIBLINGS = {
    "format-patch --thread series with a cover letter": (
        REPLY
        + b"\nThe series I meant:\n\n"
        + format_patch("0" * 40, "cover@example.net", None, "[PATCH 0/2] foo")
        + format_patch("1" * 40, "p1@example.net", "cover@example.net", "[PATCH 1/2] a")
        + format_patch("2" * 40, "p2@example.net", "cover@example.net", "[PATCH 2/2] b"),
        ["cover@example.net", "p1@example.net", "p2@example.net"],
    ),
    "bounce with a message/rfc822 part": (bounce_report(b"message/rfc822"), BODY_IDS),
    "bounce with a text/rfc822-headers part": (bounce_report(b"text/rfc822-headers"), BODY_IDS),
    "bounce quoting the original inline (Exim, qmail)": (
        REPLY + b"\nA message that you sent could not be delivered.\n\n"
        b"------ This is a copy of the message, including all the headers. ------\n\n"
        + ORIGINAL
        + b"\nhello\n",
        BODY_IDS,
    ),
    "forwarded inline": (
        REPLY + b"\nSee below.\n\n-------- Original Message --------\n\n" + ORIGINAL + b"\nhello\n",
        BODY_IDS,
    ),
    "mbox entry with a >From and a From body line": (
        POSTMARK
        + REPLY
        + b"\n>From the start, I said so.\n\n"
        + b"From someone@example.net Mon Jun  1 10:00:00 2020\n"
        + ORIGINAL
        + b"\nhello\n",
        BODY_IDS,
    ),
    "plain-text digest (RFC 1153, Mailman)": (
        REPLY + b"\nToday's Topics:\n\n   1. lost (Someone)\n\n"
        b"----------------------------------------------------------------------\n\n"
        b"Message: 1\n" + ORIGINAL + b"\nhello\n\n------------------------------\n\n"
        b"End of dev Digest, Vol 1, Issue 1\n",
        BODY_IDS,
    ),
    "MIME digest (multipart/digest)": (
        REPLY + b'Content-Type: multipart/digest; boundary="D"\nMIME-Version: 1.0\n\n'
        b"--D\n\n" + ORIGINAL + b"\nhello\n\n"
        b"--D\n\nFrom someone@example.net Mon Jun  1 10:00:00 2020\n"
        b"Message-ID: <second@example.net>\n\nagain\n\n--D--\n",
        [*BODY_IDS, "second@example.net"],
    ),
}


@pytest.mark.parametrize("name", SIBLINGS)
def test_one_message_whatever_its_body_holds(db, name):
    raw, body_ids = SIBLINGS[name]
    assert_one_message_recorded(db, raw, HEADER_IDS, body_ids)


def test_a_message_without_ids_is_refused_whatever_its_body_holds(db):
    # Before, the pasted patch was taken for a second message with ids: "1 of 2 messages"
    # and the patch's ids recorded. Now: no ids in the message, nothing recorded.
    weeded = b"From: Reviewer <reviewer@example.org>\nSubject: Re: stuff\n\n"
    patch = format_patch("3" * 40, "p@example.net", "cover@example.net", "[PATCH] x")
    result = run(["add", "muted"], weeded + b"Try this:\n\n" + patch, db=db)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(b"mailthread: no Message-ID, In-Reply-To or References in")
    assert b"the message, nothing recorded" in result.stderr and b"pipe_decode" in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert not db.exists() or listing(db) == []


# -- imports count what mutt shows -------------------------------------------------------------


def test_mbox_unescaped_from_body_line(tmp_path, db):
    """The field case, as its run.sh: mutt reads 2 messages (the body's "From my point of
    view" line has no date); so does the import, and nothing is skipped."""
    box = FIELD / "mbox-unescaped-from-body-line" / "archive.mbox"
    assert len(mailbox.mbox(box, create=False)) == 3  # what Python's mailbox.mbox sees
    assert summary(run(["add", "muted", "--mailbox", box], db=db)) == [2, 1, 1, 0, 0, 0]
    [thread] = listing(db)
    assert thread["ids"] == 4 and thread["subject"].startswith("[dev] Making the RPC")


# Postmarks mutt's is_from() (mutt/neomutt from.c) accepts...
ACCEPTED = [
    b"From someone@example.net Mon Jun  1 10:00:00 2020",
    b"From someone at example.net  Mon Jun  1 10:00:00 2020",  # pipermail
    b"From someone@example.net Mon Jun  1 10:00:00 +0200 2020",
    b"From someone@example.net Mon Jun  1 10:00:00 CEST 2020",
    b"From someone@example.net Wed Aug  2 00:39:12 MET DST 1995",  # two zone words
    b"From someone@example.net Mon Jun  1 10:00:00 99",  # two-digit year
    b"From someone@example.net Mon Jun  1 10:00 2020",  # no seconds
    b"From - Mon Jun  1 10:00:00 2020",  # Thunderbird: no sender
    b"From Mon Jun  1 10:00:00 2020",  # no return path at all
    b"From mon Mon Jun  1 10:00:00 2020",  # a login named like a day
    b'From "some one"@example.net Mon Jun  1 10:00:00 2020',  # quoted, with a blank
    b"From someone@example.net MON JUNE 1 10:00:00 2020",
]
# ... and body lines it refuses, each after an empty line.
REFUSED = [
    b"From my point of view the default only has to work on localhost.",
    b"From a quick look, it was in Novem=",  # ksummit/cur/001992 (quoted-printable)
    b"From -",
    b"From someone@example.net",
    b"From someone@example.net Jun  1 10:00:00 2020",  # no weekday
    b"From someone@example.net Mon Jun 32 10:00:00 2020",
    b"From someone@example.net Mon Jun  1 24:00:00 2020",
    b"From someone@example.net Mon Jun  1 10:60:00 2020",
    b"From someone@example.net Mon Jun  1 10:00:00",  # no year
    b"From someone@example.net Mon Jun  1 10:00:00 +0200",  # a zone but no year
    b"From someone@example.net Mon Jun  1 10:00:00 12345",
    b"From someone@example.net Mon Foo  1 10:00:00 2020",
    b"From someone at example.net",
    b'From "some one@example.net Mon Jun  1 10:00:00 2020',  # an unclosed quote
    b"From 2020 on, Mon Jun  1 10:00:00 2020 is history",
    # Numbers no int() takes (over 4,300 digits): a traceback stopped the whole import.
    b"From x Mon Jan  1 00:00:00 " + b"9" * 5000,
    b"From x Mon Jan " + b"1" * 5000 + b" 00:00:00 2020",
    b"From x Mon Jan  1 " + b"0" * 5000 + b"1:00:00 2020",
    # A dated postmark glued to the line above: a pasted patch, not a message.
    b"Try this:\nFrom " + b"3" * 40 + b" Mon Sep 17 00:00:00 2001",
]


def two_message_mbox(accepted: bytes, refused: bytes, eol: bytes = b"\n") -> bytes:
    first = POSTMARK + message("one@x", subject="one") + b"\n" + refused + b"\nmore\n\n"
    second = accepted + b"\n" + message("two@x", subject="two") + b"\n"
    return (first + second).replace(b"\n", eol)


def import_mbox(tmp_path, db, data: bytes):
    box = tmp_path / "box.mbox"
    box.write_bytes(data)
    return summary(run(["add", "muted", "--mailbox", box], db=db))


@pytest.mark.parametrize("postmark", ACCEPTED, ids=lambda p: p.decode())
def test_a_postmark_mutt_accepts_starts_a_message(tmp_path, db, postmark):
    assert import_mbox(tmp_path, db, two_message_mbox(postmark, REFUSED[0])) == [2, 1, 2, 0, 0, 0]


@pytest.mark.parametrize("line", REFUSED, ids=lambda p: p.decode()[:60].replace("\n", "|"))
def test_a_from_line_mutt_refuses_is_body(tmp_path, db, line):
    assert import_mbox(tmp_path, db, two_message_mbox(ACCEPTED[0], line)) == [2, 1, 2, 0, 0, 0]
    assert not any(thread["subject"] is None for thread in listing(db))


def test_crlf_mbox(tmp_path, db):
    data = two_message_mbox(ACCEPTED[2], REFUSED[0], eol=b"\r\n")
    assert import_mbox(tmp_path, db, data) == [2, 1, 2, 0, 0, 0]
    assert recorded(db, "one@x") and recorded(db, "two@x")


def test_the_first_message_starts_at_the_first_byte_dated_or_not(tmp_path, db):
    # mutt hides an undated first entry; an import reads it, as nothing before it could
    # make it a body line (and a file not starting "From " at all is no mbox: exit 1).
    data = two_message_mbox(ACCEPTED[0], REFUSED[0])
    data = b"From MAILER-DAEMON\n" + data[len(POSTMARK) :]
    assert import_mbox(tmp_path, db, data) == [2, 1, 2, 0, 0, 0]
    assert recorded(db, "one@x")


def odd_maildir(root: Path) -> Path:
    """The field case maildir-odd-filenames, built as its run.sh builds it."""
    md = root / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    files = {
        "cur/1700000000.R1.host,U=1;2,S": "From: a@example.org\nSubject: t\n"
        "Message-ID: <md-1@example.org>\n\n1\n",
        "cur/1700000001.R2.host,U=2!2,RS": "From: b@example.org\nSubject: Re: t\n"
        "Message-ID: <md-2@example.org>\nIn-Reply-To: <md-1@example.org>\n\n2\n",
        "cur/1700000002.M1P2.host,S=123,W=130:2,FS": "From: c@example.org\nSubject: Re: t\n"
        "Message-ID: <md-3@example.org>\nReferences: <md-1@example.org> <md-2@example.org>\n\n3\n",
        "new/1700000003.M2P3.host": "From: d@example.org\nSubject: Re: t\n"
        "Message-ID: <md-4@example.org>\nIn-Reply-To: <md-3@example.org>\n\n4\n",
        "tmp/1700000004.M3P4.host": "From: e@example.org\nSubject: half written\n"
        "Message-ID: <md-tmp@example.org>\n\n",
        "cur/.nfs000000001": "junk\n",
    }
    for name, text in files.items():
        (md / name).write_text(text)
    return md


def test_maildir_odd_filenames(tmp_path, db):
    """The field case, as its run.sh (it passed before issue 12; kept passing): mbsync's
    ';' and '!' info delimiters, Dovecot's ",S=,W=", no info in cur/, a dot-file and tmp/
    left out. 4 messages, one thread of 4 ids; tmp/'s message is not read."""
    md = odd_maildir(tmp_path)
    assert summary(run(["add", "muted", "--mailbox", md], db=db)) == [4, 1, 1, 0, 0, 0]
    [thread] = listing(db)
    assert (thread["ids"], thread["subject"]) == (4, "t")
    result = run(["explain", "--message-id", "md-tmp@example.org"], db=db)
    assert result.returncode == 1 and result.stdout.startswith(b"in no thread"), result


def test_summary_counts_messages_of_every_mailbox(tmp_path, db):
    box = FIELD / "mbox-unescaped-from-body-line" / "archive.mbox"
    md = odd_maildir(tmp_path)
    result = run(["add", "muted", "--mailbox", box, md], db=db)
    assert result.stdout.startswith(b"read 6 messages from 2 mailboxes:"), result.stdout
    assert summary(result) == [6, 2, 2, 0, 0, 0]


def test_a_numbered_subfolder_of_an_mh_folder_is_a_folder(tmp_path, db):
    # It was one already (issue 11); this is the test that was missing. nmh keeps
    # subfolders inside their parent, and a numeric name is allowed (`folder +inbox/2024`).
    folder = mailbox.MH(tmp_path / "inbox", create=True)
    folder.add(message("one@x", subject="one"))
    folder.add(message("two@x", in_reply_to="one@x", subject="Re: one"))
    sub = folder.add_folder("7")
    sub.add(message("elsewhere@x", subject="other"))
    assert (tmp_path / "inbox" / "7" / "1").is_file()
    assert summary(run(["add", "muted", "--mailbox", tmp_path / "inbox"], db=db)) == [
        2,
        1,
        1,
        0,
        0,
        0,
    ]
    assert not recorded(db, "elsewhere@x")
