"""gameserver: a real-time, durable server for multiplayer round-based simulation games."""

__version__ = "0.1.0"
