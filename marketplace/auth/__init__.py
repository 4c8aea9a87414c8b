"""Accounts, roles, sessions for the web pages and personal API tokens."""
