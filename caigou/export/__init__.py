"""Exports (CSV, XLSX, JSON Lines, OCDS) and imports (JSON Lines, CSV) of the archive, streamed."""
