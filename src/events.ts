// Status events published on every transition; subscribers (WebSocket, gRPC) come with the realtime work.
import { EventEmitter } from 'node:events';

export interface StatusEvent {
  kind: 'run' | 'job' | 'step' | 'agent';
  runId?: string;
  id: string;
  status: string;
  previousStatus: string | null;
}

export interface EventBus {
  publish(event: StatusEvent): Promise<void>;
  subscribe(listener: (event: StatusEvent) => void): () => void;
}

/** In-process bus: enough for one process; replicas share events through the database later. */
export function createLocalEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(event) {
      emitter.emit('event', { ...event });
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
  };
}
