"""Thin adapters over AWS services (Step Functions, EventBridge Scheduler)."""
