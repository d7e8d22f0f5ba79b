# mailthread for Dovecot imapsieve: run when a message is moved, copied or appended into
# the Unmute folder (95-mailthread-imapsieve.conf says which folder).
#
# Install it as /etc/dovecot/sieve/mailthread-unmute.sieve and compile it once, as root,
# after every change:  sievec /etc/dovecot/sieve/mailthread-unmute.sieve
#
# When `mailthread remove` removed the message's thread (or found none: nothing to
# unmute), the message goes back to the folder it came from (INBOX when it was appended,
# and when it came from Muted) without its $Muted keyword.  When it failed, it stays in
# Unmute: the user sees it, and moving it there again tries again.  Dovecot's log says why.

require ["vnd.dovecot.execute", "vnd.dovecot.imapsieve",
         "environment", "fileinto", "imap4flags", "mailbox", "variables"];

# The folders 95-mailthread-imapsieve.conf names (imapsieve_mailboxN_name): change them
# here too if you renamed them there.  A message moved here from one of them (where a
# failed attempt left it) goes to INBOX, not back there.
set "mute_folder" "Mute";
set "watch_folder" "Watch";
set "unmute_folder" "Unmute";
# The folder muted mail is filed into (the one mailthread.sieve and mailthread-mute.sieve
# name): a message moved here from it goes to INBOX too -- its thread is no longer muted.
set "muted_folder" "Muted";

# Where it came from: on a COPY (a MOVE is one), the folder it was copied from.  An
# APPEND names none (Dovecot 2.3.19 then gives this folder itself as mailbox-from): INBOX.
set "back" "INBOX";
if environment :is "imap.cause" "COPY" {
    if environment :matches "vnd.dovecot.mailbox-from" "*" {
        set "back" "${1}";
    }
}
# (Octet by octet: folder names are case-sensitive, a folder "watch" is not "Watch".)
if string :comparator "i;octet" :is "${back}"
          ["${mute_folder}", "${watch_folder}", "${unmute_folder}", "${muted_folder}"] {
    set "back" "INBOX";
}

if execute :pipe "mailthread-add" "remove" {
    removeflag "$Muted";
    fileinto :create "${back}";
}
