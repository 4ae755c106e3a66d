// Bearer-token authentication and the one role check every route goes through.
import type { NextFunction, Request, Response } from 'express';
import { Forbidden, Unauthorized } from '../errors';
import type { Action, Principal } from '../roles';
import { can, minimumRole } from '../roles';
import type { TokenService } from '../services/tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]{8,512})$/.exec(header.trim());
  return m ? m[1] : null;
}

export function authenticate(tokens: TokenService) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) return next(new Unauthorized(req.headers.authorization ? 'malformed Authorization header: expected "Bearer <token>"' : 'missing bearer token'));
    const principal = await tokens.authenticate(token);
    if (!principal) return next(new Unauthorized('unknown, revoked or expired token'));
    req.principal = principal;
    next();
  };
}

/** Route guard: the principal's role must allow `action`. */
export function allow(action: Action) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const p = req.principal;
    if (!p) return next(new Unauthorized());
    if (!can(p.role, action)) return next(new Forbidden(`role ${p.role} may not do this; it needs ${minimumRole(action)}`));
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Unauthorized();
  return req.principal;
}
