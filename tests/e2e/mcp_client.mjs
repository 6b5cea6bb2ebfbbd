// tests/e2e/mcp_client.mjs — drives `agentkeys mcp` with the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk: Client + StdioClientTransport), for tests/e2e/agent_use_test.sh.
//
// Usage: node mcp_client.mjs AGENTKEYS PROFILE SERVICE API_BASE OUTSIDE_BASE MAIL_ID TRANSCRIPT
// The child gets this process's environment (XDG_* point at the test's profile). Every
// JSON-RPC message in both directions is appended to TRANSCRIPT (one per line) so the shell test
// can scan them for the secret. Prints PASS/FAIL lines; exits 1 on any failure.
import { appendFileSync, writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

const [ak, profile, service, api, outside, mailId, transcript] = process.argv.slice(2);
let fails = 0;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => { fails++; console.log(`FAIL ${n}${why ? ` (${String(why).slice(0, 300)})` : ''}`); };
const check = (n, cond, why) => (cond ? pass(n) : fail(n, why));
writeFileSync(transcript, '');
const log = (dir, m) => appendFileSync(transcript, `${dir} ${JSON.stringify(m)}\n`);

// A transport that records what passes through it (the SDK's own stdio transport inside).
class Tap {
  constructor(inner) {
    this.inner = inner;
    inner.onmessage = (m, extra) => { log('<', m); this.onmessage?.(m, extra); };
    inner.onerror = (e) => this.onerror?.(e);
    inner.onclose = () => this.onclose?.();
  }
  start() { return this.inner.start(); }
  send(m, opts) { log('>', m); return this.inner.send(m, opts); }
  close() { return this.inner.close(); }
  setProtocolVersion(v) { this.inner.setProtocolVersion?.(v); }
}

const stdio = new StdioClientTransport({
  command: ak, args: ['--profile', profile, 'mcp'], env: { ...process.env }, stderr: 'inherit',
});
const client = new Client({ name: 'agentkeys-e2e', version: '1.0.0' });
const opts = { timeout: 60000 };
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const json = (r) => { try { return JSON.parse(text(r)); } catch { return null; } };

try {
  await client.connect(new Tap(stdio), opts);
  const sv = client.getServerVersion();
  check('mcp_initialize', sv && sv.name === 'agentkeys', JSON.stringify(sv));
  const first = JSON.parse(
    (await import('node:fs')).readFileSync(transcript, 'utf8').split('\n').find((l) => l.startsWith('< ')).slice(2));
  check('mcp_protocol_version_latest', first.result?.protocolVersion === LATEST_PROTOCOL_VERSION,
    first.result?.protocolVersion);
  check('mcp_capabilities_tools', !!client.getServerCapabilities()?.tools);
  await client.ping(opts);
  pass('mcp_ping');

  const { tools } = await client.listTools({}, opts);
  const names = tools.map((t) => t.name).sort();
  const want = ['call_api', 'inbox_list', 'inbox_read', 'list_credentials', 'memory_get', 'memory_list', 'memory_put'];
  check('mcp_tools_list', JSON.stringify(names) === JSON.stringify(want), names.join(','));
  check('mcp_tools_have_schemas', tools.every((t) => t.inputSchema?.type === 'object'));

  let r = await client.callTool({ name: 'list_credentials', arguments: {} }, undefined, opts);
  let j = json(r);
  check('mcp_list_credentials', !r.isError && j?.credentials?.includes(service) && typeof j.policies === 'string',
    text(r));

  r = await client.callTool({
    name: 'call_api',
    arguments: { service, method: 'POST', url: `${api}/v1/echo?mcp=1`, headers: { 'content-type': 'application/json' },
      body: '{"from":"mcp"}' },
  }, undefined, opts);
  j = json(r);
  let echo = null;
  try { echo = JSON.parse(j?.body); } catch { /* checked below */ }
  check('mcp_call_api_status', !r.isError && j?.status === 200, text(r));
  check('mcp_call_api_body_forwarded', echo && Buffer.from(echo.body_b64, 'base64').toString() === '{"from":"mcp"}',
    j?.body);
  check('mcp_call_api_secret_redacted', echo && echo.authorization === 'Bearer [REDACTED]', echo?.authorization);
  check('mcp_call_api_redactions', j?.redactions >= 1, j?.redactions);

  // exfiltration attempts: another host, plain http, the injected header set by the agent
  r = await client.callTool({ name: 'call_api', arguments: { service, method: 'GET', url: `${outside}/steal` } },
    undefined, opts);
  check('mcp_exfiltration_other_host_tool_error', r.isError === true && /host_not_allowed/.test(text(r)), text(r));
  r = await client.callTool({ name: 'call_api',
    arguments: { service, method: 'GET', url: api.replace('https://', 'http://') + '/x' } }, undefined, opts);
  check('mcp_http_scheme_tool_error', r.isError === true && /scheme_not_allowed/.test(text(r)), text(r));
  r = await client.callTool({ name: 'call_api',
    arguments: { service, method: 'GET', url: `${api}/x`, headers: { Authorization: 'Bearer {}' } } }, undefined, opts);
  check('mcp_injected_header_tool_error', r.isError === true && /invalid_input/.test(text(r)), text(r));
  try {
    await client.callTool({ name: 'get_credential', arguments: { service } }, undefined, opts);
    fail('mcp_no_secret_tool', 'an unknown tool answered');
  } catch (e) {
    check('mcp_no_secret_tool', /unknown tool/i.test(String(e.message)) || e.code === -32602, e.message);
  }

  r = await client.callTool({ name: 'memory_put', arguments: { namespace: 'notes', value: 'mcp remembers' } },
    undefined, opts);
  check('mcp_memory_put', !r.isError && json(r)?.ok === true, text(r));
  r = await client.callTool({ name: 'memory_get', arguments: { namespace: 'notes' } }, undefined, opts);
  check('mcp_memory_get', !r.isError && json(r)?.value === 'mcp remembers', text(r));
  r = await client.callTool({ name: 'memory_list', arguments: {} }, undefined, opts);
  check('mcp_memory_list', !r.isError && json(r)?.namespaces?.includes('notes'), text(r));
  r = await client.callTool({ name: 'memory_get', arguments: { namespace: 'other' } }, undefined, opts);
  check('mcp_memory_get_out_of_scope_tool_error', r.isError === true && /service_not_in_scope/.test(text(r)), text(r));
  r = await client.callTool({ name: 'inbox_list', arguments: {} }, undefined, opts);
  check('mcp_inbox_list', !r.isError && json(r)?.messages?.includes(mailId), text(r));
  r = await client.callTool({ name: 'inbox_read', arguments: { id: mailId } }, undefined, opts);
  check('mcp_inbox_read', !r.isError && /hello agent/.test(json(r)?.message || ''), text(r));
  r = await client.callTool({ name: 'inbox_read', arguments: { id: '../x' } }, undefined, opts);
  check('mcp_inbox_read_bad_id_tool_error', r.isError === true, text(r));
} catch (e) {
  fail('mcp_session', e && e.stack);
} finally {
  await client.close().catch(() => {});
}
process.exit(fails ? 1 : 0);
