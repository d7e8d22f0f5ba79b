"""./install, the README's first command, run for real with Debian's own /usr/bin/python3
(not a virtualenv of the test suite) from a copy of the clone's tracked files, in a home
with no ~/.local: it must give a `mailthread` that runs from ~/.local/bin, that `man -w`
finds the page of with PATH alone, and that procmail finds through the example's PATH line;
re-running upgrades in place, --uninstall removes what it made and keeps the database.
The fallbacks run with a copy of Debian's python whose standard library lacks ensurepip,
as on a Debian without python3-venv: (b) with the system's pip, (c) with no pip at all
(one pinned pip wheel from PyPI). Installing needs PyPI (or the machine's pip index) for
click, sqlite-utils and setuptools; (c) also downloads pip from files.pythonhosted.org."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import HERE

pytestmark = pytest.mark.e2e

REPO = HERE.parent
DEBIAN_PYTHON = Path("/usr/bin/python3")
# What ./install needs from the caller's environment: the pip configuration (a local index
# or proxy on some machines) and a temporary folder; nothing else, as in a fresh login.
PASSED_ON = ("PIP_", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def debian_python() -> Path:
    if not DEBIAN_PYTHON.exists():
        pytest.skip("needs Debian's /usr/bin/python3 (apt-get install python3)")
    return DEBIAN_PYTHON


def clone_copy(tmp_path: Path) -> Path:
    """The clone's tracked files as they are in the work tree (no .venv, no build)."""
    listed = subprocess.run(
        ["git", "-C", REPO, "ls-files", "-z"], capture_output=True, check=True, timeout=60
    )
    copy = tmp_path / "clone"
    for name in listed.stdout.decode().split("\0"):
        source = REPO / name
        if name and source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def user_env(home: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    environ.update(HOME=str(home), PATH="/usr/bin:/bin", LANG="C.UTF-8", MANWIDTH="80")
    if "TMPDIR" in os.environ:
        environ["TMPDIR"] = os.environ["TMPDIR"]
    environ.update(extra)
    return environ


def install(clone: Path, home: Path, *args: str, python: Path, cwd: Path):
    """Run ./install as a user would, from ``cwd`` (not the clone)."""
    return subprocess.run(
        [clone / "install", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=user_env(home, PYTHON=str(python)),
        timeout=600,
    )


def on_path(home: Path, *command: str, prefix: Path | None = None, **kwargs):
    """Run ``command`` with PREFIX/bin (default ~/.local/bin) first on PATH, MANPATH unset."""
    bin_dir = (prefix or home / ".local") / "bin"
    environ = user_env(home, PATH=f"{bin_dir}:/usr/bin:/bin")
    return subprocess.run(command, capture_output=True, env=environ, timeout=60, **kwargs)


def python_without_ensurepip(tmp_path: Path, with_pip: bool) -> Path:
    """A copy of Debian's python whose standard library lacks ensurepip, as on a Debian
    without python3-venv (whose venv then says "ensurepip is not available"); it sees
    Debian's dist-packages (so python3-pip's pip) only ``with_pip``. The interpreter finds
    its standard library next to its own binary, so the copy gets a prefix of links."""
    python = debian_python()
    layout = subprocess.run(
        [python, "-c", "import os, sys, sysconfig; "
         "print(os.path.realpath(sys.executable)); print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    executable, stdlib = Path(layout[0]), Path(layout[1])
    prefix = tmp_path / "debian-python"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(executable, prefix / "bin" / executable.name)
    (prefix / "bin" / "python3").symlink_to(executable.name)
    lib = prefix / "lib" / stdlib.name
    lib.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "ensurepip":
            (lib / entry.name).symlink_to(entry)
    if with_pip:
        (prefix / "lib" / "python3").mkdir()
        (prefix / "lib" / "python3" / "dist-packages").symlink_to("/usr/lib/python3/dist-packages")
    copy = prefix / "bin" / "python3"
    # The premise: no ensurepip; pip only when asked for.
    probe = "from importlib.util import find_spec as f; print(bool(f('ensurepip')), bool(f('pip')))"
    found = subprocess.run([copy, "-c", probe], capture_output=True, text=True, env={})
    assert found.stdout.split() == ["False", str(with_pip)], found
    return copy


def assert_installed(home: Path, prefix: Path | None = None) -> None:
    prefix = prefix or home / ".local"
    link = prefix / "bin" / "mailthread"
    assert link.is_symlink() and link.resolve() == (prefix / "lib/mailthread/bin/mailthread")
    helped = on_path(home, "mailthread", "--help", prefix=prefix)
    assert helped.returncode == 0 and b"Usage: mailthread" in helped.stdout, helped
    if shutil.which("man") is None:
        pytest.skip("needs man (apt-get install man-db)")
    found = on_path(home, "man", "-w", "mailthread", prefix=prefix)
    page = prefix / "share" / "man" / "man1" / "mailthread.1"
    assert found.returncode == 0 and found.stdout.decode().strip() == str(page), found
    assert page.read_bytes() == (REPO / "man" / "mailthread.1").read_bytes()


PARENT = b"Message-ID: <parent@example.com>\nSubject: Plans\n\nHello.\n"
REPLY = b"Message-ID: <reply@example.com>\nIn-Reply-To: <parent@example.com>\n\nYes.\n"


def test_install_with_debians_python_then_upgrade_then_uninstall(tmp_path):
    python = debian_python()
    if shutil.which("procmail") is None:
        pytest.skip("needs procmail (apt-get install procmail)")
    clone, home, elsewhere = clone_copy(tmp_path), tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()

    done = install(clone, home, python=python, cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed mailthread, version 0.1.0" in done.stdout
    assert f"{home}/.local/bin is not on your PATH" in done.stdout
    assert_installed(home)

    # procmail, with the example's PATH line and nothing else, finds it and marks the reply.
    added = on_path(home, "mailthread", "add", "muted", input=PARENT)
    assert added.returncode == 0, added
    database = home / ".local" / "share" / "mailthread" / "threads.db"
    assert database.is_file()
    rcfile = tmp_path / "procmailrc"
    rcfile.write_text("PATH=$HOME/.local/bin:/usr/bin:/bin\n:0 fhW\n| mailthread match\n")
    log = tmp_path / "procmail.log"
    delivered = subprocess.run(
        ["procmail", f"HOME={home}", f"LOGFILE={log}", f"DEFAULT={home}/Mail/", rcfile],
        input=REPLY,
        capture_output=True,
        timeout=60,
    )
    assert delivered.returncode == 0, delivered
    [mail] = (home / "Mail" / "new").iterdir()
    assert mail.read_bytes() == b"X-Mailthread: muted\n" + REPLY, log.read_text()

    # After `git pull`, ./install again upgrades the same virtualenv in place.
    init = clone / "mailthread" / "__init__.py"
    init.write_text(init.read_text().replace('"0.1.0"', '"0.1.0+pulled"'))
    config = (home / ".local" / "lib" / "mailthread" / "pyvenv.cfg").stat()
    again = install(clone, home, python=python, cwd=elsewhere)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "upgrading mailthread in" in again.stdout
    assert (home / ".local" / "lib" / "mailthread" / "pyvenv.cfg").stat().st_ino == config.st_ino
    version = on_path(home, "mailthread", "--version")
    assert version.stdout == b"mailthread, version 0.1.0+pulled\n", version
    assert_installed(home)

    gone = install(clone, home, "--uninstall", python=python, cwd=elsewhere)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not (home / ".local" / "bin" / "mailthread").exists()
    assert not (home / ".local" / "bin" / "mailthread").is_symlink()
    assert not (home / ".local" / "share" / "man" / "man1" / "mailthread.1").exists()
    assert not (home / ".local" / "lib" / "mailthread").exists()
    assert database.is_file()


def test_without_ensurepip_the_systems_pip_installs_into_the_venv(tmp_path):
    python = python_without_ensurepip(tmp_path, with_pip=True)
    clone, home = clone_copy(tmp_path), tmp_path / "home"
    home.mkdir()
    # A relative --prefix is taken from the folder ./install was run in.
    done = install(clone, home, "--prefix", "apps", python=python, cwd=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"pip:        the system's ({python} -m pip --python)" in done.stdout
    assert_installed(home, prefix=home / "apps")
    assert not (home / ".local").exists()


def test_without_ensurepip_or_pip_a_pinned_pip_is_downloaded(tmp_path):
    # Needs the network: files.pythonhosted.org (the pinned wheel, sha256 checked).
    python = python_without_ensurepip(tmp_path, with_pip=False)
    clone, home = clone_copy(tmp_path), tmp_path / "home"
    home.mkdir()
    done = install(clone, home, python=python, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pip:        pip 25.1.1 downloaded from PyPI (sha256 checked)" in done.stdout
    assert_installed(home)
    # The virtualenv now has a pip of its own: no second download.
    again = install(clone, home, python=python, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "pip:        the virtualenv's own" in again.stdout


def test_a_failed_install_leaves_nothing_on_path(tmp_path):
    python = debian_python()
    clone, home = clone_copy(tmp_path), tmp_path / "home"
    home.mkdir()
    (clone / "pyproject.toml").unlink()  # pip cannot install this folder
    done = install(clone, home, python=python, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    # One line (pip's own output, 30 lines of retries without a network, goes to a log
    # file it names), and nothing left.
    [line] = done.stderr.splitlines()
    assert line.startswith("install: pip could not install mailthread"), line
    log = Path(line.rsplit("pip's output: ", 1)[1].rstrip(")"))
    assert log.is_file() and log.read_text()
    log.unlink()
    assert not (home / ".local" / "bin" / "mailthread").is_symlink()
    assert not (home / ".local" / "lib" / "mailthread").exists()


def test_a_prefix_it_cannot_use_is_one_line_and_leaves_nothing(tmp_path):
    """A prefix with a blank (the launcher's #! line would be cut there: a command that
    cannot run, reported as installed), and one where the man page's folder cannot be
    made (a file stands in the way) after the virtualenv was made: one line each, and no
    virtualenv or link left."""
    python = debian_python()
    home = tmp_path / "home"
    home.mkdir()
    spaced = tmp_path / "my prefix"
    done = install(REPO, home, "--prefix", str(spaced), python=python, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"install: the prefix '{spaced}' has a blank, which a #! line cannot hold:"
        " give --prefix DIR without blanks\n"
    )
    assert not spaced.exists()
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "share").write_text("a file, not a folder\n")
    done = install(REPO, home, "--prefix", str(blocked), python=python, cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        f"install: cannot make {blocked}/bin and {blocked}/share/man/man1: give --prefix DIR,"
        " a folder you may write to"
    ]
    assert not (blocked / "lib" / "mailthread").exists()
    assert not (blocked / "bin" / "mailthread").exists()


def test_a_command_of_the_users_is_kept_and_a_relative_python_found(tmp_path):
    """A ~/.local/bin/mailthread that is not ./install's (an old pip --user install, a
    script of the user's) is moved aside, not lost; PYTHON given relative to the folder
    ./install is run from is found there."""
    python = debian_python()
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    mine = home / ".local" / "bin" / "mailthread"
    mine.write_text("#!/bin/sh\necho mine\n")
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "python3").symlink_to(python)
    done = subprocess.run(
        [REPO / "install"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=user_env(home, PYTHON="py/python3"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kept = home / ".local" / "bin" / "mailthread.before-install"
    assert kept.read_text() == "#!/bin/sh\necho mine\n"
    assert f"moved the {mine} that was there" in done.stdout
    assert_installed(home)


def test_an_older_python_is_refused_in_one_line(tmp_path):
    # A stand-in for Python 3.10: it answers the version check as 3.10 would.
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\ncase "$*" in *version_info*) exit 1;; *) echo 3.10.12;; esac\n')
    old.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    done = install(REPO, home, python=old, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "install: mailthread needs Python 3.11 or newer; "
        f"{old} is 3.10.12: set PYTHON=/path/to/python3.11 or newer\n"
    )
    assert list(home.iterdir()) == []


def test_options(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    unknown = install(REPO, home, "--user", python=DEBIAN_PYTHON, cwd=tmp_path)
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr == "install: unknown option '--user' (see ./install --help)\n"
    helped = install(REPO, home, "--help", python=DEBIAN_PYTHON, cwd=tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: ./install [--prefix DIR]")
    nothing = install(REPO, home, "--uninstall", python=DEBIAN_PYTHON, cwd=tmp_path)
    assert nothing.returncode == 0
    assert f"nothing of mailthread's under {home}/.local to remove" in nothing.stdout
    assert list(home.iterdir()) == []


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 .sources or sources.list)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    sources = Path("/etc/apt/sources.list")
    for line in sources.read_text().splitlines() if sources.exists() else []:
        words = line.split()
        if words[:1] == ["deb"] and "security" not in line:
            return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def readme_commands() -> tuple[str, str, str]:
    """The README's 60-second start, word for word: its install command, the line that puts
    ~/.local/bin on PATH in the same shell, and procmail's "try it" line."""
    import re

    readme = (REPO / "README.md").read_text()
    start = readme.split("## 60-second start", 1)[1]
    install_line = start.split("```sh\n", 1)[1].split("\n", 1)[0].split("  #", 1)[0].strip()
    export = re.search(r"`(export PATH=~/\.local/bin:\$PATH)`", start).group(1)
    try_line = re.search(r"`(t=\$\(mktemp -d\) && procmail MAILTHREAD_TRY=[^`]+)`", readme).group(1)
    return install_line, export, try_line


# The README's start, as a new user on a stock Debian types it (procmail installed, as the
# README assumes); the mutt keys M and W are `mailthread add` (tests/e2e/test_mutt.py).
START = """set -e
cd ~/mailthread
{install}
{export}
cp contrib/procmailrc.example ~/.procmailrc
mkdir -m 700 -p ~/Mail
cd ~
mailthread add muted < ~/parent.eml
mailthread list
{try_line}
procmail < ~/msg
mailthread explain < ~/msg
"""
START_PARENT = "From: a@example.org\nSubject: Plans\nMessage-ID: <p@example.org>\n\nhi\n"
START_REPLY = (
    "From: b@example.org\nSubject: Re: Plans\nMessage-ID: <r@example.org>\n"
    "In-Reply-To: <p@example.org>\n\nno\n"
)


@pytest.mark.parametrize("suite", ["bookworm", "trixie"], ids=["debian-12", "debian-13"])
def test_the_readme_start_on_a_stock_debian_as_a_new_user(tmp_path, suite):
    """A stock Debian 12 or 13 (python3, ca-certificates and procmail; no python3-venv, no
    python3-pip, no curl), a new user account: the README's 60-second start word for word
    installs through the downloaded pip, files the next reply into ~/Mail/muted as read,
    the "try it" line touches no real folder, explain says why; at the next login,
    Debian's ~/.profile puts ~/.local/bin on PATH. Needs root (chroot) and the network
    (Debian, PyPI): about a minute for each."""
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("needs root and debootstrap (apt-get install debootstrap)")
    install_line, export, try_line = readme_commands()
    root = tmp_path / suite
    try:
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,ca-certificates,procmail",
             suite, root, debian_mirror()],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        # This machine's trust store: a TLS-inspecting proxy it trusts is trusted inside.
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs")
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        subprocess.run(["chroot", root, "useradd", "-m", "-s", "/bin/sh", "user"], check=True)
        home = root / "home" / "user"
        clone_copy(home).rename(home / "mailthread")
        (home / "parent.eml").write_text(START_PARENT)
        (home / "msg").write_text(START_REPLY)
        script = START.format(install=install_line, export=export, try_line=try_line)
        (home / "start.sh").write_text(script)
        subprocess.run(["chroot", root, "chown", "-R", "user:user", "/home/user"], check=True)
        uid = (root / "etc/passwd").read_text().split("\nuser:x:")[1].split(":")[0]
        proxies = {k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}

        def as_user(script: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                ["chroot", f"--userspec={uid}:{uid}", root, "/usr/bin/env", "-i",
                 "HOME=/home/user", "PATH=/usr/bin:/bin", *(f"{k}={v}" for k, v in
                 proxies.items()), "sh", "-c", script],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip

        assert as_user("python3 -m pip; python3 -c 'import ensurepip'").returncode != 0
        done = as_user("sh ~/start.sh")
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "pip 25.1.1 downloaded from PyPI (sha256 checked)" in out
        assert "Usage: mailthread [OPTIONS] COMMAND [ARGS]..." in out
        assert "muted: thread 1 (Plans): 1 new id\n" in out
        assert "decided by <r@example.org> (id): its own Message-ID; it was learned" in out
        assert "when it matched by its In-Reply-To <p@example.org>" in out
        [filed] = (home / "Mail/muted/cur").iterdir()
        assert filed.name.endswith(":2,S")
        assert filed.read_text() == "X-Mailthread: muted\n" + START_REPLY
        assert sorted(p.name for p in (home / "Mail").iterdir()) == ["muted"]  # try: no more
        tried = [line for line in out.splitlines() if line.startswith("/tmp/tmp.")]
        assert any("/muted/cur/" in line and line.endswith(":2,S") for line in tried), out
        assert (home / ".local/share/man/man1/mailthread.1").is_file()
        login = as_user("exec sh -l -c 'mailthread --version'")
        assert login.stdout == "mailthread, version 0.1.0\n", login
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_two_installs_at_once_leave_one_working_install(tmp_path):
    """A second ./install while one runs under the same prefix changes nothing: one line,
    exit 1 (two at once removed each other's virtualenv, and one said "installed" over
    nothing). flock(1) holds the lock: the kernel frees it when its owner ends, however,
    so a lock file left by a killed run stops nobody."""
    import time

    python = debian_python()
    home = tmp_path / "home"
    home.mkdir()
    first = subprocess.Popen(
        [REPO / "install"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=user_env(home, PYTHON=str(python)),
    )  # fmt: skip
    lock = home / ".local" / "lib" / ".mailthread-install.lock"
    deadline = time.monotonic() + 60
    while first.poll() is None and time.monotonic() < deadline:
        if lock.exists() and subprocess.run(["flock", "-n", lock, "true"]).returncode:
            break  # held
        time.sleep(0.01)
    second = install(REPO, home, python=python, cwd=tmp_path)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, out + err
    assert second.returncode == 1 and second.stdout == "", second
    assert second.stderr == (
        f"install: another ./install is working in {home}/.local (it holds {lock}):"
        " wait for it to end\n"
    )
    assert_installed(home)
    again = install(REPO, home, python=python, cwd=tmp_path)  # the lock file is still there
    assert again.returncode == 0, again.stdout + again.stderr


def without_flock(tmp_path: Path) -> str:
    """A PATH with every program of /usr/bin and /bin but flock (as on a system without
    util-linux's flock: macOS, BSD)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for folder in (Path("/usr/bin"), Path("/bin")):
        for program in folder.iterdir():
            if program.name != "flock" and not (tools / program.name).exists():
                (tools / program.name).symlink_to(program)
    return str(tools)


def test_without_flock_a_link_to_the_owners_pid_is_the_lock(tmp_path):
    """Without flock(1): the lock is a symbolic link to the owner's process id, made
    atomically; a live owner stops a second run (one line naming it), a gone one's lock is
    taken over, and the run removes its own lock."""
    python = debian_python()
    home = tmp_path / "home"
    (home / ".local" / "lib").mkdir(parents=True)
    lock = home / ".local" / "lib" / ".mailthread-install.lock"
    path = without_flock(tmp_path)
    lock.symlink_to(str(os.getpid()))  # a live process holds it
    refused = subprocess.run(
        [REPO / "install"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=user_env(home, PYTHON=str(python), PATH=path),
    )  # fmt: skip
    assert refused.returncode == 1 and refused.stderr == (
        f"install: another ./install (process {os.getpid()}) is working in {home}/.local"
        f" (it holds {lock}): wait for it to end\n"
    ), refused
    lock.unlink()
    lock.symlink_to("999999999")  # a killed run's: no such process
    done = subprocess.run(
        [REPO / "install"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=user_env(home, PYTHON=str(python), PATH=path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not lock.is_symlink() and not lock.exists()
    assert_installed(home)


def test_a_link_of_someone_elses_is_moved_aside_too(tmp_path):
    """pipx's link, or a wrapper of the user's linked as ~/.local/bin/mailthread, was
    replaced without a word: it is moved aside and named, as a file is."""
    python = debian_python()
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    wrapper = tmp_path / "mywrap"
    wrapper.write_text("#!/bin/sh\necho mine\n")
    (home / ".local" / "bin" / "mailthread").symlink_to(wrapper)
    done = install(REPO, home, python=python, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = home / ".local" / "bin" / "mailthread.before-install"
    assert kept.is_symlink() and kept.resolve() == wrapper
    assert "moved the " in done.stdout and "mailthread.before-install" in done.stdout
    assert_installed(home)
    # Another one of someone else's, with that name taken: a free name, nothing lost.
    link = home / ".local" / "bin" / "mailthread"
    link.unlink()
    link.write_text("#!/bin/sh\necho second\n")
    done = install(REPO, home, python=python, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert kept.is_symlink() and kept.resolve() == wrapper
    second = home / ".local" / "bin" / "mailthread.before-install.2"
    assert second.read_text() == "#!/bin/sh\necho second\n"
    gone = install(REPO, home, "--uninstall", python=python, cwd=tmp_path)
    assert f"the mailthread that was there before ./install is {kept}" in gone.stdout
    assert f"the mailthread that was there before ./install is {second}" in gone.stdout
