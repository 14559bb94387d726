"""Writes of the rides app, one verb per service: drivers, pricing, dispatch, trips, surge."""
