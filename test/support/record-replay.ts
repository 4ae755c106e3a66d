// Writes a finished workflow's history into test/fixtures/replay when ARCENTRA_RECORD_REPLAY=1,
// in the Temporal CLI's JSON format (what `temporal workflow show --output json` prints).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { findTemporalCli } from '../../src/launcher/temporal-cli';

export async function recordReplayHistory(address: string, workflowId: string, name: string, namespace = 'default'): Promise<void> {
  if (process.env.ARCENTRA_RECORD_REPLAY !== '1') return;
  // The database can show a run finished before its workflow's last task is in the history (its
  // final write is a local activity of that task): a history cut there replays into new commands.
  const connection = await Connection.connect({ address });
  try {
    await new Client({ connection, namespace }).workflow.getHandle(workflowId).result().catch(() => undefined);
  } finally {
    await connection.close();
  }
  const json = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', address, '--namespace', namespace, '--workflow-id', workflowId, '--output', 'json'], { encoding: 'utf8' });
  writeFileSync(join(process.cwd(), 'test', 'fixtures', 'replay', `${name}.json`), json);
}
