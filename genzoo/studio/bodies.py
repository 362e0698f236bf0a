"""What the studio's POST routes take: strict pydantic models of bounded JSON (unknown fields refused; nothing in a
request is evaluated or unpickled), and the bounds themselves."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

MAX_BODY = 256 * 1024          # bytes of a POST body (a decode request of 32 codes of 512 numbers fits)
MAX_N = 256                    # images (items) per task request
MAX_OPTION = 100_000           # largest number an option may be (steps, top_k, max_tokens, …)
MAX_TEXT = 2000                # characters of an option string or a prompt
MAX_CODES = 64                 # latent codes per decode request
MAX_Z = 1024                   # numbers per latent code

Scalar = StrictBool | StrictInt | StrictFloat | str


class TaskBody(BaseModel):
    """What ``POST /api/runs/NAME/tasks/KIND`` takes (unknown fields refused). ``options`` are the model's own
    (``temperature``, ``steps``, ``sampler``, ``truncation``, …: see the run's ``tasks`` in ``/api/runs/NAME``)."""

    model_config = ConfigDict(extra="forbid")
    n: StrictInt = Field(16, ge=1, le=MAX_N)
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1)
    label: StrictInt | None = Field(None, ge=0)
    nrow: StrictInt = Field(8, ge=1, le=64)
    options: dict[str, Scalar | None] = Field(default_factory=dict, max_length=16)
    split: Literal["test", "train"] = "test"
    start_row: StrictInt | None = Field(None, ge=0, le=4096)
    mask: str | None = Field(None, max_length=16)
    prompts: list[str] = Field(default_factory=list, max_length=16)
    top: StrictInt = Field(10, ge=1, le=50)

    @field_validator("prompts")
    @classmethod
    def _short_prompts(cls, prompts: list[str]) -> list[str]:
        if any(len(p) > MAX_TEXT for p in prompts):
            raise ValueError(f"a prompt has at most {MAX_TEXT} characters")
        return prompts

    @field_validator("options")
    @classmethod
    def _bounded(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key, value in options.items():
            if len(key) > 40:
                raise ValueError(f"option name {key[:40]!r}… is too long")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{key} must be a finite number")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_OPTION:
                raise ValueError(f"{key} must be at most {MAX_OPTION:,} in size")
            if isinstance(value, str) and len(value) > MAX_TEXT:
                raise ValueError(f"{key} is longer than {MAX_TEXT} characters")
        return options


class CodeBody(BaseModel):
    """``POST …/latent/code``: the code of test image ``index`` or of a prior draw with ``seed``."""

    model_config = ConfigDict(extra="forbid")
    index: StrictInt | None = Field(None, ge=0)
    seed: StrictInt | None = Field(None, ge=0, le=2**63 - 1)


class DecodeBody(BaseModel):
    """``POST …/latent/decode``: images of at most :data:`MAX_CODES` codes, or of points of the latent map."""

    model_config = ConfigDict(extra="forbid")
    codes: list[list[StrictFloat | StrictInt]] = Field(default_factory=list, max_length=MAX_CODES)
    points: list[list[StrictFloat | StrictInt]] = Field(default_factory=list, max_length=MAX_CODES)
    label: StrictInt | None = Field(None, ge=0)

    @field_validator("codes", "points")
    @classmethod
    def _finite(cls, rows: list[list[float]]) -> list[list[float]]:
        if len({len(row) for row in rows}) > 1:
            raise ValueError("every code (or point) must have the same length")
        for row in rows:
            if len(row) > MAX_Z:
                raise ValueError(f"a code has at most {MAX_Z} numbers")
            if not all(math.isfinite(v) and abs(v) <= 1e4 for v in row):
                raise ValueError("codes must be finite numbers of size at most 10,000")
        return rows


class WriterBody(BaseModel):
    """``POST …/writer``: the text so far and the id of the token chosen next (None: only show the choices)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=8000)
    pick: StrictInt | None = Field(None, ge=1)
    top: StrictInt = Field(10, ge=1, le=50)


class AttributeBody(BaseModel):
    """``POST …/latent/attribute``: the class whose attribute vector to make."""

    model_config = ConfigDict(extra="forbid")
    attribute: StrictInt = Field(ge=0, le=10_000)


