// Matrix expansion: product in axis order, exclude, include, limits, keys and groups.
import { describe, it, expect } from 'vitest';
import { invalid, issueAt, job, specWithJobs, valid } from './spec-helpers';

const matrixJobs = (matrix: unknown, more: Record<string, unknown> = {}) => valid(specWithJobs([job('build', { matrix, ...more })])).jobs;

describe('matrix', () => {
  it('expands the cartesian product in axis order with stable keys', () => {
    const jobs = matrixJobs({ go: ['1.24', '1.25'], os: ['linux', 'windows'] });
    expect(jobs.map((j) => j.key)).toEqual([
      'build (go=1.24, os=linux)',
      'build (go=1.24, os=windows)',
      'build (go=1.25, os=linux)',
      'build (go=1.25, os=windows)',
    ]);
    for (const j of jobs) {
      expect(j.displayName).toBe(j.key);
      expect(j.name).toBe('build');
      expect(j.matrixGroup).toEqual({ name: 'build', failFast: true });
    }
    expect(jobs[1].matrix).toEqual({ go: '1.24', os: 'windows' });
  });

  it('names combinations as written: build (go=1.25, os=linux)', () => {
    const [only] = valid('namespace: n\nversion: v1\njobs:\n  - name: build\n    matrix: {go: ["1.25"], os: [linux]}\n    steps: [{name: s, run: go build}]\n').jobs;
    expect(only.key).toBe('build (go=1.25, os=linux)');
    expect(only.matrix).toEqual({ go: '1.25', os: 'linux' });
  });

  it('removes excluded combinations by partial match', () => {
    const jobs = matrixJobs({ os: ['linux', 'windows', 'mac'], arch: ['amd64', 'arm64'], exclude: [{ os: 'windows', arch: 'arm64' }, { os: 'mac' }] });
    expect(jobs.map((j) => j.key)).toEqual(['build (os=linux, arch=amd64)', 'build (os=linux, arch=arm64)', 'build (os=windows, arch=amd64)']);
  });

  it('extends matching combinations with include extras and adds the others', () => {
    const jobs = matrixJobs({
      os: ['linux', 'windows'],
      node: [18, 20],
      include: [{ os: 'windows', experimental: true }, { os: 'mac', node: 20 }, { node: 20, lts: true }],
    });
    expect(jobs.map((j) => j.matrix)).toEqual([
      { os: 'linux', node: 18 },
      { os: 'linux', node: 20, lts: true },
      { os: 'windows', node: 18, experimental: true },
      { os: 'windows', node: 20, experimental: true, lts: true },
      { os: 'mac', node: 20 },
    ]);
    expect(jobs[3].key).toBe('build (os=windows, node=20, experimental=true, lts=true)');
  });

  it('supports an include-only matrix and group limits', () => {
    const jobs = matrixJobs({ include: [{ target: 'a' }, { target: 'b' }], max_parallel: 1, fail_fast: false });
    expect(jobs.map((j) => j.key)).toEqual(['build (target=a)', 'build (target=b)']);
    expect(jobs[0].matrixGroup).toEqual({ name: 'build', maxParallel: 1, failFast: false });
  });

  it('gives every combination its own copy of the job with stage info and steps', () => {
    const jobs = valid({ namespace: 'n', version: 'v1', stages: [{ name: 's0', jobs: [job('x')] }, { name: 's1', jobs: [job('build', { matrix: { n: [1, 2] } })] }] }).jobs;
    expect(jobs.slice(1).map((j) => [j.key, j.stageIndex, j.stageName, j.steps.length])).toEqual([
      ['build (n=1)', 1, 's1', 1],
      ['build (n=2)', 1, 's1', 1],
    ]);
    expect(jobs[1].steps).not.toBe(jobs[2].steps);
  });

  it('allows exactly 256 combinations and rejects 257', () => {
    expect(matrixJobs({ a: Array.from({ length: 16 }, (_, i) => i), b: Array.from({ length: 16 }, (_, i) => i) })).toHaveLength(256);
    const errors = invalid(specWithJobs([job('build', { matrix: { a: Array.from({ length: 257 }, (_, i) => i) } })]));
    expect(issueAt(errors, 'jobs[0].matrix').message).toBe('the matrix expands to 257 combinations; at most 256 are allowed');
    const viaInclude = invalid(specWithJobs([job('build', { matrix: { a: Array.from({ length: 256 }, (_, i) => i), include: [{ a: 'new' }] } })]));
    expect(issueAt(viaInclude, 'jobs[0].matrix').message).toMatch(/257 combinations/);
  });

  it('refuses a huge product quickly without enumerating it', () => {
    const axes = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`axis${i}`, Array.from({ length: 10 }, (_, j) => j)]));
    const started = performance.now();
    const errors = invalid(specWithJobs([job('build', { matrix: axes })]));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(issueAt(errors, 'jobs[0].matrix').message).toBe('the matrix expands to 1000000000000 combinations; at most 256 are allowed');
  });

  it('rejects malformed matrices', () => {
    const errors = invalid(
      specWithJobs([
        job('a', { matrix: { os: [] } }),
        job('b', { matrix: { os: 'linux' } }),
        job('c', { matrix: { os: ['linux'], exclude: [{ arch: 'arm' }] } }),
        job('d', { matrix: { os: ['linux'], exclude: [{ os: 'linux' }] } }),
        job('e', { matrix: {} }),
        job('f', { matrix: { os: [{ name: 'linux' }] } }),
        job('g', { matrix: { 'bad axis': [1] } }),
        job('h', { matrix: { os: ['l'], maxParallel: 0 } }),
      ]),
    );
    expect(issueAt(errors, 'jobs[0].matrix.os').message).toBe('a matrix axis needs at least one value');
    expect(issueAt(errors, 'jobs[1].matrix.os').message).toBe(`'os' must be a list, got "linux"`);
    expect(issueAt(errors, 'jobs[5].matrix.os[0]').message).toMatch(/matrix values must be strings, numbers or booleans/);
    expect(issueAt(errors, 'jobs[7].matrix.maxParallel').message).toBe("'maxParallel' must be at least 1, got 0");
  });

  it('rejects matrix semantics errors once the shape is valid', () => {
    expect(issueAt(invalid(specWithJobs([job('c', { matrix: { os: ['linux'], exclude: [{ arch: 'arm' }] } })])), 'jobs[0].matrix.exclude[0].arch').message).toMatch(/not a matrix axis/);
    expect(issueAt(invalid(specWithJobs([job('d', { matrix: { os: ['linux'], exclude: [{ os: 'linux' }] } })])), 'jobs[0].matrix.exclude').message).toMatch(/excludes every combination/);
    expect(issueAt(invalid(specWithJobs([job('e', { matrix: {} })])), 'jobs[0].matrix').message).toMatch(/at least one axis/);
    expect(issueAt(invalid(specWithJobs([job('g', { matrix: { 'bad axis': [1] } })])), 'jobs[0].matrix["bad axis"]').message).toMatch(/matrix axis 'bad axis' must be a name/);
  });

  it('rejects a combination key that collides with another job', () => {
    const errors = invalid(specWithJobs([job('build', { matrix: { os: ['linux'] } }), job('build (os=linux)')]));
    expect(issueAt(errors, 'jobs[1].name').message).toMatch(/produces the job key 'build \(os=linux\)'/);
  });
});
