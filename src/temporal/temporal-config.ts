// Reads temporal.yaml: the one place naming the namespace, task queues, search attributes and dev-server options.
import { readFileSync } from 'node:fs';
import { TEMPORAL_YAML_PATH } from '../paths';
import * as v from 'valibot';
import { parse } from 'yaml';
import { requireDuration } from '../duration';

const TemporalYaml = v.object({
  namespace: v.string(),
  taskQueues: v.object({ control: v.string(), agentPool: v.string(), agentPrefix: v.string() }),
  searchAttributes: v.record(v.string(), v.picklist(['Keyword', 'Text', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'])),
  devServer: v.object({
    cliPackage: v.string(),
    ip: v.string(),
    port: v.number(),
    uiPort: v.number(),
    dbFile: v.string(),
    logFile: v.string(),
    readyTimeoutSeconds: v.number(),
    /** `--dynamic-config-value key=value` for every entry. */
    dynamicConfig: v.optional(v.record(v.string(), v.union([v.number(), v.string(), v.boolean()])), {}),
    /** `--sqlite-pragma NAME=VALUE` for every entry, for the persistent (file) store only. */
    sqlitePragmas: v.optional(v.record(v.string(), v.union([v.number(), v.string()])), {}),
  }),
  stepActivity: v.object({
    heartbeatTimeout: v.string(),
    scheduleToStartTimeout: v.string(),
    defaultTimeout: v.string(),
    killGracePeriod: v.string(),
  }),
});

export type TemporalSettings = v.InferOutput<typeof TemporalYaml> & {
  stepActivityMs: { heartbeatTimeout: number; scheduleToStartTimeout: number; defaultTimeout: number; killGracePeriod: number };
};

export { TEMPORAL_YAML_PATH };

let cached: TemporalSettings | undefined;

export function loadTemporalSettings(path = TEMPORAL_YAML_PATH): TemporalSettings {
  if (cached && path === TEMPORAL_YAML_PATH) return cached;
  const raw = v.parse(TemporalYaml, parse(readFileSync(path, 'utf8')));
  const s = raw.stepActivity;
  const settings: TemporalSettings = {
    ...raw,
    stepActivityMs: {
      heartbeatTimeout: requireDuration(s.heartbeatTimeout, 'stepActivity.heartbeatTimeout'),
      scheduleToStartTimeout: requireDuration(s.scheduleToStartTimeout, 'stepActivity.scheduleToStartTimeout'),
      defaultTimeout: requireDuration(s.defaultTimeout, 'stepActivity.defaultTimeout'),
      killGracePeriod: requireDuration(s.killGracePeriod, 'stepActivity.killGracePeriod'),
    },
  };
  if (path === TEMPORAL_YAML_PATH) cached = settings;
  return settings;
}
