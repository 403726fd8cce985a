"""The CRM capability: a client's data read through a cache, content personalised from it, and
activities written back to the CRM exactly once, even when the CRM is down for a while."""
