// The shipping log sink: it asks a server where a step's log continues only when lines leave, and
// when no server takes them, a stopped step's log gives up by its deadline (and stops sending),
// while an ordinary close keeps waiting for every line.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createHttpLogTransport } from '../../src/agent/log-transport';
import { createShippingLogSink } from '../../src/agent/log-sink';
import type { ShippingOptions } from '../../src/agent/log-sink';
import { createSecretMasker } from '../../src/agent/secret-masker';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server that opens logs at `nextLine` and answers every batch with 503 until `healthy` is set. */
async function overloadedServer(nextLine = 1) {
  const state = { healthy: false, batches: 0, requests: [] as Array<{ method: string; body: string }> };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      state.requests.push({ method: req.method ?? '', body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') return res.end(JSON.stringify({ code: 0, detail: { nextLine } }));
      state.batches++;
      if (!state.healthy) {
        res.statusCode = 503;
        return res.end('{}');
      }
      const batch = JSON.parse(body);
      res.end(JSON.stringify({ code: 0, detail: { storedThrough: batch.firstLine + batch.lines.length - 1, duplicate: false } }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shipping sink to one server over HTTP, and the problems it reports. */
function sinkTo(url: string, opts: Omit<ShippingOptions, 'onProblem'> = {}) {
  const problems: string[] = [];
  const sink = createShippingLogSink(createHttpLogTransport({ serverUrls: [url], token: 't', agentId: 'a', timeoutMs: 1000 }), { ...opts, onProblem: (m) => problems.push(m) });
  return { sink, problems };
}

describe('shipping log sink with no server taking lines', () => {
  it('gives up on a stopped step’s unacknowledged lines by the deadline, says how many, and stops sending', async () => {
    const server = await overloadedServer();
    const { sink, problems } = sinkTo(server.url, { flushMs: 5, batchLines: 10 });
    const log = await sink.open('step_x', createSecretMasker([]));
    for (let i = 1; i <= 35; i++) log.write('stdout', `line ${i}`);
    const t0 = Date.now();
    await log.close({ withinMs: 400 });
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

  it('holds at most twice its backlog for a stopped step’s lines, and says how many it dropped', async () => {
    const server = await overloadedServer();
    const { sink, problems } = sinkTo(server.url, { batchLines: 10, maxQueuedBatches: 4 });
    const log = await sink.open('step_loud', createSecretMasker([]));
    // A stopped process read to its end: its lines keep coming whatever write answers.
    for (let i = 1; i <= 1000; i++) log.write('stdout', `line ${i}`, true);
    expect(log.queuedBatches).toBe(8);
    expect(log.linesWritten).toBe(1000);
    await log.close({ withinMs: 300 });
    expect(problems).toContain('log of step step_loud: 920 lines were dropped: the step went on printing after it was stopped while 8 batches waited to be shipped');
    expect(problems.at(-1)).toBe('log of step step_loud: gave up on 81 lines not acknowledged within 300 ms');
    // A step still running is held back instead (its caller pauses its output): nothing is dropped.
    const held = await sink.open('step_held', createSecretMasker([]));
    for (let i = 1; i <= 1000; i++) held.write('stdout', `line ${i}`);
    expect(held.queuedBatches).toBe(100);
    await held.close({ withinMs: 300 });
    expect(problems.at(-1)).toBe('log of step step_held: gave up on 1000 lines not acknowledged within 300 ms');
  });

  it('asks no server anything for a step that prints nothing', async () => {
    const server = await overloadedServer();
    const { sink } = sinkTo(server.url, { flushMs: 5 });
    const log = await sink.open('step_quiet', createSecretMasker([]));
    await log.close();
    await sleep(50);
    expect(server.state.requests).toEqual([]);
  });

  it('numbers lines after where the server says the step’s log continues (an earlier attempt’s lines)', async () => {
    const server = await overloadedServer(6);
    server.state.healthy = true;
    const { sink } = sinkTo(server.url, { flushMs: 5, batchLines: 2 });
    const log = await sink.open('step_again', createSecretMasker(['s3cret']));
    for (const text of ['one', 'two s3cret', 'three']) log.write('stdout', text);
    await log.close();
    expect(server.state.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    const sent = server.state.requests.slice(1).map((r) => JSON.parse(r.body));
    expect(sent.map((b) => b.firstLine)).toEqual([6, 8]);
    expect(sent.flatMap((b) => b.lines.map((l: [number, string, string]) => [l[0], l[2]]))).toEqual([
      [6, 'one'],
      [7, 'two ***'],
      [8, 'three'],
    ]);
  });

  it('gives up, the limit after a stop, on lines of a log no server could open', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(gone.address() as { port: number }).port}`;
    await new Promise((r) => gone.close(r)); // nothing listens there any more
    const { sink, problems } = sinkTo(url, { flushMs: 5 });
    const log = await sink.open('step_z', createSecretMasker([]));
    log.write('stdout', 'never stored');
    const stop = new AbortController();
    const t0 = Date.now();
    const closed = log.close({ withinMs: 300, from: stop.signal });
    let done = false;
    void closed.then(() => (done = true));
    await sleep(800);
    expect(done).toBe(false); // not stopped: it keeps trying
    stop.abort(new Error('the step was cancelled'));
    await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1100);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(problems[0]).toContain('opening the log of step step_z failed');
    expect(problems.at(-1)).toBe('log of step step_z: gave up on 1 lines not acknowledged within 300 ms');
  });

  it('keeps sending until the lines are acknowledged when the step was not stopped', async () => {
    const server = await overloadedServer();
    const { sink } = sinkTo(server.url, { flushMs: 5 });
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
