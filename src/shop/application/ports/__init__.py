"""The ports: what the use cases need from the world, as typing.Protocol, one module per concern.

- paging: Page, Listing (every list is a page and its total)
- users, products, orders, tokens, idempotency, outbox: a repository each, with its queries and values
- unit_of_work: the transaction over every repository
- caches: the shared read caches (Redis), invalidated by the event handlers
- services: password hashing, the clock, ids, business metrics
"""
