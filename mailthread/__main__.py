"""Entry point of the ``mailthread`` console script and of ``python -m mailthread``.

``match`` runs once per incoming mail, so it is dispatched here before click is imported.
"""

import sys


def main() -> int:
    argv = sys.argv[1:]
    try:
        from mailthread import filter
    except Exception as e:  # MemoryError under RLIMIT_AS, a broken install...
        if "match" in argv:
            return pass_through(f"cannot start: {type(e).__name__}: {e}")
        raise
    if filter.is_match_command(argv):
        return filter.main(argv)
    import _signal  # the C module, loaded by every interpreter

    # Ctrl-C ends a command at once, even while SQLite waits for a lock, where a Python
    # handler would only run once the wait is over: no traceback, the shell sees 130, and
    # SQLite's journal undoes the transaction it cut (tests/test_faults.py kills an import).
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    from mailthread import cli

    return cli.main(argv)


def pass_through(problem: str) -> int:
    """Copy stdin to stdout as it comes, with no more memory than a small buffer; say why on
    stderr; return 75. For ``match`` when its modules cannot even be loaded."""
    import os

    status = 75
    try:
        while chunk := os.read(0, 1 << 16):
            while chunk:
                chunk = chunk[os.write(1, chunk) :]
        problem += "; message passed through unchanged"
    except OSError as e:
        problem += f"; cannot pass the message through: {e.strerror}"
    try:
        os.write(2, f"mailthread: {problem}\n".encode("utf-8", "replace"))
    except OSError:
        pass
    return status


if __name__ == "__main__":
    sys.exit(main())
