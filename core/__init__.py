"""The platform kernel every app uses, below all of them (it imports no app): the error code registry
and the framework-free `DomainError` (`errors`), the API's exception handler (`handlers`), API field
helpers and pagination (`api`), integer money (`money`), prepared statements (`prepared`), trigger SQL for
migrations (`dbutil`), request ids and JSON logs (`middleware`), health checks (`health`), throttles
(`throttles`), OpenAPI hooks (`schema`), the settings reader (`conf`), HTTP idempotency
(`idempotency`) and the one numbered family of business checks with `enforce` (`checks`)."""
