"""Quality: eval suites, scorers, gates on promotion, review sampling and labels."""
