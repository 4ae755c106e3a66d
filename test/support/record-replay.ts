// Writes a finished workflow's history into test/fixtures/replay when ARCENTRA_RECORD_REPLAY=1,
// in the Temporal CLI's JSON format (what `temporal workflow show --output json` prints).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTemporalCli } from '../../src/launcher/temporal-cli';

export async function recordReplayHistory(address: string, workflowId: string, name: string, namespace = 'default'): Promise<void> {
  if (process.env.ARCENTRA_RECORD_REPLAY !== '1') return;
  const json = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', address, '--namespace', namespace, '--workflow-id', workflowId, '--output', 'json'], { encoding: 'utf8' });
  writeFileSync(join(process.cwd(), 'test', 'fixtures', 'replay', `${name}.json`), json);
}
