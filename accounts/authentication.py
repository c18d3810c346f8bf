"""Bearer-token authentication. `Authorization: Bearer <secret>`; the token names one membership,
which fixes the acting organization and role for the request (`request.auth.membership`)."""
import functools

from django.utils import timezone
from rest_framework import authentication, exceptions

from core.prepared import JoinedRow, PreparedQuery

from .models import ApiToken, Membership, Organization, User


class _TokenQuery:
    """The token with its membership, user and organization: what
    `select_related("membership__user", "membership__organization")` reads, prepared once per database
    session. Every request runs it, and planning the four-way join cost several times its execution."""

    def __init__(self):
        self.row = JoinedRow((ApiToken, "t"), (Membership, "m"), (User, "u"), (Organization, "o"))
        self.query = PreparedQuery(f"""SELECT {self.row.columns}
                                         FROM {ApiToken._meta.db_table} t
                                         JOIN {Membership._meta.db_table} m ON m.id = t.membership_id
                                         JOIN {User._meta.db_table} u ON u.id = m.user_id
                                         JOIN {Organization._meta.db_table} o ON o.id = m.organization_id
                                        WHERE t.key_hash = %s""", ["varchar"])

    def run(self, key_hash: str) -> ApiToken | None:
        loaded = self.row.fetch(self.query, [key_hash])
        if loaded is None:
            return None
        (token, membership, user, organization), _ = loaded
        Membership._meta.get_field("user").set_cached_value(membership, user)
        Membership._meta.get_field("organization").set_cached_value(membership, organization)
        ApiToken._meta.get_field("membership").set_cached_value(token, membership)
        return token


@functools.cache
def _token_query() -> _TokenQuery:
    return _TokenQuery()


def token_with_membership(secret: str) -> ApiToken | None:
    return _token_query().run(ApiToken.hash_secret(secret))


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(code="authentication_failed")
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(code="authentication_failed")
        token = token_with_membership(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(code="authentication_failed")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(code="token_revoked")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(code="token_expired")
        membership = token.membership
        if not membership.is_active or not membership.user.is_active:
            raise exceptions.AuthenticationFailed(code="authentication_failed")
        return membership.user, token

    def authenticate_header(self, request):
        return self.keyword
