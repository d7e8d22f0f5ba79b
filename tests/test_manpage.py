"""mailthread(1): written from the click commands' own help (mailthread/manpage.py), so the
committed man/mailthread.1 must be exactly what the code writes now; it must render without
groff warnings, cover every command and option, carry only examples that the contrib files
and README really hold, and be found by `man` after a plain `pip install`."""

import shutil
import subprocess
import sys

import click
import pytest
from conftest import HERE

from mailthread import manpage
from mailthread.cli import cli

REPO = HERE.parent
PAGE = REPO / "man" / "mailthread.1"


def test_the_committed_page_is_what_the_commands_help_says():
    assert PAGE.read_text() == manpage.render(), (
        "man/mailthread.1 is stale: python -m mailthread.manpage > man/mailthread.1"
    )


def rendered() -> str:
    if shutil.which("groff") is None:
        pytest.skip("needs groff (Debian groff-base, with man-db)")
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-rLL=200n", "-P-cbou", str(PAGE)],
        capture_output=True,
    )
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    return result.stdout.decode().replace("\u2010", "-").replace("\u2212", "-")


def test_it_renders_without_warnings_and_covers_every_command_and_option():
    text = rendered()
    for heading in ("SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
        assert f"\n{heading}\n" in text
    for page in ("procmail(1)", "procmailrc(5)", "formail(1)", "mutt(1)"):
        assert page in text
    root = click.Context(cli, info_name="mailthread", **cli.context_settings)
    for name, command in cli.commands.items():
        assert f"mailthread {name} " in text
        for param in command.get_params(click.Context(command, parent=root)):
            if isinstance(param, click.Option):
                assert all(opt in text for opt in param.opts), (name, param.opts)
        assert "Exit status:" in (command.help or ""), name
    assert text.count("Exit status:") == len(cli.commands)


def test_examples_are_what_the_contrib_files_and_readme_hold():
    sources = "".join(
        (REPO / path).read_text()
        for path in ("contrib/procmailrc.example", "contrib/muttrc.example", "README.md")
    )
    for _, lines in manpage.EXAMPLES:
        for line in lines:
            assert line in sources, line


def test_man_finds_it_after_a_plain_pip_install(tmp_path):
    if shutil.which("man") is None:
        pytest.skip("needs man (Debian man-db)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--no-deps", REPO],
        capture_output=True,
    )
    assert install.returncode == 0, install.stderr.decode()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MANWIDTH": "80",
        "LANG": "C.UTF-8",
    }
    where = subprocess.run(["man", "-w", "mailthread"], capture_output=True, env=env)
    assert where.stdout.decode().strip() == str(venv / "share/man/man1/mailthread.1")
    page = subprocess.run(["man", "mailthread"], capture_output=True, env=env)
    assert page.returncode == 0 and b"mute and watch mail threads" in page.stdout
