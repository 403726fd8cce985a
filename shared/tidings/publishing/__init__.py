"""Publishing: one interface for every platform, the real HTTP clients, and the publish step."""
