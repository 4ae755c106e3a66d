// The workflow bundle, built once per version of the code in a short-lived child process and kept
// on disk. Bundling in the server itself would leave ~100 MB of webpack's heap behind for good.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

import { PACKAGE_ROOT, WORKFLOWS_PATH } from '../paths';

export { WORKFLOWS_PATH };
// Always the TypeScript source: this module may be running from the built dist/ bundle.
const BUILDER = join(PACKAGE_ROOT, 'src', 'worker', 'workflow-bundle.ts');

export type WorkflowBundle = { code: string } | { codePath: string };

/** What the bundle is made of: our sources and the locked dependency versions. */
function sourceKey(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(path.slice(PACKAGE_ROOT.length)).update(readFileSync(path));
    }
  };
  for (const dir of ['workflows', 'src', 'activities']) walk(join(PACKAGE_ROOT, dir));
  const lock = join(PACKAGE_ROOT, 'package-lock.json');
  if (existsSync(lock)) hash.update(readFileSync(lock));
  return hash.digest('hex').slice(0, 16);
}

/** Where bundles are cached: shared by every process of this checkout, like other build caches. */
export function defaultBundleCacheDir(): string {
  return join(PACKAGE_ROOT, 'node_modules', '.cache', 'arcentra');
}

/** Returns the bundle for the current sources, building it in a child process when it is not cached. */
export async function cachedWorkflowBundle(cacheDir = defaultBundleCacheDir()): Promise<{ codePath: string }> {
  const file = join(cacheDir, `workflow-bundle-${sourceKey()}.js`);
  if (existsSync(file)) return { codePath: file };
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', BUILDER, tmp], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bundling the workflows failed (exit ${code}): ${stderr.trim().slice(-2000)}`))));
  });
  renameSync(tmp, file); // atomic: a process starting at the same moment sees all of it or none
  // Bundles of older sources are never asked for again (a worker reads its bundle once, at start).
  for (const old of readdirSync(cacheDir)) {
    if (/^workflow-bundle-[0-9a-f]{16}\.js$/.test(old) && join(cacheDir, old) !== file) rmSync(join(cacheDir, old), { force: true });
  }
  return { codePath: file };
}

/** The child's side: `node --import tsx workflow-bundle.ts <out>`. */
async function buildTo(out: string) {
  const quiet = () => undefined;
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) },
  });
  writeFileSync(out, bundle.code);
}

if (process.argv[1] === BUILDER && process.argv[2]) {
  buildTo(process.argv[2]).catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  });
}
