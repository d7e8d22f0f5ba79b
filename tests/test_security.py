"""Security: a private database (every folder it creates 0700, no home folder or a path that
is not a file refused, never a world-writable folder), no shell ever, no line break in the
inserted header, and SQL that never carries a value in its text.

(tests/test_store.py checks the modes under the usual umask, tests/test_match.py a --header
with "\\n" and a hand-edited list name with "\\n"; here: the rest of those cases.)
"""

from __future__ import annotations

import ast
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import forks_setting, message, run

import mailthread
from mailthread import cli, database, filter
from mailthread.store import Store

PACKAGE = Path(mailthread.__file__).parent
REPLY = message("reply@x", in_reply_to="parent@x", references=["parent@x"], subject="Re: Help")


def match(argv, raw: bytes, db: Path) -> tuple[int, bytes, str]:
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = filter.run(
        argv, io.BytesIO(raw), stdout, stderr, {"MAILTHREAD_DB": str(db), **forks_setting()}
    )
    return status, stdout.getvalue(), stderr.getvalue()


def invoke(args, stdin: bytes = b""):
    """A click command, in-process."""
    return CliRunner().invoke(cli.cli, [str(arg) for arg in args], input=stdin)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- a private database ----------------------------------------------------------------------


@pytest.fixture
def permissive_umask():
    old = os.umask(0o000)
    yield
    os.umask(old)


def test_match_creates_a_private_database_whatever_the_umask(db, permissive_umask):
    assert match(["match"], REPLY, db)[0] == 0
    assert (mode(db), mode(db.parent)) == (0o600, 0o700)
    # SQLite gives its -wal and -shm files the database's mode: private too.
    reader = Store.open(str(db))
    try:
        reader.conn.execute("SELECT count(*) FROM threads").fetchone()
        assert invoke(["--db", db, "add", "muted"], REPLY).exit_code == 0
        side_files = [Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert [mode(path) for path in side_files] == [0o600, 0o600]
    finally:
        reader.close()


@pytest.mark.parametrize("umask", [0o000, 0o002])
def test_add_creates_a_private_database_whatever_the_umask(db, umask):
    result = run(["add", "muted"], REPLY, db=db, umask=umask)
    assert result.returncode == 0, result.stderr
    assert (mode(db), mode(db.parent)) == (0o600, 0o700)


# -- no shell, ever --------------------------------------------------------------------------

SPAWNING_MODULES = {"subprocess", "pty", "commands", "popen2", "multiprocessing", "pexpect"}
SPAWNING_CALLS = {"system", "popen", "spawnl", "spawnlp", "spawnv", "spawnvp", "posix_spawn"}
SPAWNING_CALLS |= {"posix_spawnp", "execv", "execve", "execvp", "execvpe", "execl", "execlp"}
SPAWNING_CALLS |= {"execle", "execlpe", "fork", "forkpty", "startfile"}


def test_no_source_file_can_spawn_a_shell():
    found = []
    sources = sorted(PACKAGE.glob("*.py"))
    assert {"filter.py", "cli.py", "store.py", "database.py"} <= {path.name for path in sources}
    for path in sources:
        text = path.read_text()
        if "shell=True" in text.replace(" ", ""):
            found.append(f"{path.name}: shell=True")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Attribute) and node.attr in SPAWNING_CALLS:
                found.append(f"{path.name}:{node.lineno}: .{node.attr}")
                continue
            else:
                continue
            for name in names:
                if name.split(".")[0] in SPAWNING_MODULES or name in {"os.system", "os.popen"}:
                    found.append(f"{path.name}:{node.lineno}: import {name}")
    assert found == []


# Run mailthread with an audit hook that records every way of starting a program (a shell
# included: os.system and shell=True run /bin/sh by its full path, which no PATH can catch),
# and with a PATH whose sh and bash record being run.
AUDITED = """
import sys
SPAWNING = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "subprocess.Popen", "pty.spawn", "os.startfile"}
log = open(sys.argv.pop(1), "a")
def hook(event, args):
    if event in SPAWNING:
        log.write(f"{event} {args!r}\\n")
        log.flush()
sys.addaudithook(hook)
sys.argv[0] = "mailthread"
from mailthread.__main__ import main
sys.exit(main())
"""


@pytest.fixture
def spy(tmp_path):
    """(how to run mailthread so that any program it starts is recorded, the record)."""
    calls = tmp_path / "calls.log"
    calls.write_text("")
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for shell in ("sh", "bash", "dash", "zsh"):
        (fake / shell).write_text(f"#!/bin/sh\necho 'PATH {shell}' \"$@\" >> '{calls}'\n")
        (fake / shell).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "SHELL": str(fake / "sh")}

    def mailthread_(args, stdin=b"", db=None):
        env["MAILTHREAD_DB"] = str(db)
        return subprocess.run(
            [sys.executable, "-c", AUDITED, str(calls), *map(str, args)],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=60,
        )

    return mailthread_, calls


def test_the_spy_sees_a_shell(spy):
    """The harness itself catches os.system (by the hook) and `sh` looked up on PATH."""
    _, calls = spy
    code = AUDITED.replace("from mailthread.__main__ import main", "import os, subprocess")
    code = code.replace("sys.exit(main())", "os.system('true'); subprocess.run(['sh', '-c', ':'])")
    env = {**os.environ, "PATH": f"{calls.parent / 'fakebin'}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-c", code, str(calls)], env=env, check=True, timeout=60)
    seen = calls.read_text()
    assert "os.system" in seen and "subprocess.Popen" in seen and "PATH sh -c :" in seen


def test_no_command_ever_starts_a_program(spy, db, tmp_path):
    mailthread_, calls = spy
    mbox = tmp_path / "box"
    mbox.write_bytes(b"From a@x Mon Jan  1 00:00:00 2024\n" + message("m1@x", references=["r@x"]))
    runs = [
        (["add", "muted"], message("parent@x")),
        (["match"], REPLY),
        (["match"], message("unknown@x")),
        (["match", "--header", "X-A: b\nX-C: d"], REPLY),
        (["add", "watched", "--mailbox", mbox], b""),
        (["add", "muted", "--refs-file", mbox], b""),
        (["add", "muted", "--subthread", "--for", "7d"], REPLY),
        (["list"], b""),
        (["list", "--json"], b""),
        (["explain"], REPLY),
        (["explain", "--message-id", "m1@x"], b""),
        (["remove", "--message-id", "m1@x"], b""),
        (["remove"], REPLY),
        (["expire", "--dry-run"], b""),
        (["expire", "--idle", "1h"], b""),
        (["--help"], b""),
        (["match", "--help"], b""),
        (["--version"], b""),
        (["bogus"], b""),
    ]
    statuses = []
    for args, stdin in runs:
        result = mailthread_(args, stdin, db)
        assert b"Traceback" not in result.stderr, (args, result.stderr)
        statuses.append(result.returncode)
    # They did run: the add, the match, the bad --header, the refs file that is an mbox...
    assert statuses[:6] == [0, 0, 0, 75, 0, 1] and statuses[-1] == 2, statuses
    assert calls.read_text() == ""


# -- the inserted line has no line break ----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["match", "--header", "X-Mailthread: a\nX-Evil: 1"],
        ["match", "--header", "X-Mailthread: a\rX-Evil: 1"],
        ["match", "--header", "X-Mailthread: a\r\nX-Evil: 1"],
        ["match", "--header", "X-Mailthread: {list}\n"],
        ["match", "--header=X-Mailthread: a\nX-Evil: 1"],
        ["match", "muted", "--header=X-Evil\r: {list}"],
    ],
)
@pytest.mark.follow_forks
def test_header_with_a_line_break_is_refused(db, argv):
    assert invoke(["--db", db, "add", "muted"], message("parent@x")).exit_code == 0
    status, out, err = match(argv, REPLY, db)
    assert (status, out) == (75, REPLY)
    assert err.startswith("mailthread: invalid --header") and err.count("\n") == 1
    assert match(["match"], REPLY, db)[1].count(b"X-Mailthread") == 1  # which does match


@pytest.mark.parametrize("bad", ["muted\nBcc: x@y", "muted\r", "mu\r\nted", "\nmuted"])
def test_list_name_with_a_line_break_is_a_usage_error(db, bad):
    for args, stdin in (
        (["add", bad], message("parent@x")),
        (["add", bad, "--subthread"], message("parent@x")),
        (["add", bad, "--refs-file", "/nonexistent"], b""),
        (["list", bad], b""),
        (["explain", bad], REPLY),
    ):
        result = run(args, stdin, db=db)
        assert result.returncode == 2, (args, result)
        assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1
    status, out, err = match(["match", bad], REPLY, db)
    assert (status, out) == (75, REPLY) and "invalid list name" in err
    assert not db.exists()  # refused before anything was opened


@pytest.mark.follow_forks
@pytest.mark.parametrize("name", ["muted\rBcc: victim@x", "muted\r\n", "a\x85b\u2028c\nd"])
@pytest.mark.parametrize("header", ["X-Mailthread: {list}", "X-Other: [{list}]"])
def test_hand_edited_list_name_with_a_line_break_is_never_inserted(db, name, header):
    assert invoke(["--db", db, "add", "muted"], message("parent@x")).exit_code == 0
    conn = database.sqlite3.connect(str(db))
    conn.execute("UPDATE threads SET list = ?", (name,))
    conn.commit()
    conn.close()
    status, out, err = match(["match", "--header", header], REPLY, db)
    assert (status, out) == (0, REPLY)
    assert "line break" in err and err.count("\n") == 1 and err.endswith("unmarked\n")


# -- SQL is parameterised -------------------------------------------------------------------

# Ids as a message carries them (blanks inside <> are dropped: SQL comments stand for them).
HOSTILE_IDS = [
    "';DROP/**/TABLE/**/threads;--@evil.example",
    "quo\"te's@evil.example",
    "nul\x00byte@evil.example",
    "back\\slash%_@evil.example",
    "?1:a@b$c@evil.example",
]
HOSTILE_ARGUMENT = "\u00fcn\u00efc\u00f6de\u202e'); DROP TABLE ids; --@evil.example"
HOSTILE_LIST = "mu'ted\"; DROP TABLE seen; --evil"
HOSTILE_SUBJECT = "Re: '); DELETE FROM threads; --evil"
# Nothing of these may show in the text of a statement.
MARKERS = ("evil", "DROP", "DELETE FROM threads;", "\x00", "\u202e")


def hostile_message(own: str, parents: list[str]) -> bytes:
    def ids(values):
        return b" ".join(b"<" + value.encode("latin-1") + b">" for value in values)

    return (
        b"From: a@x\nSubject: " + HOSTILE_SUBJECT.encode() + b"\nMessage-ID: " + ids([own])
        + (b"\nReferences: " + ids(parents) if parents else b"")
        + b"\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n"
    )  # fmt: skip


@pytest.fixture
def statements(monkeypatch):
    """Every (SQL text, parameters) mailthread runs, through any connection it opens."""
    recorded: list[tuple[str, list]] = []
    sqlite = database.sqlite3

    class RecordingCursor(sqlite.Cursor):
        def execute(self, sql, parameters=()):
            recorded.append((sql, list(parameters)))
            return super().execute(sql, parameters)

        def executemany(self, sql, seq):
            seq = [list(row) for row in seq]
            recorded.append((sql, seq))
            return super().executemany(sql, seq)

        def executescript(self, script):
            recorded.append((script, []))
            return super().executescript(script)

    class RecordingConnection(sqlite.Connection):
        def cursor(self, factory=RecordingCursor):
            return super().cursor(factory)

        def execute(self, sql, parameters=()):
            return self.cursor().execute(sql, parameters)

        def executemany(self, sql, seq):
            return self.cursor().executemany(sql, seq)

        def executescript(self, script):
            return self.cursor().executescript(script)

    real_connect = sqlite.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", RecordingConnection)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite, "connect", connect)
    return recorded


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in strings(item)]
    return []


def test_hostile_values_are_only_ever_bound_parameters(db, tmp_path, statements):
    root, reply, later, imported, parent = HOSTILE_IDS
    subthread = "sub');DROP/**/TABLE/**/ids;--@evil.example"
    mbox = tmp_path / "box"
    mbox.write_bytes(b"From a@x Mon Jan  1 00:00:00 2024\n" + hostile_message(imported, [parent]))
    results = [
        invoke(["--db", db, "add", "muted"], hostile_message(root, [])),
        invoke(["--db", db, "add", "watched", "--mailbox", mbox]),
        invoke(["--db", db, "add", "muted", "--subthread"], hostile_message(subthread, [])),
    ]
    raw = hostile_message(reply, [root])
    assert match(["match"], raw, db) == (0, b"X-Mailthread: muted\n" + raw, "")
    # A hand-edited list name comes back from the database, into the header and the listing.
    conn = database.sqlite3.connect(str(db))
    conn.execute("UPDATE threads SET list = ? WHERE subthread = 0", (HOSTILE_LIST,))
    conn.commit()
    conn.close()
    status, out, _ = match(["match"], hostile_message(later, [reply]), db)
    assert status == 0 and out.startswith(b"X-Mailthread: " + HOSTILE_LIST.encode() + b"\n")
    results += [
        invoke(["--db", db, "list"]),
        invoke(["--db", db, "list", "--json", "muted", "watched"]),
        invoke(["--db", db, "explain"], hostile_message(later, [])),
        invoke(["--db", db, "explain", "muted", "--message-id", HOSTILE_ARGUMENT]),
        invoke(["--db", db, "remove", "--message-id", f"<{HOSTILE_ARGUMENT}>"]),
        invoke(["--db", db, "remove", "--message-id", subthread]),
        invoke(["--db", db, "expire", "--idle", "1h", "--dry-run"]),
        invoke(["--db", db, "expire", "--index-age", "1h"]),
    ]
    assert [r.exit_code for r in results] == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0], [
        (r.exit_code, r.output, r.exception) for r in results
    ]
    assert HOSTILE_LIST in results[3].output and HOSTILE_SUBJECT in results[3].output

    texts = [sql for sql, _ in statements]
    # (sqlite-utils, which remove and expire write with, spells its statements in lower case)
    assert any("INSERT" in sql for sql in texts) and any("DELETE" in sql.upper() for sql in texts)
    assert [(sql, m) for sql in texts for m in MARKERS if m in sql] == []
    # ...while they did reach the database, as parameters.
    bound = set(strings([parameters for _, parameters in statements]))
    # --message-id is read as a header's ids are: its UTF-8 bytes as Latin-1 characters,
    # without blanks.
    typed = b"".join(HOSTILE_ARGUMENT.encode().split()).decode("latin-1")
    assert {*HOSTILE_IDS, subthread, typed, HOSTILE_SUBJECT} <= bound

    # The database still works, and holds the values exactly.
    conn = database.sqlite3.connect(str(db))
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"threads", "ids", "seen"} <= tables
    stored = {msgid for (msgid,) in conn.execute("SELECT msgid FROM ids")}
    assert {*HOSTILE_IDS} <= stored and subthread not in stored  # removed
    conn.close()
    result = invoke(["--db", db, "explain"], hostile_message("new@x", [parent]))
    assert result.exit_code == 0 and HOSTILE_LIST in result.output


# -- where the database goes, and what it may be --------------------------------------------


def fresh_home_env(home: Path) -> dict:
    """A user's environment with only HOME to place the database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
    env.pop("MAILTHREAD_DB", None)
    return {**env, "HOME": str(home)}


@pytest.mark.parametrize("command", ["match", "add"])
def test_every_folder_created_is_private_under_umask_000(tmp_path, command):
    """The first run creates ~/.local, ~/.local/share and ~/.local/share/mailthread: all 0700
    under umask 000 (os.makedirs made the parents 0777, and procmailrc.example puts
    ~/.local/bin first in PATH: anyone could plant a mailthread there)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    args = ["match"] if command == "match" else ["add", "muted"]
    result = subprocess.run(
        [sys.executable, "-m", "mailthread", *args],
        input=REPLY,
        capture_output=True,
        env=fresh_home_env(home),
        umask=0o000,
    )
    assert result.returncode == 0, result.stderr
    data = home / ".local" / "share" / "mailthread"
    modes = [mode(path) for path in (home / ".local", data.parent, data, data / "threads.db")]
    assert modes == [0o700, 0o700, 0o700, 0o600]


def test_existing_folders_keep_their_mode(tmp_path):
    """Folders the user made are the user's business: mailthread neither loosens nor
    tightens them; it only creates the missing ones private."""
    home = tmp_path / "home"
    (home / ".local").mkdir(parents=True)
    os.chmod(home / ".local", 0o755)
    result = run(["add", "muted"], REPLY, env=fresh_home_env(home), umask=0o000)
    assert result.returncode == 0, result.stderr
    assert mode(home / ".local") == 0o755
    assert mode(home / ".local" / "share") == 0o700


def unused_uid() -> int:
    import pwd

    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def as_homeless_user(cwd: Path, home: str | None, argv: list[str]) -> tuple[int, bytes, str]:
    """Run ``filter.main``-like ``match`` (``argv[0] == "match"``) or a click command in a
    forked child that is a uid without a passwd entry, in ``cwd``, with ``$HOME`` set to
    ``home`` (None: unset) and nothing else naming a database. (Forked, not run: the
    interpreter under /root cannot be executed by that uid.)"""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 99
        try:
            os.chdir(cwd)
            os.setgid(unused_uid())
            os.setuid(unused_uid())
            for key in ("HOME", "MAILTHREAD_DB", "XDG_DATA_HOME"):
                os.environ.pop(key, None)
            if home is not None:
                os.environ["HOME"] = home
            if argv[0] == "match":
                out, err = io.BytesIO(), io.StringIO()
                status = filter.run(argv, io.BytesIO(REPLY), out, err, os.environ)
                output = out.getvalue()
            else:
                result = CliRunner().invoke(cli.cli, argv)
                status, output, err = result.exit_code, result.stdout_bytes, io.StringIO()
                err.write(result.stderr if result.stderr_bytes else "")
            report = repr((status, output, err.getvalue())).encode()
            os.write(write_end, report)
        finally:
            os._exit(0 if status != 99 else 99)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read()
    os.waitpid(pid, 0)
    return ast.literal_eval(report.decode())


@pytest.fixture
def open_cwd(tmp_path) -> Path:
    """A working folder anyone may write to: where a `~` folder would land."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to become a uid without a passwd entry (CI runs as root)")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    os.chmod(cwd, 0o777)
    return cwd


@pytest.mark.parametrize("home", [None, "", "relative/home"], ids=["unset", "empty", "relative"])
def test_no_home_folder_match_passes_the_message_through(open_cwd, home):
    """A uid without a passwd entry and no usable $HOME: `match` says so and exits 75 with
    the message unchanged; nothing is written under the working folder (it was
    ./~/.local/share/mailthread/threads.db for HOME unset, /.local/... for HOME empty)."""
    status, output, err = as_homeless_user(open_cwd, home, ["match"])
    assert (status, output) == (75, REPLY)
    assert err.startswith("mailthread: no home folder") and err.count("\n") == 1, err
    assert list(open_cwd.iterdir()) == []


@pytest.mark.parametrize("home", [None, ""], ids=["unset", "empty"])
def test_no_home_folder_other_commands_say_so(open_cwd, home):
    status, output, err = as_homeless_user(open_cwd, home, ["list"])
    assert status == 2 and output == b""
    assert "no home folder: set HOME, or MAILTHREAD_DB" in err
    assert list(open_cwd.iterdir()) == []


def test_relative_home_creates_nothing_under_the_working_folder(tmp_path):
    """Without root: HOME=relative (as a misconfigured MDA may pass it) is no home either."""
    result = run(["match"], REPLY, env={"HOME": "rel"}, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (75, REPLY)
    assert b"no home folder" in result.stderr
    result = run(["add", "muted"], REPLY, env={"HOME": "rel"}, cwd=tmp_path)
    assert result.returncode == 2 and b"no home folder" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_relative_mailthread_db_is_refused(tmp_path):
    """procmail runs in $MAILDIR, mutt wherever it was started, cron in $HOME: a relative
    MAILTHREAD_DB would be a different database for each. (A relative --db, typed by
    hand, is the user's own choice and works.)"""
    result = run(["match"], REPLY, env={"MAILTHREAD_DB": "threads.db"}, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (75, REPLY)
    assert b"MAILTHREAD_DB must be an absolute path" in result.stderr
    assert list(tmp_path.iterdir()) == []
    result = run(["--db", "threads.db", "add", "muted"], REPLY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "threads.db") == 0o600


NOT_FILES = [":memory:", "", "file:threads.db?mode=memory", "FOLDER", "/dev/null"]


@pytest.mark.parametrize("path", NOT_FILES)
def test_a_database_that_is_not_a_file_is_refused(tmp_path, path):
    """`--db :memory:` said "1 new id" and kept nothing; a folder or /dev/null gave SQLite's
    own words. Now one line, exit 2 (bad usage) for the commands and 75 with the message
    unchanged for `match`; nothing is created."""
    path = str(tmp_path) if path == "FOLDER" else path
    home = {"HOME": str(tmp_path / "home")}  # where an ignored "" would put the default one
    before = sorted(tmp_path.iterdir())
    result = run(["--db", path, "add", "muted"], REPLY, cwd=tmp_path, env=home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(b"mailthread: ") and result.stderr.count(b"\n") == 1
    assert b"Traceback" not in result.stderr and result.stdout == b""
    result = run(["--db", path, "match"], REPLY, cwd=tmp_path, env=home)
    assert (result.returncode, result.stdout) == (75, REPLY)
    assert result.stderr.count(b"\n") == 1
    assert sorted(tmp_path.iterdir()) == before


def test_a_folder_every_user_may_write_to_is_refused(tmp_path):
    """Another user could replace the database, or create its -wal file first (the sticky
    bit does not stop that): refused, not warned about, since a warning would go unread in
    procmail's log while the marks are forged."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    db = shared / "threads.db"
    result = run(["add", "muted"], REPLY, db=db)
    assert result.returncode == 2 and b"writable by every user" in result.stderr
    result = run(["match"], REPLY, db=db)
    assert (result.returncode, result.stdout) == (75, REPLY)
    assert not db.exists()


def test_a_link_is_judged_by_what_it_points_to(tmp_path):
    """A database path that is a symbolic link, in a private folder, to a file in a folder
    every user may write to (attack review: accepted, and another user's 0666 file there
    decided the marks): SQLite follows the link and keeps its side files beside the file."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link = private / "threads.db"
    link.symlink_to(shared / "x.db")
    for args, stdin in ((["match"], REPLY), (["list"], b"")):
        result = run(args, stdin, db=link)
        assert "writable by every user" in result.stderr.decode(), (args, result.stderr)
    assert not (shared / "x.db").exists()
    # A link to a database of one's own, in a private folder, is fine.
    own = private / "own.db"
    assert run(["add", "muted"], REPLY, db=own).returncode == 0
    (private / "link.db").symlink_to(own)
    assert run(["list"], db=private / "link.db").returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_another_users_database_is_refused(tmp_path):
    db = tmp_path / "theirs.db"
    assert run(["add", "muted"], REPLY, db=db).returncode == 0
    os.chown(db, 12345, 12345)
    db.chmod(0o666)
    for args, stdin in ((["match"], REPLY), (["list"], b""), (["add", "muted"], REPLY)):
        result = run(args, stdin, db=db)
        assert "belongs to another user" in result.stderr.decode(), (args, result.stderr)
        assert result.returncode == (75 if args == ["match"] else 2)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_side_file_of_another_user_is_refused(tmp_path, side):
    """Re-review: in a folder a group may write to, a member who cannot read the database
    planted a -wal file of their own, and SQLite applied it: their thread decided the
    marks."""
    db = tmp_path / "threads.db"
    assert run(["add", "muted"], REPLY, db=db).returncode == 0
    planted = tmp_path / f"threads.db{side}"
    planted.write_bytes(b"")
    os.chown(planted, 12345, 12345)
    for args, stdin in ((["match"], REPLY), (["list"], b"")):
        result = run(args, stdin, db=db)
        assert "belongs to another user" in result.stderr.decode(), (args, result.stderr)
        assert result.returncode == (75 if args == ["match"] else 2)
