"""Helpers the tests and benchmarks share: a real redis-server, a real xp serve, seeded data."""
