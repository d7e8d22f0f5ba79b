"""Every message of ../shared/corpus through `match`: out exactly as it came in, or with
exactly one line inserted at the end of its header."""

import email
import email.policy
import io
import mailbox
from pathlib import Path

import pytest
from conftest import forks_setting

from mailthread import filter
from mailthread.message import Header
from mailthread.store import Store

pytestmark = pytest.mark.corpus

MBOXES = ("ponymail-apache", "perl-mail-box", "patchwork")


def corpus_messages(root: Path):
    """(name, raw bytes) of every message: Maildir files whole, mbox entries with their
    `From ` line, as the mailbox module splits them."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".md"):
            continue
        if path.parent.name in MBOXES:
            box = mailbox.mbox(path, create=False)
            for number, key in enumerate(box.iterkeys(), 1):
                yield f"{path.relative_to(root)} entry {number}", box.get_bytes(key, from_=True)
        else:
            yield str(path.relative_to(root)), path.read_bytes()


def match(raw: bytes, db: Path) -> tuple[int, bytes, str]:
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = filter.run(
        ["match"], io.BytesIO(raw), stdout, stderr, {"MAILTHREAD_DB": str(db), **forks_setting()}
    )
    return status, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def messages(request):
    root = Path(__file__).parent.parent.parent / "shared" / "corpus"
    if not root.is_dir():
        pytest.skip(f"no corpus at {root} (only a developer checkout has ../shared)")
    found = list(corpus_messages(root))
    assert len(found) >= 2600
    return found


def test_unmatched_messages_come_out_byte_identical(messages, tmp_path):
    db = tmp_path / "threads.db"
    store = Store.open(str(db))
    store.add_thread(["not-in-the-corpus@example.com"], "muted", "x")
    store.close()
    for name, raw in messages:
        status, out, err = match(raw, db)
        assert (status, err) == (0, ""), name
        assert out == raw, name


@pytest.mark.follow_forks
def test_matched_messages_differ_by_one_inserted_line(messages, tmp_path):
    db = tmp_path / "threads.db"
    store = Store.open(str(db))
    # Mute the threads of every third message: a real mix of matches and misses.
    for name, raw in messages[::3]:
        ids = Header(raw).ids_nearest_first()
        if ids:
            store.add_thread(ids, "muted", name)
    store.close()
    matched = 0
    for name, raw in messages:
        status, out, err = match(raw, db)
        assert (status, err) == (0, ""), name
        if out == raw:
            continue
        matched += 1
        header = Header(raw)
        eol = b"\r\n" if header.eol == b"\r\n" else b"\n"
        line = b"X-Mailthread: muted"
        assert out == raw[: header.start] + line + eol + raw[header.start :], name
        # A second opinion on where the line went: Python's own parser sees one field.
        parsed = email.message_from_bytes(out, policy=email.policy.compat32)
        assert parsed.get_all("X-Mailthread") == ["muted"], name
    assert matched > len(messages) // 3


def test_every_message_has_ids_except_the_known_ones(messages):
    without = [name for name, raw in messages if not Header(raw).ids_nearest_first()]
    # SOURCES.md: these have no Message-ID, References or In-Reply-To at all.
    assert without == [
        "perl-mail-box/mbox.src entry 9",
        "perl-mail-box/mbox.win entry 9",
        "ponymail-apache/maven-dev-2017-11-listsao.mbox entry 53",
    ]


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "openbmc/cur/012990-14d49177e2d7:2,",
            ["mustafa.shehabi@fii-na.com"],
        ),
        ("openbmc/cur/009006-1005e3002596:2,", None),
        ("openbmc/cur/015635-a2ea07868dae:2,", None),
    ],
)
def test_notable_messages(messages, name, expected):
    raw = dict(messages)[name]
    found = Header(raw).ids_nearest_first()
    assert len(found) == len(set(found)) and found
    if expected is not None:
        assert found[1:] == expected
    assert all("<" not in i and ">" not in i and " " not in i for i in found)
