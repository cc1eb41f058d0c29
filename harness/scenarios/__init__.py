"""Scenarios: the TOML files a run reads (scenario) and the generated baselines some of them name."""
