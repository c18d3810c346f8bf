"""`Actor`: who performs a service call. Built from an authenticated request, or `Actor.system()` for
Celery tasks and management commands. Services take it as a keyword argument and pass it to the audit log."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.middleware import current_request_id


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    organization_id: int | None
    role: str | None = None
    organization_kind: str | None = None
    request_id: str = field(default_factory=current_request_id.get)

    @classmethod
    def system(cls, request_id: str = "") -> Actor:
        return cls(user_id=None, organization_id=None, role="system", organization_kind="system",
                   request_id=request_id or current_request_id.get())

    @classmethod
    def from_request(cls, request) -> Actor:
        m = request.auth.membership
        return cls(user_id=m.user_id, organization_id=m.organization_id, role=m.role,
                   organization_kind=m.organization.kind, request_id=getattr(request, "request_id", ""))

    @property
    def is_system(self) -> bool:
        return self.role == "system"
