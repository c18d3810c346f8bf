"""Session login of the web console, on top of the API's own login.

Signing in calls `accounts.services.login` (the same password check, membership choice and suspension
rule as `POST /api/v1/auth/login`); the bearer token it issues is kept in the server-side session and
checked on every request by the API's own `TokenAuthentication` (expiry, revocation, inactive users and
memberships). Switching the acting organization issues a token for another active membership of the
same user (`token_issue`), and signing out revokes the token. So a console session is exactly an API
token: what one may do, the other may do.
"""
from __future__ import annotations

from types import SimpleNamespace

from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import TokenAuthentication
from accounts.models import ApiToken, Membership

SESSION_KEY = "console_token"


def acting_token(request) -> ApiToken | None:
    """The session's token when it is still valid (cached on the request), else None."""
    if hasattr(request, "_console_token"):
        return request._console_token
    token = None
    secret = request.session.get(SESSION_KEY)
    if secret:
        shim = SimpleNamespace(headers={"authorization": f"Bearer {secret}"},
                               META={"HTTP_AUTHORIZATION": f"Bearer {secret}"})
        try:
            found = TokenAuthentication().authenticate(shim)
        except AuthenticationFailed:
            found = None
        if found is None:
            request.session.pop(SESSION_KEY, None)
        else:
            token = found[1]
    request._console_token = token
    return token


def acting_membership(request) -> Membership | None:
    token = acting_token(request)
    return token.membership if token else None


def sign_in(request, secret: str) -> None:
    request.session.cycle_key()  # a new session id at every sign-in (session fixation)
    request.session[SESSION_KEY] = secret
    request.__dict__.pop("_console_token", None)


def secret_of(request) -> str | None:
    return request.session.get(SESSION_KEY)
