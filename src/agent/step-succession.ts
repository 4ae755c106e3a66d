// A job's next step may be dispatched while the step before it still runs (the job workflow runs
// one step ahead). On the agent, that next step waits here for the end of the dispatch before it,
// so that it starts the moment that dispatch succeeds, with no Temporal round trip in between.

/**
 * One dispatch of one attempt of a step: what a step dispatched ahead waits for. An attempt that
 * was dispatched ahead and did not start is dispatched again, as another dispatch.
 */
export interface StepAttempt {
  stepRunId: string;
  attempt: number;
  /** Unique to the workflow run that dispatched it (a reset run counts anew). */
  dispatchId: string;
}

/** How the dispatch before a waiting step ended, for that step. */
export type Succession =
  | { go: true; runningRecorded: boolean }
  | { go: false; reason: 'predecessor_unsuccessful' | 'predecessor_not_here' | 'cancelled'; runningRecorded?: boolean };

export interface StepSuccessions {
  /** The dispatch has started on this agent: a step waiting for it waits for its end. */
  began(attempt: StepAttempt): void;
  /** Whether a step waits for this dispatch's end right now (then the end also records it running). */
  awaited(attempt: StepAttempt): boolean;
  /**
   * The dispatch is over (or did not start): `succeeded` lets the step waiting for it start;
   * `nextRunning` says that step's running is recorded.
   */
  ended(attempt: StepAttempt, succeeded: boolean, nextRunning?: boolean): void;
  /**
   * Waits for the dispatch's end. A dispatch this agent has not seen begin within `unseenMs` is
   * not coming here (it went elsewhere, or was never made): the wait ends then, so a step waiting
   * ahead never holds an activity slot its predecessor needs.
   */
  waitFor(attempt: StepAttempt, cancelled: AbortSignal, unseenMs: number): Promise<Succession>;
}

interface Entry {
  seen: boolean;
  /** The steps waiting for this dispatch right now. */
  waiters: Array<(succession: Succession) => void>;
  /** Set once it ended: what a step asking later is told. */
  outcome?: { succeeded: boolean; nextRunning: boolean };
  /** Its end was told a step waits (and may record that step running). */
  claimed?: boolean;
}

/** An ended dispatch is remembered this long, for a step dispatched ahead that reaches the agent late. */
const REMEMBER_ENDED_MS = 2 * 60_000;

export function createStepSuccessions(now: () => number = Date.now): StepSuccessions {
  const entries = new Map<string, Entry>();
  /** Ended dispatches, oldest first: forgetting them costs nothing per step. */
  const endedOrder: Array<{ key: string; at: number }> = [];
  const keyOf = (a: StepAttempt) => `${a.dispatchId}/${a.stepRunId}#${a.attempt}`;
  const entryFor = (key: string): Entry => {
    let entry = entries.get(key);
    if (!entry) entries.set(key, (entry = { seen: false, waiters: [] }));
    return entry;
  };
  const forgetOld = () => {
    while (endedOrder.length > 0 && now() - endedOrder[0].at > REMEMBER_ENDED_MS) entries.delete(endedOrder.shift()!.key);
  };
  const outcomeOf = (entry: Entry) => entry.outcome; // read anew after a wait
  const claimedOf = (entry: Entry) => entry.claimed === true;
  /** A late asker records its own running: the end was written without it. */
  const answerLater = (outcome: NonNullable<Entry['outcome']>): Succession =>
    outcome.succeeded ? { go: true, runningRecorded: false } : { go: false, reason: 'predecessor_unsuccessful' };

  return {
    began(attempt) {
      forgetOld();
      entryFor(keyOf(attempt)).seen = true;
    },
    awaited(attempt) {
      const entry = entries.get(keyOf(attempt));
      if (!entry || entry.waiters.length === 0) return false;
      entry.claimed = true;
      return true;
    },
    ended(attempt, succeeded, nextRunning = false) {
      const key = keyOf(attempt);
      const entry = entryFor(key);
      if (entry.outcome) return;
      entry.seen = true;
      entry.outcome = { succeeded, nextRunning };
      endedOrder.push({ key, at: now() });
      const answer: Succession = succeeded ? { go: true, runningRecorded: nextRunning } : { go: false, reason: 'predecessor_unsuccessful' };
      for (const waiter of entry.waiters.splice(0)) waiter(answer);
    },
    async waitFor(attempt, cancelled, unseenMs) {
      const key = keyOf(attempt);
      const entry = entryFor(key);
      if (entry.outcome) return answerLater(entry.outcome);
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      let waiter: ((succession: Succession) => void) | undefined;
      const answered = await new Promise<Succession>((resolve) => {
        waiter = resolve;
        entry.waiters.push(resolve);
        timer = setTimeout(() => (entry.seen ? undefined : resolve({ go: false, reason: 'predecessor_not_here' })), unseenMs);
        onAbort = () => resolve({ go: false, reason: 'cancelled' });
        if (cancelled.aborted) onAbort();
        else cancelled.addEventListener('abort', onAbort, { once: true });
      });
      clearTimeout(timer);
      cancelled.removeEventListener('abort', onAbort!);
      const still = entry.waiters.indexOf(waiter!);
      if (still >= 0) entry.waiters.splice(still, 1);
      if (!entry.seen && entry.waiters.length === 0) entries.delete(key); // the dispatch never came here: nothing to remember
      // Given up (cancelled) while the end was recording this step running, or had: it may show running.
      if (!answered.go && (outcomeOf(entry)?.nextRunning || claimedOf(entry))) return { ...answered, runningRecorded: true };
      return answered;
    },
  };
}
