"""The results document of an experiment, built once from stored statistics."""
