"""Import the saved objects into Kibana through its saved-objects API.

`POST <kibana>[/s/<space>]/api/saved_objects/_import?overwrite=true` with the
`kbn-xsrf` header and the ndjson as a multipart file. Credentials come from the
environment: `KIBANA_API_KEY` (sent as `Authorization: ApiKey ...`) or
`KIBANA_USERNAME` + `KIBANA_PASSWORD` (basic auth), read by `KibanaSettings`.
They are never printed or logged: a dry run shows only which variable would be
used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import SecretStr, ValidationError

from brandpulse.core.settings import KibanaSettings, describe_error, redact_url
from brandpulse.kibana.objects import to_ndjson

SPACE = re.compile(r"^[a-z0-9_-]{1,128}$")
FILENAME = "brandpulse-saved-objects.ndjson"


class KibanaImportError(RuntimeError):
    """Kibana refused the request, or could not be reached."""


@dataclass(frozen=True)
class KibanaAuth:
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KibanaAuth:
        """From ``KIBANA_*`` in the process environment, or in `environ` alone."""
        try:
            settings = KibanaSettings.load(environ)
        except ValidationError as exc:  # names the variables, never their values
            raise KibanaImportError(describe_error(exc)) from None
        return cls(api_key=settings.api_key, username=settings.username, password=settings.password)

    def describe(self) -> str:
        """Which credentials are used, without their values."""
        if self.api_key is not None:
            return "Authorization: ApiKey *** (from KIBANA_API_KEY)"
        if self.username is not None:
            return f"basic auth as {self.username!r} (KIBANA_USERNAME/KIBANA_PASSWORD)"
        return "no credentials (KIBANA_API_KEY or KIBANA_USERNAME/KIBANA_PASSWORD unset)"

    def headers(self) -> dict[str, str]:
        if self.api_key is not None:
            return {"Authorization": f"ApiKey {self.api_key.get_secret_value()}"}
        return {}

    def basic(self) -> tuple[str, str] | None:
        if self.api_key is None and self.username is not None and self.password is not None:
            return (self.username, self.password.get_secret_value())
        return None


def import_url(base_url: str, space: str | None = None) -> str:
    """The import endpoint, in the default space or in `space`."""
    if not base_url.startswith(("http://", "https://")):
        raise KibanaImportError(f"not an http(s) URL: {base_url!r}")
    if space is not None and not SPACE.match(space):
        raise KibanaImportError(f"invalid space id {space!r} (lower-case letters, digits, - and _)")
    prefix = f"/s/{space}" if space and space != "default" else ""
    return f"{base_url.rstrip('/')}{prefix}/api/saved_objects/_import?overwrite=true"


@dataclass
class ImportPlan:
    """What `import_objects` sends."""

    url: str
    objects: list[dict[str, Any]]
    auth: KibanaAuth

    @property
    def body(self) -> bytes:
        return to_ndjson(self.objects).encode("utf-8")

    def describe(self) -> str:
        lines = [
            f"POST {self.url}",
            "  header kbn-xsrf: true",
            f"  auth: {self.auth.describe()}",
            f"  multipart/form-data file={FILENAME} ({len(self.body):,} bytes, {len(self.objects)} objects):",
        ]
        lines += [f"    {o['type']:<14} {o['id']:<42} {o['attributes']['title']}" for o in self.objects]
        return "\n".join(lines)


@dataclass
class ImportFailure:
    type: str
    id: str
    title: str
    reason: str


@dataclass
class ImportResult:
    success: bool
    created: list[tuple[str, str]] = field(default_factory=list)  # (type, id)
    updated: list[tuple[str, str]] = field(default_factory=list)
    errors: list[ImportFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"{'imported' if self.success else 'import failed'}: {len(self.created)} created, "
            f"{len(self.updated)} updated, {len(self.errors)} errors"
        ]
        lines += [f"  created {t:<14} {i}" for t, i in self.created]
        lines += [f"  updated {t:<14} {i}" for t, i in self.updated]
        lines += [f"  ERROR   {e.type:<14} {e.id} ({e.title}): {e.reason}" for e in self.errors]
        lines += [f"  warning {w}" for w in self.warnings]
        return "\n".join(lines)


def _reason(error: dict[str, Any]) -> str:
    kind = error.get("type", "unknown")
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')}:{r.get('id')}" for r in error.get("references", []))
        return f"missing_references ({missing})"
    message = error.get("message") or error.get("reason") or ""
    return f"{kind}: {message}" if message else kind


def parse_response(body: dict[str, Any]) -> ImportResult:
    """Kibana's import response: `success`, `successCount`, `successResults`
    (`overwrite: true` when an existing object was replaced), `errors`, `warnings`."""
    result = ImportResult(success=bool(body.get("success")))
    for item in body.get("successResults", []):
        key = (item["type"], item.get("destinationId") or item["id"])
        (result.updated if item.get("overwrite") else result.created).append(key)
    for item in body.get("errors", []):
        title = item.get("title") or item.get("meta", {}).get("title") or ""
        result.errors.append(ImportFailure(item["type"], item["id"], title, _reason(item.get("error", {}))))
    result.warnings = [w.get("message", str(w)) for w in body.get("warnings", [])]
    return result


def import_objects(
    plan: ImportPlan,
    timeout_s: float = 60.0,
    verify: bool | str = True,
    session: requests.Session | None = None,
) -> ImportResult:
    """Send the plan; raise KibanaImportError on an HTTP or connection failure."""
    files = {"file": (FILENAME, plan.body, "application/ndjson")}
    headers = {"kbn-xsrf": "true", **plan.auth.headers()}
    own = session is None
    http = requests.Session() if session is None else session
    try:
        response = http.post(
            plan.url,
            files=files,
            headers=headers,
            auth=plan.auth.basic(),
            timeout=timeout_s,
            verify=verify,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:  # host, port and path only
        raise KibanaImportError(f"cannot reach Kibana at {redact_url(plan.url)}: {exc}") from None
    except requests.RequestException as exc:  # e.g. InvalidURL, which quotes the whole URL
        raise KibanaImportError(
            f"cannot send to Kibana at {redact_url(plan.url)}: {type(exc).__name__}"
        ) from None
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        try:
            detail = response.json().get("message", response.text)
        except ValueError:
            detail = response.text
        raise KibanaImportError(f"Kibana answered {response.status_code}: {detail[:500]}")
    return parse_response(response.json())
