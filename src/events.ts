// Status events: one per run, job, step and agent transition. Every replica sees every event: the
// bus carries them through the database (PostgreSQL NOTIFY) or, for the embedded database, in-process.
import { EventEmitter } from 'node:events';

export type StatusEventKind = 'run' | 'job' | 'step' | 'agent';

/** How many of a run's jobs (or a job's steps) are where: sent with run and job events. */
export interface StatusCounters {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

export interface StatusEvent {
  kind: StatusEventKind;
  /** The id of the thing that moved: runId, jobRunId, stepRunId or agentId. */
  id: string;
  runId?: string;
  pipelineId?: string;
  projectId?: string;
  jobRunId?: string;
  agentId?: string;
  status: string;
  previousStatus: string | null;
  /** ISO-8601, set by the publisher. */
  timestamp?: string;
  reason?: string;
  counters?: StatusCounters;
}

export interface EventBus {
  publish(event: StatusEvent): Promise<void>;
  subscribe(listener: (event: StatusEvent) => void): () => void;
}

/** In-process bus: the embedded database serves one process, so its events never need to leave it. */
export function createLocalEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(event) {
      emitter.emit('event', { timestamp: new Date().toISOString(), ...event });
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
  };
}

const STATUS_CHANNEL = 'arcentra_status';
const MAX_REASON = 1000;

/**
 * The bus every process of an installation shares: events go out as NOTIFY on the database and come
 * back through LISTEN, in-process ones included, so every subscriber sees one stream in one order.
 */
export async function createDatabaseEventBus(
  database: {
    notify(channel: string, payload: string): Promise<void>;
    listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  },
  onError: (err: Error) => void = () => undefined,
  /**
   * Listen from the start (a server: its subscribers must miss nothing). An agent only publishes:
   * it listens once something subscribes, if ever, rather than parse every event of the
   * installation for no one (three per step).
   */
  opts: { listenNow?: boolean } = {},
): Promise<EventBus & { close(): Promise<void> }> {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let listening: Promise<() => Promise<void>> | null = null;
  const listen = () =>
    (listening ??= database
      .listen(STATUS_CHANNEL, (payload) => {
        let event: StatusEvent;
        try {
          event = JSON.parse(payload) as StatusEvent;
        } catch {
          return; // not ours
        }
        emitter.emit('event', event);
      })
      .catch((err: Error) => {
        listening = null; // the next subscriber tries again
        throw new Error(`could not listen for status events: ${err.message}`, { cause: err });
      }));
  if (opts.listenNow ?? true) await listen();
  return {
    async publish(event) {
      const reason = event.reason && event.reason.length > MAX_REASON ? event.reason.slice(0, MAX_REASON) + '…' : event.reason;
      // Not awaited: the database sends notices in order on a session of their own, and whoever
      // made the move (a step's agent, a job's workflow) need not wait for the round trip. A notice
      // that fails is reported; awaited, it failed the write's activity, whose retry found the move
      // done and sent nothing either.
      database.notify(STATUS_CHANNEL, JSON.stringify({ timestamp: new Date().toISOString(), ...event, reason })).catch(onError);
    },
    subscribe(listener) {
      // Listening takes a round trip: events sent before it is in place are not heard here.
      listen().catch(onError);
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    async close() {
      const unlisten = await listening?.catch(() => undefined); // never listened, or failed to: nothing to end
      await unlisten?.();
    },
  };
}
