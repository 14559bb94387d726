"""Following a short link, ``/<code>``.

- ``service``: the rule of a plain active link and ``redirect_follow`` (writes: clicks, budgets).
- ``hot``: the ASGI handler answering plain links (and known-unknown codes) before Django.
- ``view``: the Django view answering everything else, through the same service.
"""
