"""The ``gateway.yaml`` schema: strict, frozen msgspec Structs mirroring the YAML.

One base (:class:`Strict`) forbids unknown fields and freezes every object. Field names in YAML are
the snake_case attribute names. Durations are strings such as ``"30s"``, ``"10m"``, ``"24h"``;
CIDRs and CEL expressions are strings validated by the compiler, which reports positions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AdminConfig",
    "AdminCredential",
    "AppConfig",
    "AppKeyConfig",
    "AuditConfig",
    "BackendRef",
    "ClaimMapping",
    "ClaimsConfig",
    "ConsoleConfig",
    "ConsoleOidcConfig",
    "CsvConfig",
    "DevServerConfig",
    "DpopSettings",
    "GatewayConfig",
    "GatewaySettings",
    "HttpBackend",
    "HttpRoute",
    "ImpactConfig",
    "IntrospectionConfig",
    "IssuerConfig",
    "ItemsFilter",
    "McpBackend",
    "McpConfig",
    "MtlsSettings",
    "NetworkPolicy",
    "OAuthAdminConfig",
    "OAuthConfig",
    "ObservabilityConfig",
    "PolicyRule",
    "PolicySettings",
    "PythonBackend",
    "RateLimitRule",
    "RateLimitsConfig",
    "RedactionRule",
    "RedisConfig",
    "ResourceConfig",
    "ResourceRef",
    "ServerSettings",
    "StepUpConfig",
    "StoreConfig",
    "ToolConfig",
    "TracingConfig",
    "WebhookConfig",
    "WitnessConfig",
    "WritesConfig",
]

Risk = Literal["low", "medium", "high"]
ToolKind = Literal["read", "action"]
Role = Literal["admin", "approver", "auditor"]
DpopMode = Literal["required", "allowed", "disabled"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Duration = Annotated[str, msgspec.Meta(pattern=r"^\d+(ms|s|m|h|d)$", examples=["30s", "10m", "24h"])]


class Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every config object: unknown fields are errors, instances are immutable."""


class GatewaySettings(Strict, frozen=True, kw_only=True):
    """Process-wide settings of the HTTP surface."""

    name: str = "opp"
    public_url: str | None = None
    """The URL agents use to reach the gateway (DPoP ``htu``, RFC 9728 metadata, OAuth issuer of the
    development server). Unset: it follows the address ``opp serve --host --port`` binds
    (``http://127.0.0.1:8080`` by default). Set it behind a proxy or ingress."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1_048_576
    max_json_depth: Annotated[int, msgspec.Meta(ge=2, le=256)] = 32
    """Deepest nesting of arrays and objects a JSON body may have (checked before decoding)."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed. Nobody else's is."""
    request_timeout: Duration = "30s"
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the gateway (CORS). Empty: no CORS headers at all. Responses
    expose ``WWW-Authenticate``, ``DPoP-Nonce``, ``RateLimit*``, ``Retry-After`` and ``X-Request-Id``."""


class ServerSettings(Strict, frozen=True, kw_only=True):
    """The HTTP server process (granian) under ``opp serve``: supervision and connection limits.

    Read when ``opp serve`` starts; a reload changes only ``max_url_bytes`` and ``body_read_timeout``
    (applied by opp itself).
    """

    shutdown_timeout: Duration = "30s"
    """On ``SIGTERM``/``SIGINT``, how long workers may take to finish in-flight requests before
    they are killed (1s to 30m)."""
    max_header_bytes: Annotated[int, msgspec.Meta(ge=8192, le=1_048_576)] = 32_768
    """Request line plus headers, in bytes; more is ``431`` from the server itself (also past 100
    header fields)."""
    max_url_bytes: Annotated[int, msgspec.Meta(ge=256)] = 8192
    """Request target (path and query), in bytes; longer is ``414 common.uri_too_long``. At most
    ``max_header_bytes``."""
    header_read_timeout: Duration = "10s"
    """How long a connection may take to send a request's line and headers, and how long an idle
    keep-alive connection stays open (1ms to 60s); past it the connection is closed, unanswered."""
    body_read_timeout: Duration = "15s"
    """How long a request's body may take to arrive, from the request's start; past it the answer is
    ``408 common.request_timeout`` and the connection is closed."""
    keep_alive: bool = True
    """HTTP/1.1 keep-alive. ``false``: one request per connection."""
    max_concurrent_requests: Annotated[int, msgspec.Meta(ge=1)] = 256
    """Requests each worker processes at once; more wait in the server (not refused)."""
    backlog: Annotated[int, msgspec.Meta(ge=128)] = 1024
    """Connections the kernel queues before the server accepts them."""


class StoreConfig(Strict, frozen=True, kw_only=True):
    """Where durable records live: ``sqlite`` (embedded, one host, the default), ``postgres``
    (shared by several replicas) or ``memory`` (tests)."""

    kind: Literal["sqlite", "memory", "postgres"] = "sqlite"
    path: str = ".opp/opp.db"
    """SQLite file, relative to the directory of ``gateway.yaml``."""
    url_env: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "OPP_DATABASE_URL"
    """``postgres``: the environment variable holding the libpq URL (``postgresql://user:pass@host/db``).
    The URL is a secret: it is never logged nor echoed in errors."""
    url_file: str | None = None
    """``postgres``: a file holding the URL instead (e.g. a mounted Kubernetes Secret), relative to the
    directory of ``gateway.yaml``; when set, ``url_env`` is not read."""
    pool_min_size: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 1
    """``postgres``: connections each worker process keeps open."""
    pool_max_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    """``postgres``: the most connections each worker process opens."""
    pool_timeout: Duration = "5s"
    """``postgres``: how long a request waits for a free connection (or for the server) before it
    is refused with 503 ``agent.unavailable``."""
    key_cache_max_age: Duration = "5s"
    """How long a worker may reuse an agent key's lookup (the key and its app). Any change to an
    app or a key drops every worker's cached lookups at once (PostgreSQL: a notification; SQLite: a
    word of shared memory beside the file); this is only the upper bound, which also covers
    changes made with SQL outside opp. ``0s``: no cache, one query per request."""


class AuditConfig(Strict, frozen=True, kw_only=True):
    enabled: bool = True
    flush_interval: Duration = "50ms"
    """Read-path events are batched for at most this long before they are committed."""
    jsonl_path: str | None = None
    """Also append every committed event, hash-chain fields included, to this JSONL file
    (relative to the directory of ``gateway.yaml``); see docs/AUDIT.md."""


class PolicySettings(Strict, frozen=True, kw_only=True):
    """How CEL rules are evaluated."""

    engine: Literal["compiled", "cel-python"] = "compiled"
    """``compiled``: rules compiled once to Python closures (fast, the default); ``cel-python``:
    cel-python's interpreter (the reference). ``opp check`` builds both forms either way."""


class AdminCredential(Strict, frozen=True, kw_only=True):
    """An admin-plane credential declared in config; only its SHA-256 is stored here."""

    name: str
    roles: tuple[Role, ...]
    token_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class AdminConfig(Strict, frozen=True, kw_only=True):
    credentials: tuple[AdminCredential, ...] = ()
    bootstrap_token_env: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    """Name of an environment variable holding an admin token (``opa_…``) with the ``admin`` role,
    recorded as actor ``bootstrap``: for deployments whose secret store hands the token to the pod
    (the Helm chart's ``admin.bootstrapToken``). Read when the config is compiled, never logged."""


class PythonBackend(Strict, frozen=True, kw_only=True, tag="python", tag_field="kind"):
    """Tools implemented by an importable Python module (in-process)."""

    module: str
    options: dict[str, Any] = {}
    """Passed to the module's optional ``setup(options, base_dir)`` when the server starts."""


class HttpBackend(Strict, frozen=True, kw_only=True, tag="http", tag_field="kind"):
    """Tools implemented by an HTTP upstream, called through a pooled httpx client."""

    base_url: str
    timeout: Duration = "10s"
    connect_timeout: Duration = "2s"
    headers: dict[str, str] = {}
    """Static headers (the gateway's service credential); ``${ENV}`` is expanded at compile time."""
    max_connections: Annotated[int, msgspec.Meta(ge=1)] = 100


class McpBackend(Strict, frozen=True, kw_only=True, tag="mcp", tag_field="kind"):
    """Tools served by an upstream MCP server (docs/MCP.md): a streamable HTTP ``url`` or a stdio
    ``command``. Tools reference it with ``{backend: NAME, call: UPSTREAM_TOOL}``. The agent's
    credential is never forwarded upstream."""

    url: str | None = None
    command: tuple[str, ...] = ()
    """The stdio server to run, e.g. ``[npx, "@modelcontextprotocol/server-everything"]``."""
    headers: dict[str, str] = {}
    """Sent to a ``url`` upstream (the gateway's own credential); ``${ENV}`` is expanded at compile time."""
    env: dict[str, str] = {}
    """Environment of a ``command`` upstream (its secrets); ``${ENV}`` is expanded at compile time."""
    timeout: Duration = "30s"
    """How long connecting (and the initialize handshake) may take."""


Backend = PythonBackend | HttpBackend | McpBackend


class BackendRef(Strict, frozen=True, kw_only=True):
    """How one tool (or resource lookup) reaches its backend.

    ``backend`` names an entry of ``backends``. For a Python backend ``call`` is a function of its
    module; for an HTTP backend ``method`` and ``path`` (with ``{arg}`` placeholders) are used.
    ``function: "module:function"`` names a Python callable directly, without a backend entry.
    """

    backend: str | None = None
    call: str | None = None
    function: str | None = None
    method: HttpMethod = "GET"
    path: str | None = None


class ResourceConfig(Strict, frozen=True, kw_only=True):
    """A server-side resource lookup: fetch a resource by id and read its tenant.

    The lookup returns an object (or nothing). ``tenant_field`` names the attribute that holds the
    owning tenant; ``fields`` declares the attributes (and their CEL types) that policies may read
    as ``resource.<field>``.
    """

    lookup: BackendRef
    tenant_field: str = "org_id"
    fields: dict[str, Literal["string", "int", "double", "bool", "list", "map", "timestamp"]] = {}


class ResourceRef(Strict, frozen=True, kw_only=True):
    """Which resource a tool call touches: the resource type and the input field carrying its id."""

    type: str
    id_arg: str
    id_arg_aliases: tuple[str, ...] = ()
    """More input fields that may carry the id, tried in order when ``id_arg`` is absent or empty
    (e.g. ``ledger_id`` beside ``ledgerId``)."""


class HttpRoute(Strict, frozen=True, kw_only=True):
    method: HttpMethod = "GET"
    path: str


class RedactionRule(Strict, frozen=True, kw_only=True):
    """Replace fields of the result unless ``unless`` (CEL) is true.

    ``fields`` are dotted paths; ``[]`` walks a list, e.g. ``items[].title``.
    """

    fields: tuple[str, ...]
    replacement: Any = "[redacted]"
    unless: str | None = None


class ItemsFilter(Strict, frozen=True, kw_only=True):
    """Keep only the elements of the list at ``path`` for which ``keep`` (CEL, sees ``item``) is true."""

    path: str = "items"
    keep: str


class ImpactConfig(Strict, frozen=True, kw_only=True):
    """How an action's impact (shown to approvers, hashed into ``impactHash``) is computed.

    Declarative: ``summary`` is a template with ``{args.x}`` / ``{resource.y}`` placeholders and
    ``fields`` maps impact keys to ``args.<name>`` or ``resource.<field>`` paths. Or ``backend``:
    a backend preflight call that returns the impact object.
    """

    summary: str | None = None
    fields: dict[str, str] = {}
    backend: BackendRef | None = None


class WitnessConfig(Strict, frozen=True, kw_only=True):
    """How the State Witness is computed: selected fields of the server-fetched resource, or a
    backend call returning the witness object. Recomputed at execution; a mismatch fails closed."""

    fields: tuple[str, ...] = ()
    backend: BackendRef | None = None


class CsvConfig(Strict, frozen=True, kw_only=True):
    """Render the list at ``path`` of the tool's result (after redaction) as CSV."""

    path: str = "items"
    columns: tuple[str, ...]


class ToolConfig(Strict, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")]
    description: str
    kind: ToolKind = "read"
    risk: Risk = "low"
    required_scopes: tuple[str, ...] = ()
    requires_confirmation: bool = False
    http: HttpRoute | None = None
    input_schema: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    output_schema: dict[str, Any] | None = None
    policies: tuple[str, ...] = ()
    tenant_boundary: Literal["resource", "app", "none"] = "app"
    """``resource``: the tenant comes from ``resource`` (lookup required); ``app``: the backend is
    given the app's tenant and scopes its own query; ``none``: not tenant data."""
    resource: ResourceRef | None = None
    redact: tuple[RedactionRule, ...] = ()
    filter_items: ItemsFilter | None = None
    backend: BackendRef | None = None
    impact: ImpactConfig | None = None
    """Action tools: how the impact is computed (required for high-risk tools)."""
    witness: WitnessConfig | None = None
    """Action tools: the State Witness revalidated at execution time."""
    dpop: DpopMode | None = None
    """DPoP for this tool (``required | allowed | disabled``); default ``oauth.dpop.mode``."""
    approvals: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    """Action tools: distinct human approvals needed before a draft executes (quorum)."""
    csv: CsvConfig | None = None
    """Return the result as CSV (``{csv, rows}``), rendered after redaction."""


class WritesConfig(Strict, frozen=True, kw_only=True):
    """Lifetimes of the write lifecycle (SPEC §7)."""

    preflight_ttl: Duration = "10m"
    draft_ttl: Duration = "24h"
    """A pending draft past this age is ``expired`` and can no longer be approved."""
    auto_execute_max: Duration = "24h"
    """The longest auto-execute window an admin may open (``expires_at`` is capped to it)."""
    idempotency_retention: Duration = "24h"
    idempotency_wait: Duration = "2s"
    """How long a duplicate waits for an in-flight execution before ``409 idempotency_in_progress``."""
    execution_lease: Duration = "60s"
    """After this long an unfinished execution is reported as ``unknown`` (the process died)."""
    approve_drafts_of_revoked_keys: bool = False
    """Let an approval execute a draft whose key was revoked or expired after the draft was made
    (default: such a draft fails on approval, nothing runs)."""


class PolicyRule(Strict, frozen=True, kw_only=True):
    """A CEL rule. ``when`` must evaluate to a bool.

    ``deny`` rules that match deny (403 ``agent.policy_denied``); ``invalid`` rules that match reject
    the input (400 ``agent.action_invalid``); when a tool has ``allow`` rules, one must match.
    An action tool with no matching ``allow`` rule is denied.
    """

    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
    effect: Literal["allow", "deny", "invalid"] = "deny"
    description: str = ""
    when: str
    message: str | None = None


class NetworkPolicy(Strict, frozen=True, kw_only=True):
    allowed_ips: tuple[str, ...] = ()
    """CIDRs (IPv4 or IPv6). Empty means any address."""


class AppKeyConfig(Strict, frozen=True, kw_only=True):
    """A key declared in config (GitOps): the token itself never appears, only its SHA-256."""

    id: Annotated[str, msgspec.Meta(pattern=r"^key_[A-Za-z0-9_]+$")]
    name: str = "Declared key"
    token_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    expires_at: str | None = None


class AppConfig(Strict, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^app_[A-Za-z0-9_]+$")]
    name: str
    description: str = ""
    scope: Literal["personal", "workspace"] = "workspace"
    org_id: str | None = None
    user_id: str | None = None
    service_user_id: str | None = None
    scopes: tuple[str, ...] = ()
    network: NetworkPolicy = NetworkPolicy()
    data: dict[str, Any] = {}
    """Data policy attributes, validated against ``app_policy_schema``; CEL reads ``app.policy``."""
    keys: tuple[AppKeyConfig, ...] = ()


RateLimitDimension = Literal["key", "app", "ip", "tool", "tenant"]


class RateLimitRule(Strict, frozen=True, kw_only=True):
    """One quota: ``limit`` calls per window for each distinct combination of the ``per`` values.

    ``per: [key, ip]`` counts each key from each client address; ``per: [tenant]`` shares one quota
    among every app of a tenant; ``per: [tool]`` caps a tool for everybody together. ``tools``
    restricts the rule to calls of these tools (and makes it a per-tool rule).
    """

    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
    per: Annotated[tuple[RateLimitDimension, ...], msgspec.Meta(min_length=1)]
    limit: Annotated[str, msgspec.Meta(examples=["240/minute", "10/second", "1000 per day"])]
    """A ``limits`` rate string: ``AMOUNT/GRANULARITY`` or ``AMOUNT per N GRANULARITY``."""
    tools: tuple[str, ...] = ()
    description: str = ""


class RateLimitsConfig(Strict, frozen=True, kw_only=True):
    """Admission control (SPEC §8): quotas checked right after the network step, before any work."""

    storage: str | None = None
    """Where counters live: ``redis`` (the server of the top-level ``redis:`` section, shared by
    every replica), or a ``limits`` storage URI: ``memory://`` (this process), ``sqlite:///PATH``
    (shared by the workers of one host; ``sqlite://`` alone puts the file next to the store) or
    ``redis://HOST:PORT``. Unset: ``redis`` when a ``redis:`` section is configured, else
    ``memory://``. ``opp serve --workers N`` with N > 1 replaces ``memory://`` with the SQLite file
    next to the store."""
    strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = "fixed-window"
    rules: tuple[RateLimitRule, ...] = ()


class TracingConfig(Strict, frozen=True, kw_only=True):
    """OpenTelemetry tracing (needs the ``otel`` extra: ``pip install 'opp[otel]'``)."""

    enabled: bool = False
    """One SERVER span per HTTP request (child of an incoming ``traceparent``). Without the extra
    installed this is a no-op with a warning at startup."""
    exporter: Literal["otlp", "console"] = "otlp"
    """Used only when no tracer provider is configured already: ``otlp`` (OTLP over HTTP, needs
    ``opentelemetry-exporter-otlp-proto-http``, reads ``OTEL_EXPORTER_OTLP_*``) or ``console``."""
    service_name: str = "opp"


class ObservabilityConfig(Strict, frozen=True, kw_only=True):
    """Logs, metrics and traces (docs/OPERATIONS.md)."""

    log_format: Literal["json", "text"] = "json"
    """``json``: one object per line with ``request_id``; ``text``: a readable line."""
    metrics: bool = True
    """Serve Prometheus metrics at ``GET /metrics`` (unauthenticated: expose it to your network only)."""
    tracing: TracingConfig = TracingConfig()


ProofAlg = Literal["ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256"]
TokenAlg = Literal[
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"
]


class IntrospectionConfig(Strict, frozen=True, kw_only=True):
    """RFC 7662 introspection of opaque access tokens from this issuer."""

    endpoint: str | None = None
    """Introspection endpoint; default: ``introspection_endpoint`` from the issuer's metadata."""
    client_id: str
    client_secret_env: str
    """Name of the environment variable holding the client secret (never the secret itself)."""
    cache_max: Duration = "60s"
    """Longest an active answer is cached (never past the token's ``exp``): the revocation delay."""


class IssuerConfig(Strict, frozen=True, kw_only=True):
    """A trusted authorization server. Keys come from ``jwks_file``, ``jwks_uri`` or its metadata."""

    issuer: str
    """Exact ``iss`` value; also where RFC 8414 / OIDC metadata is discovered."""
    jwks_uri: str | None = None
    jwks_file: str | None = None
    """A JWKS JSON file (relative to ``gateway.yaml``); re-read when it changes."""
    algorithms: Annotated[tuple[TokenAlg, ...], msgspec.Meta(min_length=1)] = (
        "ES256",
        "RS256",
        "PS256",
        "EdDSA",
    )
    """Signature algorithms accepted for this issuer's access tokens (never ``none`` or HS*)."""
    introspection: IntrospectionConfig | None = None
    jwks_cache: Duration = "5m"
    """How long a fetched JWKS is used before it is fetched again."""
    jwks_refresh_cooldown: Duration = "60s"
    """An unknown ``kid`` refreshes the JWKS at most once per this interval (kid-flood guard)."""


class ClaimMapping(Strict, frozen=True, kw_only=True):
    """Values of a list (or space-separated) claim mapped to OPP scopes."""

    claim: str
    values: dict[str, tuple[str, ...]]
    """Claim value → OPP scopes it grants."""


class ClaimsConfig(Strict, frozen=True, kw_only=True):
    """How token claims become an OPP principal (SPEC §5.2)."""

    scope: str | None = "scope"
    """Space-separated claim whose values are OPP scope names (unknown names are ignored)."""
    mappings: tuple[ClaimMapping, ...] = ()
    app: str = "client_id"
    """Claim naming the integration app (its value is the app id)."""
    tenant: str | None = None
    """Claim naming the tenant; when the app has one they must be equal."""


class DpopSettings(Strict, frozen=True, kw_only=True):
    """DPoP proof of possession (RFC 9449, SPEC §5.3)."""

    mode: DpopMode = "allowed"
    """Default for every tool and discovery: ``required`` (DPoP-bound tokens only), ``allowed``
    (DPoP-bound tokens need a proof; bearer tokens pass), ``disabled`` (DPoP refused)."""
    algorithms: Annotated[tuple[ProofAlg, ...], msgspec.Meta(min_length=1)] = (
        "ES256",
        "ES384",
        "EdDSA",
        "Ed25519",
        "PS256",
        "RS256",
    )
    max_age: Duration = "60s"
    """A proof's ``iat`` may be at most this far in the past."""
    max_future: Duration = "5s"
    """... and at most this far in the future (clock skew)."""
    nonce: bool = False
    """Require server nonces: a proof without a current nonce gets 401 ``use_dpop_nonce``."""
    nonce_lifetime: Duration = "5m"
    replay_storage: str | None = None
    """Where the ``jti`` replay cache lives: ``redis`` (the top-level ``redis:`` section, shared by
    every replica) or a ``limits`` storage URI (``memory://``, ``mmap:///PATH[?slots=N]``,
    ``sqlite:///PATH``, ``redis://HOST:PORT``). Unset: ``redis`` when a ``redis:`` section is
    configured, else per process with one worker and, with several, a memory-mapped table next to
    the store (2**20 slots: about 7,000 proofs a second per host)."""


class MtlsSettings(Strict, frozen=True, kw_only=True):
    """Certificate-bound tokens (RFC 8705) behind a TLS-terminating proxy."""

    enabled: bool = False
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs whose ``Client-Cert`` / ``X-SSL-Client-Cert`` headers are believed; default
    ``gateway.trusted_proxies``. A certificate header from anyone else is refused."""


class OAuthAdminConfig(Strict, frozen=True, kw_only=True):
    """OAuth access to the admin plane: token claim values mapped to admin roles."""

    claim: str = "roles"
    roles: dict[str, Role] = {}
    """Claim value → ``admin | approver | auditor``. Empty: OAuth tokens cannot use the admin plane."""
    name_claim: str = "sub"


class StepUpConfig(Strict, frozen=True, kw_only=True):
    """Step-up for approving high-risk drafts (RFC 9470, SPEC §7.7)."""

    max_age: Duration | None = None
    """When set, the approver's token ``auth_time`` must be at most this old (opaque admin tokens,
    which carry no ``auth_time``, cannot approve high-risk drafts)."""
    acr: tuple[str, ...] = ()
    """When set, the approver's ``acr`` must be one of these."""


class DevServerConfig(Strict, frozen=True, kw_only=True):
    """Built-in development authorization server. NOT FOR PRODUCTION."""

    enabled: bool = False
    token_ttl: Duration = "10m"  # noqa: S105 - a lifetime, not a secret
    require_dpop: bool = True
    """Issue DPoP-bound tokens only (a token request without a DPoP proof is refused)."""


class OAuthConfig(Strict, frozen=True, kw_only=True):
    """OAuth 2.0 access tokens for agents and admins (SPEC §5.2-5.4)."""

    enabled: bool = False
    resource: str | None = None
    """This gateway's resource identifier (the ``aud``, RFC 8707); default ``gateway.public_url`` + ``/``."""
    issuers: tuple[IssuerConfig, ...] = ()
    leeway: Duration = "30s"
    """Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
    claims: ClaimsConfig = ClaimsConfig()
    dpop: DpopSettings = DpopSettings()
    mtls: MtlsSettings = MtlsSettings()
    admin: OAuthAdminConfig = OAuthAdminConfig()
    step_up: StepUpConfig = StepUpConfig()
    dev_server: DevServerConfig = DevServerConfig()


class DemoConfig(Strict, frozen=True, kw_only=True):
    """First-start bootstrap: create this app in an empty store."""

    bootstrap_app: AppConfig | None = None


class RedisConfig(Strict, frozen=True, kw_only=True):
    """Redis shared by every replica: rate-limit counters and the DPoP replay cache (docs/SCALE_OUT.md).

    The URL is ``redis://`` or ``rediss://`` (TLS), ``[[user]:password@]host[:port][/db]``; it is
    read from the environment (or a file) when the config is compiled and never logged or echoed.
    Needs the ``redis`` extra (``pip install 'opp[redis]'``).
    """

    url_env: str = "OPP_REDIS_URL"
    """Name of the environment variable holding the URL (the password goes inside it)."""
    url_file: str | None = None
    """A file holding the URL instead (a mounted secret), relative to the directory of
    ``gateway.yaml``; when set, ``url_env`` is not read."""
    timeout: Duration = "500ms"
    """Connect and read timeout of one Redis command: a Redis that does not answer in time fails
    the request with 503 ``agent.shared_state_unavailable`` instead of stalling it."""


class McpConfig(Strict, frozen=True, kw_only=True):
    """The Model Context Protocol binding (docs/MCP.md): the agent plane's tools over MCP streamable
    HTTP, governed by the same pipeline as the REST routes."""

    enabled: bool = False
    path: Annotated[str, msgspec.Meta(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/mcp"
    """Where the endpoint is served (a path of its own, outside ``/api``)."""
    allowed_hosts: tuple[str, ...] = ()
    """More ``Host`` values to accept besides the one of ``gateway.public_url`` (DNS-rebinding
    protection; ``host:*`` allows any port)."""
    allowed_origins: tuple[str, ...] = ()
    """More browser ``Origin`` values to accept besides the public URL's and ``gateway.cors_origins``
    (a request without ``Origin`` is accepted)."""
    tasks: bool = True
    """Offer the MCP Tasks extension (``io.modelcontextprotocol/tasks``): a client that declares it
    gets a task for a draft, completed when the draft is approved, rejected or expires."""
    task_poll_interval: Duration = "5s"
    """``pollIntervalMs`` suggested to clients polling a task with ``tasks/get``."""


class ConsoleOidcConfig(Strict, frozen=True, kw_only=True):
    """Console sign-in with OpenID Connect: authorization code flow with PKCE (S256).

    Roles come from the ID token the same way as for admin access tokens (``oauth.admin``: ``claim``,
    ``roles``, ``name_claim``).
    """

    issuer: str
    """The OpenID Provider; its ``/.well-known/openid-configuration`` is fetched on first use."""
    client_id: str
    client_secret_env: str | None = None
    """Environment variable holding the client secret; unset: a public client (PKCE only)."""
    scopes: tuple[str, ...] = ("openid", "profile")
    redirect_uri: str | None = None
    """Default: ``gateway.public_url`` + ``/console/auth/callback``."""


class WebhookConfig(Strict, frozen=True, kw_only=True):
    """A receiver of draft notifications, signed with HMAC-SHA256 (docs/CONSOLE.md)."""

    name: str
    url: str
    secret_env: str
    """Environment variable holding the signing secret (never the secret itself)."""
    format: Literal["opp", "slack"] = "opp"
    """``opp``: the signed JSON event; ``slack``: a Slack incoming-webhook message (``text`` and
    ``blocks``), signed the same way."""
    events: tuple[Literal["draft.created", "draft.expiring", "draft.decided"], ...] = (
        "draft.created",
        "draft.expiring",
        "draft.decided",
    )


class ConsoleConfig(Strict, frozen=True, kw_only=True):
    """The reviewer console at ``/console`` (docs/CONSOLE.md): approve, reject and audit in a browser."""

    enabled: bool = True
    session_idle: Duration = "30m"
    """A session ends after this long without a request."""
    session_max: Duration = "12h"
    """... and this long after sign-in, whatever the activity."""
    link_ttl: Duration = "10m"
    """How long a one-time sign-in link from ``opp console-link`` stays valid."""
    queue_refresh: Duration = "10s"
    """How often an open queue page fetches its rows again (each fetch is audited as a read)."""
    oidc: ConsoleOidcConfig | None = None
    """Sign-in with an OpenID Provider; unset: sign-in links from ``opp console-link`` only."""
    webhooks: tuple[WebhookConfig, ...] = ()
    expiring_soon: Duration = "15m"
    """A pending draft this close to its expiry sends ``draft.expiring``."""
    webhook_timeout: Duration = "5s"
    webhook_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 6
    """Attempts per delivery, with exponential backoff (2s, 4s, 8s, …, at most 10m apart)."""


class GatewayConfig(Strict, frozen=True, kw_only=True):
    """The whole ``gateway.yaml``."""

    version: Literal[1] = 1
    gateway: GatewaySettings = GatewaySettings()
    server: ServerSettings = ServerSettings()
    store: StoreConfig = StoreConfig()
    audit: AuditConfig = AuditConfig()
    admin: AdminConfig = AdminConfig()
    policy: PolicySettings = PolicySettings()
    scopes: dict[str, str] = {}
    """Every scope the gateway knows, with a description. Tools and apps may only use these."""
    app_policy_schema: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    """JSON Schema of an app's ``data`` policy; ``default`` values fill omitted attributes."""
    backends: dict[str, Backend] = {}
    resources: dict[str, ResourceConfig] = {}
    policies: tuple[PolicyRule, ...] = ()
    tools: tuple[ToolConfig, ...] = ()
    writes: WritesConfig = WritesConfig()
    apps: tuple[AppConfig, ...] = ()
    bootstrap: DemoConfig = DemoConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    rate_limits: RateLimitsConfig = RateLimitsConfig()
    oauth: OAuthConfig = OAuthConfig()
    mcp: McpConfig = McpConfig()
    redis: RedisConfig | None = None
    """Shared, short-lived state in Redis (replicas); unset: none (counters per host)."""
    console: ConsoleConfig = ConsoleConfig()
