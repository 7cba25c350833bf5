"""Accounts and production safety: login throttling, sessions, request ids and logs, CSP checks, health."""
