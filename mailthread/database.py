"""Opening the store, its path rules, locking and transactions; ``StoreError``.

On the per-mail ``match`` path: SQLite's C module only (``_sqlite3``). sqlite-utils, for the
management commands, is imported in ``Database.tables`` when they call it: importing it
alone would cost ``match`` several times a bare interpreter's start.

procmail runs deliveries in parallel while mutt may run ``add``: the file is in WAL mode
(readers never wait for a writer), every write is one ``BEGIN IMMEDIATE`` transaction (it
takes the write lock up front, so the busy timeout applies instead of a deadlock error), and
the busy timeout is long enough that writers queue rather than fail. A lookup reads in one
transaction, so it sees one snapshot even while a delivery renumbers a conversation, and
``match`` looks up and records in one write transaction (``Database.transaction``). ``expire``
works in short batches, so deliveries never wait behind it for more than one batch.
"""

import os

try:
    # The C module itself: the sqlite3 package around it also imports datetime to register
    # date adapters this store never uses: about 3 ms of the per-mail cost.
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - an interpreter without it
    import sqlite3

from mailthread.schema import MIGRATIONS, SCHEMA_VERSION

# How long a command waits for another holding the database (seconds; SQLite's busy
# timeout). Below the shortest time limit an MDA of contrib/ puts on a filter, Dovecot's
# sieve_filter_exec_timeout of 10 s (Pigeonhole's extprograms), with room for the start and
# the work: when Dovecot kills a filter it delivers nothing. README, The database.
DEFAULT_TIMEOUT = 5.0
# match leaves the WAL (the write-ahead log) for the next mail instead of checkpointing and
# deleting it at every close, and checkpoints it into the database and empties it once it
# holds more than WAL_LIMIT bytes (``bound_wal``).
WAL_LIMIT = 256 << 10
# Below this much free space, a failure to write is told with the free space beside it.
_LOW_SPACE = 1 << 20
_WRITE_ERRORS = ("SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
# SQLite builds before 3.32 allow only 999 bound parameters in one statement.
_CHUNK = 500
# Threads scanned (and at most deleted) by one write transaction of `expire`, and index
# entries deleted by one: a few milliseconds of the write lock each.
EXPIRE_BATCH = 2000


class StoreError(Exception):
    """The database cannot be used: missing folder, locked too long, corrupt, read-only..."""


class PathError(StoreError):
    """The database's path is not one to use: not a file path, relative where it must not
    be, in a folder every user may write to, or no home folder to put it in."""


def default_path(environ) -> str:
    """``$MAILTHREAD_DB``, else ``$XDG_DATA_HOME/mailthread/threads.db``, else under
    ``~/.local/share`` (the XDG base directory spec ignores a relative XDG_DATA_HOME).

    PathError when ``$MAILTHREAD_DB`` is relative: an MDA, mutt and cron each run in
    another working folder (procmail's is ``$MAILDIR``), so each would use another file.
    PathError when there is no home folder to put it in: ``$HOME`` empty or relative, or
    unset with no passwd entry (``~`` would otherwise become a folder named ``~`` in the
    working folder)."""
    if environ.get("MAILTHREAD_DB"):
        path = environ["MAILTHREAD_DB"]
        if path == "~" or path.startswith("~/"):
            path = _home(environ) + path[1:]
        else:
            path = os.path.expanduser(path)  # ~user/...
        if not os.path.isabs(path):
            raise PathError(f"MAILTHREAD_DB must be an absolute path, not {path!r}")
        return path  # absolute: neither "", ":memory:" nor a "file:" URI (check_path)
    data_home = environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(_home(environ), ".local", "share")
    return os.path.join(data_home, "mailthread", "threads.db")


def _home(environ) -> str:
    home = environ.get("HOME")
    if home is None:
        import pwd  # built in; only without $HOME

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
    if not os.path.isabs(home):
        raise PathError("no home folder: set HOME, or MAILTHREAD_DB to the database's path")
    return home


def check_path(path: str) -> str:
    """``path`` if SQLite would take it for a file's name; PathError for ``""`` and
    ``:memory:`` (a database that is gone at exit) and ``file:`` URIs."""
    if path in ("", ":memory:") or path.startswith("file:"):
        raise PathError(f"{path!r} is not a database file's path")
    return path


def _private_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents, each 0700 whatever the umask (``os.makedirs``
    applies its mode to the last one only, and through the umask). Folders that exist are
    left as they are."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # another process made it meanwhile
        os.chmod(folder, 0o700)


def _check_folder(path: str) -> None:
    """PathError when the database is not a regular file (a folder, /dev/null, a FIFO), is
    another user's, or when its folder is writable by every user: anyone could put another
    database, or ``-wal`` file, in its place (even with the sticky bit: the side files' names
    are free). A symbolic link is judged by what it points to, as SQLite follows it and
    keeps its side files beside the file it points to."""
    import stat

    path = os.path.realpath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(info.st_mode):
            raise PathError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise PathError(f"{path} belongs to another user: use a database of your own")
    for side in (f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        # SQLite applies a log it finds beside the file: one planted by another user (in a
        # folder others may write to, e.g. a shared group's) would decide the marks.
        try:
            if os.stat(side).st_uid != os.geteuid():
                raise PathError(f"{side} belongs to another user: remove it")
        except FileNotFoundError:
            pass
    folder = os.path.dirname(path) or "."
    if os.stat(folder).st_mode & stat.S_IWOTH:
        raise PathError(
            f"the database's folder {folder} is writable by every user: use a private folder"
        )


def chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def qmarks(n: int) -> str:
    return ",".join("?" * n)


class Database:
    """A connection to the store; each part of it (``index.MessageIndex``,
    ``linking.Linking``, ``delivery.Matcher``, ``threads.Threads``, ``store.Store``) adds
    what it reads and writes on top."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str, timeout: float = DEFAULT_TIMEOUT, durable: bool = True) -> "Database":
        """Open the store, creating it (and its folder, private to the owner) on first use.
        Not ``durable`` (``match``): a commit does not wait for the disk, so a power cut may
        undo the commits since the last checkpoint (``bound_wal``: past ``WAL_LIMIT`` bytes
        of WAL, or a durable commit of another command); the database stays consistent."""
        check_path(path)
        try:
            exists = os.path.exists(path)
            if not exists:
                _private_folders(os.path.dirname(path))
            _check_folder(path)
            if not exists:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except OSError as e:
            raise StoreError(f"cannot create database {path}: {e.strerror}") from None
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {path}: {e}") from None
        store = cls(conn, path)
        with store._errors():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                store._migrate(version, timeout)
            if not durable:
                conn.execute("PRAGMA synchronous=NORMAL")
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close()

    def _errors(self):
        return _ErrorsAsStoreError(self)

    def _migrate(self, version: int, timeout: float) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this "
                f"mailthread knows ({SCHEMA_VERSION}): upgrade mailthread"
            )
        conn = self.conn
        # journal_mode cannot change inside a transaction; it is stored in the file.
        self._wal(timeout)
        with self._transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:
                raise StoreError(f"{self.path} is an SQLite database, but not mailthread's")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def _wal(self, timeout: float) -> None:
        """Put the file in WAL mode. While another process holds the write lock on a file
        still in rollback mode (two first uses at once), SQLite refuses the switch at once,
        without the busy timeout: wait here instead, as long as the timeout allows."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _transaction(self):
        return _Transaction(self.conn)

    def _snapshot(self):
        return _Transaction(self.conn, "DEFERRED")

    def tables(self):
        """sqlite-utils' ``Database`` on this connection, for the management commands
        (imported here: never on the match path), with neither its plugins nor its
        recursive-triggers pragma. Its writes join a transaction the store has open:
        sqlite-utils 4 writes in a savepoint there (3.x committed it: hence >=4.0)."""
        import sqlite_utils

        if not hasattr(sqlite_utils.Database, "atomic"):  # 3.x
            raise StoreError(
                "sqlite-utils 4.0 or newer is needed (3.x would commit the store's open"
                " transaction at its first write): pip install --upgrade 'sqlite-utils>=4.0'"
            )
        return sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)

    def bound_wal(self) -> None:
        """Checkpoint the WAL into the database and empty it when it holds more than
        ``WAL_LIMIT`` bytes, unless another connection is using it (no wait: the next
        delivery tries again). The first process to open the database after the last one
        closed reads the whole WAL to rebuild its index: its size is the cost of every
        ``match``, which leaves it for the next one. Errors are ignored: the deliveries are
        committed already."""
        try:
            if os.stat(f"{self.path}-wal").st_size <= WAL_LIMIT:
                return
            self.conn.execute("PRAGMA busy_timeout=0")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (OSError, sqlite3.Error):
            pass

    def transaction(self):
        """A context manager: one write transaction (``BEGIN IMMEDIATE``, the busy timeout
        applies) around several calls, which join it: a delivery's ``lookup``,
        ``parent_to_me`` and ``record``, so that what it records follows from what it
        looked up (no other write comes between them); ``add`` and the lifetime text of
        ``add --for``, all or nothing. StoreError when the write lock is not had within the
        timeout."""
        return _Write(self)


class _Transaction:
    """``BEGIN IMMEDIATE`` (write) or ``BEGIN DEFERRED`` (read: in WAL mode, one snapshot
    from its first statement on) ... ``COMMIT``, or ``ROLLBACK`` on an exception. Inside a
    transaction already open (a delivery's), it adds nothing: the outer one decides."""

    def __init__(self, conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> None:
        self.conn = conn
        self.mode = mode
        self.outer = False

    def __enter__(self) -> None:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute(f"BEGIN {self.mode}")

    def __exit__(self, kind, value, traceback) -> None:
        if not self.outer:
            return
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class _Write:
    def __init__(self, store: Database) -> None:
        self.errors = store._errors()
        self.transaction = store._transaction()

    def __enter__(self) -> None:
        with self.errors:
            self.transaction.__enter__()

    def __exit__(self, kind, value, traceback) -> None:
        with self.errors:
            self.transaction.__exit__(kind, value, traceback)


class _ErrorsAsStoreError:
    def __init__(self, store: Database) -> None:
        self.path = store.path

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, value, traceback) -> bool:
        if kind is not None and issubclass(kind, sqlite3.Error):
            space = ""
            if getattr(value, "sqlite_errorname", "").startswith(_WRITE_ERRORS):
                space = _space_left(self.path)
            raise StoreError(f"database {self.path}: {value}{space}") from None
        return False


def _space_left(path: str) -> str:
    """After a failed write: the free space, when that is the likely cause. SQLite says
    only "disk I/O error" when its log cannot grow on a full file system."""
    try:
        fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return ""
    free = fs.f_bavail * fs.f_frsize
    return f" (its file system has {free // 1024} KiB free)" if free < _LOW_SPACE else ""
