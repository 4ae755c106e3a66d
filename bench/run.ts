// `npm run bench`: runs every benchmark and prints one JSON line per result.
import { benchSpecCompile } from './spec-compile';
import { benchOrchestration } from './orchestration';
import { benchApi } from './api';
import { benchRealtime } from './realtime';
import { benchWorkflowReplay } from './workflow-replay';

const benches: Record<string, () => unknown> = { 'spec-compile': () => benchSpecCompile(), orchestration: () => benchOrchestration(), api: () => benchApi(), realtime: () => benchRealtime(), 'workflow-replay': () => benchWorkflowReplay() };
const only = process.argv[2];
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  console.log(JSON.stringify(await run()));
}
