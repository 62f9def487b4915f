// A loopback OpenID Provider for opp's console sign-in tests: the real oidc-provider (panva) with its
// development login and consent pages, the authorization code flow with PKCE (S256) for one public
// client, and a `roles` claim in the ID token.
//
// Environment:
//   PORT          port to listen on (127.0.0.1 only); required
//   CLIENT_ID     the console's client id; required
//   REDIRECT_URI  the console's callback (…/console/auth/callback); required
//   ROLES         JSON object: login name -> list of role claim values (default: every login gets
//                 ["approver"])
//
// TEST ONLY: the development interactions accept any login name with any password.
// Prints one JSON line `{"ready":true,"issuer":...}` on stdout once listening; exits on SIGTERM/SIGINT.
import * as jose from 'jose';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
if (!Number.isInteger(PORT) || PORT <= 0) throw new Error('PORT must be a port number');
const ISSUER = `http://127.0.0.1:${PORT}`;
const ROLES = JSON.parse(process.env.ROLES ?? '{}');

const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'interop-op-1', alg: 'ES256', use: 'sig' };

const provider = new Provider(ISSUER, {
  jwks: { keys: [signingJwk] },
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [process.env.REDIRECT_URI],
      id_token_signed_response_alg: 'ES256',
      require_auth_time: true,
    },
  ],
  claims: { openid: ['sub'], roles: ['roles'] },
  scopes: ['openid', 'roles'],
  conformIdTokenClaims: false, // the roles claim goes into the ID token itself
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, roles: ROLES[id] ?? ['approver'] };
      },
    };
  },
});
provider.proxy = false;

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
