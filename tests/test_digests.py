"""List digests (issue 13): a reply whose parent is a digest -- a Mailman "NAME Digest, Vol
12, Issue 3", or any message of Content-Type multipart/digest -- links by its own subject,
not through the digest's id, which names many conversations at once. A digest itself
belongs to no thread, and `add` will not mute one."""

import pytest
from conftest import run
from test_conversations import deliver, mail, mute, rule

from mailthread.subject import is_digest_subject, normalise_subject

TOPIC = mail("topic@x", "Printer on fire", 0)
OTHER = mail("other@x", "Kernel panics at boot", 0)
MAILMAN = mail("digest@x", "linux-users Digest, Vol 12, Issue 3", 1)
MIME = mail("mime@x", "Your daily summary", 1, extra=["Content-Type: multipart/digest; boundary=b"])


def reply_to_digest(msgid: str, subject: str, digest: str = "digest@x", day: int = 2) -> bytes:
    return mail(msgid, subject, day, in_reply_to=digest, references=[digest])


@pytest.mark.parametrize("digest", [MAILMAN, MIME], ids=["mailman subject", "multipart/digest"])
def test_a_reply_to_a_digest_joins_the_conversation_its_subject_names(db, digest):
    for raw in (TOPIC, OTHER, digest):
        assert deliver(db, raw) is None
    mute(db, TOPIC)
    msgid = "digest@x" if digest is MAILMAN else "mime@x"
    assert deliver(db, reply_to_digest("r1@x", "Re: Printer on fire", msgid)) == b"muted"
    assert rule(db, reply_to_digest("r9@x", "Re: Printer on fire", msgid)) == "subject"
    # A reply to the same digest under another topic is not muted, nor is the digest.
    assert deliver(db, reply_to_digest("r2@x", "Re: Kernel panics at boot", msgid)) is None
    assert deliver(db, digest) is None


def test_muting_a_reply_to_a_digest_does_not_mute_the_digest_s_other_replies(db):
    for raw in (TOPIC, OTHER, MAILMAN):
        deliver(db, raw)
    first = reply_to_digest("r1@x", "Re: Printer on fire")
    deliver(db, first)
    mute(db, first)
    # Forks followed (mutt's thread view): only the digest's id could link this one.
    follow = {"MAILTHREAD_FOLLOW_FORKS": "1"}
    other = reply_to_digest("r2@x", "Re: Kernel panics at boot")
    assert deliver(db, other, env=follow) is None
    assert deliver(db, reply_to_digest("r3@x", "Re: Printer on fire", day=3)) == b"muted"


def test_add_and_explain_refuse_a_digest(db):
    deliver(db, MAILMAN)
    result = run(["add", "muted"], MAILMAN, db=db)
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1
    assert "list digest" in result.stderr.decode() and "Traceback" not in result.stderr.decode()
    explained = run(["explain"], MIME, db=db)
    assert explained.returncode == 1 and "list digest" in explained.stdout.decode()


def test_an_import_does_not_join_conversations_through_a_digest(db, tmp_path):
    mbox = tmp_path / "muted.mbox"
    entries = [
        MAILMAN,
        reply_to_digest("r1@x", "Re: Printer on fire"),
        reply_to_digest("r2@x", "Re: Kernel panics at boot"),
    ]
    mbox.write_bytes(b"".join(b"From x Sun Mar  1 10:00:00 2026\n" + e + b"\n" for e in entries))
    result = run(["add", "muted", "--mailbox", mbox], db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == (
        "read 3 messages from 1 mailbox: 2 threads added, 0 merged, 0 already stored,"
        " 1 skipped (1 list digests)\n"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "linux-users Digest, Vol 12, Issue 3",  # Mailman 2 and 3
        "Re: [ILUG] linux-users Digest, Vol 12, Issue 3",
        "linux-users-digest V1 #123",  # Majordomo
        "linux-users Digest 12 Jan 2002 10:00:00 -0000 Issue 123",  # ezmlm
        "LINUX-L Digest - 1 Jan 2002 to 2 Jan 2002 (#2002-1)",  # LISTSERV
        "[linux-users] Digest Number 1234",  # Yahoo Groups
        "[linux-users] Digest #123",  # groups.io
        "Digest for linux-users@googlegroups.com - 3 updates in 2 topics",  # Google Groups
        "linux-users Digest Volume 1, Issue 1",  # Mailman at mailmanlists.net
        "Abridged summary of linux-users@googlegroups.com - 3 updates in 2 topics",
        "LINUX-L Digest - 1 Jan 2010 to 2 Jan 2010 - Special issue (#2010-23)",  # LISTSERV
    ],
)
def test_digest_subjects_of_the_list_managers(subject):
    assert is_digest_subject(normalise_subject(subject)[0])


@pytest.mark.parametrize(
    "subject",
    [
        "Re: SHA-256 digest of 3 files",
        "message digest algorithms",
        "Digests and volumes",
        "Re: indigestion, vol 2",
        "Weekly digest",
        # Found in review: patches and questions that mention a digest.
        "[PATCH] crypto: fix digest issue with short keys",
        "[PATCH v2 1/3] crypto: sha256 - add digest v2 format",
        "md5 digest number mismatch after upgrade",
        "Digest auth issue with nginx",
        "digest v1 vs v2 auth",
        "Board meeting digest - issue list for Monday",
        "[PATCH] nfs: fix digest # of bytes",
        # Second review: GitHub's pull request numbers, and near misses of every shape.
        "[org/repo] Pin base image digest (#1234)",
        "Wrong md5 digest - see bug #4521",
        "Weekly digest 12 issue 4",
        "x digest 1 2 issue 3",
        "message digest number 5",
        "Digest for review - update the topics",
        # Third review: GitHub pull requests that say "digest", a Majordomo near miss.
        "[acme/api] Use image digest - not tags - in deploy manifests (#88)",
        "crypto: sha256 digest v2 #3",
    ],
)
def test_subjects_that_only_mention_a_digest(subject):
    assert not is_digest_subject(normalise_subject(subject)[0])


@pytest.mark.parametrize(
    "raw",
    [
        reply_to_digest("r1@x", "Re: linux-users Digest, Vol 12, Issue 3"),
        mail(
            "fwd@x",
            "Re: the messages you asked for",
            2,
            in_reply_to="topic@x",
            extra=["Content-Type: multipart/digest; boundary=b"],
        ),
    ],
    ids=["reply under the digest's subject", "MIME digest forwarded in reply"],
)
def test_a_message_that_answers_one_is_no_digest(db, raw):
    deliver(db, TOPIC)
    deliver(db, raw)
    result = run(["add", "muted"], raw, db=db)
    assert result.returncode == 0, result.stderr
    own = raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
    answer = mail("a@x", "Re: x", 3, in_reply_to=own, references=[own])
    assert deliver(db, answer, env={"MAILTHREAD_FOLLOW_FORKS": "1"}) == b"muted"


def test_a_digest_claiming_a_known_id_cuts_no_reply_from_its_thread(db):
    # A sender forges a "digest" whose Message-ID is a muted message's: its replies must
    # still follow the thread.
    deliver(db, TOPIC)
    mute(db, TOPIC)
    forged = mail("topic@x", "evil Digest, Vol 1, Issue 1", 1)
    assert deliver(db, forged) is None
    reply = mail("r@x", "Re: Printer on fire", 2, in_reply_to="topic@x", references=["topic@x"])
    assert rule(db, reply) == "id"
    assert deliver(db, reply) == b"muted"


def test_only_multipart_digest_itself_is_a_digest_type(db):
    deliver(db, TOPIC)
    mute(db, TOPIC)
    for kind in ("multipart/digestive", "multipart/digest-ish", "text/plain; x=multipart/digest"):
        odd = mail("odd@x", "Printer on fire", 1, extra=[f"Content-Type: {kind}; boundary=b"])
        result = run(["add", "muted"], odd, db=db)
        assert result.returncode == 0, (kind, result.stderr)
