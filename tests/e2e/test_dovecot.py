"""The real dovecot-lda (Dovecot 2.3 with Pigeonhole Sieve and its extprograms plugin)
delivering with contrib/dovecot/: the conf.d snippet included unchanged, the filter wrapper
and the mark reader in their bin folders, the global Sieve script compiled by sievec."""

import random
import re
import signal
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import MUTED, OTHER, PARENT, REPLY, WATCHED, message, raw
from .dovecot_lda import CONTRIB, Dovecot, require_dovecot
from .test_forged_mark import FAULTS, deliver_forgeries, fake, ok

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path) -> Dovecot:
    require_dovecot()
    return Dovecot(tmp_path)


def test_muted_reply_is_filed_read_with_the_muted_keyword(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY))
    assert env.files("Muted", "new") == []
    [filed] = env.files("Muted", "cur")
    # Maildir flags: S (\Seen) and "a", the first keyword of the folder's dovecot-keywords.
    assert filed.name.endswith(":2,Sa"), filed.name
    assert (env.folder("Muted") / "dovecot-keywords").read_text() == "0 $Muted\n"
    assert filed.read_bytes() == env.stored(raw(REPLY, MUTED))
    assert env.messages("INBOX") == env.messages("Watched") == []


def test_a_crlf_muted_reply_keeps_every_byte_dovecot_keeps(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(REPLY).replace(b"\n", b"\r\n"))
    expected = env.stored(raw(REPLY, MUTED).replace(b"\n", b"\r\n"))
    assert env.messages("Muted") == [expected]


def test_unrelated_message_reaches_the_inbox_unread_and_untouched(env):
    env.add("muted", raw(PARENT))
    env.deliver(raw(OTHER))
    assert [p.read_bytes() for p in env.files("INBOX", "new")] == [env.stored(raw(OTHER))]
    assert env.files("INBOX", "cur") == []
    assert env.messages("Muted") == env.messages("Watched") == []


def test_watched_reply_is_copied_to_watched_and_kept_in_the_inbox(env):
    env.add("watched", raw(PARENT))
    env.deliver(raw(REPLY))
    marked = env.stored(raw(REPLY, WATCHED))
    assert [p.read_bytes() for p in env.files("Watched", "new")] == [marked]
    assert [p.read_bytes() for p in env.files("INBOX", "new")] == [marked]
    assert env.messages("Muted") == []


def to_the_list(msg):
    head, body = msg
    return head.replace(b"To: me@example.com", b"To: list@lists.example.org"), body


def test_mail_to_me_breaks_through_a_mute(env):
    env.filter_env('MAILTHREAD_ME="someone@else.example me@example.com"\n')
    env.add("muted", raw(to_the_list(PARENT)))
    env.deliver(raw(REPLY))
    assert env.messages("INBOX") == [env.stored(raw(REPLY, MUTED + b"; to-me"))]
    assert env.messages("Muted") == []


def test_watched_mail_to_me_is_copied_too(env):
    env.filter_env('MAILTHREAD_ME="me@example.com"\n')
    env.add("watched", raw(to_the_list(PARENT)))
    env.deliver(raw(REPLY))
    marked = env.stored(raw(REPLY, WATCHED + b"; to-me"))
    assert env.messages("Watched") == env.messages("INBOX") == [marked]


@pytest.mark.parametrize("name", ["muted-2023", "MUTED", "Muted", "WATCHED", "Watched"])
def test_other_lists_are_only_marked(env, name):
    """mailthread's list names are case-sensitive (as the other wirings read the mark):
    Sieve's string tests must not fold case, as their default comparator does."""
    env.add(name, raw(PARENT))
    env.deliver(raw(REPLY))
    mark = b"X-Mailthread: " + name.encode()
    assert env.messages("INBOX") == [env.stored(raw(REPLY, mark))]
    assert env.messages("Muted") == env.messages("Watched") == []


def test_other_lists_to_me_are_only_marked(env):
    env.filter_env('MAILTHREAD_ME="me@example.com"\n')
    env.add("Watched", raw(to_the_list(PARENT)))
    env.deliver(raw(REPLY))
    mark = b"X-Mailthread: Watched; to-me"
    assert env.messages("INBOX") == [env.stored(raw(REPLY, mark))]
    assert env.messages("Muted") == env.messages("Watched") == []


def test_a_forged_mark_in_a_mime_part_or_deeper_in_the_header_is_not_obeyed(env):
    env.add("muted", raw(PARENT))
    forged = message(
        "spam@example.net",
        subject="Not muted",
        extra=(
            b"X-Mailthread: muted\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b1"\n'
        ),
        body=b"--b1\nContent-Type: text/plain\nX-Mailthread: muted\n\nHi.\n--b1--\n",
    )
    env.deliver(raw(forged))
    head, body = forged
    renamed = head.replace(b"X-Mailthread:", b"Old-X-Mailthread:")
    assert env.messages("INBOX") == [env.stored(raw((renamed, body)))]
    assert env.messages("Muted") == []


def test_the_users_own_script_runs_after_it_but_not_for_muted_mail(env):
    """sieve_before: the user's ~/.dovecot.sieve (compiled by dovecot-lda itself) sees the
    marked message; muted mail, filed, ends the sequence of scripts."""
    (env.home / "sieve").mkdir()
    script = env.home / "sieve" / "own.sieve"
    script.write_text(
        'require ["fileinto", "mailbox"];\n'
        'if header :is "X-Mailthread" "watched" { fileinto :create "Seen-Watched"; }\n'
        'else { fileinto :create "Own"; }\n'
    )
    (env.home / ".dovecot.sieve").symlink_to(script)
    env.add("muted", raw(PARENT))
    env.add("watched", raw(OTHER))
    lunch = message("lunch2@example.com", subject="Re: Lunch?", in_reply_to="other@example.com")
    for msg in (REPLY, lunch, message("new@example.com")):
        env.deliver(raw(msg))
    assert env.messages("Muted") == [env.stored(raw(REPLY, MUTED))]
    assert (
        env.messages("Watched") == env.messages("Seen-Watched") == [env.stored(raw(lunch, WATCHED))]
    )
    assert env.messages("Own") == [env.stored(raw(message("new@example.com")))]
    assert env.messages("INBOX") == []


def test_sieve_test_shows_what_the_script_does(env):
    """The README's way to try the script on a saved message: sieve-test runs the filter
    and the mark reader for real (mailthread learns from the message) and lists the
    actions, storing nothing. It also shows the flags of the fileinto, which the Maildir
    file name only encodes."""
    env.add("muted", raw(PARENT))
    muted = env.sieve_test(raw(REPLY))
    assert "store message in folder: Muted" in muted
    assert "add IMAP flags: \\seen $Muted" in muted
    assert "Implicit keep:\n\n  (none)" in muted
    other = env.sieve_test(raw(OTHER))
    assert "Muted" not in other and "store message in folder: INBOX" in other, other
    assert env.folders() == {"INBOX": [], "Muted": [], "Watched": []}


# -- when mailthread fails: delivered all the same, unmarked ---------------------------------


def test_broken_database_delivers_to_the_inbox_unmarked(env):
    env.add("muted", raw(PARENT))
    env.db.write_bytes(random.Random(75).randbytes(8192))
    result = env.deliver(raw(REPLY))
    assert env.folders() == {"INBOX": [env.stored(raw(REPLY))], "Muted": [], "Watched": []}
    # mailthread's one line reaches dovecot-lda's standard error (the MTA's log).
    assert b"mailthread: " in result.stderr and b"passed through unmarked" in result.stderr


def test_mailthread_not_installed_delivers_to_the_inbox_unchanged(env):
    env.add("muted", raw(PARENT))
    (env.bin / "mailthread").unlink()
    result = env.deliver(raw(REPLY))
    assert env.folders() == {"INBOX": [env.stored(raw(REPLY))], "Muted": [], "Watched": []}
    assert b"mailthread: " in result.stderr and b"is not installed" in result.stderr
    assert "Terminated with non-zero exit code 75" in env.log_text()


def test_a_broken_filter_env_delivers_to_the_inbox_unchanged(env):
    env.add("muted", raw(PARENT))
    env.filter_env('MAILTHREAD_ME="me@example.com\n')  # an unterminated quote
    result = env.deliver(raw(REPLY))
    assert env.folders() == {"INBOX": [env.stored(raw(REPLY))], "Muted": [], "Watched": []}
    assert b"filter.env" in result.stderr
    assert "Terminated with non-zero exit code 2" in env.log_text()


def test_a_database_locked_past_dovecots_time_limit_still_delivers(env):
    """A writer holds the database (BEGIN EXCLUSIVE) for the whole delivery and beyond:
    mailthread waits its 5 s, then passes the message on unmarked, within Pigeonhole's
    10 s sieve_filter_exec_timeout (past it Dovecot panics and delivers nothing: the next
    test)."""
    env.add("muted", raw(PARENT))
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = env.run(raw(REPLY))
        assert result.returncode == 0, (result, env.log_text())
        assert env.folders() == {"INBOX": [env.stored(raw(REPLY))], "Muted": [], "Watched": []}
        assert b"passed through unmarked" in result.stderr
    finally:
        holder.close()


def test_a_hanging_mailthread_is_stopped_before_dovecot_kills_the_filter(env):
    """A mailthread that never ends, and writes a marked message first: the wrapper's
    timeout stops it at 8 s, the filter fails, and Dovecot delivers the original."""
    env.add("muted", raw(PARENT))
    fake(env, "printf 'X-Mailthread: muted\\n'; cat; exec sleep 60")
    result = env.run(raw(REPLY))
    assert result.returncode == 0, (result, env.log_text())
    assert env.folders() == {"INBOX": [env.stored(raw(REPLY))], "Muted": [], "Watched": []}
    assert "Terminated with non-zero exit code 124" in env.log_text()
    # The wrapper says why, on dovecot-lda's standard error (the MTA's log).
    assert b"mailthread: stopped after 8 s (hung?)" in result.stderr, result.stderr


def test_dovecot_delivers_nothing_when_it_kills_a_filter(env, tmp_path):
    """Why the wrapper has a timeout: the same hanging mailthread run straight from the bin
    folder, with Pigeonhole's limit shortened to 1 s, makes dovecot-lda 2.3 panic (exit
    134) and store nothing."""
    unguarded = tmp_path / "sieve-filter" / "mailthread"
    unguarded.write_text(f'#!/bin/sh\nexec "{env.bin}/mailthread" match\n')
    text = env.conf.read_text()
    env.conf.write_text(text.replace("}\n", "  sieve_filter_exec_timeout = 1s\n}\n"))
    fake(env, "cat; exec sleep 60")
    result = env.run(raw(REPLY))
    # SIGABRT: a shell (as the MTA runs it) reports exit status 134.
    assert result.returncode == -signal.SIGABRT, result
    assert env.folders() == {"INBOX": [], "Muted": [], "Watched": []}


# -- forged marks, under every way match can fail ----------------------------------------------


class FaultyUser(Dovecot):
    """The forged-mark faults of tests/e2e/test_forged_mark.py: the database where they
    expect it (tmp_path/data), named in ~/.config/mailthread/filter.env."""

    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path, db=tmp_path / "data" / "threads.db")
        self.cleanups: list = []
        self.path: str | None = None
        self.stderr: list[bytes] = []

    def send(self, msg: bytes, options: dict) -> None:
        result = self.deliver(msg, **options)
        self.stderr.append(result.stderr)

    def matched(self, msg: bytes) -> bytes:
        """What a `mailthread match` that succeeds writes of ``msg`` as Dovecot hands it to
        the filter: its lines ending in CRLF (sieve_filter_input_eol = crlf, the default).
        A line of only a CR in an LF message is then an empty CRLF line that ends the
        header, for Dovecot as for mailthread: a field after it is body, and not renamed
        (the forgeries' ``renamed`` is what mailthread does with the LF message)."""
        crlf = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
        oracle = self.tmp / "oracle.db"  # a database of its own: a forgery has no thread
        result = subprocess.run(
            [self.mailthread, "match", "--db", str(oracle)], input=crlf, capture_output=True
        )
        assert result.returncode == 0, result
        return result.stdout


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.replace("_", "-"))
def test_a_forged_mark_is_never_obeyed(tmp_path, fault):
    require_dovecot()
    user = FaultyUser(tmp_path)
    # The database where the fault left it.
    cases, renames = deliver_forgeries(
        user, fault, prepare=lambda: user.filter_env(f'MAILTHREAD_DB="{user.db}"\n')
    )
    folders = user.folders()
    assert folders["Muted"] == [] and folders["Watched"] == [], folders
    with ThreadPoolExecutor(4) as pool:
        expected = list(
            pool.map(lambda c: (user.stored(c[0]), user.stored(user.matched(c[0]))), cases)
        )
    if renames is None:
        # Only the messages that need the database meet the fault: each is one or the other.
        assert len(folders["INBOX"]) == len(cases)
        for original, renamed in expected:
            assert {original, renamed} & set(folders["INBOX"]), original
    else:
        wanted = [renamed if renames else original for original, renamed in expected]
        assert sorted(folders["INBOX"]) == sorted(wanted)
    if fault is not ok:
        said = b"".join(user.stderr).decode(errors="replace") + user.log_text()
        assert "mailthread: " in said or "Terminated with non-zero exit code" in said, said


def test_a_reply_to_a_muted_thread_is_still_filed(tmp_path):
    """The control for the test above: the mark mailthread writes is obeyed, after a
    postmark too (dovecot-lda drops it), and in a CRLF message."""
    require_dovecot()
    user = FaultyUser(tmp_path)
    user.filter_env(f'MAILTHREAD_DB="{user.db}"\n')
    user.add("muted", raw(PARENT))
    head = b"From: Mallory <mallory@example.net>\nTo: me@example.com\nSubject: Re: Plans\n"
    reply = head + b"In-Reply-To: <parent@example.com>\n\nbody\n"
    postmark = b"From mallory@example.net  Mon Jan  1 10:00:00 2024\n"
    for msg in (reply, postmark + reply, reply.replace(b"\n", b"\r\n")):
        user.send(msg, {})
    assert len(user.messages("Muted")) == 3 and user.messages("INBOX") == [], user.folders()


def test_the_mark_reader_reads_only_the_first_line():
    """mailthread-mark on its own: the first line's value, its CR dropped, nothing for a
    field further down or a first line that is another field."""
    require_dovecot()

    def mark(msg: bytes) -> bytes:
        result = subprocess.run([CONTRIB / "mailthread-mark"], input=msg, capture_output=True)
        assert result.returncode == 0, result
        return result.stdout

    assert mark(b"X-Mailthread: muted\r\nFrom: a\r\n\r\nX-Mailthread: watched\r\n") == b"muted"
    assert mark(b"X-Mailthread: muted; to-me\nA: b\n\nbody\n") == b"muted; to-me"
    assert mark(b"From: a\nX-Mailthread: muted\n\nbody\n") == b""
    assert mark(b"Old-X-Mailthread: muted\nA: b\n\nbody\n") == b""
