"""Response schemas made from the representations' TypedDicts: one source of truth for a body.

The schema a route declares documents the body (flask-smorest builds the OpenAPI document from its
fields) and renders it with the representation's plain function: hot paths serialize hundreds of
objects a second, and one function per resource is several times cheaper than marshmallow's
per-field machinery.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import marshmallow as ma
from marshmallow import fields


class RenderedSchema(ma.Schema):
    """A response body: `render` builds it; the fields, made from its TypedDict, document it."""

    render: Callable[[Any], Any]

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self.many if many is None else many:
            return [self.render(item) for item in obj]
        return self.render(obj)


def rendered(view: type, render: Callable[[Any], Any]) -> type[RenderedSchema]:
    """The schema of a view TypedDict, rendered by render; named after the view ("OrderView" ->
    "OrderSchema", hence the OpenAPI component "Order")."""
    attributes: dict[str, Any] = {name: _field(hint) for name, hint in _hints(view).items()}
    attributes["render"] = staticmethod(render)
    return type(_schema_name(view), (RenderedSchema,), attributes)


@functools.cache
def _documented(view: type) -> type[ma.Schema]:
    """A nested view (an order's lines): documented only, its parent renders it."""
    attributes = {name: _field(hint) for name, hint in _hints(view).items()}
    return type(_schema_name(view), (ma.Schema,), attributes)


def _hints(view: type) -> dict[str, Any]:
    return get_type_hints(view, include_extras=True)


def _schema_name(view: type) -> str:
    return view.__name__.removesuffix("View") + "Schema"


def _field(hint: Any) -> fields.Field[Any]:
    nullable = False
    if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint):
        nullable = True
        (hint,) = (arg for arg in get_args(hint) if arg is not type(None))
    metadata: dict[str, Any] = {}
    date_time = False
    if get_origin(hint) is Annotated:
        hint, *notes = get_args(hint)
        for note in notes:
            if note == "date-time":
                date_time = True
            elif isinstance(note, str) and note.startswith("example:"):
                metadata["example"] = note.removeprefix("example:")
    options: dict[str, Any] = {"allow_none": True} if nullable else {}
    if metadata:
        options["metadata"] = metadata
    if date_time:
        return fields.DateTime(**options)
    if hint is bool:
        return fields.Boolean(**options)
    if hint is int:
        return fields.Integer(**options)
    if hint is str:
        return fields.String(**options)
    if get_origin(hint) is Literal:
        return fields.String(metadata={"enum": list(get_args(hint)), **metadata}, allow_none=nullable)
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        if item is str:
            return fields.List(fields.String(), **options)
        return fields.List(fields.Nested(_documented(item)), **options)
    raise TypeError(f"no field for {hint!r}: add it to rendering._field")
