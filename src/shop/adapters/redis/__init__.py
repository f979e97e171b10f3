"""Caches in Redis, shared by every worker and instance: the rendered bodies of the views (a product,
pages of the catalog and of orders) and the standing of tokens. application/views.py reads them, a
token's standing and a body in one round trip; the handlers of the events that change them
(shop.application.handlers) invalidate them.

Every cached value lives under a version counter: each product has one, the catalog as a whole a
generation, each customer one for their orders (and the managers' view of all orders one), each
user one for their tokens. A write bumps the counters after it commits. A reader that loaded old
data just before a write can only store it under the old version, which nobody reads again, so an
invalidation can't be undone by a late writer of the cache. Reading is one round trip (a Lua
script fetches the counters and the values together). Redis down: every read loads from the database
at once; a failed bump is logged, and the TTL bounds the damage.
"""
