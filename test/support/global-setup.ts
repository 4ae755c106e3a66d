// Starts one in-memory Temporal dev server and bundles the workflows once for every test file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../src/launcher/dev-server';
import { freePort } from '../../src/launcher/ports';
import { loadTemporalSettings } from '../../src/temporal/temporal-config';
import { WORKFLOWS_PATH } from '../../src/worker/control-worker';

/** A namespace of its own for scenario tests that run separate server and agent processes. */
export const SCENARIO_NAMESPACE = 'arcentra-scenario';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = join(process.cwd(), '.test-data', `temporal-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  const server = await startDevServer({ settings: loadTemporalSettings(), dataDir, port: await freePort(), ephemeral: true, headless: true, extraNamespaces: [SCENARIO_NAMESPACE] });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
  const bundlePath = join(dataDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
  };
}
