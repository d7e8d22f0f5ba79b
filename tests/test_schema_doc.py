"""docs/schema.md, the database as a public interface: every table and column of a database
mailthread made is documented there (and nothing that is not in it), with the schema version;
and its sqlite-utils examples run, as written, against such a database and say what it says."""

import re
import shutil
import sqlite3
import subprocess

import pytest
from conftest import HERE, run

from mailthread.schema import SCHEMA_VERSION

DOC = (HERE.parent / "docs" / "schema.md").read_text()


def made_database(db):
    """A database with a muted thread that matched twice (an id learned by In-Reply-To),
    a watched one, and an imported refs file."""
    parent = b"Message-ID: <p@x>\nSubject: Plans\n\nx\n"
    assert run(["add", "muted"], parent, db=db).returncode == 0
    for n in (1, 2):
        reply = f"Message-ID: <r{n}@x>\nIn-Reply-To: <p@x>\nSubject: Re: Plans\n\nx\n"
        assert run(["match"], reply.encode(), db=db).stdout.startswith(b"X-Mailthread: muted")
    assert run(["add", "watched"], b"Message-ID: <w@x>\nSubject: W\n\nx\n", db=db).returncode == 0
    refs = db.parent / "old.refs"
    refs.write_bytes(b"<i1@x> <i2@x>\n")
    assert run(["add", "muted", "--refs-file", refs], db=db).returncode == 0
    return db


def test_every_table_and_column_is_documented(db):
    conn = sqlite3.connect(made_database(db))
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    documented = re.findall(r"^## `(\w+)`", DOC, re.M)
    assert sorted(tables) == sorted(documented)
    for table in tables:
        section = DOC.split(f"## `{table}`", 1)[1].split("\n## ", 1)[0]
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        rows = re.findall(r"^\| `(\w+)` \|", section, re.M)
        if rows or table in ("threads", "ids", "seen"):
            assert rows == columns, (table, rows, columns)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert f"(`PRAGMA user_version` is the schema version, now {SCHEMA_VERSION})" in DOC


def doc_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC, re.S)
    return [
        line for block in blocks for line in block.splitlines() if line.startswith("sqlite-utils ")
    ]


def test_the_sqlite_utils_examples_run_as_written(db):
    if shutil.which("sqlite-utils") is None:
        pytest.fail("sqlite-utils is installed with mailthread: its command should be on PATH")
    made_database(db)
    commands = doc_commands()
    assert len(commands) == 3, commands
    outputs = []
    path = shutil.which("sqlite-utils").rsplit("/", 1)[0] + ":/usr/bin:/bin"
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], env={"DB": str(db), "PATH": path},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    lists, noisiest, joined = outputs
    assert re.search(r"^muted\s+2\s+2$", lists, re.M) and re.search(
        r"^watched\s+1\s+0$", lists, re.M
    ), lists
    assert re.search(r"^\s*1\s+2\s+\S+\s+Plans$", noisiest, re.M), noisiest
    assert joined.splitlines()[0] == "how,ids"
    assert sorted(joined.splitlines()[1:]) == ["add,2", "import,2", "match,2"], joined
