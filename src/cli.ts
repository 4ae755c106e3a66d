// `arcentra <role>`: all (what npm start runs), server, agent, temporal setup, schema.
import { writeFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { StartupError, startSystem } from './launcher/system';
import { DevServerError } from './launcher/dev-server';
import { TemporalCliMissing } from './launcher/temporal-cli';
import { loadTemporalSettings } from './temporal/temporal-config';

const SHUTDOWN_DEADLINE_MS = 20_000;
const USAGE = 'usage: arcentra <all|server|agent|temporal setup|schema [file]>';

async function temporalSetup(address: string, namespace: string) {
  const settings = loadTemporalSettings();
  const connection = await Connection.connect({ address });
  const types: Record<string, number> = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 };
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(settings.searchAttributes).filter(([name]) => !(name in (existing.customAttributes ?? {})));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
    });
  }
  console.log(`search attributes on ${address}/${namespace}: ${Object.keys(settings.searchAttributes).join(', ')} (${missing.length} added)`);
  await connection.close();
}

async function main(argv: string[]) {
  const role = argv[0];
  if (role === 'schema') {
    // `arcentra schema [file]`: the JSON Schema of pipeline.yaml, for editors.
    const { pipelineJsonSchema } = await import('./spec/json-schema');
    const text = JSON.stringify(pipelineJsonSchema(), null, 2) + '\n';
    if (argv[1]) writeFileSync(argv[1], text);
    else process.stdout.write(text);
    return;
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (role === 'temporal' && argv[1] === 'setup') {
    if (!config.temporalAddress) throw new StartupError('arcentra temporal setup needs TEMPORAL_ADDRESS');
    return temporalSetup(config.temporalAddress, config.temporalNamespace ?? loadTemporalSettings().namespace);
  }
  const roles =
    role === 'all'
      ? { server: true, agent: config.localAgent ?? true }
      : role === 'server'
        ? { server: true, agent: config.localAgent ?? false }
        : role === 'agent'
          ? { server: false, agent: true }
          : null;
  if (!roles) throw new StartupError(USAGE);
  if (role !== 'all' && !config.temporalAddress) throw new StartupError(`arcentra ${role} needs TEMPORAL_ADDRESS (only "all" starts a dev server)`);
  if (role !== 'all' && !config.databaseUrl) throw new StartupError(`arcentra ${role} needs DATABASE_URL: servers and agents share one PostgreSQL (the embedded database serves one process only)`);

  const system = await startSystem({ config, roles, logger });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // A stop must end even when something it waits for is gone (e.g. Temporal died first): the
    // workers' grace period is 10 s, so after 20 s the process leaves regardless.
    setTimeout(() => {
      logger.warn('shutdown did not finish in 20 s; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await system.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const lines = [`Arcentra is running (${role}).`];
  if (system.apiUrl) lines.push(`  API:          ${system.apiUrl}/api/v1  (health ${system.apiUrl}/readyz)`);
  if (system.apiUrl) lines.push(`  WebSocket:    ${system.apiUrl.replace(/^http/, 'ws')}/api/v1/ws`);
  if (system.grpcPort !== null) lines.push(`  gRPC:         port ${system.grpcPort} (stream.v1.StreamService, reflection on)`);
  if (system.temporalUiUrl) lines.push(`  Temporal UI:  ${system.temporalUiUrl}`);
  lines.push(`  Temporal:     ${system.temporalAddress}`);
  if (system.generatedAdminToken) {
    lines.push(`  Admin token:  ${system.generatedAdminToken}`);
    lines.push(`                (shown once; kept in ${system.adminTokenFile})`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof StartupError || err instanceof DevServerError || err instanceof TemporalCliMissing;
  process.stderr.write(`arcentra: ${known ? (err as Error).message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
