"""Packaging as users install it: `python -m build` makes a clean sdist and wheel (no
warnings, `twine check` passes, the wheel holds the package, the launcher and the man page
and no test data), and `pipx install .` gives a working `mailthread` and `man mailthread`
with no other step. These need the registry for the build backend and click/sqlite-utils."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import HERE

REPO = HERE.parent


def test_build_gives_a_clean_sdist_and_wheel(tmp_path):
    out = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", out, REPO], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr
    assert "WARNING" not in build.stdout + build.stderr, build.stdout + build.stderr
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", wheel, sdist],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if ".dist-info/" not in n]
    assert sorted(n for n in data if not n.startswith("mailthread/")) == [
        "mailthread-0.1.0.data/data/share/man/man1/mailthread.1",
        "mailthread-0.1.0.data/scripts/mailthread",
    ]
    assert all(n.endswith(".py") for n in data if n.startswith("mailthread/"))
    assert "mailthread/filter.py" in names


def test_pipx_install_gives_a_working_command_and_man_page(tmp_path):
    if shutil.which("man") is None:
        pytest.skip("needs man (Debian man-db)")
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "share" / "man"),
        "HOME": str(tmp_path),
    }
    install = subprocess.run(
        [sys.executable, "-m", "pipx", "install", REPO], capture_output=True, text=True, env=env
    )
    assert install.returncode == 0, install.stderr
    user = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "MANWIDTH": "80"}
    version = subprocess.run(["mailthread", "--version"], capture_output=True, env=user)
    assert version.returncode == 0 and version.stdout.startswith(b"mailthread, version ")
    message = b"Message-ID: <a@x>\nSubject: hi\n\nbody\n"
    db = {**user, "MAILTHREAD_DB": str(tmp_path / "t.db")}
    assert subprocess.run(["mailthread", "add", "muted"], input=message, env=db).returncode == 0
    reply = b"Message-ID: <b@x>\nIn-Reply-To: <a@x>\n\nbody\n"
    marked = subprocess.run(["mailthread", "match"], input=reply, capture_output=True, env=db)
    assert marked.stdout == b"X-Mailthread: muted\n" + reply
    page = subprocess.run(["man", "mailthread"], capture_output=True, env=user)
    assert page.returncode == 0 and b"mute and watch mail threads" in page.stdout
