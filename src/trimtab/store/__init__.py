"""The only package that speaks SQL. Everything else calls these functions."""

from trimtab.store.engine import Store

__all__ = ["Store"]
