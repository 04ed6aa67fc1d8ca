"""Tools around the server: the offline simulator, the benchmark, the chaos test, and a local
server process for them and the tests."""
