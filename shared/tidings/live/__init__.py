"""Live updates: what changes while a user's dashboard is open reaches it over a WebSocket.

`events` says which changes of the table (its stream) become live events, `tokens` checks the
access token a connection opens with, `service` keeps the user's connections and posts each event to
them, forgetting those that are gone.
"""
