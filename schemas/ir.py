"""IR illumination of the models that have it (OAK-D-Pro and its variants): the dot projector that gives
textureless surfaces a pattern stereo can match, and the flood light that lights the mono sensors' scene."""
from __future__ import annotations

from marshmallow import Schema, validate

from .fields import LaxFloat


class IRSchema(Schema):
    dot_projector = LaxFloat(required=True, validate=validate.Range(0.0, 1.0), metadata={
        "description": "Dot projector intensity, 0.0 (off) to 1.0", "example": 0.5})
    flood_light = LaxFloat(required=True, validate=validate.Range(0.0, 1.0), metadata={
        "description": "Flood light intensity, 0.0 (off) to 1.0", "example": 0.0})
