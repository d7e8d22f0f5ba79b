#!/usr/bin/env python3
"""Re-filtering a whole mailbox as users do it, `formail -s procmail -m RCFILE < mbox`,
through `mailthread match` as contrib/procmailrc.example wires it, beside the same
procmail run with a `cat` filter and with a Python filter that only copies stdin:

    python3 -m venv /tmp/mt && /tmp/mt/bin/pip install .
    PATH=/tmp/mt/bin:$PATH python3 bench/refilter.py [--messages 10000] [--runs 1] [--quick]

The mbox holds --messages real messages of ../shared/corpus with renumbered ids (written by
import_bench.py's `write_maildir` and `write_mbox`: every round of the corpus is a fresh set
of conversations). The database has every --mute-every'th of those messages (default 100) imported
with `mailthread add muted --mailbox`, so their threads are muted and `match` marks the rest
of them (a muted message costs the example's recipe an `mv` besides). The corpus repeats
round after round with new ids but the same subjects, so from the second round on `match`
also marks the replies of a muted subject ("Re: ..."): 88 of 1,000 messages, 3,643 of 10,000.
Each run gets a copy of that database, a fresh mail folder and its own rcfile (procmail -m: no
~/.procmailrc is read, and procmail clears the environment, so the rcfile sets PATH and
MAILTHREAD_DB):

1. `:0 fhW` with `cat`: the floor of any filter (procmail, formail and one exec per message);
2. `:0 fhW` with `python3 -c 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())'`,
   from the interpreter of the mailthread launcher (`#!` line), executed by procmail
   directly as the other two (SHELLMETAS without ";": no /bin/sh in between);
3. contrib/procmailrc.example itself (INCLUDERC), its `:0 fhW | mailthread match` and its
   MUTED/WATCHED Maildir folders; muted mail is moved to muted/cur with `mv`, as there.

Every run is checked: as many files delivered as messages, and for match some muted. The
table gives seconds and milliseconds per message (medians when --runs > 1; the three runs
of a round one after the other) and the ratios of issue 16: match's overhead over cat
against the Python copy filter's, and match against the Python copy filter whole.
--quick: 1,000 messages. Needs procmail and formail (Debian's procmail package). Temporary
files go to the default temp dir (ext4 here, as a user's home; not tmpfs).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from import_bench import write_maildir, write_mbox  # noqa: E402
from match_vs_baseline import contestants  # noqa: E402

EXAMPLE = HERE.parent / "contrib" / "procmailrc.example"
COPY = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"


def rcfile(home: Path, db: Path, path: str, body: str) -> str:
    """An rcfile that delivers into Maildir folders under ``home``/Mail."""
    return (
        f"PATH={path}\n"
        f"HOME={home}\n"
        f"MAILDIR={home}/Mail\n"
        f"DEFAULT={home}/Mail/inbox/\n"
        f"LOGFILE={home}/procmail.log\n"
        f"MAILTHREAD_DB={db}\n"
        f"{body}"
    )


def count(folder: Path) -> int:
    return sum(
        1 for sub in ("new", "cur") if (folder / sub).is_dir() for _ in (folder / sub).iterdir()
    )


def run(name: str, work: Path, mbox: Path, db: Path, path: str, body: str, n: int, messages):
    """Seconds of one `formail -s procmail` over ``mbox``, and the folders' counts."""
    home = work / f"{name.replace(' ', '-')}.{n}"
    (home / "Mail").mkdir(parents=True)
    run_db = home / "threads.db"
    shutil.copyfile(db, run_db)
    rc = home / "procmailrc"
    rc.write_text(rcfile(home, run_db, path, body))
    with open(mbox, "rb") as stdin:
        start = time.perf_counter()
        result = subprocess.run(
            ["formail", "-s", "procmail", "-m", str(rc)],
            stdin=stdin,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{name}: exit {result.returncode}: {result.stderr.decode()[-500:]}")
    mail = home / "Mail"
    inbox, muted, watched = (count(mail / f) for f in ("inbox", "muted", "watched"))
    if inbox + muted != messages:
        raise SystemExit(
            f"{name}: {inbox} messages in the inbox and {muted} muted, not {messages}: see {home}"
        )
    log = (home / "procmail.log").read_bytes().decode(errors="replace")
    complaints = [line for line in log.splitlines() if line.startswith("mailthread:")]
    shutil.rmtree(home)
    return seconds, inbox, muted, watched, complaints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--mute-every", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.quick:
        options.messages = 1_000
    mailthread, python = contestants()
    messages = options.messages
    # procmail clears the environment: the rcfile gives it mailthread's directory and the
    # usual system one (cat, mv).
    path = f"{Path(mailthread).parent}:/usr/local/bin:/usr/bin:/bin"

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        maildir = work / "Maildir"
        write_maildir(maildir, messages)
        mbox = work / "mbox"
        write_mbox(mbox, maildir)
        part = work / "muted-part"
        for sub in ("cur", "new", "tmp"):
            (part / sub).mkdir(parents=True)
        for number, file in enumerate(sorted((maildir / "cur").iterdir())):
            if number % options.mute_every == 0:
                os.link(file, part / "cur" / file.name)
        db = work / "threads.db"
        result = subprocess.run(
            [mailthread, "--db", str(db), "add", "muted", "--mailbox", str(part)],
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise SystemExit(f"add --mailbox failed: {result.stderr.decode(errors='replace')}")
        imported = result.stdout.decode(errors="replace").strip().splitlines()[-1]
        shutil.rmtree(maildir)

        filters = {
            "cat": ":0 fhW\n| cat\n",
            # Without ";" in SHELLMETAS procmail runs the line itself (it splits the
            # quoted argument), as it does `cat` and `mailthread match`: no /bin/sh.
            "python copy": f"SHELLMETAS=&|<>~?*[\n:0 fhW\n| {python} -c '{COPY}'\n",
            "mailthread match": f"INCLUDERC={EXAMPLE}\n",
        }
        print(
            f"# re-filtering an mbox of {messages:,} messages:"
            " formail -s procmail -m RCFILE < mbox, whole run"
            + (f", median of {options.runs} runs" if options.runs > 1 else "")
        )
        print(f"mailthread: {mailthread} ({python})")
        print(f"database: every {options.mute_every}th message imported as muted ({imported})")
        load_before = os.getloadavg()
        print(f"cores: {os.cpu_count()}, load average before: {load_before[0]:.2f}\n")
        times: dict[str, list[float]] = {name: [] for name in filters}
        counts = {}
        for n in range(options.runs):
            for name, body in filters.items():
                seconds, *folders = run(name, work, mbox, db, path, body, n, messages)
                times[name].append(seconds)
                counts[name] = folders
        load_after = os.getloadavg()

    seconds = {name: statistics.median(values) for name, values in times.items()}
    cat, copy, match = seconds["cat"], seconds["python copy"], seconds["mailthread match"]
    print("| filter | seconds | ms per message | over cat, ms per message | delivered |")
    print("|---|---:|---:|---:|---|")
    for name, value in seconds.items():
        inbox, muted, watched, _ = counts[name]
        delivered = f"{inbox:,} inbox" + (
            f", {muted:,} muted, {watched:,} watched copies" if name == "mailthread match" else ""
        )
        print(
            f"| {name} | {value:.1f} | {value / messages * 1000:.2f}"
            f" | {(value - cat) / messages * 1000:.2f} | {delivered} |"
        )
    overhead = (match - cat) / (copy - cat)
    print(
        f"\n- match's overhead against the Python copy filter's, (match - cat) / (copy - cat):"
        f" {overhead:.2f}x (aim: at most 1.35x)"
    )
    print(f"- match / Python copy, whole per-message time: {match / copy:.2f}x")
    print(f"- load average after: {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min)")
    complaints = counts["mailthread match"][3]
    if complaints:
        print(f"- mailthread complained {len(complaints)} times, first: {complaints[0]}")
    command = shlex.join(["python3", "bench/refilter.py", *sys.argv[1:]])
    print(f"\ncommand: PATH={Path(mailthread).parent}:$PATH {command}")
    muted = counts["mailthread match"][1]
    if not muted:
        print("match marked no message muted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
