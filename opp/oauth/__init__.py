"""OAuth 2.0 binding (SPEC §5.2-5.4): JWT and introspected access tokens, DPoP, mTLS, metadata.

Layers: :mod:`plan` (compiled settings) → :mod:`jwk_keys` / :mod:`dpop` / :mod:`access_tokens` /
:mod:`claims` / :mod:`mtls` (checks, framework-free) → :mod:`authenticator` (one credential →
one :class:`~opp.auth.principal.Principal`) → ``opp.http.oauth_routes`` (metadata, dev server).
"""
