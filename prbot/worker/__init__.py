"""Workers: leased jobs, retries with backoff, dead letters, the reconciler."""
