"""The project file, trimtab.yaml: its schema, the loader with line numbers, the checks and the
`init` scaffold.
"""
