// The process logger (pino). Secrets never reach it: requests are logged by path only.
import pino from 'pino';

/** Field names whose values are secrets wherever they appear in a logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'credentials',
  '*.credentials',
  'webhookSecret',
  '*.webhookSecret',
];

export function createLogger(level: string, destination?: pino.DestinationStream) {
  return pino({ level, base: { service: 'arcentra' }, redact: { paths: REDACTED_PATHS, censor: '***' } }, destination);
}
