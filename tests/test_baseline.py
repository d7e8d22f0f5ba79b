"""Differential test against the shell filter mailthread replaces
(../shared/baseline/match-thread.sh), on real messages, header only as procmail's `h` gives.

Where both flag a message the bytes must be identical: mailthread puts its line where
`formail -i` does. Where only mailthread flags one, the reason must be one of the baseline's
documented defects (it ignores In-Reply-To and never learns) or a link only mailthread makes
(its message index, Outlook's Thread-Index, a reply's subject). The baseline must never flag
one alone."""

import os
import random
import shutil
import subprocess

import pytest
from conftest import CORPUS, mailthread_command, marked
from test_corpus import corpus_messages

from mailthread.message import Header
from mailthread.msgid import is_msgid
from mailthread.store import Store

BASELINE = CORPUS.parent / "baseline" / "match-thread.sh"
HEADER = "Procmail-Muted: true"  # what the old scripts insert


def test_same_bytes_as_the_baseline_where_both_flag(tmp_path):
    if not BASELINE.exists():
        pytest.skip(f"no baseline at {BASELINE} (only a developer checkout has ../shared)")
    if shutil.which("formail") is None:
        pytest.skip("the baseline needs formail: apt-get install procmail")
    messages = list(corpus_messages(CORPUS))
    sample = random.Random(3).sample(messages, 120)
    # Store the ancestors (not the own ids) of every other sampled message in both tools.
    threads = [Header(raw).ids_nearest_first()[1:] for _, raw in sample[::2]]
    threads = [ids for ids in threads if ids]
    refs = tmp_path / "refs.muted"
    refs.write_text("".join("".join(f"<{i}> " for i in ids) + "\n" for ids in threads))
    db = tmp_path / "threads.db"
    store = Store.open(str(db))
    for ids in threads:
        store.add_thread(ids, "muted", None)
    store.close()
    env = {**os.environ, "MAILTHREAD_DB": str(db)}

    stored = {i for ids in threads for i in ids}
    learned: set[str] = set()  # own ids of messages mailthread flagged (the baseline never learns)
    both = 0
    for name, raw in sample:
        header = Header(raw)
        head = raw[: header.end + 1] if header.end < len(raw) else raw
        theirs = subprocess.run(
            ["bash", str(BASELINE), str(refs), HEADER], input=head, capture_output=True
        ).stdout
        if not head.startswith(b"From ") and theirs.startswith(b"From "):
            theirs = theirs.split(b"\n", 1)[1]  # formail -i invents a `From ` line; we never do
        rule = None
        if theirs == head:  # why would mailthread flag it? Ask before match learns from it.
            explained = subprocess.run(
                [*mailthread_command(), "explain"], input=head, capture_output=True, env=env
            ).stdout.decode()
            rule = explained.split("> (", 1)[1].split(")", 1)[0] if "> (" in explained else None
        ours = subprocess.run(
            [*mailthread_command(), "match", "--header", HEADER],
            input=head,
            capture_output=True,
            env=env,
        ).stdout
        # ...but where only a token that is no message id (<yes>) links it (issue 13).
        garbage = {i for i in stored & set(header.ids_nearest_first()) if not is_msgid(i)}
        linked = stored & {i for i in header.ids_nearest_first() if is_msgid(i)}
        assert theirs == head or ours != head or (garbage and not linked), name
        if theirs != head and ours != head:
            both += 1
            # The same one line, first in the header for mailthread, last for formail -A.
            eol = b"\r\n" if header.eol == b"\r\n" else b"\n"
            line = HEADER.encode() + eol
            assert ours == marked(head, HEADER.encode()), name
            assert theirs == head[: header.end] + line + head[header.end :], name
        own, parents, references = header.threading_ids()
        if theirs == head and ours != head:
            # The baseline missed it: the id that caught it is an In-Reply-To, or learned, or
            # a link the baseline cannot make.
            assert rule in ("id", "index", "thread-index", "subject"), (name, rule)
            if rule == "id":
                assert not stored & set(own + references), name
                assert (stored & set(parents)) or (learned & set(own + parents + references)), name
        if ours != head and own:
            learned.add(own[0])
    assert both >= 40
