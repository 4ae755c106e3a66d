// The process logger (pino). Secrets never reach it: requests are logged by path only.
import pino from 'pino';

export function createLogger(level: string) {
  return pino({ level, base: { service: 'arcentra' }, redact: { paths: ['req.headers.authorization', 'token', '*.token', 'secret', '*.secret'], censor: '***' } });
}
