"""Plumbing the use cases stand on: locks, transactions, the clock, search indexing, files, backups, database roles."""
