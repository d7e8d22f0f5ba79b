"""contrib/mailthread.el with the real notmuch-emacs (elpa-notmuch) and mu4e, in
`emacs --batch`: the keys it binds pipe the message's file to the installed mailthread,
which records its thread; a failure is an error carrying mailthread's own line."""

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import INBOX, REPO, Env, raw, require, write_maildir

pytestmark = pytest.mark.e2e

MAILTHREAD_EL = REPO / "contrib" / "mailthread.el"
SITE_LISP = Path("/usr/share/emacs/site-lisp/elpa")
PACKAGES = "emacs-nox elpa-notmuch notmuch mu4e maildir-utils"

# What a user's init file does: the folder on load-path, then require.
PROLOGUE = f"""
(setq debug-on-error nil)
(add-to-list 'load-path {json.dumps(str(MAILTHREAD_EL.parent))})
(require 'mailthread)
(defun test-press (keys)
  "Press KEYS in the current buffer: print the echoed line, or ERROR and the error."
  (let ((command (key-binding (kbd keys))))
    (princ (format "COMMAND %s\\n" command))
    (condition-case err
        (princ (format "OK %s\\n" (call-interactively command)))
      (error (princ (format "ERROR %s\\n" (error-message-string err)))))))
(defun test-wait (what probe)
  (let ((deadline (+ (float-time) 15)))
    (while (not (funcall probe))
      (when (> (float-time) deadline) (error "timed out waiting for %s" what))
      (accept-process-output nil 0.05))))
"""


def package_dir(name: str) -> str:
    found = sorted(SITE_LISP.glob(f"{name}-*"))
    if not found:
        pytest.skip(f"end-to-end test needs the {name} Emacs package: apt-get install {PACKAGES}")
    return str(found[-1])


def emacs(env: Env, package: str, body: str, **environ: str) -> str:
    """Run ``body`` in `emacs --batch` with ``package`` on load-path (as Debian's site
    start does for an interactive Emacs); return its stdout."""
    script = env.tmp / f"test-{package}-{os.getpid()}-{abs(hash(body))}.el"
    script.write_text(PROLOGUE + body)
    path = os.pathsep.join([os.path.dirname(env.mailthread), os.environ.get("PATH", "")])
    result = subprocess.run(
        ["emacs", "--batch", "-Q", "-L", package_dir(package), "-l", str(script)],
        capture_output=True,
        env={**env.environ(PATH=path), **environ},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode(errors="replace")


@pytest.fixture
def home(tmp_path) -> Env:
    require("emacs", packages=PACKAGES)
    env = Env(tmp_path)
    write_maildir(env.mail / "inbox", [raw(m) for m in INBOX])
    return env


def garbage_db(env: Env) -> Path:
    bad = env.tmp / "garbage.db"
    bad.write_bytes(os.urandom(4096))
    return bad


def outcome(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split(" ")[0] in ("OK", "ERROR")]


# -- notmuch -----------------------------------------------------------------------------


@pytest.fixture
def notmuch(home) -> dict[str, str]:
    require("notmuch", packages=PACKAGES)
    package_dir("notmuch")
    config = home.tmp / "notmuch-config"
    config.write_text(
        f"[database]\npath={home.mail}\n[user]\nprimary_email=me@example.com\n[new]\ntags=inbox;\n"
    )
    environ = {"NOTMUCH_CONFIG": str(config)}
    subprocess.run(
        ["notmuch", "new", "--quiet"], env=home.environ(**environ), check=True, timeout=60
    )
    return environ


def notmuch_show(msgid: str, keys: str) -> str:
    return f'(require \'notmuch)\n(notmuch-show "id:{msgid}")\n(test-press "{keys}")\n'


def notmuch_tree(msgid: str, keys: str) -> str:
    return (
        f'(require \'notmuch)\n(notmuch-tree "id:{msgid}")\n'
        '(test-wait "notmuch-tree\'s message" (lambda () (goto-char (point-min))'
        " (notmuch-tree-get-prop :filename)))\n"
        f'(test-press "{keys}")\n'
    )


def test_notmuch_show_M_mutes_and_tree_W_watches(home, notmuch):
    with ThreadPoolExecutor(2) as pool:
        show, tree = pool.map(
            lambda body: emacs(home, "notmuch", body, **notmuch),
            [
                notmuch_show("plans@example.com", "M"),
                notmuch_tree("lunch@example.com", "W"),
            ],
        )
    assert "COMMAND mailthread-notmuch-mute" in show
    assert outcome(show)[0].startswith("OK muted: thread "), show
    assert "COMMAND mailthread-notmuch-watch" in tree
    assert outcome(tree)[0].startswith("OK watched: thread "), tree
    assert home.list_of("plans@example.com") == "muted"
    assert home.list_of("lunch@example.com") == "watched"
    assert home.list_of("tagme-a@example.com") is None


def test_notmuch_failure_is_an_error_with_mailthreads_line(home, notmuch):
    bad = garbage_db(home)
    with ThreadPoolExecutor(2) as pool:
        broken, missing = pool.map(
            lambda args: emacs(home, "notmuch", args[0], **notmuch, **args[1]),
            [
                (notmuch_show("plans@example.com", "M"), {"MAILTHREAD_DB": str(bad)}),
                (
                    '(setq mailthread-program "/nonexistent/mailthread")\n'
                    + notmuch_show("plans@example.com", "W"),
                    {},
                ),
            ],
        )
    [line] = outcome(broken)
    assert line.startswith("ERROR mailthread: "), broken
    [line] = outcome(missing)
    assert line.startswith("ERROR ") and "/nonexistent/mailthread" in line, missing
    assert home.list_of("plans@example.com") is None


# -- mu4e --------------------------------------------------------------------------------


@pytest.fixture
def mu(home) -> Path:
    require("mu", packages=PACKAGES)
    package_dir("mu4e")
    muhome = home.tmp / "mu"
    for command in (
        ["mu", "init", "--quiet", f"--maildir={home.mail}", f"--muhome={muhome}"],
        ["mu", "index", "--quiet", f"--muhome={muhome}"],
    ):
        subprocess.run(command, env=home.environ(), check=True, timeout=60, capture_output=True)
    return muhome


def mu4e_headers(muhome: Path, msgid: str) -> str:
    """The real mu4e: its server (mu server) finds the message, its headers buffer shows it."""
    return (
        "(require 'mu4e)\n"
        f"(setq mu4e-mu-home {json.dumps(str(muhome))} mu4e-headers-fields '((:subject)))\n"
        "(mu4e--init-handlers)\n(mu4e--server-start)\n"
        f'(mu4e-search "msgid:{msgid}")\n'
        '(test-wait "mu4e\'s headers" (lambda () (with-current-buffer (mu4e-get-headers-buffer)'
        " (goto-char (point-min)) (mu4e-message-at-point t))))\n"
        "(set-buffer (mu4e-get-headers-buffer))\n(goto-char (point-min))\n"
    )


def mu4e_view(muhome: Path, msgid: str) -> str:
    return mu4e_headers(muhome, msgid) + (
        "(mu4e-headers-view-message)\n"
        '(test-wait "mu4e\'s view" (lambda () (and (mu4e-get-view-buffer)'
        " (with-current-buffer (mu4e-get-view-buffer) (mu4e-message-at-point t)))))\n"
        "(set-buffer (mu4e-get-view-buffer))\n"
        '(princ (format "MODE %s\\n" major-mode))\n'
    )


def test_mu4e_headers_mutes_and_view_watches(home, mu):
    # One after the other: a mu server holds the Xapian database's write lock.
    headers = emacs(home, "mu4e", mu4e_headers(mu, "plans@example.com") + '(test-press "M-M")\n')
    view = emacs(home, "mu4e", mu4e_view(mu, "lunch@example.com") + '(test-press "M-W")\n')
    assert "COMMAND mailthread-mu4e-mute" in headers
    assert outcome(headers)[0].startswith("OK muted: thread "), headers
    assert "MODE mu4e-view-mode" in view
    assert "COMMAND mailthread-mu4e-watch" in view
    assert outcome(view)[0].startswith("OK watched: thread "), view
    assert home.list_of("plans@example.com") == "muted"
    assert home.list_of("lunch@example.com") == "watched"
    assert home.list_of("tagme-a@example.com") is None


def test_mu4e_failure_is_an_error_with_mailthreads_line(home, mu):
    bad = garbage_db(home)
    out = emacs(
        home,
        "mu4e",
        mu4e_headers(mu, "plans@example.com") + '(test-press "M-M")\n',
        MAILTHREAD_DB=str(bad),
    )
    [line] = outcome(out)
    assert line.startswith("ERROR mailthread: "), out
    assert home.list_of("plans@example.com") is None
