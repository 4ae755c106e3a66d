// Realtime benchmarks in the scale-out shape: an `arcentra server` process, an `arcentra agent`
// process shipping its logs to that server over HTTP, PostgreSQL, an in-memory dev server.
// - ingest: a step printing 1,000,000 lines at full speed; lines per second from the step's start
//   to its end (the agent reports the end only once every line is acknowledged as stored);
// - latency: a step printing 10,000 lines/s for 10 s; each line carries the time it was printed,
//   and one WebSocket client notes when it arrives (same machine, same clock);
// - fan-out: 1,000 WebSocket clients on one step of one server, lines at a steady rate; the
//   latency over all clients and the server's peak RSS.
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, TOKEN, rssMB, startScaleOutStack } from './stack';

const GENERATOR = join(ROOT, 'bench', 'line-generator.mjs');
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const FANOUT_RATE = Number(process.env.BENCH_FANOUT_RATE ?? 50);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
const LINE_TIME = /"content":"t (\d+) /;

export async function benchRealtime() {
  const stack = await startScaleOutStack((apiUrl) => ({ ARCENTRA_SERVER_URL: apiUrl }));
  const { api, apiUrl } = stack;
  const server = { child: stack.server };
  const sockets: WebSocket[] = [];
  try {
    let n = 0;
    /** A one-step pipeline, triggered; resolves with the ids once the tree exists. */
    const start = async (run: string) => {
      const created = await api('POST', '/api/v1/pipelines', { projectId: 'bench', name: `rt${++n}`, spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run, timeout: '10m' }] }] } });
      const trig = await api('POST', `/api/v1/pipelines/${created.detail.pipelineId}/trigger`, {});
      const run0 = (await api('GET', `/api/v1/pipelines/runs/${trig.detail.runId}`)).detail;
      return { runId: trig.detail.runId as string, stepRunId: run0.stages[0].jobs[0].steps[0].stepRunId as string };
    };
    const stepOf = async (runId: string) => (await api('GET', `/api/v1/pipelines/runs/${runId}`)).detail.stages[0].jobs[0].steps[0];
    const finished = async (runId: string) => {
      for (;;) {
        const step = await stepOf(runId);
        if (['success', 'failed', 'cancelled', 'timeout'].includes(step.status)) {
          if (step.status !== 'success') throw new Error(`bench step ended ${step.status}`);
          return step;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const connect = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${apiUrl.replace('http', 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${TOKEN}` } });
        sockets.push(ws);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });

    // Ingest: 1,000,000 lines as fast as the step prints them.
    const ingestLines = 1_000_000;
    const ingestRun = await start(`seq -f 'line %.0f' 1 ${ingestLines}`);
    const ingestStep = await finished(ingestRun.runId);
    const ingestSeconds = (Date.parse(ingestStep.finishedAt) - Date.parse(ingestStep.startedAt)) / 1000;
    const stored = (await api('GET', `/api/v1/pipelines/runs/${ingestRun.runId}/steps/${ingestRun.stepRunId}/logs?fromLine=${ingestLines}&limit=10`)).detail;
    if (stored.lines.length !== 1 || stored.lines[0].content !== `line ${ingestLines}` || !stored.complete) throw new Error('ingest: the last line is missing');

    // Latency at 10,000 lines/s, one subscriber.
    const rate = 10_000;
    const seconds = 10;
    const latencyRun = await start(`node ${GENERATOR} ${rate} ${seconds}`);
    const one = await connect();
    const latencies: number[] = [];
    let eof: () => void;
    const ended = new Promise<void>((r) => (eof = r));
    one.on('message', (data) => {
      const text = data.toString();
      const m = LINE_TIME.exec(text);
      if (m && text.includes('"type":"log"')) latencies.push(Date.now() - Number(m[1]));
      else if (text.includes('"type":"eof"')) eof();
    });
    one.send(JSON.stringify({ channel: 'channel_log', action: 'subscribe', params: latencyRun }));
    await ended;
    latencies.sort((a, b) => a - b);

    // 1,000 subscribers on one step of one server.
    const fanRun = await start(`sleep 3; node ${GENERATOR} ${FANOUT_RATE} 20`);
    const clients = [];
    for (let i = 0; i < SUBSCRIBERS; i++) clients.push(await connect());
    const fanLatencies: number[] = [];
    let eofs = 0;
    let allEnded: () => void;
    const allDone = new Promise<void>((r) => (allEnded = r));
    for (const ws of clients) {
      ws.on('message', (data) => {
        const text = data.toString();
        const m = LINE_TIME.exec(text);
        if (m && text.includes('"type":"log"')) fanLatencies.push(Date.now() - Number(m[1]));
        else if (text.includes('"type":"eof"') && ++eofs === clients.length) allEnded();
      });
      ws.send(JSON.stringify({ channel: 'channel_log', action: 'subscribe', params: fanRun }));
    }
    const idleServerMB = rssMB(server.child.pid!);
    let peakServerMB = idleServerMB;
    const sampler = setInterval(() => (peakServerMB = Math.max(peakServerMB, rssMB(server.child.pid!))), 100);
    await allDone;
    clearInterval(sampler);
    fanLatencies.sort((a, b) => a - b);
    const expected = FANOUT_RATE * 20 * SUBSCRIBERS;
    if (fanLatencies.length !== expected) throw new Error(`fan-out: ${fanLatencies.length} lines received, ${expected} expected`);

    return {
      name: 'realtime',
      topology: 'arcentra server + arcentra agent (logs over HTTP) processes, PostgreSQL, in-memory dev server; clients in the bench process',
      ingest: { lines: ingestLines, seconds: +ingestSeconds.toFixed(2), linesPerSecond: Math.round(ingestLines / ingestSeconds) },
      latency: { rate, seconds, lines: latencies.length, p50Ms: pct(latencies, 0.5), p99Ms: pct(latencies, 0.99), maxMs: latencies.at(-1) },
      fanOut: {
        subscribers: SUBSCRIBERS,
        linesPerSecond: FANOUT_RATE,
        framesReceived: fanLatencies.length,
        p50Ms: pct(fanLatencies, 0.5),
        p99Ms: pct(fanLatencies, 0.99),
        maxMs: fanLatencies.at(-1),
        serverRssMB: { beforeLines: Math.round(idleServerMB), peak: Math.round(peakServerMB) },
      },
      targets: { ingestLinesPerSecond: 50_000, latencyP50Ms: 100, latencyP99Ms: 500, fanOutP99Ms: 1000, fanOutServerRssMB: 500 },
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await stack.close();
  }
}
