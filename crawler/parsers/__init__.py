"""HTML → items, as pure functions: no network, no database. One module per portal, shared helpers in common."""
