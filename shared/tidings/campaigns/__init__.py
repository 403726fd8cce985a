"""The email campaign capability: drip sequences generated from templates, an audience of
recipients or a CRM segment, sends scheduled at each recipient's local time through Amazon SES,
unsubscribe and suppression, and nothing sent twice."""
