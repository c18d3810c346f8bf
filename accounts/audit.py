"""The audit log writer. Call `audit_record` inside the service's transaction so that the change and its
audit row commit (or roll back) together."""
from __future__ import annotations

from .actor import Actor
from .models import AuditEvent


def audit_record(*, actor: Actor, action: str, object_type: str, object_id, before=None, after=None,
                 region_codes: list[str] | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_user_id=actor.user_id,
        actor_organization_id=actor.organization_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        request_id=actor.request_id or "",
        region_codes=region_codes or [],
    )
