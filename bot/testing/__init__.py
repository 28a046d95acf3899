"""Test doubles shared by tests, the demo and benchmarks: the GitHub simulator and helpers."""
