"""The control app's request bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Advance(BaseModel):
    by: str = Field(examples=["20 minutes", "1 hour", "27 calendar days", "3 working days"])
