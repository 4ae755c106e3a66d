// The agent's HTTP log transport against real local HTTP servers that misbehave the ways a dying or
// overloaded server does: every call must settle by its deadline and move on to the next server.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createHttpLogTransport } from '../../src/agent/log-transport';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits: () => hits };
}

/** The log API's own answers: a GET says where the log goes on, a POST that the batch is stored. */
const stored = (res: ServerResponse, req?: IncomingMessage) => {
  res.setHeader('content-type', 'application/json');
  const detail = req?.method === 'GET' ? { nextLine: 3 } : { storedThrough: 2, duplicate: false };
  res.end(JSON.stringify({ code: 0, msg: 'success', detail }));
};
const batch = { firstLine: 1, lines: [[1, '2026-11-29T10:00:00.000Z stdout', 'a'], [2, '2026-11-29T10:00:00.000Z stdout', 'b']] as Array<[number, string, string]> };

describe('HTTP log transport', () => {
  it('gives up on a server that never answers by the deadline, and the next call goes to the next server', async () => {
    const silent = await serve(() => undefined);
    const healthy = await serve((_req, res) => stored(res));
    const transport = createHttpLogTransport({ serverUrls: [silent.url, healthy.url], token: 't', agentId: 'a', timeoutMs: 300 });
    const t0 = Date.now();
    await expect(transport.append('s', batch)).rejects.toThrow(`${silent.url}: no answer within 300 ms`);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await transport.append('s', batch)).toEqual({ ok: true, storedThrough: 2, duplicate: false });
    expect([silent.hits(), healthy.hits()]).toEqual([1, 1]);
  });

  it('gives up on a server that sends its headers and then stalls the body', async () => {
    const stalling = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"code":0,');
    });
    const healthy = await serve((_req, res) => stored(res));
    const transport = createHttpLogTransport({ serverUrls: [stalling.url, healthy.url], token: 't', agentId: 'a', timeoutMs: 300 });
    await expect(transport.append('s', batch)).rejects.toThrow('no answer within 300 ms');
    expect(await transport.append('s', batch)).toMatchObject({ ok: true, storedThrough: 2 });
  });

  it('moves on after a 5xx or a connection refused, and takes a refusal that names its reason as final', async () => {
    const failing = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const refusing = await serve((_req, res) => {
      res.statusCode = 409;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 409, errMsg: 'batch starts at line 1; the log continues at line 5', details: { reason: 'gap' } }));
    });
    const closed = await serve(() => undefined);
    const closedUrl = closed.url;
    servers.pop()!.close();
    const transport = createHttpLogTransport({ serverUrls: [failing.url, closedUrl, refusing.url], token: 't', agentId: 'a', timeoutMs: 2000 });
    await expect(transport.append('s', batch)).rejects.toThrow(`${failing.url}: HTTP 503`);
    await expect(transport.append('s', batch)).rejects.toThrow(closedUrl);
    expect(await transport.append('s', batch)).toEqual({ ok: false, reason: 'gap', message: 'batch starts at line 1; the log continues at line 5' });
    // A refusal is an answer: the transport stays with that server.
    expect(await transport.append('s', batch)).toMatchObject({ ok: false, reason: 'gap' });
    expect(refusing.hits()).toBe(2);
  });

  // What answers on a dead server's port once something else took it, or a server that no longer
  // takes the agent's token: never a reason to drop the log, nor to keep asking the same place.
  const foreign: Array<[string, number, string]> = [
    ['a 2xx without the envelope', 200, '{"ok":true}'],
    ['a 2xx whose body is null', 200, 'null'],
    ['a 2xx whose detail has other fields', 201, '{"code":0,"detail":{"html_url":"x","number":1}}'],
    ['a 404 without a reason', 404, '{"message":"Not Found"}'],
    ['a 401 for the token', 401, '{"code":401,"errMsg":"unknown or revoked agent registration token"}'],
  ];
  it.each(foreign)('moves on to the next server after %s', async (_what, status, body) => {
    const stranger = await serve((_req, res) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(body);
    });
    const healthy = await serve((req, res) => stored(res, req));
    const transport = createHttpLogTransport({ serverUrls: [stranger.url, healthy.url], token: 't', agentId: 'a', timeoutMs: 2000 });
    await expect(transport.append('s', batch)).rejects.toThrow(stranger.url);
    expect(await transport.append('s', batch)).toEqual({ ok: true, storedThrough: 2, duplicate: false });
    const other = createHttpLogTransport({ serverUrls: [stranger.url, healthy.url], token: 't', agentId: 'a', timeoutMs: 2000 });
    await expect(other.open('s')).rejects.toThrow(stranger.url);
    expect(await other.open('s')).toEqual({ ok: true, nextLine: 3 });
  });
});
