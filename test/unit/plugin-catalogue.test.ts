import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPluginCatalogue } from '../../src/plugins/catalogue';
import { tempDir } from '../support/databases';

function pluginFolder(root: string, dir: string, manifest: string) {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, 'arcentra-plugin.yaml'), manifest);
}

describe('plugin catalogue', () => {
  const root = tempDir('plugins');
  const deploy = (version: string) => `name: acme/deploy
version: ${version}
actions: [deploy, rollback]
args:
  type: object
  additionalProperties: false
  required: [environment]
  properties:
    environment: { enum: [staging, production] }
    replicas: { type: integer, minimum: 1 }
`;
  pluginFolder(root, 'deploy-1.0.0', deploy('1.0.0'));
  pluginFolder(root, 'deploy-1.4.2', deploy('1.4.2'));
  pluginFolder(root, 'deploy-2.0.0', deploy('2.0.0'));
  pluginFolder(root, 'broken', 'name: nope\nversion: one\n');
  const catalogue = loadPluginCatalogue({ pluginPath: root });

  it('ships the builtins of the seed', () => {
    for (const ref of ['actions/git-checkout@v1', 'actions/go-build@v1', 'actions/shell@v1', 'actions/go-build@1.0.0']) {
      expect(catalogue.resolve(ref).ok, ref).toBe(true);
    }
  });

  it('takes the newest 1.x for @v1 and the exact version for @1.2.3', () => {
    const v1 = catalogue.resolve('acme/deploy@v1');
    expect(v1.ok && v1.plugin.version).toBe('1.4.2');
    const exact = catalogue.resolve('acme/deploy@1.0.0');
    expect(exact.ok && exact.plugin.version).toBe('1.0.0');
    const v2 = catalogue.resolve('acme/deploy@v2');
    expect(v2.ok && v2.plugin.version).toBe('2.0.0');
  });

  it('explains what is missing', () => {
    const unknown = catalogue.resolve('acme/nothing@v1');
    expect(!unknown.ok && unknown.message).toMatch(/unknown plugin acme\/nothing/);
    const noVersion = catalogue.resolve('acme/deploy@v3');
    expect(!noVersion.ok && noVersion.message).toMatch(/no version of acme\/deploy matches @v3; available: 2.0.0, 1.4.2, 1.0.0/);
    const malformed = catalogue.resolve('deploy');
    expect(!malformed.ok && malformed.message).toMatch(/not a plugin reference/);
  });

  it('reports a broken manifest instead of loading it', () => {
    expect(catalogue.problems.join('\n')).toMatch(/broken\/arcentra-plugin.yaml: (name|version) must be/);
  });

  it('checks args against the manifest, naming each field', () => {
    const r = catalogue.resolve('acme/deploy@v1');
    if (!r.ok) throw new Error(r.message);
    expect(r.plugin.checkArgs({ environment: 'production', replicas: 3 })).toEqual([]);
    expect(r.plugin.checkArgs({})).toEqual([{ path: 'environment', message: 'is required by the plugin' }]);
    expect(r.plugin.checkArgs({ environment: 'prod' })).toEqual([{ path: 'environment', message: 'must be one of "staging", "production"' }]);
    expect(r.plugin.checkArgs({ environment: 'staging', replicas: 'many' })).toEqual([{ path: 'replicas', message: 'must be integer' }]);
    expect(r.plugin.checkArgs({ environment: 'staging', colour: 'red' })).toEqual([{ path: 'colour', message: 'is not an argument of this plugin' }]);
    // An expression is only known at run time: it satisfies the type, and still counts as present.
    expect(r.plugin.checkArgs({ environment: '${{ variables.env }}', replicas: '${{ matrix.n }}' })).toEqual([]);
  });
});
