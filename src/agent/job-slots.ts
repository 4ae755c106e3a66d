// An agent's capacity: at most maxConcurrentJobs jobs hold a slot at once.
export interface JobSlots {
  readonly max: number;
  readonly size: number;
  /** Takes a slot for the job (true), or says the agent is full (false). Taking it twice is harmless. */
  take(jobRunId: string): boolean;
  touch(jobRunId: string): void;
  release(jobRunId: string): void;
  /** Called whenever a slot may have become free. */
  onFree(listener: () => void): void;
}

/** A slot not used by any step for this long belongs to a job that will not come back. */
const IDLE_EXPIRY_MS = 30 * 60_000;

export function createJobSlots(max: number, now: () => number = Date.now): JobSlots {
  const slots = new Map<string, number>();
  const listeners: Array<() => void> = [];
  const freed = () => listeners.forEach((listener) => listener());
  const expire = () => {
    let expired = false;
    for (const [id, lastUsed] of slots) {
      if (now() - lastUsed > IDLE_EXPIRY_MS) expired = slots.delete(id);
    }
    if (expired) freed();
  };
  return {
    max,
    get size() {
      expire();
      return slots.size;
    },
    take(jobRunId) {
      expire();
      if (!slots.has(jobRunId) && slots.size >= max) return false;
      slots.set(jobRunId, now());
      return true;
    },
    touch(jobRunId) {
      if (slots.has(jobRunId)) slots.set(jobRunId, now());
    },
    release(jobRunId) {
      if (slots.delete(jobRunId)) freed();
    },
    onFree(listener) {
      listeners.push(listener);
    },
  };
}
