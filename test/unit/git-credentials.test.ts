// Sealing repository credentials at rest, and the server key they are sealed under.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSecretBox, loadOrCreateKey, openCredentials, sealCredentials, SecretBoxError } from '../../src/git/credentials';

function tempDataDir() {
  const root = join(process.cwd(), '.test-data');
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, 'git-cred-'));
}

describe('secret box', () => {
  it('round-trips, with a fresh IV each time', () => {
    const box = createSecretBox(randomBytes(32));
    const a = box.seal('ghp_secret-token ✓');
    const b = box.seal('ghp_secret-token ✓');
    expect(a).not.toBe(b);
    expect(a).not.toContain('ghp_secret');
    expect(Buffer.from(a, 'base64')[0]).toBe(1);
    expect(box.open(a)).toBe('ghp_secret-token ✓');
    expect(box.open(b)).toBe('ghp_secret-token ✓');
  });

  it('detects tampering anywhere in the sealed value, and a wrong key', () => {
    const key = randomBytes(32);
    const box = createSecretBox(key);
    const sealed = Buffer.from(box.seal('hello world'), 'base64');
    for (const at of [5, 13, 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] ^= 0x01;
      expect(() => box.open(bad.toString('base64'))).toThrow(/failed authentication/);
    }
    const badVersion = Buffer.from(sealed);
    badVersion[0] = 9;
    expect(() => box.open(badVersion.toString('base64'))).toThrow(/format version/);
    expect(() => box.open('AAAA')).toThrow(SecretBoxError);
    expect(() => createSecretBox(randomBytes(32)).open(sealed.toString('base64'))).toThrow(/failed authentication/);
    expect(() => createSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });

  it('seals and checks credentials', () => {
    const box = createSecretBox(randomBytes(32));
    expect(openCredentials(box, sealCredentials(box, { kind: 'token', token: 't0k', username: 'bot' }))).toEqual({ kind: 'token', token: 't0k', username: 'bot' });
    expect(openCredentials(box, sealCredentials(box, { kind: 'ssh', privateKey: 'KEY' }))).toEqual({ kind: 'ssh', privateKey: 'KEY' });
    expect(() => openCredentials(box, box.seal('{"kind":"password"}'))).toThrow(/credentials must be/);
  });
});

describe('loadOrCreateKey', () => {
  it('creates <dataDir>/secret-key with mode 0600 once, then reuses it', () => {
    const dataDir = join(tempDataDir(), 'nested');
    const first = loadOrCreateKey(dataDir);
    const keyPath = join(dataDir, 'secret-key');
    expect(first.length).toBe(32);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const text = readFileSync(keyPath, 'utf8');
    const second = loadOrCreateKey(dataDir);
    expect(second.equals(first)).toBe(true);
    expect(readFileSync(keyPath, 'utf8')).toBe(text);
    // What one box sealed, a box from the reloaded key opens.
    expect(createSecretBox(second).open(createSecretBox(first).seal('x'))).toBe('x');
  });

  it('prefers ARCENTRA_SECRET_KEY, as hex or base64, and writes no file', () => {
    const dataDir = tempDataDir();
    const key = randomBytes(32);
    expect(loadOrCreateKey(dataDir, key.toString('hex')).equals(key)).toBe(true);
    expect(loadOrCreateKey(dataDir, key.toString('base64')).equals(key)).toBe(true);
    expect(() => statSync(join(dataDir, 'secret-key'))).toThrow();
    // Even with a key file present, the environment wins.
    const fileKey = loadOrCreateKey(dataDir);
    expect(fileKey.equals(key)).toBe(false);
    expect(loadOrCreateKey(dataDir, key.toString('hex')).equals(key)).toBe(true);
    expect(() => loadOrCreateKey(dataDir, 'too-short')).toThrow(/64 hex characters or base64 of 32 bytes/);
  });
});
