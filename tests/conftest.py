import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
CORPUS = HERE.parent.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI") == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failed one: CI must run the corpus and the
    end-to-end tests with the real procmail, mutt and tmux, not skip them."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS} (only a developer checkout has ../shared)")
    return CORPUS


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "data" / "threads.db"


def mailthread_command() -> list[str]:
    """The installed console script, as users run it."""
    script = shutil.which("mailthread")
    if script is None:
        pytest.fail("the mailthread console script is not installed (pip install -e .)")
    return [script]


def run(args, stdin: bytes = b"", db=None, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed ``mailthread`` with ``args``; ``db`` goes in $MAILTHREAD_DB."""
    environ = dict(os.environ)
    environ.pop("MAILTHREAD_DB", None)
    if db is not None:
        environ["MAILTHREAD_DB"] = str(db)
    environ.update(env or {})
    return subprocess.run(
        [*mailthread_command(), *map(str, args)],
        input=stdin,
        capture_output=True,
        env=environ,
        timeout=60,
        **kwargs,
    )


def message(
    msgid=None,
    in_reply_to=None,
    references=(),
    subject="test",
    body=b"body\n",
    extra=b"",
    eol=b"\n",
) -> bytes:
    lines = [b"From: a@example.com", f"Subject: {subject}".encode()]
    if msgid:
        lines.append(f"Message-ID: <{msgid}>".encode())
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>".encode())
    if references:
        lines.append(b"References: " + b" ".join(f"<{r}>".encode() for r in references))
    head = eol.join(lines) + eol + extra
    return head + eol + body.replace(b"\n", eol)


def drain_terminal(leader: int) -> bytes:
    """Everything written to a pseudo-terminal, read from its ``leader`` side until the
    other side is closed and drained (Linux then says EIO)."""
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    return shown


def marked(raw: bytes, line: bytes = b"X-Mailthread: muted") -> bytes:
    """``raw`` as `match` writes it when it marks it: ``line`` first in the header, after an
    mbox postmark, ending as the message's first line ends."""
    start = raw.index(b"\n") + 1 if raw.startswith(b"From ") else 0
    newline = raw.find(b"\n", start)
    eol = b"\r\n" if newline > 0 and raw[newline - 1 : newline] == b"\r" else b"\n"
    return raw[:start] + line + eol + raw[start:]


sys.path.insert(0, str(HERE))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "follow_forks: the test's premise is a reply under another subject than its thread's"
        " (its purpose is not forks): run it with $MAILTHREAD_FOLLOW_FORKS=1 (issue 13)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # A hook, not a fixture: hypothesis refuses function-scoped fixtures.
    marked = item.get_closest_marker("follow_forks") is not None
    if marked:
        os.environ["MAILTHREAD_FOLLOW_FORKS"] = "1"
    try:
        yield
    finally:
        if marked:
            os.environ.pop("MAILTHREAD_FOLLOW_FORKS", None)


def forks_setting() -> dict[str, str]:
    """$MAILTHREAD_FOLLOW_FORKS as a test marked follow_forks sets it, for the tests that
    run ``filter.run`` in-process with an environment of their own."""
    value = os.environ.get("MAILTHREAD_FOLLOW_FORKS")
    return {} if value is None else {"MAILTHREAD_FOLLOW_FORKS": value}
