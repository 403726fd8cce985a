"""Scheduling: when posts go out, and when they should."""
