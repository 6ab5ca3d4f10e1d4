"""The embedded SQLite backend (WAL, one file)."""
