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

/** Times `fn` over the iterations; returns the median and the heap growth across them. */
function timed(iterations: number, fn: () => void) {
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peak = heapBefore;
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  return { medianMs: +median(times).toFixed(2), heapGrowthMB: +((peak - heapBefore) / 1024 / 1024).toFixed(1) };
}

export function benchSpecCompile(iterations = 30) {
  const text = generateSpec();
  const object = parse(text);
  const plugins = loadPluginCatalogue();
  const first = compilePipeline(object, { plugins });
  if (!first.valid) throw new Error(`generated spec is invalid: ${JSON.stringify(first.errors.slice(0, 3))}`);
  const compileOk = (input: unknown, format?: 'yaml') => {
    if (!compilePipeline(input, { format, plugins }).valid) throw new Error('compile became invalid');
  };
  // The API receives `spec` as a structured object: that is the case the target is for.
  const objectInput = timed(iterations, () => compileOk(object));
  // Baseline measured in the same run: a structured clone of the same object (a walk of every value).
  const baseline = timed(iterations, () => structuredClone(object));
  const textInput = timed(Math.max(5, Math.floor(iterations / 3)), () => compileOk(text, 'yaml'));
  const yamlParseOnly = timed(Math.max(5, Math.floor(iterations / 3)), () => parse(text));
  return {
    name: 'spec-compile',
    specBytes: text.length,
    jobs: first.pipeline.jobs.length,
    steps: first.pipeline.jobs.reduce((n, j) => n + j.steps.length, 0),
    objectInput,
    baselineStructuredClone: baseline,
    ratioToBaseline: +(objectInput.medianMs / baseline.medianMs).toFixed(2),
    yamlTextInput: textInput,
    yamlParseOnly,
    targets: { objectInputMedianMs: 50, heapMB: 100 },
  };
}
