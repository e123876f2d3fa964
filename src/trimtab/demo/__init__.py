"""`trimtab demo`: a workspace with four systems and four weeks of history.

``project`` writes the files a team keeps in Git, ``story`` makes the changes
through the public Workspace API, ``history`` back-dates the production
traffic. The CLI (cli/demo.py) adds the progress bar and serves the dashboard.
"""

from trimtab.demo.project import write_files
from trimtab.demo.story import Story, build

__all__ = ["Story", "build", "write_files"]
