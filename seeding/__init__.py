"""Data generators outside the domain: the demo (flask seed-demo) and the benchmark tiers (flask bench-data)."""
