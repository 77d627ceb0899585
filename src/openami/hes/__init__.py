"""Head-end system: collection schedules, retries, backfill, commands and KPIs."""
