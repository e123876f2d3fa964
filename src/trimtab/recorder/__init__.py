"""The recorder: the call record, the disk spool, the writer (thread or process) that drains it
into the store.
"""
