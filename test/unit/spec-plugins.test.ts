// compilePipeline with a plugin resolver: `uses` resolved to an exact version, `action` and
// `args` checked, problems reported at the step's fields (with line/column for text).
import { describe, it, expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import type { ArgIssue, PluginResolution, PluginResolver } from '../../src/plugins/types';
import { issueAt, job, specWithJobs } from './spec-helpers';

const CATALOGUE: Record<string, { version: string; actions: string[]; required?: string[]; known?: string[] }> = {
  'actions/git-checkout': { version: '1.4.2', actions: [], known: ['ref', 'depth'] },
  'actions/go-build': { version: '1.2.0', actions: ['build', 'test'], required: ['go_version'], known: ['go_version', 'flags'] },
};

const resolver: PluginResolver & { calls: string[] } = {
  calls: [],
  resolve(uses: string): PluginResolution {
    resolver.calls.push(uses);
    const [name, version] = uses.split('@');
    const entry = CATALOGUE[name];
    if (!entry) return { ok: false, message: `no plugin named ${name}; installed: ${Object.keys(CATALOGUE).join(', ')}` };
    if (version !== 'v1' && version !== entry.version) return { ok: false, message: `${name} has no version ${version}` };
    return {
      ok: true,
      plugin: {
        name,
        version: entry.version,
        actions: entry.actions,
        checkArgs(args): ArgIssue[] {
          const issues: ArgIssue[] = [];
          for (const key of entry.required ?? []) if (!(key in args)) issues.push({ path: key, message: 'is required by the plugin' });
          for (const key of Object.keys(args)) if (entry.known && !entry.known.includes(key)) issues.push({ path: key, message: 'is not an argument of this plugin' });
          if (Array.isArray(args.flags)) args.flags.forEach((f, i) => typeof f !== 'string' && issues.push({ path: `flags[${i}]`, message: 'must be string' }));
          return issues;
        },
      },
    };
  },
};

const text = `namespace: demo.pipeline
version: v1
jobs:
  - name: build
    matrix: {os: [linux, mac]}
    steps:
      - name: checkout
        uses: actions/git-checkout@v1
        args: {ref: main}
      - name: compile
        uses: actions/go-build@1.2.0
        action: build
        args:
          go_version: "1.25"
      - name: script
        run: echo hi
`;

describe('plugin resolution', () => {
  it('records the exact version of every plugin step, in every matrix combination', () => {
    resolver.calls.length = 0;
    const result = compilePipeline(text, { format: 'yaml', plugins: resolver });
    expect(result.errors).toEqual([]);
    expect(result.pipeline?.jobs).toHaveLength(2);
    for (const j of result.pipeline?.jobs ?? []) {
      expect(j.steps.map((s) => s.pluginVersion)).toEqual(['1.4.2', '1.2.0', undefined]);
    }
    expect(resolver.calls).toEqual(['actions/git-checkout@v1', 'actions/go-build@1.2.0']);
  });

  it('resolves nothing without a resolver', () => {
    const result = compilePipeline(text, { format: 'yaml' });
    expect(result.valid).toBe(true);
    expect(result.pipeline?.jobs[0].steps.every((s) => s.pluginVersion === undefined)).toBe(true);
  });

  it('reports an unknown plugin or version at uses, with the resolver message', () => {
    const bad = text.replace('actions/git-checkout@v1', 'actions/nope@v1').replace('actions/go-build@1.2.0', 'actions/go-build@9.9.9');
    const result = compilePipeline(bad, { format: 'yaml', plugins: resolver });
    expect(result.valid).toBe(false);
    expect(issueAt(result.errors, 'jobs[0].steps[0].uses')).toEqual({
      path: 'jobs[0].steps[0].uses',
      message: 'no plugin named actions/nope; installed: actions/git-checkout, actions/go-build',
      line: 8,
      column: 9,
    });
    expect(issueAt(result.errors, 'jobs[0].steps[1].uses')).toMatchObject({ message: 'actions/go-build has no version 9.9.9', line: 11, column: 9 });
  });

  it('rejects an action the plugin does not offer', () => {
    const result = compilePipeline(text.replace('action: build', 'action: deploy'), { format: 'yaml', plugins: resolver });
    expect(issueAt(result.errors, 'jobs[0].steps[1].action')).toEqual({
      path: 'jobs[0].steps[1].action',
      message: "plugin actions/go-build@1.2.0 has no action 'deploy'; its actions are build, test",
      line: 12,
      column: 9,
    });
  });

  it('accepts any action when the plugin lists none', () => {
    const spec = specWithJobs([job('a', { steps: [{ name: 's', uses: 'actions/git-checkout@v1', action: 'anything' }] })]);
    expect(compilePipeline(spec, { plugins: resolver }).valid).toBe(true);
  });

  it('reports argument problems at args.<path>', () => {
    const bad = text.replace('go_version: "1.25"', 'flags: [1, "-v"]\n          extra: true');
    const result = compilePipeline(bad, { format: 'yaml', plugins: resolver });
    expect(issueAt(result.errors, 'jobs[0].steps[1].args.go_version')).toMatchObject({ message: "'go_version' is required by the plugin", line: 13, column: 9 });
    expect(issueAt(result.errors, 'jobs[0].steps[1].args.extra')).toMatchObject({ message: "'extra' is not an argument of this plugin", line: 15, column: 11 });
    expect(issueAt(result.errors, 'jobs[0].steps[1].args.flags[0]')).toMatchObject({ message: "'flags[0]' must be string", line: 14, column: 19 });
  });

  it('turns a resolver that throws into an error at uses', () => {
    const throwing: PluginResolver = {
      resolve() {
        throw new Error('catalogue offline');
      },
    };
    const result = compilePipeline(text, { format: 'yaml', plugins: throwing });
    expect(issueAt(result.errors, 'jobs[0].steps[0].uses').message).toBe('the plugin actions/git-checkout@v1 could not be checked: catalogue offline');
  });

  it('does not resolve plugins of a spec that is invalid already', () => {
    resolver.calls.length = 0;
    compilePipeline(specWithJobs([job('a', { steps: [{ name: 's', uses: 'actions/go-build@v1', bogus: 1 }] })]), { plugins: resolver });
    expect(resolver.calls).toEqual([]);
  });
});
