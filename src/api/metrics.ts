// Prometheus metrics of an API process (GET /metrics): HTTP traffic by route, status transitions
// seen by this process, and the process's own figures (prom-client's defaults).
import client from 'prom-client';
import type { EventBus } from '../events';

export function createMetrics(events?: EventBus) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'arcentra_' });
  const requests = new client.Counter({
    name: 'arcentra_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'arcentra_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const transitions = new client.Counter({
    name: 'arcentra_status_transitions_total',
    help: 'PipelineRun, JobRun, StepRun and agent status changes of the installation, as seen by this process',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  events?.subscribe((e) => transitions.inc({ kind: e.kind, status: e.status }));
  const wsConnections = new client.Gauge({ name: 'arcentra_ws_connections', help: 'Open WebSocket connections', registers: [registry] });
  const wsSlowClosures = new client.Counter({
    name: 'arcentra_ws_slow_client_closures_total',
    help: 'WebSocket clients closed (1008) because their send buffer passed its limit',
    registers: [registry],
  });
  return {
    registry,
    wsConnections,
    wsSlowClosures,
    /** `route` is the matched pattern (e.g. /api/v1/pipelines/:pipelineId), never the raw path with its ids. */
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
