// A job's next step may be dispatched while the step before it still runs (the job workflow runs
// one step ahead). On the agent, that next step waits here for the end of the attempt before it, so
// that it starts the moment that attempt succeeds, with no Temporal round trip in between.

/**
 * One dispatch of one attempt of a step: what a step dispatched ahead waits for. An attempt that
 * was dispatched ahead and did not start is dispatched again, as another dispatch.
 */
export interface StepAttempt {
  stepRunId: string;
  attempt: number;
  /** Unique within the job (the workflow counts its dispatches). */
  dispatchId: number;
}

/** How the attempt before a waiting step ended, for that step. */
export type Succession =
  | { go: true; runningRecorded: boolean }
  | { go: false; reason: 'predecessor_unsuccessful' | 'predecessor_not_here' | 'cancelled' };

export interface StepSuccessions {
  /** The attempt has started on this agent: a step waiting for it waits for its end. */
  began(attempt: StepAttempt): void;
  /** Whether a step waits for this attempt's end right now (then the end also records it running). */
  awaited(attempt: StepAttempt): boolean;
  /**
   * The attempt is over (or did not start): `succeeded` lets the step waiting for it start;
   * `nextRunning` says its running is recorded.
   */
  ended(attempt: StepAttempt, succeeded: boolean, nextRunning?: boolean): void;
  /**
   * Waits for the attempt's end. An attempt this agent has not seen begin within `unseenMs` is not
   * coming here (it went elsewhere, or was never dispatched): the wait ends then, so a step waiting
   * ahead never holds an activity slot its predecessor needs.
   */
  waitFor(attempt: StepAttempt, cancelled: AbortSignal, unseenMs: number): Promise<Succession>;
}

interface Entry {
  seen: boolean;
  /** Steps waiting for this attempt right now. */
  waiting: number;
  outcome?: Succession;
  settle: (outcome: Succession) => void;
  settled: Promise<Succession>;
  endedAt?: number;
}

/** An ended attempt is remembered this long, for a step dispatched ahead that reaches the agent late. */
const REMEMBER_ENDED_MS = 10 * 60_000;

export function createStepSuccessions(now: () => number = Date.now): StepSuccessions {
  const entries = new Map<string, Entry>();
  const keyOf = (a: StepAttempt) => `${a.stepRunId}#${a.attempt}#${a.dispatchId}`;
  const entryFor = (key: string): Entry => {
    let entry = entries.get(key);
    if (!entry) {
      let settle!: (outcome: Succession) => void;
      const settled = new Promise<Succession>((resolve) => (settle = resolve));
      entry = { seen: false, waiting: 0, settle, settled };
      entries.set(key, entry);
    }
    return entry;
  };
  const forgetOld = () => {
    for (const [key, entry] of entries) if (entry.endedAt !== undefined && now() - entry.endedAt > REMEMBER_ENDED_MS) entries.delete(key);
  };

  return {
    began(attempt) {
      forgetOld();
      entryFor(keyOf(attempt)).seen = true;
    },
    awaited(attempt) {
      return (entries.get(keyOf(attempt))?.waiting ?? 0) > 0;
    },
    ended(attempt, succeeded, nextRunning = false) {
      const entry = entryFor(keyOf(attempt));
      if (entry.outcome) return;
      entry.seen = true;
      entry.endedAt = now();
      // A waiter that arrives later records its own running (nextRunning was decided without it).
      entry.outcome = succeeded ? { go: true, runningRecorded: false } : { go: false, reason: 'predecessor_unsuccessful' };
      entry.settle(succeeded ? { go: true, runningRecorded: nextRunning } : entry.outcome);
    },
    async waitFor(attempt, cancelled, unseenMs) {
      const key = keyOf(attempt);
      const entry = entryFor(key);
      if (entry.outcome) return entry.outcome; // remembered until forgotten: asking twice gets the same answer
      entry.waiting++;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const unseen = new Promise<Succession>((resolve) => {
        const check = () => (entry.seen ? undefined : resolve({ go: false, reason: 'predecessor_not_here' }));
        timer = setTimeout(check, unseenMs);
      });
      const aborted = new Promise<Succession>((resolve) => {
        onAbort = () => resolve({ go: false, reason: 'cancelled' });
        if (cancelled.aborted) onAbort();
        else cancelled.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([entry.settled, unseen, aborted]);
      } finally {
        clearTimeout(timer);
        cancelled.removeEventListener('abort', onAbort!);
        entry.waiting--;
        if (!entry.seen) entries.delete(key); // the attempt never came here: nothing to remember

      }
    },
  };
}
