#!/usr/bin/env node
// Reads {args} as JSON on stdin, sends the request, writes status/body outputs; exit 1 on an unexpected status.
import { appendFileSync, readFileSync } from 'node:fs';

const { args } = JSON.parse(readFileSync(0, 'utf8'));
const method = args.method ?? (args.body === undefined ? 'GET' : 'POST');
const headers = { ...(args.headers ?? {}) };
let body;
if (args.body !== undefined) {
  body = typeof args.body === 'string' ? args.body : JSON.stringify(args.body);
  if (typeof args.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
}
try {
  const res = await fetch(args.url, { method, headers, body, signal: AbortSignal.timeout((args.timeoutSeconds ?? 30) * 1000) });
  const text = await res.text();
  console.log(`${method} ${args.url} -> ${res.status}`);
  const out = process.env.ARCENTRA_OUTPUT;
  if (out) appendFileSync(out, `status=${res.status}\nbody=${text.slice(0, 4096).replace(/\n/g, ' ')}\n`);
  const ok = args.expectStatus === undefined ? res.ok : res.status === args.expectStatus;
  if (!ok) {
    console.error(`http-request: unexpected status ${res.status}${args.expectStatus ? ` (expected ${args.expectStatus})` : ''}`);
    process.exit(1);
  }
} catch (err) {
  console.error(`http-request: ${method} ${args.url} failed: ${err.cause?.message ?? err.message}`);
  process.exit(1);
}
