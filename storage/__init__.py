"""Persistence for gameserver: a small adapter contract, SQLite by default.

This package never imports ``gameserver``.
"""
