"""Organisations, members, client systems and API keys (the platform operator's work)."""
