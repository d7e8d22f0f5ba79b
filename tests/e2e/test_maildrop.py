"""The real maildrop delivering with contrib/maildroprc.example (the file itself, included
from a filter file that sets the folders, as a user's ~/.mailfilter would) into Maildir and
mbox folders, with the installed mailthread as its xfilter."""

import os
import random
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import (
    MUTED,
    OTHER,
    PARENT,
    READ,
    REPLY,
    REPO,
    SENDER,
    WATCHED,
    Env,
    message,
    raw,
    require,
    write_maildir,
)

pytestmark = pytest.mark.e2e

MAILDROPRC = REPO / "contrib" / "maildroprc.example"
# The postmark maildrop writes in an mbox for `maildrop -f sender@example.org`.
FROM_LINE = re.compile(rb"From sender@example\.org +\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}\n")


class Maildrop(Env):
    """A user's home with ~/Mail/inbox, muted and watched Maildirs and mailthread in
    ~/.local/bin, where the example's PATH finds it."""

    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        for name in ("inbox", "muted", "watched"):
            write_maildir(self.mail / name, [])
        bin_dir = self.home / ".local" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "mailthread").symlink_to(self.mailthread)
        self.log = tmp_path / "maildrop.log"

    def run(
        self,
        msg: bytes,
        *settings: str,
        rc_text: str | None = None,
        popen_options: dict | None = None,
    ):
        """Run maildrop on ``msg`` as an MTA would (``maildrop -f sender``) with a filter
        file: ``settings`` lines, then ``include`` of contrib/maildroprc.example (or
        ``rc_text`` instead). maildrop sets HOME from the password file whoever runs it
        (root, in a container), so the filter file sets the test's HOME first; it also
        refuses a filter file that is not the user's own or that others can read."""
        if rc_text is None:
            lines = [
                f'HOME="{self.home}"',
                f'MAILTHREAD_DB="{self.db}"',
                f'DEFAULT="{self.mail}/inbox/"',
                f'logfile "{self.log}"',
                *settings,
                f'include "{MAILDROPRC}"',
            ]
            rc_text = "".join(line + "\n" for line in lines)
        # One file a delivery: deliveries may run at once.
        rcfile = Path(tempfile.mkstemp(prefix="mailfilter", dir=self.tmp)[1])
        rcfile.write_text(rc_text)
        rcfile.chmod(0o600)
        return subprocess.run(
            ["maildrop", "-f", SENDER, str(rcfile)],
            input=msg,
            capture_output=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"},
            timeout=60,
            **(popen_options or {}),
        )

    def deliver(self, msg: bytes, *settings: str):
        result = self.run(msg, *settings)
        assert result.returncode == 0, (result, self.maildrop_log())
        return result

    def maildrop_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def messages(self, name: str) -> list[bytes]:
        return [p.read_bytes() for p in self.maildir(name, "new") + self.maildir(name, "cur")]


@pytest.fixture
def env(tmp_path) -> Maildrop:
    require("maildrop", "reformail", packages="maildrop")
    return Maildrop(tmp_path)


def test_muted_reply_is_filed_as_read_in_maildir(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY))
    assert env.maildir("muted", "new") == []
    [filed] = env.maildir("muted", "cur")
    assert filed.name.endswith(":2,S")
    # Byte for byte the reply plus the one line; the body's "From " line is not escaped.
    assert filed.read_bytes() == raw(REPLY, MUTED)
    assert env.messages("inbox") == []
    assert env.messages("watched") == []


def test_a_crlf_message_is_filed_byte_for_byte(env):
    env.add("muted", raw(PARENT))
    crlf = raw(REPLY, MUTED).replace(b"\n", b"\r\n")
    env.deliver(raw(REPLY).replace(b"\n", b"\r\n"))
    assert env.messages("muted") == [crlf]  # the line inserted with the message's CRLF


def test_unrelated_message_reaches_the_inbox_untouched(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(OTHER))
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(OTHER)]
    assert env.maildir("inbox", "cur") == []
    assert env.messages("muted") == []
    assert env.messages("watched") == []


def test_watched_reply_is_copied_to_watched_and_kept_in_the_inbox(env):
    env.add("watched", raw(PARENT))
    env.deliver(raw(REPLY))
    # Both unread, in new/.
    assert [p.read_bytes() for p in env.maildir("watched", "new")] == [raw(REPLY, WATCHED)]
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(REPLY, WATCHED)]
    assert env.maildir("watched", "cur") == env.maildir("inbox", "cur") == []
    assert env.messages("muted") == []


def to_the_list(msg):
    head, body = msg
    return head.replace(b"To: me@example.com", b"To: list@lists.example.org"), body


def test_mail_to_me_breaks_through_a_mute(env):
    env.add("muted", raw(to_the_list(PARENT)))
    env.deliver(raw(REPLY), 'MAILTHREAD_ME="someone@else.example me@example.com"')
    assert env.messages("inbox") == [raw(REPLY, MUTED + b"; to-me")]
    assert env.messages("muted") == []


def test_watched_mail_to_me_is_copied_too(env):
    env.add("watched", raw(to_the_list(PARENT)))
    env.deliver(raw(REPLY), 'MAILTHREAD_ME="me@example.com"')
    marked = raw(REPLY, WATCHED + b"; to-me")
    assert env.messages("watched") == [marked]
    assert env.messages("inbox") == [marked]


def test_a_mark_forged_in_the_header_or_a_mime_part_is_not_obeyed(env):
    env.add("muted", raw(PARENT))
    # maildrop's own /^X-Mailthread: muted$/:h would find the line of the attached message:
    # the example reads the mark with reformail, from the message's own header only.
    forged = message(
        "spam@example.net",
        subject="Not muted",
        extra=(
            b"X-Mailthread: muted\n"
            b"MIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b1"\n'
        ),
        body=(
            b"--b1\nContent-Type: text/plain\nX-Mailthread: muted\n\nHi.\n"
            b"--b1\nContent-Type: message/rfc822\n\n"
            b"From: x@example.net\nX-Mailthread: muted\nSubject: inner\n\nInner.\n"
            b"--b1--\n"
        ),
    )
    env.deliver(raw(forged))
    head, body = forged
    renamed = head.replace(b"X-Mailthread:", b"Old-X-Mailthread:")
    assert env.messages("inbox") == [raw((renamed, body))]
    assert env.messages("muted") == []


def test_other_lists_are_only_marked(env):
    env.add("muted-2023", raw(PARENT))
    env.deliver(raw(REPLY))
    assert env.messages("inbox") == [raw(REPLY, b"X-Mailthread: muted-2023")]
    assert env.messages("muted") == []


def test_the_muted_folder_can_be_preset_to_another_maildir(env):
    write_maildir(env.mail / "quiet", [])
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY), f'MUTED="{env.mail}/quiet/"')
    [filed] = env.maildir("quiet", "cur")
    assert filed.name.endswith(":2,S")
    assert filed.read_bytes() == raw(REPLY, MUTED)
    assert env.messages("muted") == []


def test_muted_reply_is_filed_as_read_in_mbox(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY), f'MUTED="{env.mail}/muted.mbox"')
    content = (env.mail / "muted.mbox").read_bytes()
    postmark = FROM_LINE.match(content)
    assert postmark, content
    head, body = REPLY
    escaped = body.replace(b"\nFrom ", b"\n>From ")
    assert content[postmark.end() :] == raw((head, escaped), MUTED + b"\n" + READ) + b"\n"
    assert env.messages("inbox") == []


def test_muted_mail_goes_to_the_inbox_unread_when_the_muted_folder_is_missing(env):
    # maildrop does not create Maildir folders; the example says to make them first.
    shutil.rmtree(env.mail / "muted")
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY))
    assert [p.read_bytes() for p in env.maildir("inbox", "new")] == [raw(REPLY, MUTED)]
    assert env.maildir("inbox", "cur") == []
    assert not (env.mail / "muted").exists()


# -- when mailthread fails: delivered all the same, unmarked ---------------------------------


@pytest.mark.parametrize("kind", ["corrupt", "directory"])
def test_unusable_database_still_delivers_to_the_inbox_unmarked(env, kind):
    env.add("muted", raw(PARENT))
    if kind == "corrupt":
        env.db.write_bytes(random.Random(75).randbytes(8192))
    else:
        env.db.unlink()
        env.db.mkdir()  # a directory where the database file should be
    result = env.deliver(raw(REPLY))
    assert env.messages("inbox") == [raw(REPLY)]
    assert env.messages("muted") == []
    # mailthread said why on maildrop's stderr. A database it cannot use: it succeeded, so
    # the example logs no failure. A folder where the file should be is a wrong path, told
    # as a failure (exit 75), which the example logs.
    assert b"mailthread: " in result.stderr
    if kind == "corrupt":
        assert b"passed through unmarked" in result.stderr
        assert "mailthread match failed" not in env.maildrop_log()
    else:
        assert b"passed through unchanged" in result.stderr
        assert "mailthread match failed (exit 75): delivered unmarked" in env.maildrop_log()


def test_a_failing_mailthread_is_logged(env):
    env.add("muted", raw(PARENT))
    bin_dir = env.home / ".local" / "bin"
    (bin_dir / "mailthread").unlink()
    (bin_dir / "mailthread").write_text(f'#!/bin/sh\nexec "{env.mailthread}" match --bogus\n')
    (bin_dir / "mailthread").chmod(0o700)
    result = env.deliver(raw(REPLY))
    assert env.messages("inbox") == [raw(REPLY)]
    assert b"no such option: --bogus" in result.stderr
    assert "mailthread match failed (exit 75): delivered unmarked" in env.maildrop_log()


def test_missing_mailthread_still_delivers_to_the_inbox_unchanged(env):
    env.add("muted", raw(PARENT))
    (env.home / ".local" / "bin" / "mailthread").unlink()
    env.deliver(raw(REPLY), 'PATH="/nonexistent"')
    assert env.messages("inbox") == [raw(REPLY)]
    assert env.messages("muted") == []


# -- why the example wraps xfilter in `exception` --------------------------------------------


def test_a_bare_xfilter_that_exits_75_makes_maildrop_defer_the_message(env):
    # Without `exception`, maildrop stops at the failing filter and exits 75 (EX_TEMPFAIL):
    # nothing is delivered, and the mail server would keep the message to retry later.
    rc_text = (
        f'HOME="{env.home}"\nPATH="$HOME/.local/bin:$PATH"\nMAILTHREAD_DB="{env.db}"\n'
        f'DEFAULT="{env.mail}/inbox/"\nxfilter "mailthread match --bogus"\n'
    )
    result = env.run(raw(REPLY), rc_text=rc_text)
    assert result.returncode == 75, result
    assert env.messages("inbox") == []


def test_xfilter_or_true_would_lose_the_message_when_mailthread_is_missing(env):
    # `xfilter "mailthread match || true"` exits 0 with no output when mailthread cannot be
    # run: maildrop takes the empty output for the message, delivers nothing and exits 0.
    rc_text = (
        f'HOME="{env.home}"\nPATH="/nonexistent:/usr/bin:/bin"\n'
        f'DEFAULT="{env.mail}/inbox/"\nxfilter "mailthread match || true"\n'
    )
    result = env.run(raw(REPLY), rc_text=rc_text)
    assert result.returncode == 0, result
    assert env.messages("inbox") == []


@pytest.mark.parametrize(
    "extra, eol",
    [
        (b"garbage line no colon\nX-Foo: bar\n", b"\n"),
        (b"X-8: \xff\x00nul\n", b"\n"),  # reformail -I dropped what followed the NUL
        (b"", b"\r\n"),  # reformail -I ended a CRLF message's lines in LF
    ],
    ids=["no-colon", "nul", "crlf"],
)
def test_muted_mbox_filing_alters_no_byte(env, extra, eol):
    env.add("muted", raw(PARENT))
    reply = message(
        "odd@example.com",
        subject="Re: Plans",
        in_reply_to="parent@example.com",
        extra=extra,
        body=b"Replying.\n",
    )
    env.deliver(raw(reply).replace(b"\n", eol), f'MUTED="{env.mail}/muted.mbox"')
    content = (env.mail / "muted.mbox").read_bytes()
    postmark = FROM_LINE.match(content)
    assert postmark, content
    filed = raw(reply, MUTED + b"\n" + READ).replace(b"\n", eol)
    assert content[postmark.end() :] == filed + b"\n"


def test_trying_it_by_hand_never_delivers_into_real_folders(env, tmp_path):
    """The example's "try it" recipe: a filter file that sets MAILTHREAD_TRY and includes
    the example, with the example's DEFAULT line uncommented: every delivery lands in the
    trial folder, and ~/Mail's folders stay empty."""
    text = MAILDROPRC.read_text()
    assert '\n#DEFAULT="$MAILDIR/inbox/"\n' in text
    example = tmp_path / "maildroprc"
    example.write_text(text.replace('\n#DEFAULT="', '\nDEFAULT="'))
    trial = tmp_path / "trial"
    for name in ("inbox", "muted", "watched"):
        write_maildir(trial / name, [])
    env.add("muted", raw(PARENT))
    lines = [f'HOME="{env.home}"', f'MAILTHREAD_DB="{env.db}"', f'MAILTHREAD_TRY="{trial}"']
    rc_text = "".join(f"{line}\n" for line in [*lines, f'include "{example}"'])
    for msg in (REPLY, OTHER):
        result = env.run(raw(msg), rc_text=rc_text)
        assert result.returncode == 0, result
    assert [p for p in env.mail.rglob("*") if p.is_file()] == []
    [muted] = (trial / "muted" / "cur").iterdir()
    assert muted.name.endswith(":2,S") and muted.read_bytes() == raw(REPLY, MUTED)
    assert [p.read_bytes() for p in (trial / "inbox" / "new").iterdir()] == [raw(OTHER)]


def test_trying_it_with_a_relative_folder_delivers_nothing(env, tmp_path):
    """A relative MAILTHREAD_TRY would be taken from the home folder: nothing is
    delivered, one line says why, exit 75 (the mail server would retry)."""
    env.add("muted", raw(PARENT))
    lines = [f'HOME="{env.home}"', f'MAILTHREAD_DB="{env.db}"', 'MAILTHREAD_TRY="Mail"']
    rc_text = "".join(f"{line}\n" for line in [*lines, f'include "{MAILDROPRC}"'])
    for msg in (REPLY, OTHER):
        result = env.run(raw(msg), rc_text=rc_text)
        assert result.returncode == 75, result
        assert result.stdout + result.stderr == (
            b"mailthread: MAILTHREAD_TRY=Mail is not named from /: nothing delivered\n"
        )
    assert [p for p in env.mail.rglob("*") if p.is_file()] == []
