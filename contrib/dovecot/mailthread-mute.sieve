# mailthread for Dovecot imapsieve: run when a message is moved, copied or appended into
# the Mute folder (95-mailthread-imapsieve.conf says which folder).
#
# Install it as /etc/dovecot/sieve/mailthread-mute.sieve and compile it once, as root,
# after every change:  sievec /etc/dovecot/sieve/mailthread-mute.sieve
#
# When `mailthread add muted` recorded the thread, the message is moved on into the folder
# where the delivery side (mailthread.sieve) files muted mail, read and with the keyword
# $Muted (without $Watched): Gmail's Mute archives the conversation too, and the message
# is found with the rest of its thread.  When it failed (mailthread missing, exit 75, a
# message with no ids, a broken database), nothing happens: the message stays in Mute,
# where the user sees that it did not work, and moving it there again tries again.
# Dovecot's log says why.

require ["vnd.dovecot.execute", "fileinto", "imap4flags", "mailbox", "variables"];

# The folder muted mail is filed into: the one mailthread.sieve names.
set "muted_folder" "Muted";

if execute :pipe "mailthread-add" "muted" {
    # `add muted` moved the thread off the watched list, if it was there.
    removeflag "$Watched";
    addflag ["\\Seen", "$Muted"];
    fileinto :create "${muted_folder}";
}
