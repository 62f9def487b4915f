// The official MCP TypeScript SDK client against an opp gateway (opp's MCP interop tests).
//
//   node mcp_client.mjs flow URL TOKEN          list tools, a read, a cross-tenant read, a write (draft)
//   node mcp_client.mjs status URL TOKEN DRAFT  poll a draft through opp.draft.status
//
// Prints one JSON object on stdout; exits 1 with the error on stderr.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, url, token, draftId] = process.argv.slice(2);

async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "opp-interop-ts", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function flow(client) {
  const tools = await client.listTools();
  const read = await client.callTool({ name: "transaction.list", arguments: { ledgerId: "ledger_main" } });
  const foreign = await client.callTool({ name: "transaction.list", arguments: { ledgerId: "ledger_foreign" } });
  const today = new Date().toISOString().slice(0, 10);
  const write = await client.callTool({
    name: "transaction.create",
    arguments: { ledgerId: "ledger_main", kind: "expense", amount: 7, title: "TS SDK draft", occurredOn: today },
    _meta: { "openport/write": { idempotencyKey: `ts-${Date.now()}` } },
  });
  return {
    protocolVersion: client.transport?.protocolVersion ?? null,
    server: client.getServerVersion(),
    tools: tools.tools.map((tool) => ({ name: tool.name, annotations: tool.annotations, meta: tool._meta })),
    read,
    foreign,
    write,
  };
}

try {
  const client = await connect();
  const result =
    mode === "status"
      ? await client.callTool({ name: "opp.draft.status", arguments: { draftId } })
      : await flow(client);
  await client.close();
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (error) {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
}
