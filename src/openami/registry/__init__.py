"""Registry: supply points, meters, retailers, balancing groups, effective-dated links."""
