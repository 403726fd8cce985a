"""Connectors: one client per integration provider, behind the Connector protocol in base.py."""
