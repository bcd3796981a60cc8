"""Benchmark of the dashboard against MLflow's own registry server: `python -m bench`."""
