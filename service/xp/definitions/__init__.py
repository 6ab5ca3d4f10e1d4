"""Experiment definitions: YAML files, their schema, and the live set the service serves."""
