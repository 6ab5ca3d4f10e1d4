"""Exposures and conversions as plain data (`model`), parsed from request bodies (`parse`)."""
