// Starts one in-memory Temporal dev server and bundles the workflows once for every test file.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../src/launcher/dev-server';
import { freePort } from '../../src/launcher/ports';
import { loadTemporalSettings } from '../../src/temporal/temporal-config';
import { cachedWorkflowBundle } from '../../src/worker/workflow-bundle';

/** A namespace of its own for scenario tests that run separate server and agent processes. */
export const SCENARIO_NAMESPACE = 'arcentra-scenario';
/** The realtime scenario's own namespace: its agents must not take the scale-out scenario's jobs. */
export const REALTIME_NAMESPACE = 'arcentra-realtime';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = join(process.cwd(), '.test-data', `temporal-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  const server = await startDevServer({ settings: loadTemporalSettings(), dataDir, port: await freePort(), ephemeral: true, headless: true, extraNamespaces: [SCENARIO_NAMESPACE, REALTIME_NAMESPACE] });
  // Built once up front, not by the first of several processes a scenario test starts at once.
  execFileSync(process.execPath, [join(process.cwd(), 'scripts', 'build.mjs')], { stdio: 'inherit' });
  // The same cached bundle every server process of this checkout uses (scenario tests spawn some).
  const bundle = await cachedWorkflowBundle();
  const bundlePath = bundle.codePath;
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
  };
}
