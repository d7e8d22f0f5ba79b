"""Load: many real procmail deliveries through contrib/procmailrc.example at once, while
`add` and `remove` run from other processes, lose, duplicate or alter no message and no
recorded thread.

tests/test_concurrency.py already races `match` and `add` processes on one database; this
test adds what a mailbox sees: the real procmail and its rcfile, Maildir folders, messages of
several shapes (CRLF and 8-bit bodies, body lines that look like headers), `remove` among
the writers, and `list --json` as the record of what the writers were told.

By default 200 messages, 24 procmail processes at a time (about 15 s on 2 cores).
MAILTHREAD_LONG_TESTS=1 delivers 2000, 48 at a time.
"""

import json
import os
import re
import sqlite3
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import message, raw

pytestmark = pytest.mark.e2e

LONG = os.environ.get("MAILTHREAD_LONG_TESTS") == "1"
MESSAGES = 2000 if LONG else 200
AT_ONCE = 48 if LONG else 24
MUTED_THREADS = 8
WATCHED_THREADS = 4
ADDED = re.compile(rb"^(\w+): thread (\d+) ", re.M)
REMOVED = re.compile(rb"^removed thread (\d+) ", re.M)

LATIN1 = b"Caf\xe9 cr\xe8me, na\xefve \xbfs\xed?\n"
UTF8 = "Grüße aus Zürich, 東京\n".encode()
MIME = (
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="b1"\n'
    b"Content-Transfer-Encoding: 8bit\n"
)


def root_id(list_name: str, k: int) -> str:
    return f"{list_name}-root-{k}@lists.example.org"


def root_subject(list_name: str, k: int) -> str:
    return f"[dev] {list_name} topic {k}: build broken on arm64"


def reply_to(list_name: str, k: int, i: int, body: bytes, extra: bytes = b""):
    parent = root_id(list_name, k)
    return message(
        f"reply-{i}@mail.example.net",
        subject=f"Re: {root_subject(list_name, k)}",
        in_reply_to=parent,
        references=(parent,),
        body=body,
        extra=extra,
    )


def load_message(i: int) -> tuple[bytes, str]:
    """Message ``i`` of the run, and where its thread was recorded before the run ("muted",
    "watched", or "" for none)."""
    k = i // 8
    shape = i % 8
    if shape == 0:  # a plain reply to a muted thread
        msg = reply_to("muted", k % MUTED_THREADS, i, b"Same here.\n> quoted\n")
        return raw(msg), "muted"
    if shape == 1:  # a reply to a watched thread: 8-bit body, a body line "From "
        body = b"Hello,\n" + LATIN1 + b"From the logs:\n" + UTF8 + b"\xff\xfe\x00 binary\n"
        return raw(reply_to("watched", k % WATCHED_THREADS, i, body)), "watched"
    if shape == 2:  # a new conversation, CRLF body
        body = b"Line one\r\nLine two\r\n\r\n-- \r\nSig\r\n"
        return raw(message(f"new-{i}@example.com", subject=f"Lunch {i}?", body=body)), ""
    if shape == 3:  # a reply deep in a muted thread: folded References, unknown parent
        parent = root_id("muted", k % MUTED_THREADS)
        refs = f"<{parent}>\n\t<x{i}a@example.com>\n\t<x{i}b@example.com>".encode()
        head, body = message(
            f"deep-{i}@example.com",
            subject=f"Re: Re: {root_subject('muted', k % MUTED_THREADS)}",
            in_reply_to=f"x{i}b@example.com",
            extra=b"References: " + refs + b"\n",
            body=b"Agreed.\r\n" + LATIN1.replace(b"\n", b"\r\n"),
        )
        return raw((head, body)), "muted"
    if shape == 4:  # unrelated, though its body quotes a muted thread's headers
        muted = root_id("muted", k % MUTED_THREADS)
        body = (
            b"--b1\nContent-Type: text/plain\n\nSee attached.\n"
            b"--b1\nContent-Type: message/rfc822\n\n"
            + f"Message-ID: <{muted}>\nIn-Reply-To: <{muted}>\n".encode()
            + b"X-Mailthread: muted\n\nold text\n--b1--\n"
        )
        msg = message(
            f"fwd-{i}@example.com",
            subject=f"Re: unrelated question {i}",
            in_reply_to=f"elsewhere-{i}@example.com",
            extra=MIME,
            body=body,
        )
        return raw(msg), ""
    if shape == 5:  # a reply to a watched thread with a big CRLF body
        body = b"".join(b"%05d " % n + b"x" * 60 + b"\r\n" for n in range(1000))
        return raw(reply_to("watched", k % WATCHED_THREADS, i, body)), "watched"
    if shape == 6:  # no Message-ID at all
        return raw(message(None, subject=f"Cron report {i}", body=UTF8)), ""
    # A reply to a muted thread with only In-Reply-To, as some mailers write it.
    parent = root_id("muted", k % MUTED_THREADS)
    msg = message(
        f"irt-{i}@example.com",
        subject=f"Re: {root_subject('muted', k % MUTED_THREADS)}",
        in_reply_to=parent,
        body=b"+1\n",
    )
    return raw(msg), "muted"


def key_of(content: bytes) -> bytes:
    """What tells the messages of the run apart: the Message-ID in the header, else the
    Subject (unique among messages without one)."""
    head = content[: content.index(b"\n\n")]
    found = re.search(rb"^Message-ID: (.*)$", head, re.M) or re.search(
        rb"^Subject: (.*)$", head, re.M
    )
    return found.group(1)


class Writers:
    """`add` and `remove` in loops from other processes while mail is delivered; what each
    reported is kept to check against `list --json` afterwards."""

    def __init__(self, env) -> None:
        self.env = env
        # Message-ID -> (thread, list), as `add` reported it. Keyed by id, not by thread:
        # `remove` frees a thread's number, and the next `add` may take it again.
        self.kept: dict[str, tuple[int, str]] = {}
        self.removed: list[str] = []
        self.errors: list[str] = []
        self.delivered = threading.Event()

    def call(self, args: list[str], msg: bytes) -> bytes:
        result = subprocess.run(
            [self.env.mailthread, *args],
            input=msg,
            capture_output=True,
            env=self.env.environ(),
            timeout=60,
        )
        if result.returncode != 0:
            self.errors.append(f"{args}: {result.returncode} {result.stderr!r}")
        return result.stdout

    def loop(self, name: str, list_name: str, remove: bool) -> None:
        n = 0
        while not self.delivered.is_set() or n < 3:
            msgid = f"{name}-{n}@writer.example.com"
            msg = message(
                msgid, subject=f"{name} thread {n}", references=(f"{name}-{n}-root@x.example",)
            )
            found = ADDED.search(self.call(["add", list_name], raw(msg)))
            if found is None or found.group(1).decode() != list_name:
                self.errors.append(f"add {msgid}: {found}")
            elif not remove:
                self.kept[msgid] = (int(found.group(2)), list_name)
            else:
                gone = REMOVED.search(self.call(["remove", "--message-id", msgid], b""))
                if gone is None or gone.group(1) != found.group(2):
                    self.errors.append(f"remove {msgid}: not thread {found.group(2)}: {gone}")
                self.removed.append(msgid)
            n += 1


def placed(env) -> dict[bytes, list[tuple[str, bytes]]]:
    """Every delivered file, by ``key_of`` its message: [(folder/sub, content)]."""
    found: dict[bytes, list[tuple[str, bytes]]] = {}
    for folder in ("inbox", "muted", "watched"):
        for sub in ("new", "cur", "tmp"):
            for path in env.maildir(folder, sub):
                where = f"{folder}/{sub}"
                if sub == "cur":
                    assert path.name.endswith(":2,S"), path  # filed as read
                content = path.read_bytes()
                found.setdefault(key_of(content), []).append((where, content))
    return found


def expected_places(msg: bytes, list_name: str) -> list[tuple[str, bytes]]:
    """Where contrib/procmailrc.example files a message, and its bytes there: muted into
    muted/cur (as read), watched into watched/new and the inbox, the rest into the inbox;
    marked ones with the one line `match` inserts first in the header."""
    if not list_name:
        return [("inbox/new", msg)]
    marked = f"X-Mailthread: {list_name}\n".encode() + msg
    if list_name == "muted":
        return [("muted/cur", marked)]
    return sorted([("inbox/new", marked), ("watched/new", marked)])


def test_parallel_deliveries_and_writers_lose_nothing(env):
    for k in range(MUTED_THREADS):
        env.add("muted", raw(message(root_id("muted", k), subject=root_subject("muted", k))))
    for k in range(WATCHED_THREADS):
        msg = message(root_id("watched", k), subject=root_subject("watched", k))
        env.add("watched", raw(msg))
    before = {t["id"]: t["list"] for t in list_json(env)}
    mail = [load_message(i) for i in range(MESSAGES)]

    writers = Writers(env)
    loops = [
        threading.Thread(target=writers.loop, args=("mute", "muted", False)),
        threading.Thread(target=writers.loop, args=("watch", "watched", False)),
        threading.Thread(target=writers.loop, args=("undo", "muted", True)),
    ]
    for loop in loops:
        loop.start()
    try:
        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            list(pool.map(lambda item: env.deliver(item[0]), mail))
    finally:
        writers.delivered.set()
        for loop in loops:
            loop.join()
    assert writers.errors == []
    log = env.procmail_log()
    assert "mailthread:" not in log, log  # no match failed and let a message pass unmarked

    # Every message exactly where the rcfile files it, byte for byte but the one line.
    found = placed(env)
    wrong = []
    for msg, list_name in mail:
        key = key_of(msg)
        got = sorted(found.pop(key, []))
        if got != expected_places(msg, list_name):
            wrong.append((key, list_name, [where for where, _ in got]))
    assert wrong == [], f"{len(wrong)} misplaced or altered, e.g. {wrong[:5]}"
    assert found == {}, f"unexpected files: {list(found)[:5]}"

    conn = sqlite3.connect(env.db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    # What match learned: each marked reply's own id joined its thread, each match counted.
    thread_of = dict(conn.execute("SELECT msgid, thread FROM ids"))
    hits = dict(conn.execute("SELECT id, hits FROM threads"))
    replies = Counter()
    for msg, list_name in mail:
        if list_name:
            own = re.search(rb"^Message-ID: <([^>]+)>", msg, re.M).group(1).decode()
            parent = re.search(rb"<([^>]*-root-\d+@lists\.example\.org)>", msg).group(1)
            root = thread_of[parent.decode()]
            assert thread_of.get(own) == root, own
            replies[root] += 1
    assert {thread: hits[thread] for thread in replies} == dict(replies)
    conn.close()

    # Every thread recorded before or during the run is listed, on its list; only those
    # the writers removed are gone.
    listed = {t["id"]: t["list"] for t in list_json(env)}
    assert listed == {**before, **dict(writers.kept.values())}
    kept = writers.kept
    assert {msgid: thread_of.get(msgid) for msgid in kept} == {m: t for m, (t, _) in kept.items()}
    assert writers.removed and not set(writers.removed) & set(thread_of)


def list_json(env) -> list[dict]:
    result = subprocess.run(
        [env.mailthread, "list", "--json"],
        capture_output=True,
        env=env.environ(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
