"""Who calls the JSON API: bearer tokens, and the role check that runs before anything reads
the request body."""

import functools

from flask import g, request
from flask_smorest import abort

from core.accounts import Role, User, user_for_token
from core.audit import set_actor


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_api_user() -> User:
    return g.api_user


def roles_required(*roles: Role):
    """Decorate a view (below `@blp.route`, above `@blp.arguments`) so that the caller is
    authenticated and allowed before the body is parsed: a doctor posting an invalid body to a
    pharmacist's endpoint learns 403, not which fields are wrong."""
    allowed = {Role(role) for role in roles}

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            user = user_for_token(token) if token else None
            if user is None:
                abort(401, message="A valid bearer token is required (POST /api/auth/token).")
            if user.role not in allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                abort(
                    403,
                    message=f"This action is for {names}; you are signed in as {user.role.value}.",
                )
            g.api_user = user
            set_actor(user.id, user.username)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorator
