// A WebSocket test client: sends frames, records every frame received, and waits on conditions.
import WebSocket from 'ws';

export interface Frame {
  channel?: string;
  type: string;
  params?: Record<string, unknown>;
  data?: any;
  error?: string;
  message?: string;
  id?: string | number;
}

export interface WsClient {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  subscribe(channel: string, params: Record<string, unknown>, id?: string | number): void;
  waitFor(predicate: (frames: Frame[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Line numbers received on channel_log for one step (log_chunk and log frames), in arrival order. */
  linesOf(stepRunId: string): Array<{ line: number; content: string }>;
  close(): void;
}

export async function connectWs(url: string, token: string | null, opts: { viaQuery?: boolean } = {}): Promise<WsClient> {
  const wsUrl = url.replace(/^http/, 'ws') + '/api/v1/ws' + (token && opts.viaQuery ? `?token=${encodeURIComponent(token)}` : '');
  const ws = new WebSocket(wsUrl, { headers: token && !opts.viaQuery ? { authorization: `Bearer ${token}` } : {} });
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  // Waiters look at every frame so far: checked once per batch of arrivals, not once per frame
  // (per frame, a 100,000-line stream costs the client quadratic time, and the server rightly drops
  // a client that falls that far behind).
  let checkScheduled = false;
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    if (checkScheduled) return;
    checkScheduled = true;
    setImmediate(() => {
      checkScheduled = false;
      for (const w of waiters) w();
    });
  });
  let closedWith: { code: number; reason: string } | null = null;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
      resolve(closedWith);
      for (const w of waiters) w();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    subscribe(channel, params, id) {
      ws.send(JSON.stringify({ channel, action: 'subscribe', params, ...(id !== undefined ? { id } : {}) }));
    },
    waitFor(predicate, what, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(frames)) {
            clearTimeout(timer);
            waiters.delete(check);
            return resolve();
          }
          if (closedWith) {
            // A closed connection will not bring what is awaited: say so now, with the server's reason.
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`connection closed (${closedWith.code} ${closedWith.reason}) while waiting for ${what}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(frames.slice(-3)).slice(0, 500)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    linesOf(stepRunId) {
      const out: Array<{ line: number; content: string }> = [];
      for (const f of frames) {
        if (f.channel !== 'channel_log' || f.params?.stepRunId !== stepRunId) continue;
        if (f.type === 'log_chunk') for (const l of f.data.lines) out.push({ line: l.line, content: l.content });
        if (f.type === 'log') out.push({ line: f.data.line, content: f.data.content });
      }
      return out;
    },
    close: () => ws.close(),
  };
}
