"""The operator's admin for markets: markets and rulebooks read-only (they change through four-eyes
proposals and the rulebook API), market proposals added here and confirmed or rejected by a second person
(the same services as the API, so the same checks and audit)."""
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from accounts.actor import Actor
from accounts.models import Membership
from core.errors import DomainError
from ledger.admin import ReadOnlyAdmin, ReadOnlyInline
from ledger.adminfmt import amount, yuan

from .models import Market, MarketProposal, Rule, RulebookVersion, SessionWindow
from .proposals import market_proposal_confirm, market_proposal_reject, market_propose


def _operator_actor(request) -> Actor:
    """The admin user acting as a member of the exchange operator (admin or approver)."""
    m = (Membership.objects.filter(user=request.user, is_active=True, organization__kind="exchange_operator",
                                   role__in=("admin", "approver")).select_related("organization").first())
    if m is None:
        raise PermissionDenied("only the exchange operator's admins and approvers")
    return Actor(user_id=m.user_id, organization_id=m.organization_id, role=m.role,
                 organization_kind=m.organization.kind)


class SessionWindowInline(ReadOnlyInline):
    model = SessionWindow
    fields = ("start", "end", "weekdays")


@admin.register(Market)
class MarketAdmin(ReadOnlyAdmin):
    list_display = ("code", "name_zh", "asset", "status", "tick", "lot", "band", "reference", "fee_bps", "fee_minimum",
                    "settlement_mode", "current_session")
    list_filter = ("status", "settlement_mode", "asset__right_type")
    search_fields = ("code", "name_zh", "name_en", "asset__code")
    list_select_related = ("asset",)
    inlines = [SessionWindowInline]

    @admin.display(description="最小变动价位 / tick")
    def tick(self, m):
        return yuan(m.tick_size)

    @admin.display(description="交易单位 / lot")
    def lot(self, m):
        return amount(m.lot_size, m.asset.scale, m.asset.unit)

    @admin.display(description="涨跌幅 / band")
    def band(self, m):
        return "—" if m.price_band_bps is None else f"±{m.price_band_bps / 100:g}%"

    @admin.display(description="基准价 / reference")
    def reference(self, m):
        return yuan(m.reference_price)

    @admin.display(description="最低手续费 / fee minimum")
    def fee_minimum(self, m):
        return yuan(m.fee_min)


@admin.register(MarketProposal)
class MarketProposalAdmin(admin.ModelAdmin):
    """Propose here (asset + configuration in minor units, as the API stores it); another person of the
    operator confirms or rejects with the list's actions."""

    list_display = ("id", "kind", "status", "asset", "market", "proposed_by", "decided_by", "created_at")
    list_filter = ("status", "kind")
    fields = ("kind", "asset", "market", "config", "reason", "status", "proposed_by", "decided_by", "decided_at")
    actions = ("confirm", "reject")

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ("kind", "status", "proposed_by", "decided_by", "decided_at")

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)  # the list's actions only

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            proposal = market_propose(actor=_operator_actor(request), asset=obj.asset if obj.market is None else None,
                                      market=obj.market, config=obj.config or {}, reason=obj.reason)
        except DomainError as exc:
            raise PermissionDenied(f"{exc.code}: {exc.fields or ''}") from exc
        obj.pk, obj.id = proposal.pk, proposal.id

    @admin.action(description="复核通过 / confirm (a second person)")
    def confirm(self, request, queryset):
        actor = _operator_actor(request)
        for proposal in queryset:
            try:
                market_proposal_confirm(actor=actor, proposal_id=proposal.id)
                self.message_user(request, f"proposal {proposal.id} applied")
            except DomainError as exc:
                self.message_user(request, f"proposal {proposal.id}: {exc.code}", level=messages.ERROR)

    @admin.action(description="驳回 / reject")
    def reject(self, request, queryset):
        actor = _operator_actor(request)
        for proposal in queryset:
            try:
                market_proposal_reject(actor=actor, proposal_id=proposal.id, reason="rejected in the admin")
            except DomainError as exc:
                self.message_user(request, f"proposal {proposal.id}: {exc.code}", level=messages.ERROR)


class RuleInline(ReadOnlyInline):
    model = Rule
    fields = ("kind", "params", "enabled")


@admin.register(RulebookVersion)
class RulebookVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "effective_from", "description", "created_at")
    inlines = [RuleInline]
