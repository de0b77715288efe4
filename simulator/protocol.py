"""The server side of AWS's REST-JSON protocol, driven by botocore's own service models.

Routing (HTTP method + request URI template), request parsing (URI labels, query string,
headers, JSON body), input validation (required members, types, enums, lengths, patterns,
ranges) and response/error serialization all come from the bundled service model, so the
simulated services speak exactly what real, unmodified boto3 clients send and expect.
Operation handlers only ever see and return plain dicts shaped like the model.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

Handler = Callable[["Call"], dict[str, Any]]


class ServiceError(Exception):
    """An error response; `code` must be an error shape of the service (or a common AWS error)."""

    def __init__(
        self, code: str, message: str, status: int | None = None, **members: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members


def validation_error(message: str, field_name: str | None = None) -> ServiceError:
    members: dict[str, Any] = {"reason": "fieldValidationFailed" if field_name else "other"}
    if field_name:
        members["fieldList"] = [{"name": field_name, "message": message}]
    return ServiceError("ValidationException", message, **members)


@dataclass(frozen=True)
class Call:
    """One parsed, validated request, as a handler sees it."""

    operation: str
    params: dict[str, Any]
    region: str
    access_key: str
    account_id: str


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    literal_length: int
    required_query: tuple[tuple[str, str | None], ...] = field(default=())


@cache
def load_service_model(name: str) -> ServiceModel:
    """The service model botocore ships (and that every boto3 client uses)."""
    return botocore.session.get_session().get_service_model(name)


def _compile_uri(uri: str) -> tuple[re.Pattern[str], int, tuple[tuple[str, str | None], ...]]:
    path, _, query = uri.partition("?")
    literal = 0
    parts: list[str] = []
    for token in re.split(r"(\{[^}]+\})", path):
        if token.startswith("{") and token.endswith("}"):
            name = token[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{_group(name[:-1])}>.+)")
            else:
                parts.append(f"(?P<{_group(name)}>[^/]+)")
        else:
            literal += len(token)
            parts.append(re.escape(token))
    required_query = tuple(
        (k, v or None) for k, v in (pair.partition("=")[::2] for pair in query.split("&") if pair)
    )
    return re.compile("^" + "".join(parts) + "/?$"), literal, required_query


def _group(name: str) -> str:
    return "g_" + re.sub(r"\W", "_", name)


class RestJsonService:
    """A REST-JSON service: routes, parses and validates requests, serializes responses."""

    def __init__(self, service_name: str, handlers: Mapping[str, Handler]) -> None:
        self.model = load_service_model(service_name)
        if self.model.protocol != "rest-json":
            raise ValueError(f"{service_name} is not a rest-json service")
        self.handlers = dict(handlers)
        unknown = set(self.handlers) - set(self.model.operation_names)
        if unknown:
            raise ValueError(f"handlers for operations the model does not have: {sorted(unknown)}")
        routes = []
        for name in self.model.operation_names:
            op = self.model.operation_model(name)
            pattern, literal, required_query = _compile_uri(op.http["requestUri"])
            routes.append(_Route(op, op.http["method"], pattern, literal, required_query))
        # Most specific first: the longest literal text, as API Gateway-style routers do.
        self._routes = sorted(routes, key=lambda r: (-r.literal_length, -len(r.required_query)))
        self._error_shapes = {s.name: s for s in self.model.error_shapes}

    # -- routing ---------------------------------------------------------------------------
    def route(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.match(path)
            if not match:
                continue
            if any(k not in query or (v is not None and v not in query[k])
                   for k, v in route.required_query):
                continue
            labels = {}
            for member_name, shape in (route.operation.input_shape.members.items()
                                       if route.operation.input_shape else ()):
                if shape.serialization.get("location") == "uri":
                    location_name = shape.serialization.get("name", member_name)
                    group = _group(location_name)
                    if group in match.groupdict():
                        labels[location_name] = unquote(match.group(group))
            return route.operation, labels
        return None

    # -- request parsing -------------------------------------------------------------------
    def parse(
        self,
        op: OperationModel,
        labels: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        payload_name = shape.serialization.get("payload")
        lower_headers = {k.lower(): v for k, v in headers.items()}
        body_members: dict[str, Shape] = {}
        member: Any  # a member shape of any kind (structure, list, map, scalar)
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            location_name = member.serialization.get("name", name)
            if location == "uri":
                if location_name in labels:
                    params[name] = self._from_text(member, labels[location_name], name)
            elif location == "querystring":
                if member.type_name == "map":
                    params[name] = {k: v[-1] for k, v in query.items()}
                elif location_name in query:
                    values = query[location_name]
                    if member.type_name == "list":
                        params[name] = [self._from_text(member.member, v, name) for v in values]
                    else:
                        params[name] = self._from_text(member, values[-1], name)
            elif location == "header":
                value = lower_headers.get(location_name.lower())
                if value is not None:
                    params[name] = self._from_text(member, value, name)
            elif location == "headers":
                prefix = location_name.lower()
                params[name] = {k[len(prefix):]: v for k, v in lower_headers.items()
                                if k.startswith(prefix)}
            elif name != payload_name:
                body_members[name] = member
        if payload_name:
            payload_shape = shape.members[payload_name]
            if payload_shape.type_name in ("blob", "string"):
                params[payload_name] = body
            elif body:
                params[payload_name] = self._decode_json(body)
        elif body_members and body:
            document = self._decode_json(body)
            if not isinstance(document, dict):
                raise ServiceError("SerializationException", "Expected a JSON object as body")
            for name, member in body_members.items():
                key = member.serialization.get("name", name)
                if key in document and document[key] is not None:
                    params[name] = document[key]
        self._validate(shape, params, "")
        return params

    @staticmethod
    def _decode_json(body: bytes) -> Any:
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ServiceError("SerializationException",
                               f"Could not parse the body: {exc}") from None

    @staticmethod
    def _from_text(shape: Any, text: str, name: str) -> Any:
        kind = shape.type_name
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind in ("float", "double"):
                return float(text)
            if kind == "boolean":
                if text not in ("true", "false"):
                    raise ValueError(text)
                return text == "true"
        except ValueError:
            raise validation_error(f"Invalid value for {name}: {text!r}", name) from None
        return text

    def _validate(self, shape: Any, value: Any, path: str) -> None:
        where = path or shape.name
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                raise validation_error(f"{where} must be an object", where)
            for required in shape.required_members:
                if value.get(required) is None:
                    name = f"{path}.{required}" if path else required
                    raise validation_error(f"Missing required field: {name}", name)
            members = shape.members
            for key, item in value.items():
                if key in members and item is not None:
                    self._validate(members[key], item, f"{path}.{key}" if path else key)
            if shape.metadata.get("union") and sum(v is not None for v in value.values()) != 1:
                raise validation_error(f"{where} must set exactly one member", where)
        elif kind == "list":
            if not isinstance(value, list):
                raise validation_error(f"{where} must be a list", where)
            self._check_range(shape, len(value), where, "items")
            for index, item in enumerate(value):
                self._validate(shape.member, item, f"{where}[{index}]")
        elif kind == "map":
            if not isinstance(value, dict):
                raise validation_error(f"{where} must be a map", where)
            self._check_range(shape, len(value), where, "entries")
            for key, item in value.items():
                self._validate(shape.key, key, f"{where} key")
                self._validate(shape.value, item, f"{where}.{key}")
        elif kind == "string":
            if not isinstance(value, str):
                raise validation_error(f"{where} must be a string", where)
            enum = shape.metadata.get("enum")
            if enum and value not in enum:
                raise validation_error(
                    f"Invalid value {value!r} for {where}; valid values: {', '.join(enum)}", where)
            self._check_range(shape, len(value), where, "characters")
            pattern = shape.metadata.get("pattern")
            if pattern and not re.fullmatch(pattern, value, flags=re.DOTALL):
                raise validation_error(f"{where} does not match the pattern {pattern}", where)
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise validation_error(f"{where} must be an integer", where)
            self._check_range(shape, value, where, "")
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise validation_error(f"{where} must be a number", where)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise validation_error(f"{where} must be a boolean", where)
        elif kind == "timestamp" and (not isinstance(value, (int, float, str, dt.datetime))
                                      or isinstance(value, bool)):
            raise validation_error(f"{where} must be a timestamp", where)

    @staticmethod
    def _check_range(shape: Any, size: int, where: str, unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        suffix = f" {unit}" if unit else ""
        if low is not None and size < low:
            raise validation_error(f"{where} must be at least {low}{suffix}", where)
        if high is not None and size > high:
            raise validation_error(f"{where} must be at most {high}{suffix}", where)

    # -- responses -------------------------------------------------------------------------
    def respond(self, op: OperationModel, output: Mapping[str, Any]) -> Response:
        shape = op.output_shape
        headers = {"Content-Type": "application/json"}
        if shape is None:
            return Response(op.http.get("responseCode", 200), headers, b"{}")
        document: dict[str, Any] = {}
        for name, member in shape.members.items():
            if output.get(name) is None:
                continue
            location = member.serialization.get("location")
            if location == "header":
                headers[member.serialization.get("name", name)] = str(
                    self._encode(member, output[name]))
            elif location == "statusCode":
                continue
            else:
                key = member.serialization.get("name", name)
                document[key] = self._encode(member, output[name])
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return Response(op.http.get("responseCode", 200), headers, body)

    def error(self, err: ServiceError) -> Response:
        shape = self._error_shapes.get(err.code)
        status = err.status or (shape.metadata.get("error", {}).get("httpStatusCode")
                                if shape is not None else None) or 400
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": err.code}
        document: dict[str, Any] = {"message": err.message}
        if shape is not None:
            structure: Any = shape  # an error shape is a structure
            for name, member in structure.members.items():
                if name not in err.members or err.members[name] is None:
                    continue
                if member.serialization.get("location") == "header":
                    headers[member.serialization.get("name", name)] = str(err.members[name])
                else:
                    document[name] = self._encode(member, err.members[name])
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return Response(status, headers, body)

    def _encode(self, shape: Any, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return {
                member.serialization.get("name", name): self._encode(member, value[name])
                for name, member in shape.members.items()
                if value.get(name) is not None
            }
        if kind == "list":
            return [self._encode(shape.member, item) for item in value]
        if kind == "map":
            return {key: self._encode(shape.value, item) for key, item in value.items()}
        if kind == "timestamp":
            return _encode_timestamp(value, shape.serialization.get("timestampFormat"))
        if kind == "blob":
            return base64.b64encode(value).decode("ascii")
        return value


def _encode_timestamp(value: Any, timestamp_format: str | None) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if timestamp_format == "iso8601":
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value.timestamp()


def parse_query(query_string: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return query
