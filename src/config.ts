// Process configuration: read once from the environment, validated, then passed down.
import { resolve } from 'node:path';
import * as v from 'valibot';

const port = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.transform(Number), v.integer('must be an integer port'), v.minValue(0), v.maxValue(65535));

const Env = v.object({
  PORT: port('8080'),
  ARCENTRA_GRPC_PORT: port('9090'),
  ARCENTRA_DATA_DIR: v.optional(v.string(), './.arcentra'),
  DATABASE_URL: v.optional(v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'))),
  TEMPORAL_ADDRESS: v.optional(v.pipe(v.string(), v.minLength(1))),
  TEMPORAL_NAMESPACE: v.optional(v.string()),
  ARCENTRA_TEMPORAL_PORT: v.optional(port('7233')),
  ARCENTRA_TEMPORAL_UI_PORT: v.optional(port('8233')),
  ARCENTRA_ADMIN_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, 'must be at least 16 characters'))),
  ARCENTRA_LOCAL_AGENT: v.optional(v.picklist(['0', '1'])),
  ARCENTRA_AGENT_NAME: v.optional(v.string()),
  ARCENTRA_AGENT_LABELS: v.optional(v.string()),
  ARCENTRA_PUBLIC_URL: v.optional(v.string()),
  ARCENTRA_PLUGIN_PATH: v.optional(v.string()),
  ARCENTRA_AGENT_TOKEN: v.optional(v.pipe(v.string(), v.minLength(8, 'must be a registration token from POST /api/v1/agents/tokens'))),
  ARCENTRA_AGENT_MAX_JOBS: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(256, 'must be at most 256'))),
  ARCENTRA_ALLOW_FILE_REPOS: v.optional(v.picklist(['0', '1'], 'must be 0 or 1')),
  ARCENTRA_SECRET_KEY: v.optional(v.pipe(v.string(), v.minLength(32, 'must be 64 hex characters or the base64 of 32 bytes'))),
  ARCENTRA_SERVER_URL: v.optional(
    v.pipe(v.string(), v.regex(/^https?:\/\/[^\s,]+(,\s*https?:\/\/[^\s,]+)*$/, 'must be http(s):// URLs of servers, separated by commas')),
  ),
  ARCENTRA_WS_SEND_BUFFER_BYTES: v.optional(
    v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number of bytes'), v.minValue(65536, 'must be at least 65536'), v.maxValue(1 << 30, 'must be at most 1 GiB')),
  ),
  ARCENTRA_LOG_LEVEL: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'silent']), 'info'),
});

export interface Config {
  port: number;
  grpcPort: number;
  dataDir: string;
  databaseUrl?: string;
  temporalAddress?: string;
  temporalNamespace?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  adminToken?: string;
  localAgent?: boolean;
  agentName?: string;
  agentLabels: Record<string, string>;
  publicUrl?: string;
  pluginPath?: string;
  agentToken?: string;
  agentMaxJobs?: number;
  /** file:// and local-path repository URLs (tests, single-machine setups). */
  allowFileRepos?: boolean;
  /** Key that seals repository credentials; unset: one generated in the data dir. */
  secretKey?: string;
  /** Servers a standalone agent ships step logs to (any of them; the next on failure). Unset: through the database. */
  serverUrls?: string[];
  /** Bytes a WebSocket client may have waiting before it is closed as too slow (default 8 MiB). */
  wsSendBufferBytes?: number;
  logLevel: string;
}

export class ConfigError extends Error {}

/** Labels as "key=value,key2=value2" or bare "linux" (label linux=true). */
export function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, ...rest] = part.split('=');
    labels[key.trim()] = rest.length ? rest.join('=').trim() : 'true';
  }
  return labels;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = v.safeParse(Env, env);
  if (!result.success) {
    const issue = result.issues[0];
    const key = v.getDotPath(issue) ?? 'environment';
    throw new ConfigError(`configuration: ${key} ${issue.message}`);
  }
  const e = result.output;
  return {
    port: e.PORT,
    grpcPort: e.ARCENTRA_GRPC_PORT,
    dataDir: resolve(e.ARCENTRA_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalPort: e.ARCENTRA_TEMPORAL_PORT,
    temporalUiPort: e.ARCENTRA_TEMPORAL_UI_PORT,
    adminToken: e.ARCENTRA_ADMIN_TOKEN,
    localAgent: e.ARCENTRA_LOCAL_AGENT === undefined ? undefined : e.ARCENTRA_LOCAL_AGENT === '1',
    agentName: e.ARCENTRA_AGENT_NAME,
    agentLabels: parseLabels(e.ARCENTRA_AGENT_LABELS),
    publicUrl: e.ARCENTRA_PUBLIC_URL,
    pluginPath: e.ARCENTRA_PLUGIN_PATH,
    agentToken: e.ARCENTRA_AGENT_TOKEN,
    agentMaxJobs: e.ARCENTRA_AGENT_MAX_JOBS,
    allowFileRepos: e.ARCENTRA_ALLOW_FILE_REPOS === '1',
    secretKey: e.ARCENTRA_SECRET_KEY,
    serverUrls: e.ARCENTRA_SERVER_URL?.split(',').map((u) => u.trim().replace(/\/+$/, '')),
    wsSendBufferBytes: e.ARCENTRA_WS_SEND_BUFFER_BYTES,
    logLevel: e.ARCENTRA_LOG_LEVEL,
  };
}
