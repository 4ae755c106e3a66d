// The shipping log sink when no server takes its lines: a stopped step's log gives up by its
// deadline (and stops sending), while an ordinary close keeps waiting for every line.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createHttpLogTransport } from '../../src/agent/log-transport';
import { createShippingLogSink } from '../../src/agent/log-sink';
import { createSecretMasker } from '../../src/agent/secret-masker';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server that opens logs at line 1 and answers every batch with 503 until `healthy` is set. */
async function overloadedServer() {
  const state = { healthy: false, batches: 0 };
  const server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET') return res.end(JSON.stringify({ code: 0, detail: { nextLine: 1 } }));
    state.batches++;
    if (!state.healthy) {
      res.statusCode = 503;
      return res.end('{}');
    }
    res.end(JSON.stringify({ code: 0, detail: { storedThrough: 0, duplicate: false } }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('shipping log sink with no server taking lines', () => {
  it('gives up on a stopped step’s unacknowledged lines by the deadline, says how many, and stops sending', async () => {
    const server = await overloadedServer();
    const problems: string[] = [];
    const sink = createShippingLogSink(createHttpLogTransport({ serverUrls: [server.url], token: 't', agentId: 'a', timeoutMs: 1000 }), {
      flushMs: 5,
      batchLines: 10,
      onProblem: (m) => problems.push(m),
    });
    const log = await sink.open('step_x', createSecretMasker([]));
    for (let i = 1; i <= 35; i++) log.write('stdout', `line ${i}`);
    const t0 = Date.now();
    await log.close(400);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(problems.at(-1)).toBe('log of step step_x: gave up on 35 lines not acknowledged within 400 ms');
    expect(problems.some((p) => p.includes('sending lines 1-10 of step step_x failed'))).toBe(true);
    // The drain has stopped: no batch is sent any more, even once the server recovers.
    await sleep(1500);
    const sent = server.state.batches;
    server.state.healthy = true;
    await sleep(2500);
    expect(server.state.batches).toBe(sent);
    expect(log.write('stdout', 'after the end')).toBe(true);
  });

  it('stops waiting for a server to open the log once the step is cancelled', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(gone.address() as { port: number }).port}`;
    await new Promise((r) => gone.close(r)); // nothing listens there any more
    const problems: string[] = [];
    const sink = createShippingLogSink(createHttpLogTransport({ serverUrls: [url], token: 't', agentId: 'a', timeoutMs: 1000 }), { onProblem: (m) => problems.push(m) });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('the step was cancelled')), 300);
    const t0 = Date.now();
    await expect(sink.open('step_z', createSecretMasker([]), cancel.signal)).rejects.toThrow('the step was cancelled');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(problems[0]).toContain('opening the log of step step_z failed');
  });

  it('keeps sending until the lines are acknowledged when the step was not stopped', async () => {
    const server = await overloadedServer();
    const sink = createShippingLogSink(createHttpLogTransport({ serverUrls: [server.url], token: 't', agentId: 'a', timeoutMs: 1000 }), { flushMs: 5 });
    const log = await sink.open('step_y', createSecretMasker([]));
    log.write('stdout', 'one');
    const closed = log.close();
    let done = false;
    void closed.then(() => (done = true));
    await sleep(800);
    expect(done).toBe(false);
    server.state.healthy = true;
    await closed;
    expect(log.queuedBatches).toBe(0);
  });
});
