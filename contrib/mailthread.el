;;; mailthread.el --- mute or watch mail threads from notmuch and mu4e  -*- lexical-binding: t -*-

;; mailthread for Emacs: record the thread of the message at point, as mutt's M and W do
;; (contrib/muttrc.example).
;;
;; Put this file where Emacs finds it and add to your init file:
;;   (add-to-list 'load-path "~/.emacs.d/lisp")   ; the folder you copied it to
;;   (require 'mailthread)
;;
;;   notmuch (notmuch-show and notmuch-tree):   M  mute the thread,  W  watch it
;;   mu4e (headers and message view):           M-M  mute,  M-W  watch
;;       (mu4e binds M and W itself, to mu4e-view-massage and
;;       mu4e-headers-toggle-include-related: Esc M and Esc W on a terminal)
;;
;; Each key pipes the message's file, byte for byte (its Message-ID, In-Reply-To and
;; References, which a decoded or weeded copy may lack), to `mailthread add muted' (or
;; `watched').  On success the echo area shows mailthread's line ("muted: thread 1 (...):
;; 1 new id"); on failure the command signals an error with mailthread's one-line reason
;; ("mailthread: ..."), so a failure is never silent.  A mailthread that cannot be found
;; is an error too ("Searching for program: No such file or directory, mailthread").
;;
;; Emacs runs mailthread with its own environment: MAILTHREAD_DB, if you set one, must be
;; in Emacs's environment (setenv), and mailthread must be on `exec-path' -- an Emacs
;; started from a desktop menu may lack ~/.local/bin there: then set
;;   (setq mailthread-program "~/.local/bin/mailthread")
;; The keys only bind when notmuch or mu4e is loaded (with-eval-after-load), so loading
;; this file loads neither.  notmuch: the message's file must be readable on this machine
;; (a notmuch-command that runs notmuch on another host is not supported).

;;; Code:

(defgroup mailthread nil
  "Mute and watch mail threads with mailthread."
  :group 'mail)

(defcustom mailthread-program "mailthread"
  "The mailthread command: a name looked up in `exec-path', or a file name."
  :type 'string)

(defun mailthread-add-file (list file)
  "Pipe FILE, one raw message, to `mailthread add LIST'; return mailthread's line.
Signal an error with mailthread's own line when it fails."
  (let ((program (if (file-name-directory mailthread-program)
                     (expand-file-name mailthread-program)
                   mailthread-program)))
    (with-temp-buffer
      ;; INFILE: the file goes to mailthread's stdin as it is on disk (no decoding).
      ;; Stdout and stderr both come here: the success line and the failure line.
      (let* ((status (call-process program file t nil "add" list))
             (output (string-trim (buffer-string))))
        (unless (eql status 0)
          (error "%s" (if (string-empty-p output)
                          (format "mailthread add %s failed: %s" list status)
                        output)))
        output))))

(defun mailthread--add (list file)
  "Record the thread of the message in FILE on LIST and say so."
  (unless (and file (file-readable-p file))
    (user-error "mailthread: no readable message file at point (%s)" file))
  (message "%s" (mailthread-add-file list file)))

;;; notmuch

(declare-function notmuch-show-get-filename "notmuch-show")
(declare-function notmuch-tree-get-prop "notmuch-tree")

(defun mailthread--notmuch-file ()
  "The file of the message at point in notmuch-show or notmuch-tree."
  (let ((file (if (derived-mode-p 'notmuch-tree-mode)
                  (notmuch-tree-get-prop :filename)
                (notmuch-show-get-filename))))
    ;; notmuch lists every file of a message (duplicates): any one has its ids.
    (if (consp file) (car file) file)))

(defun mailthread-notmuch-mute ()
  "Mute the thread of the message at point (mailthread add muted)."
  (interactive)
  (mailthread--add "muted" (mailthread--notmuch-file)))

(defun mailthread-notmuch-watch ()
  "Watch the thread of the message at point (mailthread add watched)."
  (interactive)
  (mailthread--add "watched" (mailthread--notmuch-file)))

(with-eval-after-load 'notmuch-show
  (define-key notmuch-show-mode-map (kbd "M") #'mailthread-notmuch-mute)
  (define-key notmuch-show-mode-map (kbd "W") #'mailthread-notmuch-watch))

(with-eval-after-load 'notmuch-tree
  (define-key notmuch-tree-mode-map (kbd "M") #'mailthread-notmuch-mute)
  (define-key notmuch-tree-mode-map (kbd "W") #'mailthread-notmuch-watch))

;;; mu4e

(declare-function mu4e-message-readable-path "mu4e-message")

(defun mailthread-mu4e-mute ()
  "Mute the thread of the message at point (mailthread add muted)."
  (interactive)
  ;; The file mu4e's own pipe (`mu4e-view-pipe') and raw view read.
  (mailthread--add "muted" (mu4e-message-readable-path)))

(defun mailthread-mu4e-watch ()
  "Watch the thread of the message at point (mailthread add watched)."
  (interactive)
  (mailthread--add "watched" (mu4e-message-readable-path)))

(with-eval-after-load 'mu4e-headers
  (define-key mu4e-headers-mode-map (kbd "M-M") #'mailthread-mu4e-mute)
  (define-key mu4e-headers-mode-map (kbd "M-W") #'mailthread-mu4e-watch))

(with-eval-after-load 'mu4e-view
  (define-key mu4e-view-mode-map (kbd "M-M") #'mailthread-mu4e-mute)
  (define-key mu4e-view-mode-map (kbd "M-W") #'mailthread-mu4e-watch))

(provide 'mailthread)
;;; mailthread.el ends here
