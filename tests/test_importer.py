"""Grouping into conversations, mailbox detection and refs files, without the CLI."""

import mailbox

import pytest

from mailthread.importer import Conversations, SourceError, mailbox_kind, refs_file_lines


def groups(conversations):
    return sorted(sorted(ids) for ids, _ in conversations.threads())


def test_messages_linked_transitively_form_one_conversation():
    c = Conversations()
    c.add(["b@x", "a@x"], "Re: A")
    c.add(["z@x"], "Z")
    c.add(["d@x", "c@x"], "Re: C")
    assert groups(c) == [["a@x", "b@x"], ["c@x", "d@x"], ["z@x"]]
    c.add(["e@x", "b@x", "c@x"], "Re: both")  # a reply that names both: they join
    assert groups(c) == [["a@x", "b@x", "c@x", "d@x", "e@x"], ["z@x"]]


def test_conversation_subject_is_its_starters():
    c = Conversations()
    c.add(["r2@x", "r1@x", "root@x"], "Re: Re: Plans")
    c.add(["r1@x", "root@x"], "Re: Plans")
    c.add(["root@x"], "Plans")
    c.add(["other@x"], None)
    assert [subject for _, subject in c.threads()] == ["Plans", None]


def test_repeated_ids_are_kept_once():
    c = Conversations()
    c.add(["a@x", "a@x", "b@x"])
    c.add(["b@x", "a@x"])
    assert c.threads() == [(["a@x", "b@x"], None)]


def test_mailbox_kinds(tmp_path):
    (tmp_path / "md" / "cur").mkdir(parents=True)
    mailbox.MH(tmp_path / "mh").add(b"Message-ID: <a@x>\n\nhi\n")
    (tmp_path / "box").write_bytes(b"From a@x Mon Jan  1 00:00:00 2024\nMessage-ID: <a@x>\n\n")
    (tmp_path / "empty").write_bytes(b"")
    assert mailbox_kind(str(tmp_path / "md")) == "maildir"
    assert mailbox_kind(str(tmp_path / "mh")) == "mh"
    assert mailbox_kind(str(tmp_path / "box")) == "mbox"
    assert mailbox_kind(str(tmp_path / "empty")) == "mbox"


def test_what_is_not_a_mailbox(tmp_path):
    (tmp_path / "photos" / "2024").mkdir(parents=True)  # a numbered folder is not an MH message
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(SourceError, match="photos is not a mailbox"):
        mailbox_kind(str(tmp_path / "photos"))
    with pytest.raises(SourceError, match="notes.txt is not a mailbox"):
        mailbox_kind(str(tmp_path / "notes.txt"))
    with pytest.raises(SourceError, match="cannot read .*missing"):
        mailbox_kind(str(tmp_path / "missing"))


def test_refs_file_lines(tmp_path):
    refs = tmp_path / "refs"
    refs.write_bytes(b"<a@x> <b@x> \n\n   \n<c@x> (old comment) <d@x>\n")
    assert refs_file_lines(str(refs))[:2] == ([["a@x", "b@x"], ["c@x", "d@x"]], [])
    # Issue 14: a line with no message id is skipped and its number kept, not fatal.
    refs.write_bytes(b"# muted threads\n<a@x> \njust words\n<yes> <1234>\n\n<b@x>\n")
    assert refs_file_lines(str(refs))[:2] == ([["a@x"], ["b@x"]], [1, 3, 4])
