"""Outgoing webhooks: a user's endpoints, the events they subscribe to, signed deliveries with retries.

Events come from the table's stream (a post reaching its final status, a workflow completing or
waiting for an approval, an alert raised or resolved), so an event exists exactly when the change it
describes was stored: nothing is emitted for a change that failed, and nothing stored is missed.
"""
