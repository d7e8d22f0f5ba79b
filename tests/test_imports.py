"""What the per-mail `match` path imports: an exact allowlist, so that a new import on it fails
here, naming the module.

`python -X importtime` lists every module an interpreter imports; what mailthread adds is that
list minus the one of a bare interpreter of the same kind. Two kinds:

- as users run it (the installed launcher, and `python -m mailthread`), minus
  `python -c pass`. In a virtualenv with an editable install, the install's .pth finder
  already imports re, enum, pathlib... at every start, so this alone cannot see them;
- with `python -S` (no site, no .pth files; the package found through PYTHONPATH), minus
  `python -S -c "import site"` (what `site` itself always imports): here re, enum, typing
  and the rest would show.

(tests/test_match.py checks the launcher's match case against a few unneeded modules.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mailthread
from mailthread.store import Store

PACKAGE_PARENT = str(Path(mailthread.__file__).resolve().parent.parent)

# What mailthread's own code imports for `match`, with the stdlib modules those pull in.
ALLOWED = {
    "mailthread",
    "mailthread.__main__",
    "mailthread.filter",
    "mailthread.arguments",
    "mailthread.message",
    "mailthread.dates",
    "mailthread.scan",
    "mailthread.encoded_words",
    "mailthread.subject",
    "mailthread.msgid",
    "mailthread.schema",
    "mailthread.database",
    "mailthread.index",
    "mailthread.linking",
    "mailthread.delivery",
    "__future__",
    "_sqlite3",  # the C module: the only part of sqlite3 the store needs
    "_blake2",  # subject hashes, without hashlib (which loads OpenSSL)
    "binascii",  # Thread-Index
    # what _sqlite3 imports itself (functools, for its statement cache) and what that pulls in
    "collections",
    "_collections",
    "itertools",
    "keyword",
    "operator",
    "_operator",
    "reprlib",
    "functools",
    "_functools",
    "types",
}
REQUIRED = {"mailthread.filter", "mailthread.message", "mailthread.delivery", "_sqlite3"}
# Named, for a clear message; the allowlist already keeps them out.
NEVER = {"click", "sqlite_utils", "mailthread.cli", "mailthread.importer", "email", "re", "enum"}
# The management side of the store: recording, listing and ending threads.
NEVER |= {"mailthread.store", "mailthread.threads"}
NEVER |= {"typing", "hashlib", "json", "argparse", "subprocess", "locale", "mailbox", "pathlib"}
NEVER |= {"sqlite3", "datetime"}  # the sqlite3 package imports datetime for its adapters

MATCHED = (
    b"Message-ID: <reply@example.com>\n"
    b"In-Reply-To: <parent@example.com>\n"
    b"References: <root@example.com> <parent@example.com>\n"
    b"Subject: Re: caf\xc3\xa9\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0100\n"
    b"Thread-Index: AQHZabcdefghijklmnopqrstuvwxyzABCDEFGH==\n"
    b"To: me@example.com\n\nbody\n"
)
# Nothing links it: other ids, subject and Outlook conversation (the index saw MATCHED).
UNKNOWN = (
    MATCHED.replace(b"parent@", b"other@")
    .replace(b"reply@", b"unknown@")
    .replace(b"root@", b"elsewhere@")
    .replace(b"caf\xc3\xa9", b"th\xc3\xa9")
    .replace(b"AQHZabcdef", b"AQHZfedcba")
)
WITHOUT_IDS = b"Subject: hello\nFrom: a@example.com\n\nbody\n"
# An RFC 2047-encoded Subject is decoded by the standard library's decoder (issue 12: the
# one decoder for matching and display), which match loads for such a subject only: the
# email package's header modules and what they import (re, enum, base64, quopri...).
ENCODED = MATCHED.replace(b"Re: caf\xc3\xa9", b"=?utf-8?q?Re=3A_caf=C3?= =?UTF-8?Q?=A9?=")
FOR_ENCODED_WORDS = {"email", "email.header", "email.errors", "email.charset", "email.encoders"}
FOR_ENCODED_WORDS |= {"email.base64mime", "email.quoprimime", "base64", "quopri", "string"}
FOR_ENCODED_WORDS |= {"_string", "struct", "_struct", "re", "re._casefix", "re._compiler"}
FOR_ENCODED_WORDS |= {"re._constants", "re._parser", "_sre", "enum", "copyreg"}
FOR_ENCODED_WORDS |= {"encodings.raw_unicode_escape"}


def imported(args: list[str], stdin: bytes = b"", env=None, site: bool = True) -> set[str]:
    command = [sys.executable, *([] if site else ["-S"]), "-X", "importtime", *args]
    result = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60)
    lines = result.stderr.decode().splitlines()
    problems = [line for line in lines if not line.startswith("import time:")]
    assert result.returncode == 0 and not problems, result.stderr.decode()
    return {line.split("|")[-1].strip() for line in lines[1:]}


@pytest.fixture(scope="module")
def environ(tmp_path_factory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("imports") / "threads.db"
    store = Store.open(str(db))
    store.add_thread(["parent@example.com"], "muted", "café")
    store.close()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILTHREAD_")}
    return {**environ, "MAILTHREAD_DB": str(db), "MAILTHREAD_ME": "me@example.com"}


@pytest.fixture(scope="module")
def baselines(environ) -> dict[tuple[str, bool], set[str]]:
    """What a bare interpreter imports, for a script and for -m, with and without site."""
    found = {}
    for site in (True, False):
        plain = imported(["-c", "pass" if site else "import site"], env=environ, site=site)
        found["launcher", site] = plain
        # -m imports runpy and what it needs before it runs anything of ours.
        found["-m", site] = plain | imported(["-c", "import site, runpy"], env=environ, site=site)
    return found


def launcher() -> str:
    script = shutil.which("mailthread")
    if script is None:
        pytest.fail("the mailthread console script is not installed (pip install -e .)")
    return script


@pytest.mark.parametrize("site", [True, False], ids=["as installed", "without site"])
@pytest.mark.parametrize("how", ["launcher", "-m"])
@pytest.mark.parametrize(
    "stdin, marked",
    [(MATCHED, True), (UNKNOWN, False), (WITHOUT_IDS, False), (ENCODED, True)],
    ids=["match", "no match", "no ids", "encoded subject"],
)
def test_match_imports_only_its_allowlist(environ, baselines, how, site, stdin, marked):
    env = dict(environ)
    if not site:
        env["PYTHONPATH"] = PACKAGE_PARENT
    args = [launcher(), "match"] if how == "launcher" else ["-m", "mailthread", "match"]
    # The same command, without -X importtime, does what it is here for.
    out = subprocess.run(
        [sys.executable, *([] if site else ["-S"]), *args],
        input=stdin,
        capture_output=True,
        env=env,
    )
    assert out.returncode == 0 and out.stderr == b"", out.stderr
    mark = b"X-Mailthread: muted; to-me\n"
    assert out.stdout == (mark + stdin if marked else stdin)

    loaded = imported(args, stdin, env, site) - baselines[how, site]
    allowed, never = ALLOWED, NEVER
    if stdin is ENCODED:
        allowed, never = ALLOWED | FOR_ENCODED_WORDS, NEVER - FOR_ENCODED_WORDS
        assert "email.header" in loaded, "the encoded subject was not decoded by email.header"
    assert not loaded & never, f"match imports {sorted(loaded & never)}"
    assert loaded <= allowed, f"match imports modules not on its allowlist: {loaded - allowed}"
    assert REQUIRED <= loaded, f"not imported (is this the match path?): {REQUIRED - loaded}"


def test_the_allowlist_check_sees_an_import_of_re(environ):
    """Without site, a module the match path does not need shows up: the check has teeth."""
    env = {**environ, "PYTHONPATH": PACKAGE_PARENT}
    bare = imported(["-c", "import site"], env=env, site=False)
    with_re = imported(["-c", "import re, mailthread.filter"], env=env, site=False) - bare
    assert {"re", "enum"} <= with_re - ALLOWED


def test_other_commands_do_load_click(environ):
    assert "click" in imported([launcher(), "list"], env=environ)


@pytest.mark.parametrize(
    "command, stdin, uses",
    [
        (["list"], b"", True),
        (["list", "--csv"], b"", True),
        (["remove", "--thread", "1"], b"", True),
        (["expire", "--dry-run", "--idle", "30d"], b"", True),
        # explain runs once per mail as a procmail condition: its thread details stay on
        # sqlite3, as sqlite-utils' import would cost more than the rest of the command.
        (["explain", "muted"], MATCHED, False),
    ],
    ids=["list", "list --csv", "remove", "expire", "explain"],
)
def test_the_management_commands_use_sqlite_utils_and_explain_does_not(
    environ, tmp_path, command, stdin, uses
):
    db = tmp_path / "threads.db"
    with Store.open(str(db)) as store:
        store.add_thread(["parent@example.com"], "muted", "café")
    loaded = imported([launcher(), *command], stdin, {**environ, "MAILTHREAD_DB": str(db)})
    assert ("sqlite_utils" in loaded) == uses


def test_match_loads_the_rfc_2047_decoder_only_for_a_subject_that_needs_it(environ):
    """A plain ASCII subject and threading fields (most mail) need no decoding: the module
    that decodes encoded words and raw 8-bit text stays unloaded; an 8-bit one loads it."""
    plain = MATCHED.replace(b"caf\xc3\xa9", b"cafe")
    assert "mailthread.encoded_words" not in imported([launcher(), "match"], plain, environ)
    assert "mailthread.encoded_words" in imported([launcher(), "match"], MATCHED, environ)
