// With a plugin resolver: each step's `uses` resolved to an exact version, its `action` checked
// against the plugin's actions and its `args` against the plugin's manifest.
import type { PluginResolution, PluginResolver, ResolvedPlugin } from '../plugins/types';
import type { CompiledPipeline } from './model';
import type { IssueCollector, PathSeg } from './issues';
import { subjectOf } from './issues';
import type { PipelineSpec, StepSpec } from './schema';

/** Resolves every plugin step, reporting problems; returns the exact version per `job name → step index`. */
export function resolvePlugins(spec: PipelineSpec, resolver: PluginResolver, issues: IssueCollector): Map<string, Map<number, string>> {
  const versions = new Map<string, Map<number, string>>();
  // One resolution per distinct `uses`: a big spec names the same few plugins on thousands of steps.
  const resolutions = new Map<string, PluginResolution>();
  const resolve: PluginResolver = {
    resolve(uses) {
      let resolution = resolutions.get(uses);
      if (!resolution) resolutions.set(uses, (resolution = resolver.resolve(uses)));
      return resolution;
    },
  };
  const stages = spec.stages ? spec.stages.map((s, i) => ({ jobs: s.jobs, path: ['stages', i] as PathSeg[] })) : [{ jobs: spec.jobs ?? [], path: [] as PathSeg[] }];
  for (const stage of stages) {
    stage.jobs.forEach((job, j) => {
      const byStep = new Map<number, string>();
      job.steps.forEach((step, k) => {
        const version = resolveStep(step, [...stage.path, 'jobs', j, 'steps', k], resolve, issues);
        if (version !== undefined) byStep.set(k, version);
      });
      versions.set(job.name, byStep);
    });
  }
  return versions;
}

function resolveStep(step: StepSpec, path: PathSeg[], resolver: PluginResolver, issues: IssueCollector): string | undefined {
  if (step.uses === undefined) return undefined;
  let plugin: ResolvedPlugin;
  try {
    const resolution = resolver.resolve(step.uses);
    if (!resolution.ok) {
      issues.error([...path, 'uses'], resolution.message);
      return undefined;
    }
    plugin = resolution.plugin;
    if (step.action !== undefined && plugin.actions.length > 0 && !plugin.actions.includes(step.action)) {
      issues.error([...path, 'action'], `plugin ${plugin.name}@${plugin.version} has no action '${step.action}'; its actions are ${plugin.actions.join(', ')}`);
    }
    for (const issue of plugin.checkArgs(step.args ?? {}, step.action)) {
      const argPath = [...path, 'args', ...parseArgPath(issue.path)];
      issues.error(argPath, `${subjectOf(argPath)} ${issue.message}`);
    }
  } catch (err) {
    issues.error([...path, 'uses'], `the plugin ${step.uses} could not be checked: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  return plugin.version;
}

/** `a.b[0]["x y"]` → ['a', 'b', 0, 'x y']. */
export function parseArgPath(path: string): PathSeg[] {
  const out: PathSeg[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\['([^']*)'\]/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(m[3].replace(/\\(.)/g, '$1'));
    else if (m[4] !== undefined) out.push(m[4]);
  }
  return out;
}

/** Records each step's resolved version in the compiled pipeline (every matrix combination too). */
export function applyPluginVersions(pipeline: CompiledPipeline, versions: Map<string, Map<number, string>>): void {
  for (const job of pipeline.jobs) {
    const byStep = versions.get(job.name);
    if (!byStep) continue;
    for (const step of job.steps) {
      const version = byStep.get(step.index);
      if (version !== undefined) step.pluginVersion = version;
    }
  }
}
