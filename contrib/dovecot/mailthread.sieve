# mailthread for Dovecot Sieve: a global script, run before each user's own.
#
# Install it as /etc/dovecot/sieve/mailthread.sieve (90-mailthread.conf names it in
# sieve_before) and compile it once, as root, after every change:
#   sievec /etc/dovecot/sieve/mailthread.sieve
# (Without the compiled mailthread.svbin beside it, Dovecot, which runs as the user and may
# not write there, compiles the script at every delivery and logs two errors each time.)
#
# Try it on a saved message, as yourself (nothing is stored; mailthread does learn from
# the message, as a delivery would):
#   sieve-test /etc/dovecot/sieve/mailthread.sieve some-message
# It lists the actions: "store message in folder: Muted" with "add IMAP flags: \seen
# $Muted" for a muted reply, "store message in folder: INBOX" (the implicit keep) else.
#
# Every message goes through `mailthread match` (the "mailthread" filter program), which
# adds one header line, `X-Mailthread: muted` or `X-Mailthread: watched`, when the message
# belongs to a thread the user muted or watched from their mail client.  Then
#   - muted mail is filed into the folder "Muted", read (\Seen) and with the IMAP keyword
#     $Muted (shown on every device); with the implicit keep cancelled, no later script
#     (the user's own ~/.dovecot.sieve) runs for it;
#   - watched mail is copied into "Watched" and goes on to the user's own script and INBOX;
#   - "muted; to-me" (a message of a muted thread addressed to the user) and everything
#     else goes on untouched.
# The folders are made on first use.

require ["vnd.dovecot.filter", "vnd.dovecot.execute", "variables", "fileinto", "mailbox",
         "imap4flags", "copy"];

# The mark is trusted only when the filter succeeded: when it fails (mailthread missing,
# exit 75, killed at the time limit) the test is false and the message stays as it came,
# with whatever X-Mailthread: line its sender wrote, which then decides nothing.
if filter "mailthread" {
    # And only as the first line of the header, where mailthread writes it: the
    # "mailthread-mark" program prints that line's value (or nothing).  Not
    # `header :is "X-Mailthread" "muted"`: that looks at every such field, and a sender's
    # own can stand where Dovecot reads header and mailthread body.
    set "mark" "";
    if execute :pipe :output "mark" "mailthread-mark" {
        # mailthread's list names are case-sensitive ("Muted" is another list): compare
        # octet by octet, as the other wirings do.  (Sieve's default comparator,
        # i;ascii-casemap, folds case; Pigeonhole 2.3's `string` test happens to compare
        # octets without being told, its `header` test does fold case.)
        if string :comparator "i;octet" :is "${mark}" "muted" {
            fileinto :create :flags ["\\Seen", "$Muted"] "Muted";
        }
        if string :comparator "i;octet" :matches "${mark}" ["watched", "watched; *"] {
            fileinto :copy :create "Watched";
        }
    }
}
