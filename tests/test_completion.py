"""Shell completion through click's own mechanism, as the README tells users to set it up:
`eval "$(_MAILTHREAD_COMPLETE=bash_source mailthread)"` in ~/.bashrc, then real bash
completes commands and options."""

import shutil
import subprocess

import pytest
from conftest import mailthread_command

BASH = """
eval "$(_MAILTHREAD_COMPLETE=bash_source mailthread)"
complete -p mailthread
complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _mailthread_completion mailthread
    printf '%s\\n' "${COMPREPLY[@]}"
    echo @@
}
complete_words mailthread ex
complete_words mailthread expire --i
complete_words mailthread add muted --subt
complete_words mailthread list --d
"""


def test_bash_completes_commands_and_options():
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("complete ") and lines[0].endswith(" mailthread")
    blocks = "\n".join(lines[1:]).split("@@")
    assert blocks[0].split() == ["expire", "explain"]
    assert blocks[1].split() == ["--idle", "--index-age"]
    assert blocks[2].split() == ["--subthread"]
    assert blocks[3].split() == ["--db"]  # --db and --timeout after the command name too


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_are_generated(shell):
    script = subprocess.run(
        mailthread_command(),
        env={"_MAILTHREAD_COMPLETE": f"{shell}_source", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert script.returncode == 0 and "_MAILTHREAD_COMPLETE" in script.stdout
