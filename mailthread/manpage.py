"""mailthread(1), written from the click commands' own help so that it cannot drift from it.

    python -m mailthread.manpage > man/mailthread.1

tests/test_manpage.py fails when man/mailthread.1 differs from what this writes.
"""

from __future__ import annotations

import sys

import click

from mailthread import __version__
from mailthread.cli import cli

DATE = "2026-11"  # bump with the text; not the build date, so the output is reproducible

ENVIRONMENT = [
    (
        "MAILTHREAD_DB",
        "The thread database, when --db is not given. procmail and cron start with an "
        "almost empty environment: set it in ~/.procmailrc and the crontab too.",
    ),
    (
        "XDG_DATA_HOME",
        "Without --db and MAILTHREAD_DB, the database is "
        "$XDG_DATA_HOME/mailthread/threads.db (an absolute XDG_DATA_HOME only), else "
        "~/.local/share/mailthread/threads.db.",
    ),
    (
        "MAILTHREAD_ME",
        "Your addresses for match's to-me breakthrough, blank- or comma-separated, as if "
        "given with --me.",
    ),
    (
        "_MAILTHREAD_COMPLETE",
        "Set by shell completion scripts (bash_source, zsh_source, fish_source); see the README.",
    ),
]

FILES = [
    (
        "~/.local/share/mailthread/threads.db",
        "The default database: one SQLite file (with -wal and -shm beside it while in "
        "use), created 0600 in a folder created 0700.",
    ),
]

# Each example line also stands in contrib/procmailrc.example, contrib/muttrc.example or
# README.md (tests/test_manpage.py checks it), so the examples cannot drift either.
EXAMPLES = [
    (
        "In ~/.procmailrc, mark every incoming message, then file muted mail away: the "
        "mark is trusted only after the filter succeeded, and only as the header's first "
        "line, where a sender cannot write it (contrib/procmailrc.example has the whole "
        "recipe, for Maildir and mbox):",
        [
            "MAILTHREAD_MARKED=",
            ":0 fhW",
            "| mailthread match",
            "",
            ":0 a",
            "{ MAILTHREAD_MARKED=yes }",
            "",
            ":0",
            "* MAILTHREAD_MARKED ?? yes",
            "* ^^(From .*$)?X-Mailthread: muted[^-+._a-z0-9;]?$",
            "$MUTED",
        ],
    ),
    (
        "In ~/.muttrc, M mutes and W watches the current message's thread, Esc U forgets "
        "it (contrib/muttrc.example saves and restores the pipe settings around them):",
        [
            "macro index,pager M '<enter-command>set my_mailthread_pd=$pipe_decode"
            " my_mailthread_ps=$pipe_split"
            " my_mailthread_wk=$wait_key<enter><enter-command>unset pipe_decode wait_key;"
            " set pipe_split<enter><pipe-message>mailthread add"
            " muted<enter><enter-command>set pipe_decode=$my_mailthread_pd"
            " pipe_split=$my_mailthread_ps wait_key=$my_mailthread_wk<enter>' \"mute this"
            ' thread (mailthread)"',
        ],
    ),
    (
        "Import the old scripts' refs files, then see what is recorded:",
        [
            "mailthread add muted --refs-file ~/.refs.muted",
            "mailthread add watched --refs-file ~/.refs.watched",
            "mailthread list",
        ],
    ),
    (
        "Remove idle threads every night, from crontab -e:",
        ["17 4 * * *  $HOME/.local/bin/mailthread expire --idle 90d >/dev/null"],
    ),
]

SEE_ALSO = [
    "procmail(1)",
    "procmailrc(5)",
    "formail(1)",
    "mutt(1)",
    "muttrc(5)",
    "neomutt(1)",
    "maildrop(1)",
    "cron(8)",
]


def escape(text: str) -> str:
    """Text safe for roff: backslashes doubled as \\e, hyphens as \\-, leading dots and
    quotes neutralised."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n")
    )


def paragraphs(help_text: str) -> list[tuple[bool, str]]:
    """(preformatted, text) of each paragraph of a click help text (\\b: keep lines)."""
    found = []
    for block in help_text.strip().split("\n\n"):
        lines = block.split("\n")
        if lines[0].strip() == "\b":
            found.append((True, "\n".join(lines[1:])))
        else:
            found.append((False, " ".join(line.strip() for line in lines if line.strip())))
    return found


def render_paragraphs(items: list[tuple[bool, str]]) -> list[str]:
    out = []
    for preformatted, text in items:
        if preformatted:
            out += [".PP", ".nf", ".RS 4", escape(text), ".RE", ".fi"]
        else:
            out += [".PP", escape(text)]
    return out


def options(command: click.Command, ctx: click.Context) -> list[str]:
    out = []
    help_option = command.get_help_option(ctx)
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or (param is help_option and command is not cli):
            continue  # arguments are in the synopsis; --help once, under OPTIONS
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        out += [".TP", f"\\fB{escape(names)}\\fR", escape(text)]
    return out


def render() -> str:
    root = click.Context(cli, info_name="mailthread", **cli.context_settings)
    lines = [
        f'.TH MAILTHREAD 1 "{DATE}" "mailthread {__version__}" "User Commands"',
        ".SH NAME",
        "mailthread \\- mute and watch mail threads, for procmail and mutt",
        ".SH SYNOPSIS",
    ]
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name, parent=root)
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines += [".br", f"\\fBmailthread\\fR [\\fIOPTIONS\\fR] \\fB{name}\\fR {escape(usage)}"]
    lines += [".SH DESCRIPTION"]
    lines += render_paragraphs(paragraphs(cli.help or ""))
    lines += [".SH OPTIONS", "These come before the command's name."]
    lines += options(cli, root)
    lines += [".SH COMMANDS"]
    statuses = []
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name, parent=root)
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines.append(f'.SS "mailthread {name} {escape(usage)}"')
        body = []
        for preformatted, text in paragraphs(command.help or ""):
            if text.lstrip().startswith("Exit status"):
                statuses.append((name, text))
            else:
                body.append((preformatted, text))
        lines += render_paragraphs(body)
        lines += options(command, ctx)
    lines += [".SH EXIT STATUS"]
    for name, text in statuses:
        lines.append(f".SS {name}")
        lines += [".nf", ".RS 4", escape(text.strip()), ".RE", ".fi"]
    lines += [".SH ENVIRONMENT"]
    for name, text in ENVIRONMENT:
        lines += [".TP", f"\\fB{escape(name)}\\fR", escape(text)]
    lines += [".SH FILES"]
    for name, text in FILES:
        lines += [".TP", f"\\fI{escape(name)}\\fR", escape(text)]
    lines += [".SH EXAMPLES"]
    for text, example in EXAMPLES:
        lines += [".PP", escape(text), ".PP", ".nf", ".RS 4", escape("\n".join(example))]
        lines += [".RE", ".fi"]
    see_also = [f"\\fB{page.split('(')[0]}\\fR({page.split('(')[1]}" for page in SEE_ALSO]
    lines += [".SH SEE ALSO", ", ".join(see_also)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
