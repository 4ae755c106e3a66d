// One server's view of live step logs. Subscribers of one step share one tail: a notification that
// lines were stored (from whichever replica stored them) wakes it, it reads the new lines once and
// hands each subscriber what follows its own cursor. History and live lines come from the same
// cursor, so there is neither gap nor duplicate at the seam. A slow timer covers lost notifications.
import { eq } from 'drizzle-orm';
import type { Database, Db } from '../store/db';
import { stepRuns } from '../store/schema';
import type { LogLine } from '../store/log-store';
import { lastStoredLine, readStepLogs } from '../store/log-store';
import { isFinal } from '../statuses';
import type { EventBus } from '../events';
import { LOG_CHANNEL } from '../services/log-ingest';

export interface LogFeedHandlers {
  /**
   * Lines that were stored when the subscription began, in order, at most 500 per call. The next
   * call waits for a returned promise: a subscriber reads its history at its own pace.
   */
  history(lines: LogLine[]): void | Promise<void>;
  /** Everything stored at subscription time has been delivered; `live` follows. */
  historyDone(): void;
  /** New lines, in order, continuing exactly after the last delivered line. */
  live(lines: LogLine[]): void;
  /** The step is final and every line has been delivered; no call follows. */
  eof(): void;
  /** The feed failed for this subscriber (e.g. the database is gone); no call follows. */
  error(message: string): void;
}

export interface LogFeed {
  /** Follows one step's log from `fromLine` (1-based). Access must be checked by the caller. Returns unsubscribe. */
  follow(stepRunId: string, fromLine: number, handlers: LogFeedHandlers): () => void;
  close(): Promise<void>;
}

const READ_LINES = 5000;
const HISTORY_FRAME_LINES = 500;

interface Subscriber {
  /** The next line this subscriber needs. */
  cursor: number;
  /** Caught up with its history: from now on the shared tail feeds it. */
  joined: boolean;
  handlers: LogFeedHandlers;
}

interface Tail {
  stepRunId: string;
  subscribers: Set<Subscriber>;
  final: boolean;
  pumping: boolean;
  again: boolean;
}

export async function createLogFeed(opts: { db: Db; database: Pick<Database, 'listen'>; events: EventBus; pollMs?: number }): Promise<LogFeed> {
  const { db } = opts;
  const tails = new Map<string, Tail>();

  const unlisten = await opts.database.listen(LOG_CHANNEL, (payload) => {
    const tail = tails.get(payload.slice(0, payload.indexOf(' ')));
    if (tail) void pump(tail);
  });
  const unsubscribeEvents = opts.events.subscribe((e) => {
    if (e.kind !== 'step' || !isFinal(e.status)) return;
    const tail = tails.get(e.id);
    if (!tail) return;
    tail.final = true;
    void pump(tail);
  });
  // Notifications can be lost (a listener reconnecting): every tail looks for itself now and then.
  const poller = setInterval(() => {
    for (const tail of tails.values()) void pump(tail, true);
  }, opts.pollMs ?? 1000);
  poller.unref();

  async function stepStatus(stepRunId: string): Promise<string | null> {
    const [row] = await db.select({ status: stepRuns.status }).from(stepRuns).where(eq(stepRuns.stepRunId, stepRunId));
    return row?.status ?? null;
  }

  function deliver(sub: Subscriber, lines: LogLine[]) {
    // `lines` is contiguous and starts at or before sub.cursor (the smallest cursor was read from).
    const from = Math.max(0, sub.cursor - (lines[0]?.line ?? sub.cursor));
    if (from >= lines.length) return;
    // The same array for every subscriber at the same point, so a gateway can encode a frame once.
    sub.handlers.live(from === 0 ? lines : lines.slice(from));
    sub.cursor = lines[lines.length - 1].line + 1;
  }

  /** Brings every subscriber of the tail up to the stored end; at most one pass runs per tail. */
  async function pump(tail: Tail, checkStatus = false): Promise<void> {
    if (tail.pumping) {
      tail.again = true;
      return;
    }
    tail.pumping = true;
    try {
      do {
        tail.again = false;
        if (checkStatus && !tail.final) tail.final = isFinal((await stepStatus(tail.stepRunId)) ?? 'success');
        checkStatus = false;
        // Read "final" before the lines: an agent stores every line before it reports the end.
        const finalBefore = tail.final;
        // Only subscribers done with their history take part in this pass, from read to eof.
        const ready = [...tail.subscribers].filter((s) => s.joined);
        let exhausted = ready.length === 0;
        while (!exhausted) {
          const from = Math.min(...ready.map((s) => s.cursor));
          const lines = await readStepLogs(db, tail.stepRunId, from, READ_LINES);
          for (const sub of ready) if (tail.subscribers.has(sub)) deliver(sub, lines);
          exhausted = lines.length < READ_LINES;
        }
        for (const sub of ready) {
          if (!tail.subscribers.has(sub)) continue;
          if (finalBefore) {
            tail.subscribers.delete(sub);
            sub.handlers.eof();
          }
        }
      } while (tail.again);
    } catch (err) {
      for (const sub of tail.subscribers) sub.handlers.error(`log feed failed: ${(err as Error).message}`);
      tail.subscribers.clear();
    } finally {
      tail.pumping = false;
      if (tail.subscribers.size === 0 && tails.get(tail.stepRunId) === tail) tails.delete(tail.stepRunId);
    }
  }

  return {
    follow(stepRunId, fromLine, handlers) {
      let tail = tails.get(stepRunId);
      if (!tail) tails.set(stepRunId, (tail = { stepRunId, subscribers: new Set(), final: false, pumping: false, again: false }));
      const sub: Subscriber = { cursor: Math.max(1, fromLine), joined: false, handlers };
      tail.subscribers.add(sub);
      const t = tail;
      // History: what is stored now, read by this subscriber alone at its own pace. Status first,
      // then the stored end, so a step final here is complete here.
      void (async () => {
        try {
          const status = await stepStatus(stepRunId);
          const through = await lastStoredLine(db, stepRunId);
          if (status !== null && isFinal(status)) t.final = true;
          while (sub.cursor <= through && t.subscribers.has(sub)) {
            const lines = await readStepLogs(db, stepRunId, sub.cursor, Math.min(HISTORY_FRAME_LINES, through - sub.cursor + 1));
            if (lines.length === 0) break;
            sub.cursor = lines[lines.length - 1].line + 1;
            await handlers.history(lines);
          }
          if (!t.subscribers.has(sub)) return;
          handlers.historyDone();
          sub.joined = true;
          await pump(t);
        } catch (err) {
          if (t.subscribers.delete(sub)) handlers.error(`log feed failed: ${(err as Error).message}`);
        }
      })();
      return () => {
        t.subscribers.delete(sub);
        if (t.subscribers.size === 0 && !t.pumping && tails.get(stepRunId) === t) tails.delete(stepRunId);
      };
    },
    async close() {
      clearInterval(poller);
      unsubscribeEvents();
      await unlisten();
      tails.clear();
    },
  };
}
