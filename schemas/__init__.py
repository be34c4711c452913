"""Marshmallow schemas: the one source of request validation, response shapes and the OpenAPI spec."""
