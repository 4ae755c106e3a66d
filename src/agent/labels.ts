// Does an agent's label set satisfy a job's agentSelector (matchLabels and matchExpressions)?
import type { AgentSelector } from '../spec/model';

export function matchesSelector(labels: Record<string, string>, selector: AgentSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) if (labels[key] !== value) return false;
  for (const expr of selector.matchExpressions) {
    const has = Object.hasOwn(labels, expr.key);
    switch (expr.operator) {
      case 'In':
        if (!has || !expr.values.includes(labels[expr.key])) return false;
        break;
      case 'NotIn':
        if (has && expr.values.includes(labels[expr.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
