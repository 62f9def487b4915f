// An OAuth 2.0 agent written with oauth4webapi only (panva), driving an opp gateway the way a
// third-party agent would:
//   1. RFC 9728: discover the gateway's protected resource metadata from its base URL;
//   2. take authorization_servers[0] and discover it (OIDC discovery);
//   3. client_credentials + RFC 8707 `resource` + a DPoP proof (RFC 9449) -> a DPoP-bound token;
//   4. with protectedResourceRequest + DPoP: manifest, a read tool, preflight, a draft action,
//      retrying once whenever the server asks for a (new) DPoP nonce;
//   5. the same token sent as a Bearer token (a downgrade the gateway must refuse).
//
// Usage: AGENT_CLIENT_SECRET=... node agent.mjs --gateway http://127.0.0.1:PORT
//            --client-id app_x [--alg ES256|Ed25519] [--scope "a b"] [--occurred-on YYYY-MM-DD]
// Prints exactly one JSON line on stdout: {"ok":true, "resource":..., "issuer":..., "token":{...},
// "steps":[{"name", "status", "code", "nonceRetries", "challenge"?, ...}]} or {"ok":false,"error":...}.
import { parseArgs } from 'node:util';
import * as oauth from 'oauth4webapi';

const API = '/api/agent/v1';
const insecure = { [oauth.allowInsecureRequests]: true }; // loopback test servers speak plain HTTP

const { values: args } = parseArgs({
  options: {
    gateway: { type: 'string' },
    'client-id': { type: 'string' },
    alg: { type: 'string', default: 'ES256' },
    scope: { type: 'string', default: 'ledger.read transaction.read transaction.write' },
    'occurred-on': { type: 'string', default: new Date().toISOString().slice(0, 10) },
  },
});

function challengeOf(error) {
  // The first challenge of the client's scheme carries the error (RFC 9449 §7.2).
  const challenges = error.cause ?? [];
  const withError = challenges.find((c) => c.parameters.error) ?? challenges[0];
  return {
    schemes: challenges.map((c) => c.scheme),
    error: withError?.parameters.error ?? null,
    resource_metadata: withError?.parameters.resource_metadata ?? null,
  };
}

async function envelope(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { unparsable: text.slice(0, 200) };
  }
}

// One protected request; a nonce challenge is answered by retrying with the nonce oauth4webapi
// cached from the 401 (at most twice). Any other challenge is reported as the step's outcome.
async function call(name, token, method, path, body, dpop) {
  const url = new URL(`${API}${path}`, args.gateway);
  let nonceRetries = 0;
  for (;;) {
    const headers = new Headers({ accept: 'application/json' });
    let payload = null;
    if (body !== undefined) {
      headers.set('content-type', 'application/json');
      payload = JSON.stringify(body);
    }
    try {
      const response = await oauth.protectedResourceRequest(token, method, url, headers, payload, {
        ...insecure,
        ...(dpop ? { DPoP: dpop } : {}),
      });
      const json = await envelope(response);
      return { name, status: response.status, code: json.code ?? null, nonceRetries, json };
    } catch (error) {
      if (dpop && oauth.isDPoPNonceError(error) && nonceRetries < 2) {
        nonceRetries += 1;
        continue;
      }
      if (error instanceof oauth.WWWAuthenticateChallengeError) {
        const json = await envelope(error.response);
        return { name, status: error.status, code: json.code ?? null, nonceRetries, challenge: challengeOf(error) };
      }
      throw error;
    }
  }
}

async function token(as, client, dpop, resource) {
  const auth = oauth.ClientSecretBasic(process.env.AGENT_CLIENT_SECRET ?? '');
  const parameters = { scope: args.scope, resource };
  for (let attempt = 0; ; attempt += 1) {
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, parameters, {
      DPoP: dpop,
      ...insecure,
    });
    try {
      return await oauth.processClientCredentialsResponse(as, client, response);
    } catch (error) {
      if (attempt === 0 && oauth.isDPoPNonceError(error)) continue; // AS-issued nonce (RFC 9449 §8)
      throw error;
    }
  }
}

async function main() {
  const resourceId = new URL('/', args.gateway);
  const rs = await oauth.processResourceDiscoveryResponse(
    resourceId,
    await oauth.resourceDiscoveryRequest(resourceId, insecure),
  );
  const issuer = new URL(rs.authorization_servers[0]);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  );
  const client = { client_id: args['client-id'] };
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair(args.alg));
  const tok = await token(as, client, dpop, rs.resource);

  const steps = [];
  const manifest = await call('manifest', tok.access_token, 'GET', '/manifest', undefined, dpop);
  steps.push({ ...manifest, tools: manifest.json.data?.tools?.map((t) => t.name) ?? null });
  const ledgers = await call('ledgers', tok.access_token, 'GET', '/ledgers', undefined, dpop);
  const ledgerIds = ledgers.json.data?.items?.map((l) => l.id) ?? [];
  steps.push({ ...ledgers, ledgerIds });
  const action = 'transaction.create';
  const payload = {
    ledgerId: ledgerIds[0] ?? 'ledger_main',
    kind: 'expense',
    amount: 12.5,
    title: 'Interop coffee',
    occurredOn: args['occurred-on'],
  };
  const preflight = await call('preflight', tok.access_token, 'POST', '/preflight', { action, payload }, dpop);
  const preflightId = preflight.json.data?.preflightId ?? null;
  steps.push({ ...preflight, preflightId });
  const draft = await call('actions', tok.access_token, 'POST', '/actions', { action, preflightId }, dpop);
  steps.push({ ...draft, outcome: draft.json.data?.status ?? null, draftId: draft.json.data?.draft?.id ?? null });
  steps.push(await call('bearer_downgrade', tok.access_token, 'GET', '/ledgers', undefined, null));

  for (const step of steps) delete step.json;
  return {
    ok: true,
    resource: rs.resource,
    prm: {
      authorization_servers: rs.authorization_servers,
      dpop_signing_alg_values_supported: rs.dpop_signing_alg_values_supported ?? null,
    },
    issuer: as.issuer,
    token: { token_type: tok.token_type, scope: tok.scope ?? null, jwt: tok.access_token.split('.').length === 3 },
    steps,
  };
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: `${error.name}: ${error.message}`, code: error.code ?? null })}\n`);
  process.exitCode = 1;
}
