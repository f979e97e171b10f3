"""flask-smorest pieces shared by every blueprint: validation answers 400, errors are documented."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from webargs.core import is_json, missing
from webargs.flaskparser import FlaskParser

from shop.domain.errors import InvalidValue
from shop.entrypoints.api.jsonfast import InvalidJson, read_json
from shop.entrypoints.api.security import BEARER, login_required


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: flask.Request, schema: ma.Schema) -> Any:
        """The body, read by the service's one strict reader (webargs would use the json module)."""
        if not is_json(req.mimetype):
            return missing
        data = req.get_data(cache=True)
        if not data:
            return missing
        try:
            return read_json(data)
        except InvalidJson as error:
            raise InvalidValue.single(error.field, str(error)) from None

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        # webargs builds a new schema per request from a class (flask-smorest's pagination passes
        # one), a cost a small request notices. Loading keeps no state in the schema: one will do.
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _shared(argmap)
        schema: ma.Schema = super()._get_schema(argmap, req)
        return schema


@functools.cache
def _shared(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = Parser()
    PAGINATION_ARGUMENTS_PARSER = Parser()
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 20, "max_page_size": 100}

    def errors(self, *statuses: int) -> Callable[[Any], Any]:
        """Document error responses (problem details) of an operation."""

        def decorator(view: Any) -> Any:
            for status in statuses:
                view = self.alt_response(status, response=_response_name(status))(view)
            return view

        return decorator

    def authenticated(self, view: Any) -> Any:
        """Require a valid access token; documents the bearer requirement and the 401.

        Put it first (outermost) so the token is checked before any input is parsed: an anonymous
        caller gets 401, never a 400 that describes the schema.
        """
        return self.doc(security=BEARER)(self.errors(401)(login_required(view)))

    def authenticated_read(self, view: Any) -> Any:
        """authenticated, for a view that reads the token's standing with its data (application/views.py)."""
        return self.doc(security=BEARER)(self.errors(401)(login_required(view, judged_by_view=True)))


def _response_name(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).name
