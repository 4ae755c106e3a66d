// Limits: oversized, too deep or too big specs are errors, returned quickly, never crashes or hangs.
import { describe, it, expect } from 'vitest';
import { compilePipeline, SPEC_LIMITS } from '../../src/spec/index';
import { invalid, issueAt, job, specWithJobs, valid } from './spec-helpers';

const MIB = 1024 * 1024;

/** Runs `fn`, asserting it took under `ms` milliseconds. */
function quickly<T>(fn: () => T, ms = 2000): T {
  const started = performance.now();
  const result = fn();
  expect(performance.now() - started).toBeLessThan(ms);
  return result;
}

const header = 'namespace: n\nversion: v1\njobs:\n  - name: a\n    steps:\n      - name: s\n        run: |\n';

describe('size limits', () => {
  it('accepts a spec just under 1 MiB', () => {
    const line = `          ${'x'.repeat(89)}\n`;
    const text = header + line.repeat(Math.floor((MIB - header.length - 1000) / line.length));
    expect(text.length).toBeLessThan(MIB);
    expect(quickly(() => valid(text)).jobs[0].steps[0].run?.length).toBeGreaterThan(900_000);
  });

  it('rejects text over 1 MiB, counted in UTF-8 bytes', () => {
    const [big] = quickly(() => invalid(header + `          ${'x'.repeat(MIB)}\n`));
    expect(big).toEqual({ path: '', message: 'the spec is larger than 1048576 bytes (1 MiB); split it or move scripts into files' });
    const emoji = `${header}          ${'😀'.repeat(270_000)}\n`; // ~540k UTF-16 units, ~1.08 MB of UTF-8
    expect(emoji.length).toBeLessThan(MIB);
    expect(quickly(() => invalid(emoji))[0].message).toMatch(/larger than 1048576 bytes/);
    expect(quickly(() => invalid(`{"x": "${'é'.repeat(600_000)}"}`, 'json'))[0].message).toMatch(/larger than/);
  });

  it('allows 500 jobs and rejects 501, counting matrix combinations', () => {
    const jobs = (n: number) => Array.from({ length: n }, (_, i) => job(`job-${i}`));
    expect(quickly(() => valid(specWithJobs(jobs(500)))).jobs).toHaveLength(500);
    expect(quickly(() => issueAt(invalid(specWithJobs(jobs(501))), '')).message).toBe('the pipeline has 501 jobs (counting every matrix combination); at most 500 are allowed');
    const axis = Array.from({ length: 250 }, (_, i) => i);
    expect(issueAt(invalid(specWithJobs([job('m1', { matrix: { n: axis } }), job('m2', { matrix: { n: axis } }), job('x')])), '').message).toMatch(/has 501 jobs/);
  });

  it('allows 200 steps per job and rejects 201', () => {
    const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `s${i}`, run: 'true' }));
    expect(valid(specWithJobs([job('a', { steps: steps(200) })])).jobs[0].steps).toHaveLength(200);
    expect(issueAt(invalid(specWithJobs([job('a', { steps: steps(201) })])), 'jobs[0].steps').message).toBe('a job may have at most 200 steps, this one has 201');
  });

  it('caps the number of reported errors', () => {
    const jobs = Array.from({ length: 300 }, (_, i) => ({ name: `j${i}`, steps: [{ name: 's', run: 'x', bogus: 1 }] }));
    const errors = invalid(specWithJobs(jobs));
    expect(errors).toHaveLength(SPEC_LIMITS.maxIssues + 1);
    expect(errors[SPEC_LIMITS.maxIssues].message).toBe('200 more errors not shown; fix the ones above first');
  });
});

describe('nesting limits', () => {
  it('rejects deeply nested YAML values by path', () => {
    const deep = `${'['.repeat(100)}1${']'.repeat(100)}`;
    const text = `namespace: n\nversion: v1\njobs:\n  - name: a\n    steps:\n      - name: s\n        uses: a/b@v1\n        args:\n          x: ${deep}\n`;
    const [error] = quickly(() => invalid(text));
    expect(error.message).toBe('nesting is deeper than 64 levels');
    expect(error.path).toMatch(/^jobs\[0\]\.steps\[0\]\.args\.x(\[0\])+$/);
    expect(error.line).toBe(9);
  });

  it('refuses pathologically nested text before parsing it', () => {
    for (const text of ['- '.repeat(200_000) + 'x', '['.repeat(500_000), '{a: '.repeat(200_000), `a:\n${' '.repeat(300_000)}b: 1\n`]) {
      const [error] = quickly(() => invalid(text));
      expect(error.message).toMatch(/nests too deeply/);
      expect(error.line).toBeGreaterThanOrEqual(1);
    }
    expect(quickly(() => invalid('['.repeat(500_000), 'json'))[0].message).toMatch(/nests too deeply/);
  });

  it('rejects deeply nested and cyclic structured input', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 10_000; i++) deep = (deep.x = {}) as Record<string, unknown>;
    expect(quickly(() => invalid(specWithJobs([job('a', { steps: [{ name: 's', uses: 'a/b@v1', args: root }] })])))[0].message).toBe('nesting is deeper than 64 levels');
    const cyclic: Record<string, unknown> = { namespace: 'n', version: 'v1' };
    cyclic.jobs = [{ name: 'a', steps: [{ name: 's', uses: 'a/b@v1', args: { self: cyclic } }] }];
    expect(quickly(() => invalid(cyclic))[0].message).toBe('nesting is deeper than 64 levels');
  });

  it('refuses YAML alias bombs', () => {
    const bomb = [
      'namespace: n',
      'version: v1',
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'jobs: []',
    ].join('\n');
    const [error] = quickly(() => invalid(bomb));
    expect(error.message).toMatch(/expands YAML aliases too often/);
  });

  it('still allows a few ordinary aliases', () => {
    const text = 'namespace: n\nversion: v1\njobs:\n  - name: a\n    env: &env {A: "1"}\n    steps: [{name: s, run: x}]\n  - name: b\n    env: *env\n    steps: [{name: s, run: x}]\n';
    expect(valid(text).jobs[1].env).toEqual({ A: '1' });
  });

  it('never answers with an exception, even for odd inputs', () => {
    for (const input of [undefined, null, 0, '', ' ', '\u0000', '---\n---\n', '%YAML 1.1\n---\na: 1\n', Symbol('x'), () => 1, new Map(), new Date(0), [], Object.create(null)]) {
      const result = compilePipeline(input);
      expect(result.valid).toBe(false);
      expect(result.errors.length).toBeGreaterThan(0);
      expect(result.errors[0].message).not.toMatch(/could not be checked/);
    }
  });
});
