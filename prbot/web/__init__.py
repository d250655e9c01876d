"""The web edge: webhook intake, health, readiness and metrics (aiohttp)."""
