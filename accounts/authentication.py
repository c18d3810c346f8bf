"""Bearer-token authentication. `Authorization: Bearer <secret>`; the token names one membership,
which fixes the acting organization and role for the request (`request.auth.membership`)."""
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .sql import TOKEN_WITH_MEMBERSHIP


def token_with_membership(secret: str) -> ApiToken | None:
    """The token with its membership, user and organization loaded (one prepared statement), or None."""
    loaded = TOKEN_WITH_MEMBERSHIP.one(key_hash=ApiToken.hash_secret(secret))
    return None if loaded is None else loaded[0]


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
