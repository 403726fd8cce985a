"""Notification e-mail: workflow notifications (`send_notification`, `notify`) and alert e-mails go
only to addresses their user confirmed through a signed, expiring link, and at most
`notification_mail_per_hour` recipients a user each hour. Mail to lists is for campaigns, with their
unsubscribe links and suppression list."""
