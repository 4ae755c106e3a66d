// Repository credentials at rest: sealed with AES-256-GCM under one server key, so a copy of the
// database alone does not give away tokens or deploy keys.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Credentials = { kind: 'token'; token: string; username?: string } | { kind: 'ssh'; privateKey: string };

export interface SecretBox {
  /** base64 of version byte | 12-byte IV | 16-byte tag | ciphertext. */
  seal(plaintext: string): string;
  /** The plaintext; throws SecretBoxError when the box was altered or sealed under another key. */
  open(sealed: string): string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

const FORMAT_VERSION = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const SECRET_KEY_FILE = 'secret-key';

export function createSecretBox(key: Buffer): SecretBox {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new SecretBoxError(`secret key must be ${KEY_BYTES} bytes`);
  const secretKey = Buffer.from(key); // a private copy: the caller may reuse or wipe its buffer
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', secretKey, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.of(FORMAT_VERSION), iv, cipher.getAuthTag(), ciphertext]).toString('base64');
    },
    open(sealed) {
      const raw = typeof sealed === 'string' ? Buffer.from(sealed, 'base64') : Buffer.alloc(0);
      if (raw.length < 1 + IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed secret is truncated or not base64');
      if (raw[0] !== FORMAT_VERSION) throw new SecretBoxError(`sealed secret has unknown format version ${raw[0]}`);
      const iv = raw.subarray(1, 1 + IV_BYTES);
      const tag = raw.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const ciphertext = raw.subarray(1 + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', secretKey, iv);
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError('sealed secret failed authentication: it was altered or sealed with another key');
      }
    },
  };
}

/** Seals credentials as JSON. */
export function sealCredentials(box: SecretBox, credentials: Credentials): string {
  return box.seal(JSON.stringify(parseCredentials(credentials)));
}

/** Opens and checks sealed credentials. */
export function openCredentials(box: SecretBox, sealed: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(box.open(sealed));
  } catch (err) {
    if (err instanceof SecretBoxError) throw err;
    throw new SecretBoxError('sealed credentials are not JSON');
  }
  return parseCredentials(value);
}

/** Checks an untrusted value is Credentials, and keeps only the known fields. */
export function parseCredentials(value: unknown): Credentials {
  const v = value as Record<string, unknown> | null;
  if (v && typeof v === 'object' && v.kind === 'token' && typeof v.token === 'string' && v.token.length > 0) {
    if (v.username !== undefined && (typeof v.username !== 'string' || v.username.length === 0 || v.username.includes(':'))) {
      throw new SecretBoxError('token credentials: username must be a non-empty string without ":"');
    }
    return v.username === undefined ? { kind: 'token', token: v.token } : { kind: 'token', token: v.token, username: v.username };
  }
  if (v && typeof v === 'object' && v.kind === 'ssh' && typeof v.privateKey === 'string' && v.privateKey.length > 0) {
    return { kind: 'ssh', privateKey: v.privateKey };
  }
  throw new SecretBoxError('credentials must be { kind: "token", token } or { kind: "ssh", privateKey }');
}

/** Reads a key given as 64 hex characters or as base64 of 32 bytes. */
export function parseSecretKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || /^[A-Za-z0-9_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new SecretBoxError(`${source} must be 64 hex characters or base64 of 32 bytes`);
}

/**
 * The server's secret key: ARCENTRA_SECRET_KEY when given (so several servers can share one),
 * otherwise a random key kept in <dataDir>/secret-key (mode 0600), created on first use.
 */
export function loadOrCreateKey(dataDir: string, envKey?: string): Buffer {
  if (envKey !== undefined && envKey.trim() !== '') return parseSecretKey(envKey, 'ARCENTRA_SECRET_KEY');
  const keyPath = join(dataDir, SECRET_KEY_FILE);
  const existing = readKeyFile(keyPath);
  if (existing) return existing;

  mkdirSync(dataDir, { recursive: true });
  // Written whole to a private file, then linked into place: link() fails if another process got
  // there first, so nobody ever reads a half-written key and the first key wins.
  const tmpPath = join(dataDir, `.${SECRET_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  writeFileSync(tmpPath, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmpPath, 0o600); // the umask may have narrowed it further, never widened; be explicit
    linkSync(tmpPath, keyPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmpPath, { force: true });
  }
  const created = readKeyFile(keyPath);
  if (!created) throw new SecretBoxError(`could not create ${keyPath}`);
  return created;
}

function readKeyFile(keyPath: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(keyPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseSecretKey(text, keyPath);
}
