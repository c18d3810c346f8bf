"""drf-spectacular extensions: documents the bearer-token scheme of `accounts.authentication` (named by
its dotted path, not imported; loaded in `core.apps.CoreConfig.ready`)."""
import inspect
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/login. It acts for exactly one membership "
                           "(organization and role), chosen at login.",
        }


# --- postprocessing: tags, operationIds, the error envelope on every operation ---------------------------
# One tag per resource: the first path segment after /api/v1/ (the second under oversight/), renamed here
# where several segments are one resource for a reader.
_TAGS = {
    "me": "auth", "basins": "regions", "feed": "trades", "holdings": "ledger", "statements": "ledger",
    "transactions": "ledger", "transfers": "ledger", "issuances": "issuance", "retirements": "issuance",
    "expirations": "issuance", "memberships": "organizations", "rule-kinds": "rulebooks",
    "non-attainment-flags": "rulebooks", "alerts": "surveillance", "audit": "audit",
}
# POSTs refused by a business rule with 422 (rule families, escrow, balances).
_RULE_REFUSED = ("/api/v1/orders", "/api/v1/listings", "/api/v1/cash/", "/api/v1/issuances", "/api/v1/transfers",
                 "/api/v1/retirements", "/api/v1/expirations", "/api/v1/settlement/earmarked-payouts")
_STATUS_TEXT = {
    400: "Invalid request: field errors in `fields`.",
    401: "No valid bearer token (or wrong credentials at login).",
    403: "The acting membership may not do this.",
    404: "No such object, or not visible to the acting organization.",
    409: "Conflicts with the object's current state or an idempotency key.",
    422: "Refused by a business rule; `code` names the rule (see x-error-codes).",
    429: "Too many requests; retry after the Retry-After header.",
}
# deprecated query parameters by path (default: the old range names from/to); checkpoints/consistency's
# from/to are tree sizes (RFC 6962's first/second), not a date range
_DEPRECATED_PARAMS = {"/api/v1/checkpoints/consistency": ()}
# old names kept one release beside the new ones (README, API conventions)
_DEPRECATED_PROPERTIES = {"PendingApprovalRow": ("rules", "required")}
_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def _tag(path: str) -> str:
    parts = path.removeprefix("/api/v1/").split("/")
    first = parts[1] if parts[0] == "oversight" and len(parts) > 1 else parts[0]
    first = first.split(".")[0]
    return _TAGS.get(first, first).replace("-", "_")


def _operation_id(raw: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", raw.lower().removeprefix("v1_")).strip("_")
    return re.sub(r"_(csv|jsonl)_retrieve$", r"_\1", cleaned)


def _error_statuses(path: str, method: str, operation: dict) -> set[int]:
    statuses = {401, 429}
    if operation.get("security") not in (None, [], [{}]) or path != "/api/v1/auth/login":
        statuses.add(403)
    if "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.add(400)
    if "{" in path:
        statuses.add(404)
    if method in {"post", "patch", "put", "delete"}:
        statuses.add(409)
        if path.startswith(_RULE_REFUSED):
            statuses.add(422)
    if path == "/api/v1/auth/login":
        statuses.discard(403)
    return statuses


def postprocess(result, generator, request, public):
    """Tags by resource, operationIds `^[a-z][a-z0-9_]*$`, the envelope (with `code` an enum of every
    registered code) on every operation's 4xx, `x-error-codes` with each code's status and zh/en text,
    examples on the main operations, and no internal docstrings as schema descriptions."""
    from .errors import CODES

    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorCode"] = {"type": "string", "enum": sorted(CODES),
                            "description": "A stable error code; see x-error-codes for status and messages."}
    envelope = schemas.setdefault("ErrorEnvelope", {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {
                           "type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}},
                       "request_id": {"type": "string"}}})
    schemas.setdefault("FieldError", {"type": "object", "required": ["code", "message"],
                                      "properties": {"code": {"type": "string"}, "message": {"type": "string"}}})
    envelope["properties"]["code"] = {"$ref": "#/components/schemas/ErrorCode"}
    envelope["description"] = "The body of every 4xx: a registered `code`, a message in the request's " \
                              "language (Accept-Language zh-hans or en), field errors, the request id."
    result["x-error-codes"] = [{"code": code, "status": status, "zh": zh, "en": en}
                               for code, (status, zh, en) in sorted(CODES.items())]

    from .api import StrictSerializer
    internal = inspect.cleandoc(StrictSerializer.__doc__ or "")
    for name, fields in _DEPRECATED_PROPERTIES.items():
        for field_name in fields if name in schemas else ():  # absent when only part of the API is generated
            schemas[name]["properties"][field_name]["deprecated"] = True
    for component in schemas.values():
        description = component.get("description", "")
        if description == internal or "context[" in description:
            del component["description"]

    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            operation["tags"] = [_tag(path)]
            if operation.get("security") == [{}]:
                operation["security"] = []  # explicitly none: generated clients then need no token here
            for parameter in operation.get("parameters", []):
                # date ranges are since/until; from/to stay one release as deprecated aliases
                if parameter["in"] == "query" and parameter["name"] in _DEPRECATED_PARAMS.get(path, ("from", "to")):
                    parameter["deprecated"] = True
            operation["operationId"] = _operation_id(operation["operationId"])
            responses = operation.setdefault("responses", {})
            for status in sorted(_error_statuses(path, method, operation)):
                codes = sorted(c for c, (s, _zh, _en) in CODES.items() if s == status)
                text = _STATUS_TEXT[status] + (f" Codes: {', '.join(codes)}." if codes and status != 422 else "")
                responses.setdefault(str(status), {"description": text,
                                                   "content": {"application/json": {"schema": _ENVELOPE}}})
                if not responses[str(status)].get("description"):
                    responses[str(status)]["description"] = text
            _add_examples(operation)
    return result




def _add_examples(operation: dict) -> None:
    examples = EXAMPLES.get(operation["operationId"])
    if not examples:
        return
    request_example = examples.get("request")
    if request_example is not None and "requestBody" in operation:
        for media in operation["requestBody"].get("content", {}).values():
            media["examples"] = {"example": {"value": request_example}}
    for status, value in examples.get("responses", {}).items():
        response = operation["responses"].get(str(status))
        if response:
            for media in response.get("content", {}).values():
                media["examples"] = {"example": {"value": value}}


EXAMPLES = {
    "auth_login": {
        "request": {"username": "minjiang_trader", "password": "…", "organization": 12},
        "responses": {401: {"code": "authentication_failed", "message": "认证失败", "fields": {},
                            "request_id": "5f0c9e7e2b6a4c1d"}},
    },
    "orders_create": {
        "request": {"market": 1, "side": "buy", "price": "28500.00", "quantity": "10", "time_in_force": "gtc",
                    "client_order_id": "my-0001"},
        "responses": {422: {"code": "insufficient_balance", "message": "可用余额不足", "fields": {},
                            "request_id": "5f0c9e7e2b6a4c1d"}},
    },
    "orders_cancel_create": {
        "responses": {409: {"code": "order_not_open", "message": "订单不是挂单状态", "fields": {},
                            "request_id": "5f0c9e7e2b6a4c1d"}},
    },
    "cash_deposits_create": {
        "request": {"organization": 12, "amount": "1000000.00", "bank_reference": "ICBC-20261206-0001"},
    },
}
