"""Recall and false positives on real list traffic, with bench/replay.py (the benchmark the
README's table comes from) on two corpus mailboxes, through the installed console script:
open-iscsi (Google Groups: patch series, Gnus comments, a Thunderbird user who strips
threading headers, Outlook replies) and httpd-users-2020-07 (Outlook replies with only a
Thread-Index or a subject, clock skew). The whole corpus runs with `python3 bench/replay.py`.
"""

import sys

import pytest
from conftest import HERE

sys.path.insert(0, str(HERE.parent / "bench"))
import replay  # noqa: E402

MAILBOXES = ("open-iscsi", "ponymail-apache/httpd-users-2020-07.mbox")


@pytest.mark.parametrize("protocol", ["first", "third"])
@pytest.mark.parametrize("mailbox", MAILBOXES)
def test_later_messages_of_muted_conversations_are_caught(corpus, tmp_path, mailbox, protocol):
    counts = replay.replay_mailbox(str(corpus / mailbox), "mailthread", protocol, str(tmp_path))
    assert counts.muted >= 9 and counts.later >= 15 and counts.other >= 60
    assert counts.failures == counts.tempfails == 0, counts.problems
    assert counts.false_positives == 0, counts.false_positive_list
    assert counts.caught / counts.later >= 0.98, counts.misses
