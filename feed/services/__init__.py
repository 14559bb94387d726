"""Writes of the news feed, one verb per service, called by the API and by Celery tasks alike.

- ``statuses``: publish and delete.
- ``interactions``: favourite and reblog, both idempotent.
- ``relationships``: follow, block, mute.
- ``fanout``: what reaches Redis timelines (push, merge, removal, rebuild, celebrity crossing).
- ``counters``: live counters in Redis, flushed to the database and rebuilt from it.
"""
