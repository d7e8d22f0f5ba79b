"""The real procmail delivering with contrib/procmailrc.example (the file itself) into
Maildir and mbox folders, with the installed mailthread as its filter."""

import random
import re

import pytest

from .conftest import MUTED, OTHER, PARENT, READ, REPLY, WATCHED, message, raw

pytestmark = pytest.mark.e2e

# The postmark procmail writes for `procmail -f sender@example.org`.
FROM_LINE = re.compile(rb"From sender@example\.org  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n")

REPLY_PLAIN = (REPLY[0], b"Replying.\n")  # for mbox, where procmail escapes "From " lines

MBOX = {
    "DEFAULT": "inbox.mbox",
    "MUTED": "muted.mbox",
    "WATCHED": "watched.mbox",
}


def mbox_vars(env) -> dict[str, str]:
    return {name: str(env.mail / file) for name, file in MBOX.items()}


def mbox_messages(env, file: str) -> list[bytes]:
    """The one message procmail appended to a new mbox file, without its postmark and the
    empty line after it; [] when there is no such file."""
    path = env.mail / file
    if not path.exists():
        return []
    content = path.read_bytes()
    postmark = FROM_LINE.match(content)
    assert postmark, content
    assert content.endswith(b"\n\n"), content
    return [content[postmark.end() : -1]]


def maildir_messages(env, name: str) -> list[bytes]:
    return [p.read_bytes() for p in env.maildir(name, "new") + env.maildir(name, "cur")]


# -- Maildir ---------------------------------------------------------------------------------


def test_muted_reply_is_filed_as_read_in_maildir(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY))
    assert env.maildir("muted", "new") == [], env.procmail_log()
    [filed] = env.maildir("muted", "cur")
    assert filed.name.endswith(":2,S")
    # Byte for byte the reply plus the one line; the body's "From " line is not escaped.
    assert filed.read_bytes() == raw(REPLY, MUTED)
    assert maildir_messages(env, "inbox") == []


def crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")


def crlf_delivered(text: bytes) -> bytes:
    """``text`` with CRLF line ends as procmail files it after a filter: procmail finds no
    LF-only empty line to end the header, so it takes the whole message for the header
    and ends it with one more "\n" -- after any filter, `cat` too (see the next test)."""
    return crlf(text) + b"\n"


def test_procmail_itself_adds_a_newline_to_a_crlf_message_after_a_filter(env):
    rcfile = env.tmp / "cat.procmailrc"
    rcfile.write_text(":0 fhW\n| cat\n")
    env.deliver(crlf(raw(OTHER)), rcfile=rcfile)
    assert maildir_messages(env, "inbox") == [crlf_delivered(raw(OTHER))]


def test_crlf_muted_reply_is_filed_as_read_byte_for_byte(env):
    # mailthread ends the line it inserts as the message's lines end: "muted\r\n".
    env.add("muted", raw(PARENT))
    env.deliver(crlf(raw(REPLY)))
    [filed] = env.maildir("muted", "cur")
    assert filed.name.endswith(":2,S"), env.procmail_log()
    assert filed.read_bytes() == crlf_delivered(raw(REPLY, MUTED))
    assert maildir_messages(env, "inbox") == []


def test_crlf_watched_reply_is_copied_and_crlf_mail_to_me_breaks_through(env):
    env.add("watched", raw(PARENT))
    env.deliver(crlf(raw(REPLY)))
    copied = crlf_delivered(raw(REPLY, WATCHED))
    assert maildir_messages(env, "watched") == [copied], env.procmail_log()
    assert maildir_messages(env, "inbox") == [copied]

    env.add("muted", raw(on_the_list(PARENT, b"muted-parent@example.com")))
    to_me = on_the_list(REPLY, b"to-me@example.com")
    to_me = (to_me[0].replace(b"parent@example.com", b"muted-parent@example.com"), to_me[1])
    to_me = (to_me[0].replace(b"To: list@lists.example.org", b"To: me@example.com"), to_me[1])
    env.deliver(crlf(raw(to_me)), MAILTHREAD_ME="me@example.com")
    assert crlf_delivered(raw(to_me, MUTED + b"; to-me")) in maildir_messages(env, "inbox")
    assert maildir_messages(env, "muted") == []


def on_the_list(msg, msgid: bytes):
    """``msg`` sent to the list instead of to me, with another Message-ID."""
    head, body = msg
    head = head.replace(b"To: me@example.com", b"To: list@lists.example.org")
    return re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <" + msgid + b">", head), body


def test_mail_to_me_breaks_through_a_mute(env):
    env.add("muted", raw(on_the_list(PARENT, b"parent@example.com")))
    me = {"MAILTHREAD_ME": "someone@else.example me@example.com"}
    env.deliver(raw(REPLY), **me)  # To: me alone
    assert maildir_messages(env, "inbox") == [raw(REPLY, MUTED + b"; to-me")]
    assert maildir_messages(env, "muted") == []
    later = on_the_list(REPLY, b"later@example.com")
    env.deliver(raw(later), **me)
    assert maildir_messages(env, "muted") == [raw(later, MUTED)]


def test_watched_mail_to_me_is_copied_too(env):
    env.add("watched", raw(on_the_list(PARENT, b"parent@example.com")))
    env.deliver(raw(REPLY), MAILTHREAD_ME="me@example.com")
    marked = raw(REPLY, WATCHED + b"; to-me")
    assert [p.read_bytes() for p in env.maildir("watched", "new")] == [marked]
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [marked]


def test_unrelated_message_reaches_the_inbox_untouched(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(OTHER))
    assert maildir_messages(env, "inbox") == [raw(OTHER)]
    assert maildir_messages(env, "muted") == []
    assert maildir_messages(env, "watched") == []


def test_watched_reply_is_copied_to_watched_and_inbox(env):
    env.add("watched", raw(PARENT))
    env.deliver(raw(REPLY))
    assert [p.read_bytes() for p in env.maildir("watched", "new")] == [raw(REPLY, WATCHED)]
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(REPLY, WATCHED)]
    assert env.maildir("watched", "cur") == []
    assert maildir_messages(env, "muted") == []


def test_forged_mark_is_renamed_and_not_obeyed(env):
    env.add("muted", raw(PARENT))
    forged = message(
        "spam@example.net", subject="Not muted", extra=b"X-Mailthread: muted\nx-mailthread: muted\n"
    )
    env.deliver(raw(forged))
    head, body = forged
    renamed = head.replace(b"X-Mailthread:", b"Old-X-Mailthread:").replace(
        b"x-mailthread:", b"Old-x-mailthread:"
    )
    assert maildir_messages(env, "inbox") == [raw((renamed, body))]
    assert maildir_messages(env, "muted") == []


def test_the_muted_folder_can_be_preset_to_another_maildir(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY), MUTED=str(env.mail / "quiet") + "/")
    [filed] = env.maildir("quiet", "cur")
    assert filed.name.endswith(":2,S")
    assert filed.read_bytes() == raw(REPLY, MUTED)
    assert maildir_messages(env, "muted") == []


# -- mbox ------------------------------------------------------------------------------------


def test_muted_reply_is_filed_as_read_in_mbox(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY_PLAIN), **mbox_vars(env))
    assert mbox_messages(env, "muted.mbox") == [raw(REPLY_PLAIN, MUTED + b"\n" + READ)]
    assert mbox_messages(env, "inbox.mbox") == []


def test_body_from_lines_are_escaped_in_mbox_only(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY), **mbox_vars(env))
    head, body = REPLY
    escaped = body.replace(b"\nFrom ", b"\n>From ")
    assert mbox_messages(env, "muted.mbox") == [raw((head, escaped), MUTED + b"\n" + READ)]


def test_unrelated_message_reaches_the_mbox_inbox_untouched(env):
    env.add("muted", raw(PARENT))
    unrelated = message("other@example.com", subject="Lunch?")
    env.deliver(raw(unrelated), **mbox_vars(env))
    assert mbox_messages(env, "inbox.mbox") == [raw(unrelated)]
    assert mbox_messages(env, "muted.mbox") == []


def test_watched_reply_is_copied_to_watched_mbox_and_inbox(env):
    env.add("watched", raw(PARENT))
    env.deliver(raw(REPLY_PLAIN), **mbox_vars(env))
    assert mbox_messages(env, "watched.mbox") == [raw(REPLY_PLAIN, WATCHED)]
    assert mbox_messages(env, "inbox.mbox") == [raw(REPLY_PLAIN, WATCHED)]
    assert mbox_messages(env, "muted.mbox") == []


# -- when mailthread fails -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_corrupt_database_loses_no_mail(env, kind):
    corrupt = env.tmp / "corrupt.db"
    corrupt.write_bytes(random.Random(75).randbytes(8192))
    if kind == "maildir":
        env.deliver(raw(REPLY), db=corrupt)
        assert maildir_messages(env, "inbox") == [raw(REPLY)]
    else:
        env.deliver(raw(REPLY_PLAIN), db=corrupt, **mbox_vars(env))
        assert mbox_messages(env, "inbox.mbox") == [raw(REPLY_PLAIN)]
    # mailthread said why on stderr, which procmail writes to its LOGFILE.
    assert "mailthread: " in env.procmail_log()


def test_missing_mailthread_loses_no_mail(env):
    env.add("muted", raw(PARENT))
    # Not on procmail's PATH: the shell cannot run it (exit 127), and W keeps the message.
    env.deliver(raw(REPLY), path="/nonexistent")
    assert maildir_messages(env, "inbox") == [raw(REPLY)]
    assert maildir_messages(env, "muted") == []


def test_muted_mail_stays_in_maildir_new_when_it_cannot_be_marked_read(env):
    # A PATH where mailthread is found but mv is not: the move to cur/ fails.
    bin_dir = env.tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "mailthread").symlink_to(env.mailthread)
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY), path=str(bin_dir))
    assert [p.read_bytes() for p in env.maildir("muted", "new")] == [raw(REPLY, MUTED)]
    assert env.maildir("muted", "cur") == []
    assert maildir_messages(env, "inbox") == []


def test_muted_mail_goes_to_the_inbox_when_the_muted_folder_is_broken(env):
    (env.mail / "muted").mkdir()
    (env.mail / "muted" / "new").write_bytes(b"")  # a file where a directory must be
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY))
    assert maildir_messages(env, "inbox") == [raw(REPLY, MUTED)]


@pytest.mark.parametrize("name", ["muted-2023", "muted2", "mutedx", "watched.old", "watched_"])
def test_other_lists_are_only_marked(env, name):
    # Only the exact lines count: a list named "muted-2023" is not "muted".
    env.add(name, raw(PARENT))
    env.deliver(raw(REPLY))
    mark = b"X-Mailthread: " + name.encode()
    assert maildir_messages(env, "inbox") == [raw(REPLY, mark)]
    assert maildir_messages(env, "muted") == []
    assert maildir_messages(env, "watched") == []


# Headers formail -I rewrote: a line that is no field ended the header there (Status: RO and
# an empty line went in before it), and a CRLF message got "Status: RO\n\n" before its own
# empty line. Filed as read, each keeps every byte but the two lines.
ODD_REPLIES = {
    "a line without a colon": b"garbage line no colon\nX-Foo: bar\n",
    "NUL and 8-bit bytes": b"X-8: \xff\x00nul\n",
}


@pytest.mark.parametrize("name", sorted(ODD_REPLIES))
def test_muted_mbox_filing_alters_no_byte_of_an_odd_header(env, name):
    env.add("muted", raw(PARENT))
    reply = message(
        "odd@example.com",
        subject="Re: Plans",
        in_reply_to="parent@example.com",
        extra=ODD_REPLIES[name],
        body=b"Replying.\n",
    )
    env.deliver(raw(reply), **mbox_vars(env))
    assert mbox_messages(env, "muted.mbox") == [raw(reply, MUTED + b"\n" + READ)]


def test_muted_mbox_filing_of_a_crlf_message_alters_no_byte(env):
    env.add("muted", raw(PARENT))
    reply = message("crlf@example.com", subject="Re: Plans", in_reply_to="parent@example.com")
    env.deliver(crlf(raw(reply)), **mbox_vars(env))
    # procmail's own "\n" after a CRLF message stands as the mbox's empty separator line.
    assert mbox_messages(env, "muted.mbox") == [crlf(raw(reply, MUTED + b"\n" + READ))]


def test_trying_it_by_hand_never_delivers_into_real_folders(env, tmp_path):
    """The example's "try it" line, `procmail MAILTHREAD_TRY=DIR ~/.procmailrc < msg`, with
    the example's DEFAULT line uncommented (which beat a command-line DEFAULT): every
    delivery lands in DIR, procmail's log with it, and ~/Mail stays empty."""
    from .conftest import PROCMAILRC

    rc = tmp_path / "procmailrc"
    text = PROCMAILRC.read_text()
    assert "\n#DEFAULT=$MAILDIR/inbox/\n" in text
    rc.write_text(text.replace("\n#DEFAULT=", "\nDEFAULT="))
    env.add("muted", raw(PARENT))
    trial = tmp_path / "trial"
    trial.mkdir()
    for msg in (REPLY, OTHER):
        env.deliver(raw(msg), rcfile=rc, MAILTHREAD_TRY=str(trial), LOGFILE="")
    assert [p for p in env.mail.rglob("*") if p.is_file()] == []
    [muted] = (trial / "muted" / "cur").iterdir()
    assert muted.name.endswith(":2,S") and muted.read_bytes() == raw(REPLY, MUTED)
    [other] = (trial / "inbox" / "new").iterdir()
    assert other.read_bytes() == raw(OTHER)
    assert "Subject: Lunch?\n  Folder: " in (trial / "procmail.log").read_text()


@pytest.mark.parametrize("where", ["a blank", "relative", "missing"])
def test_trying_it_with_an_unusable_folder_delivers_nothing(env, tmp_path, where):
    """MAILTHREAD_TRY with a blank (procmail splits a folder name at blanks: the first
    word, a real folder, took the copy), a relative name (taken from ~/Mail) or a folder
    that does not exist (procmail fell back to the system mailbox): nothing is delivered,
    one line says why, exit 75."""
    import subprocess

    from .conftest import PROCMAILRC, SENDER

    (tmp_path / "Mail try").mkdir()
    trial = {"a blank": tmp_path / "Mail try", "relative": "trial", "missing": tmp_path / "no"}
    env.add("muted", raw(PARENT))
    spool = tmp_path / "spool"
    for msg in (REPLY, OTHER):
        result = subprocess.run(
            ["procmail", "-f", SENDER, f"HOME={env.home}", f"MAILTHREAD_DB={env.db}",
             f"PATH={env.mailthread.rsplit('/', 1)[0]}:/usr/bin:/bin", f"ORGMAIL={spool}",
             f"MAILTHREAD_TRY={trial[where]}", PROCMAILRC],
            input=raw(msg), capture_output=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 75, result
        assert result.stderr.startswith(b"mailthread: MAILTHREAD_TRY="), result.stderr
        assert b"nothing delivered" in result.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.parts] == []
