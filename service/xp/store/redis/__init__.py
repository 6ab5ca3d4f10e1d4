"""The Redis backend (single server or Cluster): key names, Lua scripts, routing by slot."""
