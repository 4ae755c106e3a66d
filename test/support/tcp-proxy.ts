// A TCP proxy in front of a server, so a test can cut every connection through it at will (a
// network fault between an agent and a server), without touching either process.
import { createServer, connect } from 'node:net';
import type { Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  /** Destroys every open connection; new ones are refused for `refuseMs`. */
  cut(refuseMs?: number): void;
  connectionsSeen(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refuseUntil = 0;
  let seen = 0;
  const server = createServer((client) => {
    if (Date.now() < refuseUntil) return client.destroy();
    seen++;
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut(refuseMs = 0) {
      refuseUntil = Date.now() + refuseMs;
      for (const s of open) s.destroy();
    },
    connectionsSeen: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
