// Roles and what each may do: checked in one place (the auth middleware and services call `can`).
export const ROLES = ['viewer', 'operator', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, editor: 2, admin: 3 };

export type Action = 'read' | 'operate' | 'edit' | 'admin';
const NEEDED: Record<Action, Role> = { read: 'viewer', operate: 'operator', edit: 'editor', admin: 'admin' };

export function can(role: Role, action: Action): boolean {
  return RANK[role] >= RANK[NEEDED[action]];
}

export function minimumRole(action: Action): Role {
  return NEEDED[action];
}

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** null: every project. */
  projectIds: string[] | null;
}

export function canSeeProject(p: Principal, projectId: string): boolean {
  return p.projectIds === null || p.projectIds.includes(projectId);
}

/** The system acting on its own (schedules, webhooks): every project, named for the logs and runs. */
export function systemPrincipal(name: string): Principal {
  return { tokenId: 'system', name, role: 'admin', projectIds: null };
}
