"""Performance measurements (never part of the test suite); see benchmarks/README.md."""
