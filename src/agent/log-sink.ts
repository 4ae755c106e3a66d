// An agent's step log: numbered lines, masked, batched and shipped out of band of Temporal's history.
// Each batch is sent until it is acknowledged; a resend of a stored batch is acknowledged without
// being stored twice (see services/log-ingest), so a dropped connection loses and repeats nothing.
import type { LogLine } from '../store/log-store';
import type { AppendResult, LogBatch, StoredLine } from '../services/log-ingest';
import type { SecretMasker } from './secret-masker';

export type { LogLine };

export interface StepLogWriter {
  /**
   * False when too much waits to be shipped: the caller should stop reading output until
   * `relieved()`. A caller that cannot (`unheld`: its process was stopped, and is read to its end)
   * has its lines dropped past twice that backlog, and the log says how many at its end.
   */
  write(stream: LogLine['stream'], content: string, unheld?: boolean): boolean;
  /** Resolves once the backlog is small again (at once when it is). */
  relieved(): Promise<void>;
  /** Batches cut but not yet acknowledged. */
  readonly queuedBatches: number;
  /**
   * Resolves when every line written so far is acknowledged (or the log was refused). With a
   * limit, gives up on what is still unacknowledged `withinMs` after `from` aborts (after the call
   * when there is no `from`), says so, and resolves: a stopped step must end in seconds even when
   * no server takes its lines.
   */
  close(limit?: CloseLimit): Promise<void>;
  readonly linesWritten: number;
}

export interface CloseLimit {
  withinMs: number;
  from?: AbortSignal;
}

export interface LogSink {
  /**
   * A step's log, ready at once: a server is asked where it continues (after an earlier attempt's
   * lines) only once its first line is written, so a step that prints nothing costs no round trip.
   */
  open(stepRunId: string, masker: SecretMasker): Promise<StepLogWriter>;
}

/** How lines reach the control plane: in-process, or over HTTP to any server. Throwing means "try again". */
export interface LogTransport {
  open(stepRunId: string): Promise<{ ok: true; nextLine: number } | Extract<AppendResult, { ok: false }>>;
  append(stepRunId: string, batch: LogBatch): Promise<AppendResult>;
}

export interface ShippingOptions {
  flushMs?: number;
  batchLines?: number;
  batchBytes?: number;
  /** Batches waiting to be acknowledged beyond which a writer asks its caller to slow down. */
  maxQueuedBatches?: number;
  /** Something went wrong that a person may want to know (a resend, a refusal). */
  onProblem?: (message: string) => void;
}

const MAX_LINE_CHARS = 64 * 1024;
const RESEND_DELAYS_MS = [50, 100, 250, 500, 1000, 2000];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A line the database can store: bounded, and without NUL (which PostgreSQL text cannot hold). */
function clip(content: string): string {
  const text = content.includes('\u0000') ? content.replaceAll('\u0000', '\uFFFD') : content;
  return text.length <= MAX_LINE_CHARS ? text : `${text.slice(0, MAX_LINE_CHARS)} … [${text.length - MAX_LINE_CHARS} characters cut]`;
}

export function createShippingLogSink(transport: LogTransport, opts: ShippingOptions = {}): LogSink {
  const flushMs = opts.flushMs ?? 50;
  const batchLines = opts.batchLines ?? 500;
  const batchBytes = opts.batchBytes ?? 256 * 1024;
  const maxQueued = opts.maxQueuedBatches ?? 20;
  const problem = opts.onProblem ?? (() => undefined);

  /** Retries transient failures (thrown) with backoff until the call answers, or is no longer wanted. */
  async function untilAnswered<T>(what: string, call: () => Promise<T>, wanted: () => boolean = () => true): Promise<T | undefined> {
    for (let attempt = 0; wanted(); attempt++) {
      try {
        return await call();
      } catch (err) {
        const delay = RESEND_DELAYS_MS[Math.min(attempt, RESEND_DELAYS_MS.length - 1)];
        problem(`${what} failed (${(err as Error).message}); trying again in ${delay} ms`);
        await sleep(delay);
      }
    }
    return undefined;
  }

  return {
    async open(stepRunId, masker) {
      /** Why nothing more is sent: the server refused the log, or close gave up on it. */
      let refused: string | null = null;
      let dropped = 0;
      let next = 1;
      let pending: StoredLine[] = [];
      let pendingBytes = 0;
      const queue: LogBatch[] = [];
      let written = 0;
      let timer: NodeJS.Timeout | undefined;
      let draining: Promise<void> | null = null;
      let waiters: Array<() => void> = [];
      const relieve = () => {
        if (queue.length > maxQueued / 4 && !refused) return;
        for (const w of waiters) w();
        waiters = [];
      };
      const refuse = (message: string) => {
        refused = message;
        queue.length = 0;
        problem(`log of step ${stepRunId} refused: ${message}`);
      };
      // Lines are numbered from 1 as written; once a server says where the step's log continues,
      // they are sent shifted by `shift`.
      let shift: number | null = null;
      let opening: Promise<boolean> | null = null;
      const openLog = async () => {
        const opened = await untilAnswered(`opening the log of step ${stepRunId}`, () => transport.open(stepRunId), () => !refused);
        if (!opened) return false; // given up on (see close)
        if (!opened.ok) refuse(opened.message);
        else shift = opened.nextLine - 1;
        return opened.ok;
      };
      const shifted = (batch: LogBatch, by: number): LogBatch =>
        by === 0 ? batch : { firstLine: batch.firstLine + by, lines: batch.lines.map(([n, meta, text]) => [n + by, meta, text]) };

      // One batch in flight per step: batch k+1 leaves only once batch k is stored, so the log has no gap.
      const drain = async () => {
        while (queue.length > 0 && !refused) {
          if (shift === null && !(await (opening ??= openLog()))) break;
          const batch = shifted(queue[0], shift!);
          const result = await untilAnswered(
            `sending lines ${batch.firstLine}-${batch.firstLine + batch.lines.length - 1} of step ${stepRunId}`,
            () => transport.append(stepRunId, batch),
            () => !refused,
          );
          if (!result) break; // given up on (see close)
          if (result.ok) queue.shift();
          else refuse(result.message);
          relieve();
        }
        relieve();
      };
      const kick = () => (draining ??= drain().finally(() => (draining = null)));
      const cut = () => {
        clearTimeout(timer);
        timer = undefined;
        if (pending.length === 0) return;
        queue.push({ firstLine: pending[0][0], lines: pending });
        pending = [];
        pendingBytes = 0;
        void kick();
      };
      return {
        write(stream, content, unheld = false) {
          written++;
          if (refused) return true;
          // Dropped, and said so at the end, rather than held without bound.
          if (unheld && queue.length >= 2 * maxQueued) {
            dropped++;
            return false;
          }
          // The first line asks where the log continues: the answer is in by the time it leaves.
          opening ??= openLog();
          const text = clip(masker.mask(content));
          pending.push([next++, `${new Date().toISOString()} ${stream}`, text]);
          pendingBytes += text.length + 40;
          if (pending.length >= batchLines || pendingBytes >= batchBytes) cut();
          else timer ??= setTimeout(cut, flushMs);
          return queue.length <= maxQueued;
        },
        relieved() {
          if (queue.length <= maxQueued / 4 || refused) return Promise.resolve();
          return new Promise<void>((resolve) => waiters.push(resolve));
        },
        get queuedBatches() {
          return queue.length;
        },
        async close(limit) {
          if (dropped > 0 && !refused) {
            const message = `${dropped} lines were dropped: the step went on printing after it was stopped while ${queue.length} batches waited to be shipped`;
            pending.push([next++, `${new Date().toISOString()} system`, message]);
            problem(`log of step ${stepRunId}: ${message}`);
          }
          cut();
          let timer: NodeJS.Timeout | undefined;
          let countdown: (() => void) | undefined;
          const givenUp = !limit
            ? null
            : new Promise<'late'>((r) => {
                countdown = () => (timer = setTimeout(() => r('late'), limit.withinMs));
                if (!limit.from || limit.from.aborted) countdown();
                else limit.from.addEventListener('abort', countdown, { once: true });
              });
          const withinMs = limit?.withinMs;
          try {
            while (draining) {
              if ((await (givenUp ? Promise.race([draining, givenUp]) : draining)) !== 'late') continue;
              const lost = queue.reduce((n, b) => n + b.lines.length, 0);
              refused = `gave up on ${lost} lines not acknowledged within ${withinMs} ms`;
              queue.length = 0;
              problem(`log of step ${stepRunId}: ${refused}`);
              relieve();
              return;
            }
          } finally {
            clearTimeout(timer);
            if (countdown) limit?.from?.removeEventListener('abort', countdown);
          }
        },
        get linesWritten() {
          return written;
        },
      };
    },
  };
}

/** Lines kept in memory only, for output that is not a StepRun's (a notification's): the tail explains a failure. */
export function createMemoryLogSink(keep = 20): LogSink & { tail(): string[] } {
  let last: string[] = [];
  return {
    async open(_stepRunId, masker) {
      last = [];
      let written = 0;
      return {
        write(_stream, content) {
          written++;
          last.push(clip(masker.mask(content)));
          if (last.length > keep) last.shift();
          return true;
        },
        relieved: () => Promise.resolve(),
        queuedBatches: 0,
        async close() {},
        get linesWritten() {
          return written;
        },
      };
    },
    tail: () => last,
  };
}

/**
 * A process's lines into a step log. A step that prints faster than its lines can be shipped waits
 * (its pipe fills and its writes block) instead of the agent holding an ever longer backlog.
 */
export function feedLog(log: StepLogWriter, output: () => { pauseOutput(): void; resumeOutput(): void; readonly stopped: boolean }) {
  let paused = false;
  return (stream: 'stdout' | 'stderr', text: string) => {
    if (log.write(stream, text, output().stopped) || paused) return;
    paused = true;
    output().pauseOutput();
    void log.relieved().then(() => {
      paused = false;
      output().resumeOutput();
    });
  };
}
