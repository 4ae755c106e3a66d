// Builds dist/<source key>/arcentra.mjs: our TypeScript (src/, activities/) as ES modules, split so
// that a process loads only the parts its role uses, packages left to node_modules. Servers and
// agents run it with plain node, without a TypeScript loader in every process (~35 MB each,
// bench/orchestration.ts). Rebuilt only when the sources change.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(root, 'dist');

function sourceKey() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  for (const dir of ['src', 'activities', 'workflows']) walk(join(root, dir));
  for (const file of ['package-lock.json', 'tsconfig.json', 'scripts/build.mjs']) if (existsSync(join(root, file))) hash.update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 16);
}

/** Returns the entry of an up-to-date build, building it first if the sources changed. */
export async function ensureBuilt() {
  const key = sourceKey();
  const dir = join(DIST, key);
  const entry = join(dir, 'arcentra.mjs');
  if (existsSync(entry)) return entry;
  const { build } = await import('esbuild');
  // Several processes may start at once: each builds into its own folder and renames it into place.
  const tmp = join(DIST, `${key}.${process.pid}.tmp`);
  await build({
    entryPoints: { arcentra: join(root, 'src', 'cli.ts') },
    outdir: tmp,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process got there first
  }
  // Builds of older sources are not used by anything started from now on.
  for (const old of readdirSync(DIST)) {
    if (/^[0-9a-f]{16}$/.test(old) && old !== key) rmSync(join(DIST, old), { recursive: true, force: true });
  }
  return entry;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`[arcentra] built ${await ensureBuilt()}`);
}
