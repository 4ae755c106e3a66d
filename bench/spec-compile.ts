// Benchmark: validate + compile a 500-job spec (10 steps each, one 16-combination matrix job).
// Prints the median compile time and heap growth, and the ratio to a YAML-parse-only baseline of the same text.
import { stringify, parse } from 'yaml';
import { compilePipeline } from '../src/spec';
import { loadPluginCatalogue } from '../src/plugins/catalogue';

export function generateSpec(): string {
  const steps = (j: number) =>
    Array.from({ length: 10 }, (_, s) =>
      s === 0
        ? { name: `checkout-${s}`, uses: 'actions/git-checkout@v1', args: { ref: '${{ trigger.ref }}' } }
        : { name: `step-${s}`, run: `echo job ${j} step ${s} \${{ variables.target }}`, env: { N: String(s) }, timeout: '10m' },
    );
  const jobs: unknown[] = [];
  for (let j = 0; j < 484; j++) jobs.push({ name: `job-${j}`, needs: j % 50 === 0 || j < 1 ? [] : [`job-${j - 1}`], steps: steps(j) });
  jobs.push({ name: 'matrix', matrix: { os: ['linux', 'darwin', 'windows', 'freebsd'], go: ['1.22', '1.23', '1.24', '1.25'] }, steps: steps(999) });
  return stringify({ namespace: 'bench', version: 'v1', variables: { target: 'prod' }, jobs });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function benchSpecCompile(iterations = 30) {
  const text = generateSpec();
  const plugins = loadPluginCatalogue();
  const first = compilePipeline(text, { format: 'yaml', plugins });
  if (!first.valid) throw new Error(`generated spec is invalid: ${JSON.stringify(first.errors.slice(0, 3))}`);
  const jobs = first.pipeline.jobs.length;
  const baseline: number[] = [];
  const compile: number[] = [];
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peak = heapBefore;
  for (let i = 0; i < iterations; i++) {
    let t = performance.now();
    parse(text);
    baseline.push(performance.now() - t);
    t = performance.now();
    const r = compilePipeline(text, { format: 'yaml', plugins });
    compile.push(performance.now() - t);
    if (!r.valid) throw new Error('compile became invalid');
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  return {
    name: 'spec-compile',
    specBytes: text.length,
    jobs,
    steps: first.pipeline.jobs.reduce((n, j) => n + j.steps.length, 0),
    medianMs: +median(compile).toFixed(2),
    baselineYamlParseMedianMs: +median(baseline).toFixed(2),
    ratioToBaseline: +(median(compile) / median(baseline)).toFixed(2),
    heapGrowthMB: +((peak - heapBefore) / 1024 / 1024).toFixed(1),
    targets: { medianMs: 50, heapMB: 100 },
  };
}
