"""Input checks shared by every service. Each raises ValidationError keyed by field."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from models_app.models import NAME_MAX_LENGTH, ModelVersionStage
from models_app.names import has_invisible_chars, name_key  # noqa: F401 (re-exported)

URI_MAX_LENGTH = 1000
LINEAGE_MAX_LENGTH = 255
# MLflow reserves these alias forms for its own URIs (models:/name@latest, version shortcuts).
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]+$")
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def limit(name: str) -> int:
    """One of the input limits in settings (MODEL_REGISTRY_MAX_*), read when checked."""
    return getattr(settings, name)


def limit_message(what: str, name: str) -> str:
    """Says which limit was passed, so a caller knows what to shorten or an operator to raise."""
    return f"{what}: the limit is {limit(name)} ({name})."


def _has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def clean_name(value: Any, *, field: str = "name", what: str = "Name") -> str:
    """A model or registration name: 1..255 visible characters, no '/', no control chars.

    Normalised to NFKC (so a fullwidth 'ｍodel' is 'model'); invisible and bidirectional
    control characters and names of only dots (which no URL can address) are refused."""
    if not isinstance(value, str):
        raise ValidationError({field: f"{what} must be a string."})
    if len(value) > 4 * NAME_MAX_LENGTH:
        raise ValidationError({field: f"{what} must be at most {NAME_MAX_LENGTH} characters."})
    value = unicodedata.normalize("NFKC", value)
    if has_invisible_chars(value):
        raise ValidationError(
            {field: f"{what} must not contain invisible or text-direction characters."}
        )
    if value and set(value) <= {"."}:
        raise ValidationError({field: f"{what} must not consist only of dots."})
    if not value.strip():
        raise ValidationError({field: f"{what} must not be empty."})
    if value != value.strip():
        raise ValidationError({field: f"{what} must not start or end with whitespace."})
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError({field: f"{what} must be at most {NAME_MAX_LENGTH} characters."})
    if "/" in value:
        raise ValidationError({field: f"{what} must not contain '/'."})
    if _has_control_chars(value):
        raise ValidationError({field: f"{what} must not contain control characters."})
    _refuse_nul(value, field)
    return value


def clean_registry_name(value: Any) -> str:
    name = clean_name(value, what="Registry name")
    if len(name) > 100 or not _REGISTRY_NAME.match(name):
        raise ValidationError(
            {"name": "Registry name may use letters, digits, '-' and '_' (at most 100)."}
        )
    return name


def clean_alias(value: Any) -> str:
    alias = clean_name(value, field="alias", what="Alias")
    if not _ALIAS.match(alias):
        raise ValidationError({"alias": "Alias may use letters, digits, '-' and '_' only."})
    if _RESERVED_ALIAS.match(alias):
        raise ValidationError({"alias": f"Alias '{alias}' is reserved (latest, v<number>)."})
    return alias


def clean_alias_list(value: Any, *, field: str = "aliases") -> list[str]:
    if not isinstance(value, (list, tuple)) or len(value) > 100:
        raise ValidationError({field: "Must be a list of at most 100 alias names."})
    try:
        return sorted({clean_alias(item) for item in value})
    except ValidationError as exc:
        raise ValidationError({field: exc.message_dict["alias"]})


def clean_stage(value: Any, *, field: str = "stage") -> str:
    """A stage name, case-insensitively as MLflow accepts it."""
    if isinstance(value, str):
        for stage in ModelVersionStage.values:
            if value.strip().lower() == stage.lower():
                return stage
    raise ValidationError(
        {field: f"Unknown stage {value!r}. Valid stages: {', '.join(ModelVersionStage.values)}."}
    )


MAX_VERSION_NUMBER = 2**31 - 1


def clean_version_number(value: Any, *, field: str = "version") -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Version must be a positive whole number."})
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError({field: f"Version must be a positive whole number, not {value!r}."})
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise ValidationError({field: "Version must be a positive whole number."})
    return number


def _refuse_nul(value: Any, field: str) -> None:
    """Refuse what no database can store: NUL characters and unpaired surrogates (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError({field: "Must not contain NUL characters."})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError({field: "Must be valid Unicode text (no unpaired surrogates)."})
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_nul(key, field)
            _refuse_nul(item, field)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_nul(item, field)


def clean_moment(value: datetime, *, field: str) -> datetime:
    """An aware datetime in UTC; databases refuse odd offsets (PostgreSQL allows +-15:59)."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError({field: "Date and time out of range."})


INSTANT_MAX_LENGTH = 40
# ISO 8601 as Python reads it (dates, times with or without seconds/fractions, offsets, Z);
# only these characters, checked before parsing, so nothing else reaches the parser.
_INSTANT = re.compile(r"^[0-9][0-9T:.,+\-Z ]*$")
INSTANT_EXAMPLE = "2026-11-24T12:00:00+01:00"


def clean_instant(value: Any, *, field: str = "at") -> datetime:
    """A moment given as ISO 8601 text, as an aware UTC datetime.

    A time without an offset is read in the server's time zone (settings.TIME_ZONE); a date
    alone means its midnight there. Length-capped and parsed in linear time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError({field: f"Give a time in ISO 8601, e.g. {INSTANT_EXAMPLE}."})
    if not isinstance(value, str):
        raise ValidationError({field: "Must be a string."})
    text = value.strip()
    if len(text) > INSTANT_MAX_LENGTH:
        raise ValidationError({field: f"Must be at most {INSTANT_MAX_LENGTH} characters."})
    try:
        if not _INSTANT.match(text):
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError({field: f"Not an ISO 8601 time; write it like {INSTANT_EXAMPLE}."})
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment, timezone.get_default_timezone())
        except (OverflowError, ValueError):
            raise ValidationError({field: "Date and time out of range."})
    return clean_moment(moment, field=field)


def clean_text(value: Any, *, field: str, max_length: int | None = None, required=False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be a string."})
    _refuse_nul(value, field)
    if required and not value.strip():
        raise ValidationError({field: "This field is required."})
    if max_length is not None and len(value) > max_length:
        raise ValidationError({field: f"Must be at most {max_length} characters."})
    return value


def clean_card(value: Any, *, field: str = "card") -> dict[str, str | None]:
    """A model-card patch: known section -> Markdown text (empty or None removes it)."""
    from models_app.models import CARD_SECTION_MAX_LENGTH, CARD_SECTIONS

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: "Must be an object of section: text."})
    unknown = [str(key)[:50] for key in value if key not in CARD_SECTIONS]
    if unknown:
        raise ValidationError(
            {field: f"Unknown section {unknown[0]!r}; the sections are {', '.join(CARD_SECTIONS)}."}
        )
    patch = {}
    for key, text in value.items():
        text = clean_text(text, field=f"{field}.{key}", max_length=CARD_SECTION_MAX_LENGTH)
        patch[key] = text if text.strip() else None
    return patch


def clean_uri(value: Any, *, field: str = "model_source_uri") -> str:
    """An artifact URI, checked as every entry point checks it: see clean_artifact_uri."""
    uri = clean_text(value, field=field, max_length=URI_MAX_LENGTH, required=True).strip()
    if _has_control_chars(uri) or has_invisible_chars(uri):
        raise ValidationError({field: "Must not contain control or invisible characters."})
    return clean_artifact_uri(uri, field=field)


# Artifact and backend URIs --------------------------------------------------------------
# Never valid artifact hosts: cloud metadata services and the machine itself.
_METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.azure.com", "instance-data"}
)
# Local folders no artifact lives in, refused even under an allowed root.
_SYSTEM_PATHS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/var/run")
# Schemes whose authority is a network host (for s3, gs, wasbs... it is a bucket/container).
_HOST_SCHEMES = frozenset({"http", "https", "mlflow-artifacts", "hdfs", "ftp", "sftp"})
_PATH_SEPARATORS = re.compile(r"[/\\?#&=;:]")


def _decoded(uri: str, rounds: int = 4) -> str:
    """The URI percent-decoded until it stops changing (double encoding hides '..')."""
    for _ in range(rounds):
        decoded = unquote(uri)
        if decoded == uri:
            break
        uri = decoded
    return uri


def _has_dot_dot(uri: str) -> bool:
    return ".." in _PATH_SEPARATORS.split(_decoded(uri))


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal means, legacy IPv4 forms included (127.1, 0x7f000001)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not re.fullmatch(r"[0-9a-fA-FxX.]{1,40}", host):
            return None
        try:
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


# Not internal by the standard flags, yet reachable only from inside (6to4 relays).
_EXTRA_INTERNAL = (ipaddress.ip_network("192.88.99.0/24"),)


def _is_internal_address(address) -> bool:
    """Anything but a public unicast address, including IPv4 hidden in IPv6 (mapped, 6to4,
    Teredo) and shared or cloud-internal ranges such as 100.64.0.0/10."""
    if address.version == 6:
        teredo = address.teredo
        embedded = (address.ipv4_mapped, address.sixtofour, teredo[1] if teredo else None)
        if any(inner is not None and _is_internal_address(inner) for inner in embedded):
            return True
    return (
        not address.is_global
        or address.is_multicast
        or any(
            address in network for network in _EXTRA_INTERNAL if network.version == address.version
        )
    )


def _is_internal_host(host: str) -> bool:
    """Loopback, private, link-local and metadata hosts, by name or address literal."""
    host = host.lower().rstrip(".")
    if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        return True
    address = _ip(host)
    return address is not None and _is_internal_address(address)


def _local_path_allowed(path: str) -> bool:
    roots = [os.path.normpath(root) for root in settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS]
    if not roots:
        return False
    if not os.path.isabs(path):
        return True  # relative to wherever the client keeps artifacts; '..' is refused
    path = os.path.normpath(path)
    if any(path == p or path.startswith(p + "/") for p in _SYSTEM_PATHS):
        return False
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def clean_artifact_uri(uri: str, *, field: str = "model_source_uri") -> str:
    """Where a version's artifact is. The server never reads it, but what it stores is
    served to every client that loads the model, so only allowed schemes pass: no '..' in any
    encoding, no fragment, no credentials, no internal or metadata host, and local paths
    only under the roots an administrator lists (settings.MODEL_REGISTRY_ARTIFACT_*)."""
    if _has_dot_dot(uri.replace("\\", "/")):
        raise ValidationError({field: "Must not contain '..' path segments (in any encoding)."})
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if parts.fragment or "#" in uri:
        raise ValidationError({field: "Must not have a fragment ('#...')."})
    if parts.query and scheme not in {"http", "https"}:
        raise ValidationError({field: "Must not have a query string ('?...')."})
    if "@" in parts.netloc and scheme in _HOST_SCHEMES:
        raise ValidationError(
            {field: "Must not hold credentials: the clients' environment provides them."}
        )
    if scheme in {"", "file"} or len(scheme) == 1:  # a path (C:\\... on Windows)
        if scheme == "file" and parts.netloc not in {"", "localhost"}:
            raise ValidationError({field: "A file:// URI must name a local path."})
        path = unquote(parts.path) if scheme == "file" else uri
        if not _local_path_allowed(path):
            raise ValidationError(
                {
                    field: "Local paths are not accepted here"
                    + (
                        f" outside {', '.join(settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS)}."
                        if settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS
                        else " (an administrator may allow folders with "
                        "MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS)."
                    )
                }
            )
        return uri
    allowed = [s.lower() for s in settings.MODEL_REGISTRY_ARTIFACT_SCHEMES]
    if scheme not in allowed:
        raise ValidationError(
            {field: f"Scheme '{scheme[:20]}:' is not allowed (allowed: {', '.join(allowed)})."}
        )
    if scheme in _HOST_SCHEMES and parts.hostname and _is_internal_host(parts.hostname):
        raise ValidationError(
            {field: "Must not point at a loopback, private, link-local or metadata host."}
        )
    return uri


def redact_uri(uri: str) -> str:
    """The URI without user-info, for showing it anywhere."""
    if not isinstance(uri, str) or "@" not in uri:
        return uri
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def clean_link_uri(value: Any, *, field: str) -> str:
    """A link shown to users (an MLflow UI): http(s), without user-info."""
    uri = clean_text(value, field=field, max_length=URI_MAX_LENGTH).strip()
    parts = urlsplit(uri)
    if parts.scheme.lower() not in {"http", "https"} or "@" in parts.netloc:
        raise ValidationError({field: "Must be an http(s) URI without user-info."})
    return uri


# Backend replies can be whole HTML pages (or anything an internal host answers); a client
# is told the gist only.
_URI_WITH_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]{0,20}://)[^/\s@]{1,500}@")


def short_reason(message: str, limit: int = 200) -> str:
    """A backend's error as a short, single-line reason: no response body, no user-info."""
    text = str(message).split("Response body", 1)[0]
    text = " ".join(text[: 4 * limit].split())
    text = _URI_WITH_USERINFO.sub(r"\1***@", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_http_uri(
    value: Any, *, field: str, credentials_hint: str
) -> tuple[str, str, int | None]:
    """An http(s) URI the server will call: no control characters, no user-info, a host and
    a valid port. Returns the URI, its host and port."""
    uri = clean_text(value, field=field, max_length=URI_MAX_LENGTH, required=True).strip()
    if _has_control_chars(uri) or has_invisible_chars(uri):
        raise ValidationError({field: "Must not contain control or invisible characters."})
    parts = urlsplit(uri)
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValidationError({field: "Must be an http(s) URI."})
    if "@" in parts.netloc:
        raise ValidationError({field: f"Must not hold credentials{credentials_hint}."})
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValidationError({field: "Has an invalid port."})
    if not host:
        raise ValidationError({field: "Must name a host."})
    return uri, host, port


def outbound_addresses(
    host: str, port: int | None, *, field: str, allow_private: bool, setting: str
) -> list[str]:
    """The one rule for every address the server connects to on a user's behalf (MLflow
    backends, webhook receivers): the host's addresses, by literal or by DNS, refused if any
    is loopback, private, link-local, reserved or a metadata host, unless an administrator
    allows them with `setting` (then they are returned unchecked)."""
    refused = ValidationError(
        {
            field: "Must not point at a loopback, private or link-local address (an "
            f"administrator may allow them with {setting})."
        }
    )
    if not allow_private and _is_internal_host(host):
        raise refused
    literal = _ip(host)
    if literal is not None:
        return [str(literal)]
    try:
        found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ValidationError({field: f"Host '{host[:100]}' cannot be resolved."})
    addresses = []
    for *_, address in found:
        ip = _ip(address[0].split("%")[0])
        if ip is None or (not allow_private and _is_internal_address(ip)):
            raise refused
        addresses.append(str(ip))
    return addresses


def clean_backend_uri(value: Any, *, field: str = "tracking_uri", resolve: bool = True) -> str:
    """A backend's address (an MLflow tracking server): http(s) or databricks, no user-info
    (credentials come from the environment), and, unless an administrator allows it with
    MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS, no loopback, private or link-local address, by
    literal or by what the name resolves to."""
    uri = clean_text(value, field=field, max_length=URI_MAX_LENGTH, required=True).strip()
    if _has_control_chars(uri) or has_invisible_chars(uri):
        raise ValidationError({field: "Must not contain control or invisible characters."})
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "databricks" or uri == "databricks":
        if "@" in uri:
            raise ValidationError({field: "Must not hold credentials."})
        return uri
    if scheme not in {"http", "https"}:
        raise ValidationError({field: "Must be an http(s) URI (or databricks)."})
    uri, host, port = _clean_http_uri(
        uri,
        field=field,
        credentials_hint=": set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD "
        "in the server's environment instead",
    )
    if settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS:
        return uri
    if resolve or _is_internal_host(host):
        outbound_addresses(
            host,
            port,
            field=field,
            allow_private=False,
            setting="MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS",
        )
    return uri


def clean_webhook_url(value: Any, *, field: str = "url", resolve: bool = True) -> str:
    """Where a webhook delivers: http(s), no user-info, and by the same rule as backends no
    internal address unless MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS is on (checked again, with
    DNS, at each delivery; the delivery connects to the address it checked)."""
    uri, host, port = _clean_http_uri(value, field=field, credentials_hint="")
    if urlsplit(uri).fragment:
        raise ValidationError({field: "Must not have a fragment ('#...')."})
    if resolve:
        outbound_addresses(
            host,
            port,
            field=field,
            allow_private=settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS,
            setting="MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS",
        )
    return uri


def _clean_key(key: Any, field: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError({field: "Keys must be non-empty strings."})
    _check_key_length(key, field)
    if _has_control_chars(key):
        raise ValidationError({field: "Keys must not contain control characters."})
    _refuse_nul(key, field)
    return key


def _check_key_length(key: str, field: str) -> None:
    if len(key) > limit("MODEL_REGISTRY_MAX_KEY_LENGTH"):
        message = limit_message(f"Key '{key[:40]}...' is too long", "MODEL_REGISTRY_MAX_KEY_LENGTH")
        raise ValidationError({field: message})


def _check_value_length(text: str, field: str, what: str) -> None:
    if len(text) > limit("MODEL_REGISTRY_MAX_VALUE_LENGTH"):
        message = limit_message(f"{what} is too long", "MODEL_REGISTRY_MAX_VALUE_LENGTH")
        raise ValidationError({field: message})


def _scalar_to_str(value: Any, field: str, key: str) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        raise ValidationError({field: f"Value of '{key}' must be a string."})
    _check_value_length(text, field, f"Value of '{key[:40]}'")
    _refuse_nul(text, field)
    return text


def clean_metric_value(value: Any, *, field: str = "metrics", key: str = "") -> float:
    if isinstance(value, bool):
        raise ValidationError({field: f"Metric '{key}' must be a number, not {value!r}."})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Metric '{key}' must be a number, not {value!r}."})
    if not math.isfinite(number):
        raise ValidationError({field: f"Metric '{key}' must be a finite number."})
    return number


def _mapping(value: Any, field: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError({field: "Must be an object of key/value pairs."})
    check_key_count(value, field=field)
    return value


def check_key_count(value: Mapping | list, *, field: str) -> None:
    if len(value) > limit("MODEL_REGISTRY_MAX_KEYS"):
        raise ValidationError(
            {field: limit_message(f"{len(value)} entries are too many", "MODEL_REGISTRY_MAX_KEYS")}
        )


def clean_str_map(value: Any, *, field: str, allow_delete: bool = False) -> dict[str, str | None]:
    """Tags or parameters: str -> str. With allow_delete, a None value means 'remove this key'."""
    cleaned: dict[str, str | None] = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = None if (item is None and allow_delete) else _scalar_to_str(item, field, key)
    return cleaned


def clean_metrics(
    value: Any, *, field: str = "metrics", allow_delete=False
) -> dict[str, float | None]:
    cleaned: dict[str, float | None] = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = (
            None
            if (item is None and allow_delete)
            else clean_metric_value(item, field=field, key=key)
        )
    return cleaned


def clean_json_object(value: Any, *, field: str) -> dict[str, Any]:
    """Any JSON object that a database can store, within the size and depth limits."""
    cleaned = dict(_mapping(value, field))
    check_json(cleaned, field=field)
    return cleaned


def check_json(value: Any, *, field: str) -> None:
    """Walk a JSON value without recursion: only JSON types, each object or list within
    MODEL_REGISTRY_MAX_KEYS, keys and strings within their lengths, nesting within
    MODEL_REGISTRY_MAX_DEPTH, no NUL, finite numbers."""
    max_depth = limit("MODEL_REGISTRY_MAX_DEPTH")
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (Mapping, list, tuple)):
            if depth > max_depth:
                raise too_deep(field)
            check_key_count(item, field=field)
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise ValidationError({field: "Keys must be strings."})
                    _check_key_length(key, field)
                    _refuse_nul(key, field)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_value_length(item, field, f"Text '{item[:40]}...'")
            _refuse_nul(item, field)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError({field: "Numbers must be finite."})
        elif not (item is None or isinstance(item, (bool, int))):
            raise ValidationError({field: f"{type(item).__name__} is not a JSON value."})


def check_depth(value: Any, *, field: str, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth` containers, walking without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            item = item.values()
        elif not isinstance(item, (list, tuple)):
            continue
        if depth > max_depth:
            raise too_deep(field)
        pending.extend((child, depth + 1) for child in item)


def too_deep(field: str) -> ValidationError:
    return ValidationError({field: limit_message("Nested too deeply", "MODEL_REGISTRY_MAX_DEPTH")})


def clean_metadata(value: Any, *, field: str = "metadata", allow_delete=False) -> dict[str, Any]:
    """Free-form JSON: nesting counts from the metadata object itself."""
    cleaned = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = item
    check_json(cleaned, field=field)
    return cleaned


def merge_patch(
    current: Mapping[str, Any], patch: Mapping[str, Any], *, field: str | None = None
) -> dict[str, Any]:
    """JSON merge patch on one level: set each key, drop keys whose value is None.

    With `field`, the result must stay within MODEL_REGISTRY_MAX_KEYS, so that many small
    patches cannot grow an object past what one request may send.
    """
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if field is not None and len(merged) > len(current):
        check_key_count(merged, field=field)
    return merged


# Filters: every query a user types is bounded before it is parsed. Messages never carry
# the input, since django-filter formats them with '%'.
def clean_filter_text(value: Any, *, what: str = "Filter") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text.")
    if len(value) > limit("MODEL_REGISTRY_MAX_FILTER_LENGTH"):
        raise ValidationError(
            limit_message(f"{what} is too long", "MODEL_REGISTRY_MAX_FILTER_LENGTH")
        )
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters.")
    return value


def clean_filter_terms(values: list, *, what: str = "Filter") -> list:
    if len(values) > limit("MODEL_REGISTRY_MAX_FILTER_TERMS"):
        raise ValidationError(
            limit_message(f"{what} has too many conditions", "MODEL_REGISTRY_MAX_FILTER_TERMS")
        )
    return values


def clean_like_pattern(pattern: str, *, what: str = "Pattern") -> str:
    """A LIKE pattern: `%` and `_` are wildcards, capped in number."""
    clean_filter_text(pattern, what=what)
    if pattern.count("%") + pattern.count("_") > limit("MODEL_REGISTRY_MAX_FILTER_WILDCARDS"):
        raise ValidationError(
            limit_message(
                f"{what} has too many wildcards (% and _)", "MODEL_REGISTRY_MAX_FILTER_WILDCARDS"
            )
        )
    return pattern


class Cleaner:
    """Runs several checks and raises one ValidationError naming every bad field."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def __call__(self, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.errors.setdefault(field, []).extend(messages)
            return None

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
