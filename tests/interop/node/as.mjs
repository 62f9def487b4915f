// A loopback OAuth 2.0 authorization server for opp's interoperability tests: the real
// oidc-provider (panva), configured for client_credentials, DPoP-bound (RFC 9449) and
// certificate-bound (RFC 8705) RFC 9068 JWT access tokens via resource indicators (RFC 8707),
// plus an optional opaque resource whose tokens are validated by RFC 7662 introspection.
//
// Environment:
//   PORT             port to listen on (127.0.0.1 only); required
//   ISSUER            issuer identifier (default http://127.0.0.1:PORT)
//   RESOURCES         space-separated resource identifiers (gateways) whose tokens are ES256 JWTs
//   OPAQUE_RESOURCES  space-separated resource identifiers whose tokens are opaque (RFC 7662 only)
//   SCOPES           space-separated scopes the resources accept (default: the ledger demo's)
//   CLIENTS          JSON array of client metadata; defaults fill in a client_credentials,
//                    client_secret_basic client (see CLIENT_DEFAULTS)
//   DPOP_NONCE       "1": the token endpoint requires DPoP nonces (RFC 9449 §8)
//
// TEST ONLY: the mTLS feature reads the client certificate from the `x-test-client-cert` request
// header (a URL-encoded PEM, as nginx's $ssl_client_escaped_cert), the way a TLS terminator would
// forward it. Never expose this server beyond loopback.
//
// Prints one JSON line `{"ready":true,"issuer":...}` on stdout once listening; exits on SIGTERM/SIGINT.
import { randomBytes } from 'node:crypto';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
if (!Number.isInteger(PORT) || PORT <= 0) throw new Error('PORT must be a port number');
const ISSUER = process.env.ISSUER ?? `http://127.0.0.1:${PORT}`;
const words = (value) => (value ?? '').split(/\s+/).filter(Boolean);
const RESOURCES = words(process.env.RESOURCES);
const OPAQUE_RESOURCES = words(process.env.OPAQUE_RESOURCES);
if (RESOURCES.length + OPAQUE_RESOURCES.length === 0) throw new Error('RESOURCES names no resource');
const SCOPES = process.env.SCOPES
  ?? 'ledger.read transaction.read transaction.write transaction.delete transaction.export';
const CLIENT_DEFAULTS = {
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  // Only an EC signing key is configured; the default RS256 would make the metadata invalid.
  id_token_signed_response_alg: 'ES256',
};
const clients = JSON.parse(process.env.CLIENTS ?? '[]').map((client) => ({ ...CLIENT_DEFAULTS, ...client }));

const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'interop-as-1', alg: 'ES256', use: 'sig' };

function resourceServerInfo(ctx, resourceIndicator) {
  const common = { scope: SCOPES, audience: resourceIndicator, accessTokenTTL: 300 };
  if (RESOURCES.includes(resourceIndicator)) {
    return { ...common, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
  }
  if (OPAQUE_RESOURCES.includes(resourceIndicator)) {
    return { ...common, accessTokenFormat: 'opaque' };
  }
  throw new Provider.errors.InvalidTarget();
}

function forwardedCertificate(ctx) {
  const value = ctx.get('x-test-client-cert');
  return value ? decodeURIComponent(value) : undefined;
}

const provider = new Provider(ISSUER, {
  jwks: { keys: [signingJwk] },
  clients,
  ttl: { ClientCredentials: 300 },
  // The default DPoP allowlist (ES256, Ed25519, EdDSA) plus PS256, so RSA-keyed proofs reach the gateway.
  enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA', 'PS256'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated (confidential) client may introspect: the gateway's introspection client.
      allowedPolicy: (ctx, client) => client.clientAuthMethod !== 'none',
    },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => process.env.DPOP_NONCE === '1',
    },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      getCertificate: forwardedCertificate,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCES[0] ?? OPAQUE_RESOURCES[0],
      useGrantedResource: () => true,
      getResourceServerInfo: resourceServerInfo,
    },
  },
});

const server = provider.listen(PORT, '127.0.0.1');
server.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, issuer: ISSUER })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
