"""A newcomer's first hour (issue 14): what the commands say, in words that fit the case."""

from conftest import run


def test_a_refs_file_with_stray_lines_imports_the_rest_and_names_them(db, tmp_path):
    refs = tmp_path / "muted.refs"
    refs.write_bytes(b"# my muted threads\n<a@x> <b@x> \nb@x c@x\n<yes>\n<d@x> \n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out == (
        "read 5 lines: 2 threads added, 0 merged, 0 already stored, 3 skipped"
        f" ({refs} lines 1, 3, 4: no message id)\n"
    )
    assert "b'" not in out


def test_counts_are_in_the_singular_for_one(db, tmp_path):
    refs = tmp_path / "one.refs"
    refs.write_bytes(b"<a@x> \n")
    result = run(["add", "muted", "--refs-file", refs], db=db)
    assert result.stdout.decode() == "read 1 line: 1 thread added, 0 merged, 0 already stored\n"
    mbox = tmp_path / "one.mbox"
    mbox.write_bytes(b"From x Sun Mar  1 10:00:00 2026\nMessage-ID: <m@x>\n\nhi\n")
    result = run(["add", "muted", "--mailbox", mbox], db=db)
    assert result.stdout.decode().startswith("read 1 message from 1 mailbox: 1 thread added,")
    reply = b"References: <m@x> <n@x>\nIn-Reply-To: <n@x>\n\nx\n"
    explained = run(["explain"], reply, db=db).stdout.decode()
    assert "(1 nearer one is not)" in explained, explained
