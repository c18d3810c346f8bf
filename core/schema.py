"""drf-spectacular extensions: documents the bearer-token scheme of `accounts.authentication` (named by
its dotted path, not imported; loaded in `core.apps.CoreConfig.ready`)."""
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
