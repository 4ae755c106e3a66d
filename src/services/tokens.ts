// API tokens: random secrets stored only as hashes; the bootstrap admin token is one of them.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { and, count, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../store/db';
import { apiTokens, systemSettings } from '../store/schema';
import { hashToken, newId, newSecretToken } from '../ids';
import type { Principal, Role } from '../roles';
import { NotFound } from '../errors';
import type { Invalidations } from '../store/invalidations';
import { createReadCache } from '../store/invalidations';

type TokenRow = typeof apiTokens.$inferSelect;

/** A token as the API shows it: never its secret or hash. */
function toTokenView(row: TokenRow) {
  return {
    tokenId: row.tokenId,
    name: row.name,
    role: row.role,
    projectIds: row.projectIds ?? null,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
  };
}

const BOOTSTRAP_KEY = 'bootstrap_admin_token_id';

/** How long a server trusts a token it has looked up, should a revocation notice be lost. */
const TOKEN_CACHE_MS = 30_000;

export function createTokenService(db: Db, invalidations?: Invalidations) {
  // Only with invalidations: a revocation must reach every server's cache, not just this one's.
  const cache = invalidations ? createReadCache<{ principal: Principal; expiresAt: number | null }>({ ttlMs: TOKEN_CACHE_MS, max: 10_000 }) : null;
  invalidations?.on((key) => {
    if (key.startsWith('token:')) cache?.deleteWhere((e) => e.principal.tokenId === key.slice('token:'.length));
  });
  return {
    /** The principal a bearer token stands for, or null when it is unknown, revoked or expired. */
    async authenticate(token: string): Promise<Principal | null> {
      const hash = hashToken(token);
      const cached = cache?.get(hash);
      if (cached) return cached.expiresAt !== null && cached.expiresAt <= Date.now() ? null : cached.principal;
      const [row] = await db
        .select()
        .from(apiTokens)
        .where(and(eq(apiTokens.tokenHash, hash), isNull(apiTokens.revokedAt)));
      if (!row) return null;
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return null;
      const principal: Principal = { tokenId: row.tokenId, name: row.name, role: row.role as Role, projectIds: row.projectIds ?? null };
      cache?.set(hash, { principal, expiresAt: row.expiresAt ? row.expiresAt.getTime() : null });
      return principal;
    },

    async create(input: { name: string; role: Role; projectIds?: string[] | null; expiresAt?: Date | null }) {
      const secret = newSecretToken();
      const tokenId = newId('tok');
      await db.insert(apiTokens).values({
        tokenId,
        name: input.name,
        role: input.role,
        projectIds: input.projectIds ?? null,
        tokenHash: hashToken(secret),
        expiresAt: input.expiresAt ?? null,
      });
      const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenId, tokenId));
      return { ...toTokenView(row), token: secret };
    },

    /** Live tokens (revoked ones are gone from the list), newest first. */
    async list(q: { page: number; pageSize: number }) {
      const where = isNull(apiTokens.revokedAt);
      const [{ total }] = await db.select({ total: count() }).from(apiTokens).where(where);
      const rows = await db
        .select()
        .from(apiTokens)
        .where(where)
        .orderBy(desc(apiTokens.createdAt), desc(apiTokens.tokenId))
        .limit(q.pageSize)
        .offset((q.page - 1) * q.pageSize);
      return { list: rows.map(toTokenView), total, page: q.page, pageSize: q.pageSize };
    },

    /** Revokes a token at once: its next request is a 401. Unknown or already revoked: 404. */
    async revoke(tokenId: string) {
      const [row] = await db
        .update(apiTokens)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiTokens.tokenId, tokenId), isNull(apiTokens.revokedAt)))
        .returning({ tokenId: apiTokens.tokenId });
      if (!row) throw new NotFound(`token ${tokenId} not found`);
      await invalidations?.announce(`token:${tokenId}`);
    },

    /**
     * Makes sure a bootstrap admin token exists. With ARCENTRA_ADMIN_TOKEN it is that value; otherwise
     * one is generated on first start and kept in <data>/admin-token (0600). Returns the secret only
     * when it was generated now, so it is printed once.
     */
    async ensureBootstrapAdmin(opts: { dataDir: string; adminToken?: string }): Promise<{ generated: string | null; file: string }> {
      const file = join(opts.dataDir, 'admin-token');
      let secret = opts.adminToken;
      let generated: string | null = null;
      if (!secret) {
        secret = (await readFile(file, 'utf8').catch(() => '')).trim() || undefined;
      }
      const [existing] = await db.select().from(systemSettings).where(eq(systemSettings.key, BOOTSTRAP_KEY));
      // Another server (or an earlier data dir) already made one: never rotate it behind the admin's back.
      if (!secret && existing) return { generated: null, file };
      if (!secret) {
        secret = newSecretToken();
        generated = secret;
        await mkdir(opts.dataDir, { recursive: true });
        await writeFile(file, secret + '\n', { mode: 0o600 });
        await chmod(file, 0o600);
      }
      const hash = hashToken(secret);
      const [known] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash));
      if (!known) {
        const tokenId = existing?.value ?? newId('tok');
        await db.transaction(async (tx) => {
          // A changed ARCENTRA_ADMIN_TOKEN replaces the previous bootstrap token.
          if (existing) await tx.delete(apiTokens).where(eq(apiTokens.tokenId, existing.value));
          await tx.insert(apiTokens).values({ tokenId, name: 'bootstrap-admin', role: 'admin', projectIds: null, tokenHash: hash });
          await tx
            .insert(systemSettings)
            .values({ key: BOOTSTRAP_KEY, value: tokenId })
            .onConflictDoUpdate({ target: systemSettings.key, set: { value: tokenId } });
        });
      }
      return { generated, file };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
