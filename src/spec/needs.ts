// `needs` resolution: job names → job keys (every combination of a matrix job), checked against
// stage order, with same-stage cycles reported by the jobs that form them.
import { didYouMean } from './keys';
import type { IssueCollector, PathSeg } from './issues';

export interface NeedsNode {
  name: string;
  stageIndex: number;
  stageName: string;
  keys: string[];
  needs: string[];
  /** Path of the job's `needs` field (canonical spelling). */
  needsPath: PathSeg[];
}

/** The keys each job (by name) waits for; errors and warnings go to `issues`. */
export function resolveNeeds(nodes: readonly NeedsNode[], issues: IssueCollector): Map<string, string[]> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const resolved = new Map<string, string[]>();
  const edges = new Map<string, Array<{ to: string; index: number }>>();
  for (const node of nodes) {
    const keys: string[] = [];
    const sameStage: Array<{ to: string; index: number }> = [];
    node.needs.forEach((need, index) => {
      const at = [...node.needsPath, index];
      const target = byName.get(need);
      if (!target) {
        const guess = didYouMean(need, byName.keys());
        issues.error(at, `needs '${need}', but no job has that name${guess ? `; did you mean '${guess}'?` : ''}`);
      } else if (target === node) {
        issues.error(at, `job '${node.name}' cannot need itself`);
      } else if (target.stageIndex > node.stageIndex) {
        issues.error(at, `needs '${need}', which is in a later stage ('${target.stageName}'); a job can only need jobs of its own or an earlier stage`);
      } else {
        if (target.stageIndex < node.stageIndex) {
          issues.warning(at, `needs '${need}' from an earlier stage ('${target.stageName}'); stage order already makes this job wait for it`);
        } else sameStage.push({ to: need, index });
        for (const key of target.keys) if (!keys.includes(key)) keys.push(key);
      }
    });
    resolved.set(node.name, keys);
    edges.set(node.name, sameStage);
  }
  reportCycles(nodes, edges, issues);
  return resolved;
}

function reportCycles(nodes: readonly NeedsNode[], edges: Map<string, Array<{ to: string; index: number }>>, issues: IssueCollector): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const { to, index } of edges.get(name) ?? []) {
      if (state.get(to) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(to)), to];
        issues.error([...byName.get(name)!.needsPath, index], `dependency cycle: ${cycle.map((n) => `'${n}'`).join(' → ')}; remove one of these needs`);
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const node of nodes) if (!state.has(node.name)) visit(node.name);
}
