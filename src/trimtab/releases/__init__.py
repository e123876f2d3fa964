"""Releases: the content-addressed spec, diffs, artefacts, git state and the active-release cache.
"""
