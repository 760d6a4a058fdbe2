"""The brands configuration (YAML), validated with pydantic.

Errors name the file and line, the brand, the field and the problem, e.g.::

    brands.yaml:14: brand 'northwind-coffee': alerts.sensitivity: Input should be
    'fewer', 'balanced' or 'more' (got 'loud')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Sensitivity = Literal["fewer", "balanced", "more"]
SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"
#: ISO 639-1 language codes (what `languages:` accepts, optionally with a region: pt-br)
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
    hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg
    li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os
    pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg
    th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()
)
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceCatalogue(Protocol):
    """What config validation needs from the connector registry (`listeners.registry`)."""

    def __contains__(self, name: object) -> bool: ...

    def names(self) -> list[str]: ...

    def options_model(self, name: str) -> type[BaseModel]: ...


class AlertSettings(_Strict):
    """Spike-alert settings of one brand."""

    bucket_minutes: int = Field(default=15, ge=1, le=1440)
    sensitivity: Sensitivity = "balanced"
    min_negative: int = Field(default=5, ge=1, description="never fire below this many negatives")
    quiet_minutes: int = Field(
        default=180, ge=1, description="back in range this long before an episode resolves"
    )
    cooldown_minutes: int = Field(
        default=360, ge=0, description="a new spike this soon after resolving continues the episode"
    )
    escalate_factor: float = Field(
        default=2.0, gt=1.0, description="re-notify only when the figures grew this many times"
    )
    recipients: list[str] = Field(default_factory=list)

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if 1440 % value:
            raise ValueError("must divide a day (1440 minutes), e.g. 5, 10, 15, 30 or 60")
        return value

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        import re

        bad = [r for r in value if not re.match(EMAIL, r)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value


class Brand(_Strict):
    """One brand: who it is, what to listen for, where, and whom to alert."""

    name: str = Field(description="stable id used in documents and cursors (a slug)")
    display_name: str | None = None
    query: str = Field(min_length=1, description="boolean query: terms, phrases, AND/OR/NOT")
    languages: list[str] | None = Field(default=None, description="ISO 639-1 codes; None = all")
    sources: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="source name -> connector options"
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        import re

        if not re.match(SLUG, value):
            raise ValueError(
                "must be a slug: lower-case letters, digits, '-' and '_', starting with a letter "
                "or digit, at most 63 characters (e.g. 'northwind-coffee'; put the full name in "
                "display_name)"
            )
        return value

    @field_validator("languages")
    @classmethod
    def _iso_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        bad = [
            code
            for code in value
            if code.lower().replace("_", "-").split("-")[0] not in ISO_639_1
            or len(code.replace("_", "-").split("-")) > 2
        ]
        if bad:
            raise ValueError(
                f"not an ISO 639-1 language code: {', '.join(repr(b) for b in bad)} "
                "(use two-letter codes such as en, de, fr, pt-br)"
            )
        return value

    @field_validator("query")
    @classmethod
    def _parse_query(cls, value: str) -> str:
        from brandpulse.core.query import parse_query

        parse_query(value)  # QuerySyntaxError (a ValueError) points at the position
        return value

    @field_validator("sources", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value


class BrandsConfig(_Strict):
    """The whole YAML file."""

    version: Literal[1] = 1
    kibana_url: str | None = Field(default=None, description="used for links in alert e-mails")
    retention_days: int = Field(default=395, ge=1)
    brands: list[Brand] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> BrandsConfig:
        seen: set[str] = set()
        for brand in self.brands:
            if brand.name in seen:
                raise PydanticCustomError(
                    "duplicate_brand", "brand name '{name}' is used twice", {"name": brand.name}
                )
            seen.add(brand.name)
        return self

    def brand(self, name: str) -> Brand:
        for brand in self.brands:
            if brand.name == name:
                return brand
        known = ", ".join(b.name for b in self.brands)
        raise ConfigError([f"no brand named {name!r} (configured: {known})"])

    def pairs(self) -> list[tuple[str, str]]:
        """Every (brand, source) pair, in file order."""
        return [(b.name, s) for b in self.brands for s in b.sources]


class ConfigError(ValueError):
    """An invalid configuration; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid brands config:\n  " + "\n  ".join(problems))


def _line_index(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map every YAML path (keys and list positions) to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_line_index(value, (*path, key.value)))
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _describe(err: Mapping[str, Any], data: Any, lines: dict[tuple, int], source: str) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
    prefix = f"{source}:{line}: " if line else f"{source}: "
    field = loc
    if len(loc) >= 2 and loc[0] == "brands" and isinstance(loc[1], int):
        try:
            name = data["brands"][loc[1]].get("name", f"#{loc[1] + 1}")
        except (KeyError, IndexError, TypeError, AttributeError):
            name = f"#{loc[1] + 1}"
        prefix += f"brand {name!r}: "
        field = loc[2:]
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    got = ""
    if (
        err["type"] not in ("missing", "extra_forbidden")
        and "input" in err
        and not isinstance(err["input"], (dict, list))
        and str(err["input"]) not in msg
    ):
        got = f" (got {err['input']!r})"
    where = ".".join(str(p) for p in field)
    return f"{prefix}{where + ': ' if where else ''}{msg}{got}"


def _source_errors(data: dict, catalogue: SourceCatalogue) -> list[dict]:
    """Every problem of every brand's source options, as pydantic-style errors
    located at the option itself (`brands.N.sources.SOURCE.FIELD`), so that they are
    reported with the others, in the same words and at the field's own line."""
    errors: list[dict] = []
    brands = data.get("brands")
    if not isinstance(brands, list):
        return errors
    for i, brand in enumerate(brands):
        sources = brand.get("sources") if isinstance(brand, dict) else None
        if not isinstance(sources, dict):
            continue
        for name, options in sources.items():
            loc: tuple = ("brands", i, "sources", name)
            if name not in catalogue:
                known = ", ".join(catalogue.names())
                errors.append(
                    {"loc": loc, "msg": f"unknown source (known: {known})", "type": "unknown_source"}
                )
                continue
            try:
                catalogue.options_model(name).model_validate({} if options is None else options)
            except ValidationError as exc:
                errors.extend({**err, "loc": (*loc, *err["loc"])} for err in exc.errors(include_url=False))
    return errors


def _duplicate_names(data: dict, lines: dict[tuple, int]) -> list[dict]:
    errors: list[dict] = []
    first: dict[str, int] = {}
    brands = data.get("brands")
    for i, brand in enumerate(brands if isinstance(brands, list) else []):
        name = brand.get("name") if isinstance(brand, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            at = lines.get(("brands", first[name], "name"))
            msg = f"brand name {name!r} is used twice" + (f" (first at line {at})" if at else "")
            errors.append({"loc": ("brands", i, "name"), "msg": msg, "type": "duplicate"})
        else:
            first[name] = i
    return errors


def _line_of(err: dict, lines: dict[tuple, int]) -> int:
    loc = tuple(err["loc"])
    return next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 0)


def parse_config(text: str, source: str = "<config>", sources: SourceCatalogue | None = None) -> BrandsConfig:
    """Parse and validate YAML text; raise ConfigError naming line, brand and field.

    Every problem is reported in one pass (structure, values, source options,
    duplicate names), in file order, each with its own line and dotted field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with a 'brands' list at the top"])
    lines = _line_index(node) if node is not None else {}
    errors: list[dict] = []
    config: BrandsConfig | None = None
    try:
        config = BrandsConfig.model_validate(data)
    except ValidationError as exc:
        errors.extend(dict(e) for e in exc.errors() if e["type"] != "duplicate_brand")
    except RecursionError:  # a structure nested beyond what the validators can walk
        raise ConfigError([f"{source}: nested too deeply"]) from None
    if sources is not None:
        errors.extend(_source_errors(data, sources))
    errors.extend(_duplicate_names(data, lines))
    if errors:
        ordered = sorted(enumerate(errors), key=lambda ie: (_line_of(ie[1], lines), ie[0]))
        problems: list[str] = []
        for _, err in ordered:
            text_ = _describe(err, data, lines, source)
            if text_ not in problems:
                problems.append(text_)
        raise ConfigError(problems)
    assert config is not None
    return config


def load_config(
    path: str | os.PathLike[str] | None = None, sources: SourceCatalogue | None = None
) -> BrandsConfig:
    """Load the brands file (default: $BRANDPULSE_CONFIG or ./brands.yaml).

    With `sources` (the connector registry), every source's options are
    validated too; `brandpulse.pipeline.config.load_checked_config` passes it."""
    if path is None:
        from brandpulse.core.settings import get_settings

        path = get_settings().config_path
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: no such config file (set BRANDPULSE_CONFIG or --config)"])
    config = parse_config(path.read_text(encoding="utf-8"), source=str(path), sources=sources)
    from brandpulse.core.settings import get_settings

    state_dir = str(get_settings().state_dir)
    config_dir = path.resolve().parent
    for brand in config.brands:  # paths in source options: {state_dir}, $VARS, ~, relative
        for options in brand.sources.values():
            if isinstance(options.get("path"), str):
                expanded = options["path"].replace("{state_dir}", state_dir)
                expanded = os.path.expandvars(os.path.expanduser(expanded))
                options["path"] = str((config_dir / expanded).resolve())
    return config
