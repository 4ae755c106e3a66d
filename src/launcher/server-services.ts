// The services of a server process, built once and shared by the control worker (scheduled runs)
// and the API (everything else).
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Database } from '../store/db';
import type { TemporalSettings } from '../temporal/temporal-config';
import { loadPluginCatalogue } from '../plugins/catalogue';
import { createSpecChecker } from '../services/spec-checker';
import { createSecretBox, loadOrCreateKey } from '../git/credentials';
import { createRepoCache } from '../git/repo-cache';
import { createGitDefinitions } from '../services/git-definitions';
import { createPipelineService } from '../services/pipelines';
import { createRunService } from '../services/runs';
import { createScheduleService } from '../services/schedules';
import type { ScheduleService } from '../services/schedules';
import { createWebhookService } from '../services/webhooks';
import { createTokenService } from '../services/tokens';
import type { EventBus } from '../events';
import type { Invalidations } from '../store/invalidations';

export function createServerServices(opts: {
  config: Config;
  database: Database;
  client: Client;
  settings: TemporalSettings;
  temporalUiUrl: string | null;
  logger: Logger;
  events: EventBus;
  invalidations: Invalidations;
}) {
  const { config, database, client, settings, logger, invalidations } = opts;
  const db = database.db;
  const catalogue = loadPluginCatalogue({ pluginPath: config.pluginPath });
  for (const problem of catalogue.problems) logger.warn({ problem }, 'plugin not loaded');
  const specs = createSpecChecker(catalogue);
  // Repository credentials and webhook secrets are sealed with this key: servers of one installation must share it.
  const box = createSecretBox(loadOrCreateKey(config.dataDir, config.secretKey));
  const git = createGitDefinitions({ cache: createRepoCache({ cacheDir: join(config.dataDir, 'git-cache') }), box });
  // The pipeline service tells the schedules about changes; the schedules read definitions through it.
  const late: { schedules?: ScheduleService } = {};
  const pipelines = createPipelineService(db, specs, {
    git,
    box,
    allowFileRepos: config.allowFileRepos,
    invalidations,
    // Schedules follow the definition before the request answers; if Temporal cannot be reached, the
    // reconciler catches up later and the change itself stands.
    onChanged: async (pipelineId) => {
      await late.schedules?.sync(pipelineId).catch((err: Error) => logger.warn({ pipelineId, err: err.message }, 'could not update the schedules of a pipeline'));
    },
  });
  const schedules = (late.schedules = createScheduleService({ db, database, temporal: client, settings, pipelines, specs, logger }));
  const runs = createRunService({
    db,
    temporal: client,
    settings,
    pipelinesService: pipelines,
    specs,
    temporalUiUrl: opts.temporalUiUrl ?? undefined,
    onStartFailed: (runId, err) => logger.warn({ runId, err: err.message }, 'could not start a run on Temporal'),
  });
  // A run that moves changes its pipeline's lastRun: every server sees the event and drops its copy.
  opts.events.subscribe((e) => e.kind === 'run' && e.pipelineId && pipelines.forget(e.pipelineId));
  const tokens = createTokenService(db, invalidations);
  const webhooks = createWebhookService({ db, box, pipelines, runs, specs, logger });
  return { specs, box, pipelines, runs, schedules, webhooks, tokens };
}

export type ServerServices = ReturnType<typeof createServerServices>;
