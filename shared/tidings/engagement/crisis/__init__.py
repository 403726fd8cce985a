"""Crisis detection: signals read from the user's analysed comments and analytics (`rules`), one active
crisis per user with its severity, evidence and timeline (`service`), evaluated from the table's stream
as comments are analysed and periodically while a crisis is active (`evaluation`), a `crisis.detected`
alert e-mailed (`mail`), and the hold a crisis may put on the user's queue of scheduled posts."""
