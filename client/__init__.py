"""xp SDK."""
