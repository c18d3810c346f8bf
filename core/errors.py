"""Every stable error code of the API, in one place, with its HTTP status and messages in Chinese and
English, and the domain error that carries one. This module does not depend on DRF: services raise
`DomainError(code, **params)`; the API's exception handler (`core.handlers`) turns it, and every other
4xx, into one envelope:

    {"code": "insufficient_balance", "message": "<in the request's language>", "fields": {...},
     "request_id": "..."}

Codes are part of the API contract: add new ones, never rename or reuse. Each app registers its own codes
through `register` (in its `errors.py`); business rules (checks with codes such as `W-BASIN-001`) too.
"""
from __future__ import annotations

from django.utils import translation

# code: (http status, zh message, en message). Messages may use {placeholders} filled from params.
CODES: dict[str, tuple[int, str, str]] = {
    # generic
    "validation_error": (400, "请求参数有误", "The request has invalid fields"),
    "malformed_request": (400, "请求体无法解析", "The request body could not be parsed"),
    "unknown_field": (400, "包含未知字段", "Unknown field"),
    "invalid_ordering": (400, "不支持按“{field}”排序（可选：{allowed}）",
                         "Cannot order by \"{field}\" (allowed: {allowed})"),
    "too_many_decimals": (400, "小数位数超过资产精度", "More decimal places than the asset allows"),
    "unsupported_media_type": (415, "不支持的内容类型", "Unsupported content type"),
    "not_authenticated": (401, "需要登录", "Authentication credentials were not provided"),
    "authentication_failed": (401, "认证失败", "Invalid credentials"),
    "token_expired": (401, "令牌已过期", "The token has expired"),
    "token_revoked": (401, "令牌已撤销", "The token has been revoked"),
    "permission_denied": (403, "无权执行此操作", "You do not have permission to perform this action"),
    "not_found": (404, "对象不存在", "Not found"),
    "method_not_allowed": (405, "不允许的请求方法", "Method not allowed"),
    "not_acceptable": (406, "无法满足 Accept 要求", "Not acceptable"),
    "throttled": (429, "请求过于频繁，请稍后再试", "Too many requests; try again later"),
    "conflict": (409, "与当前状态冲突", "Conflicts with the current state"),
    "idempotency_conflict": (
        409,
        "幂等键已用于不同的请求（字段 {field} 不同）",
        "The idempotency key was used for a different request (field {field} differs)",
    ),
    "idempotency_in_progress": (409, "相同幂等键的请求正在处理", "A request with this idempotency key is in progress"),
    # platform limits (README: security): no input reaches a 500
    "bad_request": (400, "请求无效", "Bad request"),
    "request_too_large": (413, "请求体超过 {limit} 字节上限", "The request body exceeds the limit of {limit} bytes"),
    "nesting_too_deep": (400, "JSON 嵌套层数超过 {limit} 层上限", "JSON nesting deeper than {limit} levels"),
    "nul_character": (400, "文本不得包含 NUL 字符", "Text must not contain NUL characters"),
    "invalid_number": (
        400,
        "数值须为字符串形式的十进制数，如 \"12.50\"（仅 ASCII 数字，不含指数、空格或正号）",
        "A number must be a decimal string such as \"12.50\" (ASCII digits only; no exponent, spaces or plus sign)",
    ),
    "amount_out_of_range": (400, "数额超出允许范围", "The amount is out of range"),
    "value_out_of_range": (422, "结果超出可记录的数值范围", "The result is beyond the range that can be recorded"),
    "server_error": (500, "服务器内部错误，请凭 request_id 联系运营方", "Internal server error; quote the request_id"),
    # accounts
    "invalid_uscc": (400, "统一社会信用代码校验失败", "Invalid unified social credit code"),
    "unknown_region": (400, "未知的行政区划代码", "Unknown region code"),
    "organization_suspended": (403, "机构已被暂停", "The organization is suspended"),
    "no_membership": (403, "用户不属于该机构", "The user is not a member of that organization"),
    "ambiguous_organization": (
        400,
        "用户属于多个机构，请指定 organization",
        "The user belongs to several organizations; specify organization",
    ),
    "duplicate_uscc": (
        409, "该统一社会信用代码已被其他机构使用", "An organization with this unified social credit code already exists"
    ),
    "username_taken": (409, "用户名已被使用", "This username is already taken"),
    "unknown_user": (400, "用户不存在", "No user with this username"),
    "unknown_organization": (400, "机构不存在", "No such organization"),
    "already_member": (409, "该用户已是本机构成员", "The user is already a member of this organization"),
    "weak_password": (400, "密码不符合安全要求", "The password does not meet the password policy"),
    "jurisdiction_required": (400, "监管机构必须指定管辖区域", "A regulator needs a jurisdiction region"),
    "jurisdiction_not_allowed": (
        400, "只有监管机构可以设置管辖区域", "Only regulators have a jurisdiction region"
    ),
    "invalid_parent": (
        400, "上级机构无效（不存在、是自身或形成循环）", "Invalid parent organization (missing, itself, or a cycle)"
    ),
    "status_unchanged": (409, "机构已处于该状态", "The organization already has this status"),
    "cannot_suspend_self": (409, "不能暂停当前所代表的机构", "You cannot suspend the organization you act for"),
    "last_admin": (
        409, "机构至少需要保留一名有效的管理员", "The organization must keep at least one active admin"
    ),
}


def register(code: str, status_code: int, zh: str, en: str) -> str:
    """Register a code from another app (rules, ledger checks); returns the code for use as a constant."""
    existing = CODES.get(code)
    if existing and existing != (status_code, zh, en):
        raise ValueError(f"error code {code} registered twice with different meanings")
    CODES[code] = (status_code, zh, en)
    return code


def message_for(code: str, **params) -> str:
    _status, zh, en = CODES.get(code, CODES["validation_error"])
    template = en if (translation.get_language() or "").startswith("en") else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


class DomainError(Exception):
    """A refusal with a registered code, raised by services and views alike. `fields` maps field names to
    messages; `params` fill the message's placeholders. The status comes from the registry unless given."""

    def __init__(self, code: str, *, fields: dict | None = None, status_code: int | None = None, **params):
        if code not in CODES:
            raise ValueError(f"unregistered error code {code}")
        self.code = code
        self.params = params
        self.fields = fields or {}
        self.status_code = status_code or CODES[code][0]
        super().__init__(code)

    @property
    def detail(self) -> str:
        return self.code

    @property
    def message(self) -> str:
        return message_for(self.code, **self.params)


# The name the HTTP layer has always used: one class, so a refusal raised in a service and one raised in a
# view are the same thing to callers, tests and the exception handler.
ApiError = DomainError


def field_error(code: str, field: str, **params) -> DomainError:
    """A DomainError with one field error that repeats the code's message in the request's language."""
    return DomainError(code, fields={field: [{"code": code, "message": message_for(code, **params)}]}, **params)


def envelope(code: str, *, fields=None, message=None, request=None, **params) -> dict:
    body = {"code": code, "message": message or message_for(code, **params), "fields": fields or {}}
    if request is not None and getattr(request, "request_id", None):
        body["request_id"] = request.request_id
    return body
