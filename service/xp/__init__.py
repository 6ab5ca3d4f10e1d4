"""xp service."""
