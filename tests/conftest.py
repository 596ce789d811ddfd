"""Puts tests/ on sys.path (rootdir conftest) so test modules can import small_landscapes."""
