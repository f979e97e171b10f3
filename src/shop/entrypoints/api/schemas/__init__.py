"""Request and response bodies, one module per resource.

Requests: the HTTP shape (types, required fields, unknown fields refused, sizes that keep hostile
values away), and the domain's own checks for the rules, called rather than spelled again
(`rule`); the limits the OpenAPI document shows come from the domain's constants. Responses:
rendered by shop.application.representations, documented from its TypedDicts (`rendered`).
"""
