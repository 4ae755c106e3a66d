// The gateway's keep-alive: it pings every interval and drops a connection whose pong never came.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import WebSocket from 'ws';
import { attachWsGateway } from '../../src/api/ws-gateway';
import { createLocalEventBus } from '../../src/events';

describe('websocket keep-alive', () => {
  let server: Server;
  let gateway: ReturnType<typeof attachWsGateway>;
  afterEach(async () => {
    await gateway?.close();
    await new Promise((r) => server?.close(r));
  });

  async function start(pingMs: number) {
    server = createServer();
    const principal = { tokenId: 't', name: 'n', role: 'viewer' as const, projectIds: null };
    // Only the keep-alive is under test here: no subscription reaches these.
    const unused = () => Promise.reject(new Error('not used'));
    gateway = attachWsGateway(server, {
      tokens: { authenticate: async (token: string) => (token === 'good-token-123' ? principal : null) },
      runs: { get: unused, step: unused, list: unused } as never,
      pipelines: { load: unused } as never,
      events: createLocalEventBus(),
      logs: { follow: () => () => undefined, close: async () => undefined },
      logger: pino({ level: 'silent' }),
      pingMs,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `ws://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/ws`;
  }

  it('pings a connection that answers, and keeps it', async () => {
    const url = await start(50);
    const ws = new WebSocket(url, { headers: { authorization: 'Bearer good-token-123' } });
    let pings = 0;
    ws.on('ping', () => pings++);
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, 400));
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(gateway.connections()).toBe(1);
    ws.close();
  });

  it('drops a connection that never answers a ping', async () => {
    const url = await start(50);
    // autoPong off: this client hears pings and ignores them.
    const ws = new WebSocket(url, { headers: { authorization: 'Bearer good-token-123' }, autoPong: false });
    await new Promise((r) => ws.once('open', r));
    const closed = await new Promise<number>((r) => ws.once('close', (code) => r(code)));
    expect(closed).toBe(1006);
    for (let i = 0; i < 50 && gateway.connections() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gateway.connections()).toBe(0);
  });
});
