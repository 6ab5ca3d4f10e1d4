"""What each event does to which statistics: ops per (event, experiment), scopes, metric kinds."""
