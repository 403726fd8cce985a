"""Integrations: the credential vault, and what is connected to what."""
