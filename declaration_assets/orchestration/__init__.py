"""How cases move through the assets: sensors, the two jobs, retry and concurrency policies, backfills."""
