// The plugin catalogue: builtin plugins shipped in plugins/, plus folders on ARCENTRA_PLUGIN_PATH.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILTIN_PLUGIN_DIR } from '../paths';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as v from 'valibot';
import { parse } from 'yaml';
import type { ArgIssue, PluginResolution, PluginResolver, ResolvedPlugin } from './types';
import { MANIFEST_FILE, Manifest } from './manifest';
import type { PluginManifest } from './manifest';

export { BUILTIN_PLUGIN_DIR };
export const SHELL_PLUGIN_NAME = 'actions/shell';

export interface CataloguePlugin extends ResolvedPlugin {
  manifest: PluginManifest;
  /** Folder of the plugin on this machine (null for the builtin shell). */
  dir: string | null;
}

export interface PluginCatalogue extends PluginResolver {
  list(): CataloguePlugin[];
  resolve(uses: string): PluginResolution & { plugin?: CataloguePlugin };
  /** Manifests that could not be loaded, with the reason (reported at start-up). */
  problems: string[];
}

const REF = /^([a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*)@(v(\d+)|(\d+\.\d+\.\d+))$/i;

const compareVersions = (a: string, b: string) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
};

const hasExpression = (value: unknown) => typeof value === 'string' && value.includes('${{');

function argsChecker(ajv: Ajv, schema: Record<string, unknown>): ResolvedPlugin['checkArgs'] {
  let compiled: ValidateFunction | undefined;
  return (args) => {
    compiled ??= ajv.compile(schema);
    if (compiled(args)) return [];
    // A value written as an expression is only known at run time: it counts as present, its type is not checked.
    const relaxed = new Set(Object.keys(args).filter((k) => hasExpression(args[k])));
    const errors = (compiled.errors ?? []).filter((e) => {
      const top = e.instancePath.split('/')[1];
      return !(top !== undefined && relaxed.has(top.replace(/~1/g, '/').replace(/~0/g, '~')));
    });
    return errors.map(toArgIssue);
  };
}

function toArgIssue(e: ErrorObject): ArgIssue {
  const base = e.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return { path: base ? `${base}.${missing}` : missing, message: 'is required by the plugin' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return { path: base ? `${base}.${extra}` : extra, message: 'is not an argument of this plugin' };
  }
  if (e.keyword === 'enum') return { path: base, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}` };
  return { path: base, message: e.message ?? 'is invalid' };
}

function loadManifest(dir: string): PluginManifest {
  const raw = parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
  const result = v.safeParse(Manifest, raw);
  if (!result.success) {
    const issue = result.issues[0];
    throw new Error(`${join(dir, MANIFEST_FILE)}: ${v.getDotPath(issue) ?? 'manifest'} ${issue.message}`);
  }
  return result.output;
}

/** Plugin folders under each root: a root may itself be a plugin folder, or hold several. */
function pluginDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  if (existsSync(join(root, MANIFEST_FILE))) return [root];
  return readdirSync(root)
    .map((entry) => join(root, entry))
    .filter((dir) => statSync(dir).isDirectory() && existsSync(join(dir, MANIFEST_FILE)));
}

export function loadPluginCatalogue(opts: { pluginPath?: string } = {}): PluginCatalogue {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const problems: string[] = [];
  const byName = new Map<string, CataloguePlugin[]>();
  const add = (manifest: PluginManifest, dir: string | null) => {
    const schema = manifest.args as Record<string, unknown>;
    const plugin: CataloguePlugin = {
      name: manifest.name,
      version: manifest.version,
      actions: manifest.actions,
      defaultAction: manifest.defaultAction,
      checkArgs: argsChecker(ajv, schema),
      manifest,
      dir,
    };
    const list = byName.get(manifest.name) ?? [];
    if (list.some((p) => p.version === manifest.version)) {
      problems.push(`${manifest.name}@${manifest.version} is defined twice; the first one found is used`);
      return;
    }
    list.push(plugin);
    list.sort((a, b) => compareVersions(b.version, a.version));
    byName.set(manifest.name, list);
  };

  add({ name: SHELL_PLUGIN_NAME, version: '1.0.0', description: 'run a bash script', actions: [], args: { type: 'object', properties: { script: { type: 'string' } }, additionalProperties: false } }, null);
  const roots = [BUILTIN_PLUGIN_DIR, ...(opts.pluginPath ?? '').split(':').filter(Boolean).map((p) => resolve(p))];
  for (const root of roots) {
    for (const dir of pluginDirs(root)) {
      try {
        add(loadManifest(dir), dir);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }

  return {
    problems,
    list: () => [...byName.values()].flat(),
    resolve(uses) {
      const m = REF.exec(uses);
      if (!m) return { ok: false, message: `"${uses}" is not a plugin reference; write owner/name@v1 or owner/name@1.2.3` };
      const [, name, , major, exact] = m;
      const versions = byName.get(name);
      if (!versions) return { ok: false, message: `unknown plugin ${name}; known: ${[...byName.keys()].sort().join(', ')}` };
      const plugin = exact ? versions.find((p) => p.version === exact) : versions.find((p) => p.version.split('.')[0] === major);
      if (!plugin) {
        return { ok: false, message: `no version of ${name} matches @${exact ?? `v${major}`}; available: ${versions.map((p) => p.version).join(', ')}` };
      }
      return { ok: true, plugin };
    },
  };
}
