"""Faults, each with its documented outcome, through the installed console script.

`match` must write every message out -- when its database cannot be used, unmarked (a
sender's own mark renamed, which needs no database) with exit 0 and one `mailthread: ...`
line on stderr, so that procmail's W flag takes what it wrote; when it cannot even do that,
unchanged with exit 75, so that W keeps the original -- and the other commands must fail
with one line and exit 75, leaving the database consistent and as it was.

Already tested elsewhere, not repeated here: `match` with garbage bytes as its database,
locked past --timeout (a whole message), a database folder that cannot be created, stdout
closed before it starts (`>&-`) and stderr closed (tests/test_match.py); a corrupt file,
another program's SQLite database and a newer schema (tests/test_store.py); a garbage
database, a missing mailthread and a broken muted folder under the real procmail
(tests/e2e/test_procmail.py); parallel writers (tests/test_concurrency.py,
tests/e2e/test_load.py).

How the faults are made (all but the tmpfs unprivileged):
- a full disk: RLIMIT_FSIZE in the child (with SIGXFSZ ignored, so that write() fails with
  EFBIG instead of killing it), which SQLite reports as "disk I/O error"; and, run as root
  (as CI is), a real 1 MB tmpfs filled up, ENOSPC;
- read-only: file modes. Run as root, the child first drops, from its capability bounding
  set, the capabilities that let root ignore them (exec then leaves it without them);
- a signal: sent to a child waiting for a lock the test holds (found by its open database)
  or blocked in read(2) on stdin (/proc/PID/syscall), never after a sleep;
- other resource limits: RLIMIT_NOFILE 5; RLIMIT_AS 16 MiB above what match's modules take;
- a 200 MB message: run under RLIMIT_AS of 1.5 GiB, and its peak RSS (os.wait4) must stay
  under twice the message's size: one copy of the message, not more.

MAILTHREAD_LONG_TESTS=1 also kills `add` at several more points of its import.
"""

import ctypes
import errno
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from conftest import mailthread_command, marked, message, run

LONG = os.environ.get("MAILTHREAD_LONG_TESTS") == "1"
PARENT = message("parent@x", subject="Help")
REPLY = message("reply@x", in_reply_to="parent@x", references=["parent@x"], subject="Re: Help")
MARKED = marked(REPLY)
NEW = message("new@x", subject="Another")


def one_line(result) -> str:
    """The one ``mailthread: ...`` line a failure writes on stderr."""
    err = result.stderr.decode()
    assert err.startswith("mailthread: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def mute(db, raw=PARENT) -> None:
    result = run(["add", "muted"], raw, db=db)
    assert result.returncode == 0, result.stderr


def contents(db) -> dict:
    """Everything the database records, and whether SQLite finds it consistent."""
    conn = sqlite3.connect(db)
    try:
        state = {"integrity": conn.execute("PRAGMA integrity_check").fetchall()}
        for table in ("threads", "ids", "seen"):
            state[table] = sorted(conn.execute(f"SELECT * FROM {table}"))
    finally:
        conn.close()
    return state


# -- locked past the busy timeout -------------------------------------------------------------


@pytest.fixture
def write_lock(db):
    """The database with a thread muted, and a write lock held on it as a stuck writer
    would (``BEGIN EXCLUSIVE``); yields the contents before, then releases the lock."""
    mute(db)
    before = contents(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield before
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.parametrize(
    "args, stdin",
    [
        # procmail's h: only the header comes (the whole message is in tests/test_match.py)
        (["match"], REPLY[: REPLY.index(b"\n\n") + 2]),
        (["add", "watched"], NEW),
        (["remove", "--message-id", "parent@x"], b""),
        (["expire", "--idle", "1h"], b""),
    ],
    ids=["match-header-only", "add", "remove", "expire"],
)
def test_writers_give_up_after_the_timeout_changing_nothing(db, write_lock, args, stdin):
    """Every command that writes waits --timeout for the lock, then fails in one line."""
    result = run(["--timeout", "0.2", *args], stdin, db=db)
    assert result.returncode == (0 if args[0] == "match" else 75)
    assert "locked" in one_line(result)
    assert result.stdout == (stdin if args[0] == "match" else b"")
    assert contents(db) == write_lock


def test_readers_answer_while_a_writer_holds_the_lock(db, write_lock):
    """WAL: a stuck writer does not stop `list` or `explain` (readers take no lock)."""
    listed = run(["--timeout", "0.2", "list"], db=db)
    assert listed.returncode == 0 and b"Help" in listed.stdout, listed.stderr
    explained = run(["--timeout", "0.2", "explain"], REPLY, db=db)
    assert explained.returncode == 0 and b"parent@x" in explained.stdout, explained.stderr


# -- read-only --------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root ignore file modes.
_CAPS_OVER_FILE_MODES = (1, 2, 3)


def _drop_root_file_powers() -> None:
    for cap in _CAPS_OVER_FILE_MODES:
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def bound_by_file_modes() -> dict:
    """subprocess options under which the child obeys file modes, even run by root."""
    if os.geteuid() != 0:
        return {}
    probe = subprocess.run(["true"], preexec_fn=_drop_root_file_powers, check=False)
    if probe.returncode != 0:
        pytest.skip("running as root without CAP_SETPCAP: file modes cannot bind the child")
    return {"preexec_fn": _drop_root_file_powers}


class ReadOnly:
    """The database with a thread muted, then its file or its folder made read-only."""

    def __init__(self, db, kind: str) -> None:
        mute(db)
        self.db = db
        self.kind = kind
        self.before = contents(db)
        self.target = db if kind == "file" else db.parent
        self.mode = self.target.stat().st_mode
        self.target.chmod(0o444 if kind == "file" else 0o555)

    def unchanged(self) -> bool:
        """Writable again: whether the database still holds just what it held."""
        self.target.chmod(self.mode)
        return contents(self.db) == self.before


@pytest.fixture(params=["file", "folder"])
def read_only(request, db):
    state = ReadOnly(db, request.param)
    yield state
    state.target.chmod(state.mode)


def test_read_only_database_match_passes_the_message_through(db, read_only):
    """A match that cannot be recorded is not marked either: the message goes out
    unmarked, exit 0, as for any unusable database."""
    result = run(["match"], REPLY, db=db, **bound_by_file_modes())
    assert (result.returncode, result.stdout) == (0, REPLY)
    assert "readonly" in one_line(result)
    assert read_only.unchanged()


def test_read_only_database_add_fails_in_one_line(db, read_only):
    result = run(["add", "watched"], NEW, db=db, **bound_by_file_modes())
    assert (result.returncode, result.stdout) == (75, b"")
    assert "readonly" in one_line(result)
    assert read_only.unchanged()


def test_read_only_file_can_still_be_listed(db, read_only):
    """A read-only file (a backup, another user's database) can be read; a read-only
    folder cannot, as SQLite must create the WAL's shared-memory file next to it."""
    result = run(["list"], db=db, **bound_by_file_modes())
    if read_only.kind == "file":
        assert result.returncode == 0 and b"Help" in result.stdout, result.stderr
    else:
        assert (result.returncode, result.stdout) == (75, b"")
        one_line(result)


# -- corrupt ----------------------------------------------------------------------------------


def truncated_real_database(db) -> bytes:
    """A real database of 2,000 threads, cut to half its size, as a crash of the disk
    or a careless copy would leave it."""
    refs = db.parent / "refs"
    db.parent.mkdir(exist_ok=True)
    refs.write_text("".join(f"<t{i}@x> <u{i}@x>\n" for i in range(2000)))
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    whole = db.read_bytes()
    assert len(whole) > 8 * 4096
    half = whole[: len(whole) // 2 // 4096 * 4096]
    db.write_bytes(half)
    return half


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_database_is_left_as_it_is(db, damage):
    """Every command fails in one line with exit 75 (but match, which writes the message
    out unmarked, exit 0), and none of them overwrites the file or starts a new database in its
    place: what is left is there to be rescued."""
    if damage == "garbage":
        db.parent.mkdir()
        db.write_bytes(os.urandom(20000))
        damaged = db.read_bytes()
    else:
        damaged = truncated_real_database(db)
    reply = message("r@x", in_reply_to="u1999@x", subject="Re: x")
    result = run(["match"], reply, db=db)
    assert (result.returncode, result.stdout) == (0, reply)
    one_line(result)
    for args, stdin in [(["add", "watched"], NEW), (["list"], b""), (["explain"], reply)]:
        result = run(args, stdin, db=db)
        assert (result.returncode, result.stdout) == (75, b""), args
        one_line(result)
    assert db.read_bytes() == damaged


# -- full disk --------------------------------------------------------------------------------


def disk_full_at(size: int):
    """subprocess options under which no file can grow past ``size`` bytes."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return {"preexec_fn": limit}


def test_full_disk_match_passes_the_message_through(db):
    """No room even for the WAL: the reply goes out unmarked with exit 0; once there is
    room again the same reply is marked (the failed one recorded nothing)."""
    mute(db)
    before = contents(db)
    result = run(["match"], REPLY, db=db, **disk_full_at(0))
    assert (result.returncode, result.stdout) == (0, REPLY)
    one_line(result)
    assert contents(db) == before
    again = run(["match"], REPLY, db=db)
    assert (again.returncode, again.stdout) == (0, MARKED)


def test_full_disk_on_first_use_passes_the_message_through(db):
    """The database cannot even be set up: the message passes; what was left of the new
    file does not stand in the way once there is room."""
    result = run(["match"], REPLY, db=db, **disk_full_at(0))
    assert (result.returncode, result.stdout) == (0, REPLY)
    one_line(result)
    mute(db)
    assert run(["match"], REPLY, db=db).stdout == MARKED


def refs_file(path, lines: int, prefix: str = "t"):
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "".join(f"<{prefix}{i}a@x> <{prefix}{i}b@x> <{prefix}{i}c@x>\n" for i in range(lines))
    )
    return path


@pytest.mark.parametrize("case", ["no room at all", "room runs out mid-import"])
def test_full_disk_add_fails_cleanly_and_works_once_there_is_room(db, case):
    """`add` fails in one line with exit 75, records nothing of what it was given, and
    leaves the database consistent; the same `add` succeeds once there is room."""
    mute(db)
    before = contents(db)
    if case == "no room at all":  # mutt's M
        args, stdin, limit = ["add", "watched"], NEW, 0
    else:  # 60,000 ids: several MB of WAL, filled within one transaction
        args = ["add", "watched", "--refs-file", refs_file(db.parent / "refs", 20000)]
        stdin, limit = b"", 1 << 20
    result = run(args, stdin, db=db, **disk_full_at(limit))
    assert (result.returncode, result.stdout) == (75, b"")
    assert str(db) in one_line(result)
    assert contents(db) == before
    again = run(args, stdin, db=db)
    assert again.returncode == 0, again.stderr
    after = contents(db)
    assert after["integrity"] == [("ok",)]
    assert len(after["threads"]) == 1 + (1 if limit == 0 else 20000)


def mount_small_tmpfs(top) -> None:
    """Make ``top`` and mount a 1 MB tmpfs on it (the caller unmounts it); skip the test
    where that cannot be done: mounting needs root (CI runs as root)."""
    top.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(top)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")


def fill_up(filler) -> None:
    """Write zeros into the new file ``filler`` until its file system has no room (ENOSPC)."""
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(bytes(4096))
        except OSError as e:
            assert e.errno == errno.ENOSPC


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 1 MB tmpfs holding the database folder, and a function that fills it up (a file
    of zeros written until ENOSPC) or frees it again. Elsewhere than as root the
    RLIMIT_FSIZE tests above stand for it."""
    top = tmp_path / "small"
    mount_small_tmpfs(top)
    filler = top / "filler"

    def fill(full: bool) -> None:
        if full:
            fill_up(filler)
        else:
            filler.unlink()

    try:
        yield top / "mailthread" / "threads.db", fill
    finally:
        subprocess.run(["umount", str(top)], check=True)


def test_a_really_full_file_system(full_tmpfs):
    """ENOSPC on a real file system: `match` passes the reply through unchanged and `add`
    fails, each in one line that gives the free space (SQLite itself says only "disk I/O
    error"); nothing recorded is lost, and once there is room both work."""
    db, fill = full_tmpfs
    mute(db)
    before = contents(db)
    fill(True)
    result = run(["match"], REPLY, db=db)
    assert (result.returncode, result.stdout) == (0, REPLY)
    assert "(its file system has 0 KiB free); message passed through unmarked" in one_line(result)
    result = run(["add", "watched"], NEW, db=db)
    assert (result.returncode, result.stdout) == (75, b"")
    assert one_line(result).endswith("(its file system has 0 KiB free)\n")
    fill(False)
    assert contents(db) == before
    assert run(["match"], REPLY, db=db).stdout == MARKED
    assert run(["add", "watched"], NEW, db=db).returncode == 0
    assert contents(db)["integrity"] == [("ok",)]


# -- add killed mid-transaction ---------------------------------------------------------------


def kill_while_writing(db, args, wal_bytes: int) -> int:
    """Start ``mailthread args``, SIGKILL it once its write-ahead log has grown past
    ``wal_bytes`` (it is writing its transaction), and return its exit status (-9), or
    its own exit status if it finished first."""
    wal = db.parent / (db.name + "-wal")
    proc = subprocess.Popen(
        [*mailthread_command(), *map(str, args)],
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None:
            if wal.exists() and wal.stat().st_size > wal_bytes:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    "wal_mb", [1, 4, 8, 16, 24] if LONG else [2], ids=lambda mb: f"killed-at-{mb}MB-of-WAL"
)
def test_add_killed_mid_transaction_leaves_all_or_nothing(db, wal_mb):
    """SIGKILL while an import of 200,000 refs lines writes: the database is consistent,
    holds either every thread of the import or none of them, and the next `add` works."""
    mute(db)
    before = contents(db)
    refs = refs_file(db.parent / "refs", 200_000, "k")
    status = kill_while_writing(db, ["add", "watched", "--refs-file", refs], wal_mb << 20)
    after = contents(db)
    assert after["integrity"] == [("ok",)]
    imported = len(after["threads"]) - len(before["threads"])
    if status == -signal.SIGKILL:
        assert imported in (0, 200_000)
        if imported == 0:
            assert after == before
    else:  # it finished before the WAL grew that much: nothing to kill
        assert status == 0 and imported == 200_000
    result = run(["add", "watched"], NEW, db=db)
    assert result.returncode == 0, result.stderr
    assert run(["match"], REPLY, db=db).stdout == MARKED


# -- stdout closed early ----------------------------------------------------------------------


def into_a_gone_reader(db, args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """Run ``mailthread args`` with its stdout the write end of a pipe whose reader has
    already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*mailthread_command(), *args],
            input=stdin,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "MAILTHREAD_DB": str(db)},
            timeout=60,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("size", [0, 1 << 20], ids=["small", "1MB-body"])
def test_match_into_a_reader_that_has_gone(db, size):
    """`match ... | reader` whose reader exits at once: EPIPE, not a traceback; exit 75
    (procmail would keep the original) and one line saying why."""
    mute(db)
    result = into_a_gone_reader(db, ["match"], REPLY + b"x" * size)
    assert result.returncode == 75
    assert "cannot write the message" in one_line(result)


def test_match_into_a_reader_that_stops_half_way(db):
    """The reader takes the first 100 bytes of a 4 MB message and exits: the rest cannot
    be written, so exit 75 (a short write once went unnoticed: exit 0, message cut)."""
    mute(db)
    msg = REPLY + b"y" * (4 << 20)
    match = subprocess.Popen(
        [*mailthread_command(), "match"],
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.Popen(["head", "-c", "100"], stdin=match.stdout, stdout=subprocess.PIPE)
    match.stdout.close()
    _, err = match.communicate(msg, timeout=60)
    first = head.communicate(timeout=60)[0]
    assert first == MARKED[:100]
    assert match.returncode == 75
    assert err.startswith(b"mailthread: cannot write the message") and err.count(b"\n") == 1


def test_list_into_a_reader_that_has_gone(db):
    """`mailthread list | head -1` with many threads: no traceback, nothing on stderr."""
    mute(db)
    refs = refs_file(db.parent / "refs", 2000)
    assert run(["add", "muted", "--refs-file", refs], db=db).returncode == 0
    result = into_a_gone_reader(db, ["list", "--json"])
    assert result.returncode != 0 and result.stderr == b""


OUTPUTS = [["list"], ["list", "--csv"], ["list", "--json"], ["expire", "--idle", "1h", "--dry-run"]]


@pytest.mark.parametrize("args", OUTPUTS, ids=" ".join)
@pytest.mark.parametrize("stdout", ["closed", "/dev/full"])
def test_output_that_cannot_be_written_is_one_line_and_75(db, args, stdout):
    """A command whose standard output is closed (`list >&-`) or on a full disk (`list >
    /dev/full`): one line, exit 75, never a traceback nor Python's "Exception ignored"."""
    mute(db)
    if stdout == "closed":
        command = 'exec "$@" >&-'
    else:
        command = 'exec "$@" > /dev/full'
    result = subprocess.run(
        ["sh", "-c", command, "sh", *mailthread_command(), *args],
        capture_output=True,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        timeout=60,
    )
    assert result.returncode == 75
    expected = "closed" if stdout == "closed" else "No space left on device"
    assert expected in one_line(result)


@pytest.mark.parametrize(
    "args, redirect, status",
    [
        (["list"], ">/dev/full 2>/dev/full", 75),
        (["list", "--csv"], ">&- 2>/dev/full", 75),
        (["list", "--db", "/nonexistent/threads.db"], "2>/dev/full", 1),
        (["list", "--bogus"], "2>/dev/full", 2),
    ],
    ids=["stdout and stderr full", "stdout closed, stderr full", "no database", "bad usage"],
)
def test_the_exit_status_stands_when_stderr_cannot_take_the_line(db, args, redirect, status):
    """With stderr on a full disk the one line is lost, but not the exit status: the only
    signal left (it was 1, "no database", for a failed write)."""
    mute(db)
    result = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *mailthread_command(), *args],
        capture_output=True,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        timeout=60,
    )
    assert result.returncode == status, result.stderr


@pytest.mark.parametrize("args", [["add", "muted"], ["explain"], ["remove"]], ids=" ".join)
def test_a_closed_stdin_is_a_message_that_cannot_be_read(db, args):
    mute(db)
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *mailthread_command(), *args],
        capture_output=True,
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        timeout=60,
    )
    assert result.returncode == 75
    assert "cannot read the message: standard input is closed" in one_line(result)


def test_output_is_written_whole_when_the_pipe_takes_less_than_it_is_given(monkeypatch):
    """After a pause (Ctrl-Z, fg) a pipe may take part of a write: list's --json, --nl,
    --csv and --tsv write the rest (they once stopped at the first 64 KiB, exit 0)."""
    from mailthread import output

    class Stingy:
        def __init__(self) -> None:
            self.taken = bytearray()

        def write(self, data) -> int:
            self.taken += bytes(data[:1000])
            return min(len(data), 1000)

        def flush(self) -> None:
            pass

    class Stdout:
        buffer = Stingy()

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", Stdout())
    text = "caf\u00e9 " * 100_000
    output.write_out(text)
    assert bytes(Stdout.buffer.taken) == text.encode()


# -- a 200 MB message through fW --------------------------------------------------------------

BIG = 200 * 10**6
CHUNK_LINE = b"From the 8-bit and CRLF part: caf\xe9 \xff\xfe na\xc3\xafve\r\n" + b"z" * 70 + b"\n"


def test_200_MB_message_through_match_whole(db):
    """A procmail fW recipe (no h) pipes the whole message: it comes out byte for byte
    with the one line inserted, and match holds one copy of it in memory at most: under
    RLIMIT_AS 1.5 GiB, its peak RSS stays below twice the message's size."""
    mute(db)
    postmark = b"From sender@example.org  Mon Jan  1 10:00:00 2024\n"
    head = postmark + REPLY[: REPLY.index(b"\n\n") + 2]
    chunk = CHUNK_LINE * ((1 << 20) // len(CHUNK_LINE))
    count = BIG // len(chunk)
    expected = hashlib.sha256(postmark + MARKED[: MARKED.index(b"\n\n") + 2])
    for _ in range(count):
        expected.update(chunk)
    size = len(head) + count * len(chunk)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    proc = subprocess.Popen(
        [*mailthread_command(), "match"],
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit_memory,
    )

    def feed() -> None:
        try:
            proc.stdin.write(head)
            for _ in range(count):
                proc.stdin.write(chunk)
        finally:
            proc.stdin.close()

    feeder = threading.Thread(target=feed)
    feeder.start()
    got, length = hashlib.sha256(), 0
    while piece := proc.stdout.read(1 << 20):
        got.update(piece)
        length += len(piece)
    feeder.join()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert (proc.returncode, err) == (0, b"")
    assert length == size + len(b"X-Mailthread: muted\n")
    assert got.hexdigest() == expected.hexdigest()
    assert usage.ru_maxrss * 1024 < 2 * size  # ru_maxrss is in KiB on Linux


# -- stopped by a signal ----------------------------------------------------------------------
# procmail ends a filter that outlives its timeout with SIGTERM; a user at a terminal
# presses Ctrl-C. The signal goes to a real child at a known point -- waiting for a lock
# that the test holds, or blocked reading stdin -- and the outcome, not the timing, is
# checked. (A signal that comes while SQLite itself waits for a lock is handled once that
# wait ends: the test releases its lock right after sending it.)

_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def wait_for(condition, proc) -> None:
    """Poll until ``condition()`` holds; fail if the child exits first."""
    while not condition():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)


def has_open(pid: int, path) -> bool:
    folder = f"/proc/{pid}/fd"
    targets = set()
    for fd in os.listdir(folder):
        try:
            targets.add(os.readlink(f"{folder}/{fd}"))
        except OSError:
            pass
    return str(path) in targets


def reading_stdin(pid: int) -> bool:
    """Whether the process is blocked in read(2) on fd 0 (/proc/PID/syscall: number, args)."""
    with open(f"/proc/{pid}/syscall") as f:
        fields = f.read().split()
    return fields[:2] == [_READ_SYSCALL[os.uname().machine], "0x0"]


def finish(proc) -> tuple[bytes, bytes]:
    """stdout and stderr of a child whose stdin the test has closed, once it has exited."""
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=60)
    return out, err


def start(args, db) -> subprocess.Popen:
    return subprocess.Popen(
        [*mailthread_command(), *args],
        env={**os.environ, "MAILTHREAD_DB": str(db)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


STOPS = [signal.SIGTERM, signal.SIGINT]


@pytest.mark.parametrize("signum", STOPS, ids=["SIGTERM", "SIGINT"])
def test_match_stopped_while_waiting_for_the_lock_passes_the_message_through(db, signum):
    """SIGTERM (procmail's timeout) or SIGINT while `match` waits for a locked database: the
    message, already read, comes out unchanged, exit 75, one line (was: killed with nothing
    written; a KeyboardInterrupt traceback)."""
    mute(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = start(["--timeout", "60", "match"], db)
        proc.stdin.write(REPLY)
        proc.stdin.close()
        wait_for(lambda: has_open(proc.pid, db), proc)
        proc.send_signal(signum)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = finish(proc)
    name = signal.Signals(signum).name
    assert (proc.returncode, out) == (75, REPLY)
    assert err == f"mailthread: stopped by {name}; message passed through unchanged\n".encode()
    assert contents(db)["integrity"] == [("ok",)]


@pytest.mark.parametrize("signum", STOPS, ids=["SIGTERM", "SIGINT"])
def test_match_stopped_while_reading_writes_nothing(db, signum):
    """Stopped before the message has been read: nothing can go out unchanged, so nothing
    goes out (procmail's W keeps the original); exit 75 and one line, no traceback."""
    if os.uname().machine not in _READ_SYSCALL:
        pytest.skip(f"read(2)'s number on {os.uname().machine} is not in this test")
    proc = start(["match"], db)
    wait_for(lambda: reading_stdin(proc.pid), proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    name = signal.Signals(signum).name
    assert (proc.returncode, out) == (75, b"")
    assert (
        err
        == f"mailthread: stopped by {name} while reading the message; nothing written\n".encode()
    )


def test_add_interrupted_while_waiting_for_the_lock(db):
    """Ctrl-C on `add` waiting for a lock ends it at once, as the default action of SIGINT:
    one line, no traceback, no "aborted", nothing recorded, and the shell sees 130 (killed
    by signal 2), as for an uncaught KeyboardInterrupt in Python itself."""
    mute(db)
    before = contents(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = start(["--timeout", "60", "add", "watched"], db)
        proc.stdin.write(NEW)
        proc.stdin.close()
        wait_for(lambda: has_open(proc.pid, db), proc)
        proc.send_signal(signal.SIGINT)
        # Without the default action, a Python handler would only run after the lock's wait.
        assert proc.wait(timeout=60) == -signal.SIGINT
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = finish(proc)
    assert (out, err) == (b"", STOPPED_BY_CTRL_C)
    assert contents(db) == before


STOPPED_BY_CTRL_C = (
    b"mailthread: stopped by SIGINT (Ctrl-C); an unfinished database change is undone\n"
)


# -- resource limits --------------------------------------------------------------------------


def with_limit(kind: int, value: int):
    def limit() -> None:
        resource.setrlimit(kind, (value, value))

    return limit


def test_match_with_five_file_descriptors(db):
    """RLIMIT_NOFILE 5: SQLite cannot open the database and its side files; the message
    goes out unmarked, exit 0, one line, as for any database it cannot use (the /dev/null
    opened at exit then raised EMFILE: a traceback after the message)."""
    mute(db)
    result = run(["match"], REPLY, db=db, preexec_fn=with_limit(resource.RLIMIT_NOFILE, 5))
    assert (result.returncode, result.stdout) == (0, REPLY)
    assert one_line(result).endswith("; message passed through unmarked\n")


def vm_peak_after_loading_match() -> int:
    """The address space the interpreter has taken once match's modules are loaded."""
    probe = "import mailthread.filter; print(open('/proc/self/status').read())"
    status = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    line = next(line for line in status.stdout.decode().splitlines() if line.startswith("VmPeak"))
    return int(line.split()[1]) * 1024


def test_match_without_memory_to_read_the_message_says_so(db):
    """RLIMIT_AS leaves 16 MiB once match is loaded, and a 64 MiB message comes: reading it
    fails, and what was read is gone. No pass-through is claimed (the line said "message
    passed through unchanged" over an empty stdout); exit 75, and procmail's W keeps the
    original."""
    limit = vm_peak_after_loading_match() + (16 << 20)
    big = REPLY + b"z" * (64 << 20)
    result = run(["match"], big, db=db, preexec_fn=with_limit(resource.RLIMIT_AS, limit))
    assert (result.returncode, result.stdout) == (75, b"")
    assert (
        one_line(result) == "mailthread: not enough memory to read the message; nothing written\n"
    )


def test_match_that_cannot_load_its_modules_copies_the_message(db):
    """When even mailthread.filter cannot be loaded (MemoryError under a small RLIMIT_AS, a
    broken install), stdin is copied to stdout as it comes: unchanged, exit 75, one line."""
    program = (
        "import sys; sys.modules['mailthread.filter'] = None; sys.argv[1:] = ['match']\n"
        "from mailthread.__main__ import main; sys.exit(main())"
    )
    big = REPLY + b"z" * (1 << 20)
    result = subprocess.run([sys.executable, "-c", program], input=big, capture_output=True)
    assert (result.returncode, result.stdout) == (75, big)
    err = one_line(result)
    assert err.startswith("mailthread: cannot start: ") and "passed through unchanged" in err


def test_an_import_bigger_than_memory_fails_in_one_line_or_skips(db, tmp_path):
    """Re-review: a 20 GB (sparse) refs file or Maildir message under a memory limit ended in
    a MemoryError traceback. A refs file: one line, exit 75, nothing recorded. A message of
    a Maildir: skipped and counted as unreadable, the rest recorded."""
    mute(db)
    before = contents(db)
    limit = with_limit(resource.RLIMIT_AS, vm_peak_after_loading_match() + (512 << 20))
    refs = tmp_path / "refs"
    with open(refs, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of nothing, on no disk
    result = run(["add", "muted", "--refs-file", refs], db=db, preexec_fn=limit)
    assert result.returncode == 75, result.stderr
    assert "not enough memory" in one_line(result)
    assert contents(db) == before
    maildir = tmp_path / "md"
    (maildir / "cur").mkdir(parents=True)
    os.link(refs, maildir / "cur" / "1.x:2,")
    (maildir / "cur" / "2.x:2,").write_bytes(NEW)
    result = run(["add", "muted", "--mailbox", maildir], db=db, preexec_fn=limit)
    assert (result.returncode, result.stderr) == (0, b"")
    assert b"1 skipped (1 unreadable)" in result.stdout
