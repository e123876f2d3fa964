"""Quality: eval suites, scorers, gates on promotion, review sampling and labels."""

__all__: list[str] = []  # room for what the next issues add
