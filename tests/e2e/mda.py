"""What the fdm, mblaze and notmuch end-to-end tests share: a user whose MDA finds
mailthread in ~/.local/bin (where ./install puts it), and the forged-mark check of
tests/e2e/test_forged_mark.py (its FORGERIES under its FAULTS) for any MDA."""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import Env
from .test_forged_mark import deliver_forgeries, ok


class User(Env):
    """A home with mailthread linked into ~/.local/bin. ``path`` (set by the faults of
    test_forged_mark) is the PATH the MDA gets; ``cleanups`` run after the deliveries."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.cleanups: list = []
        self.path: str | None = None
        self.bin = self.home / ".local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "mailthread").symlink_to(self.mailthread)

    def search_path(self) -> str:
        """What a mail server gives an MDA: no virtualenv, no user's shell PATH."""
        return self.path or "/usr/bin:/bin"

    def mda_environ(self, **extra: str) -> dict[str, str]:
        environ = {
            "HOME": str(self.home),
            "PATH": self.search_path(),
            "MAILTHREAD_DB": str(self.db),
            "LANG": "C",
        }
        environ.update(extra)
        return environ

    # What each MDA's test provides:
    def send(self, msg: bytes, options: dict) -> None:
        raise NotImplementedError

    def folders(self) -> dict[str, list[bytes]]:
        """The messages of the inbox, muted and watched folders."""
        raise NotImplementedError

    def log_text(self) -> str:
        raise NotImplementedError


def maildir_messages(folder: Path) -> list[bytes]:
    return sorted(
        p.read_bytes()
        for sub in ("new", "cur")
        if (folder / sub).is_dir()
        for p in (folder / sub).iterdir()
    )


def make_maildir(folder: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for f in (folder, *(folder / s for s in ("cur", "new", "tmp"))):
        os.chmod(f, 0o700)


def check_forgeries(user: User, fault, kept=lambda message: message) -> None:
    """Every message of FORGERIES, delivered at once under ``fault``, reaches the inbox --
    never the muted or watched folder -- as ``kept`` says the MDA files what mailthread
    wrote (the forged fields renamed) after a success, or the original after a failure;
    and the MDA's log says something when anything failed."""
    cases, renames = deliver_forgeries(user, fault)
    folders = user.folders()
    assert folders["muted"] == [] and folders["watched"] == [], folders
    if renames is None:
        # Only the messages that need the database meet this fault (see test_forged_mark).
        assert len(folders["inbox"]) == len(cases), folders["inbox"]
        for original, renamed in cases:
            assert {kept(original), kept(renamed)} & set(folders["inbox"]), original
    else:
        expected = [kept(renamed if renames else original) for original, renamed in cases]
        assert sorted(folders["inbox"]) == sorted(expected)
    if fault is not ok:
        assert user.log_text(), "the MDA's log says nothing of the failure"
