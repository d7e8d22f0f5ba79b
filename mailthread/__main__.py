"""Entry point of the ``mailthread`` console script and of ``python -m mailthread``.

``match`` runs once per incoming mail, so it is dispatched here before click is imported.
"""

import os
import sys


def main() -> int:
    argv = sys.argv[1:]
    try:
        from mailthread import arguments, filter
    except Exception as e:  # MemoryError under RLIMIT_AS, a broken install...
        if "match" in argv:
            return pass_through(f"cannot start: {type(e).__name__}: {e}")
        raise
    if arguments.is_match_command(argv):
        status = filter.main(argv)
        # The message is written and both streams flushed (filter.main sees to it), its
        # delivery committed: all the interpreter's shutdown would add is freeing memory
        # and closing the database, which would checkpoint and delete the WAL that match
        # leaves for the next mail (database.bound_wal). End here instead.
        os._exit(status)
    stop_on_interrupt()
    from mailthread import cli

    return cli.main(argv)


def stop_on_interrupt() -> None:
    """Let Ctrl-C (SIGINT) end the command at once, with one line on stderr and the death
    by SIGINT a shell expects (status 130), even while SQLite waits for a lock, where a
    Python handler would only run once the wait is over. SQLite's journal undoes the
    transaction it cut (tests/test_faults.py).

    SIGINT is blocked in this thread and awaited (sigwait(2)) in a second one, which says
    so and then lets the signal's default action end the process. mailthread starts no
    child processes, which would inherit the blocked signal."""
    import _signal  # the C modules, loaded by every interpreter
    import _thread

    line = b"mailthread: stopped by SIGINT (Ctrl-C); an unfinished database change is undone\n"

    def stop() -> None:
        _signal.sigwait({_signal.SIGINT})
        try:
            # On a terminal, after "^C" (or a progress bar), on a line of its own.
            os.write(2, b"\n" + line if os.isatty(2) else line)
        except OSError:
            pass
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGINT})
        os.kill(os.getpid(), _signal.SIGINT)

    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
    _thread.start_new_thread(stop, ())


def pass_through(problem: str) -> int:
    """Copy stdin to stdout as it comes, with no more memory than a small buffer; say why on
    stderr; return 75. For ``match`` when its modules cannot even be loaded."""
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
