// Free loopback ports. A bind check only says the port was free a moment ago: the server start retries
// with another port when mariadbd reports EADDRINUSE (another process, or another sandbox, took it).
import { createServer } from 'node:net';

/** Below the Linux ephemeral range (32768+), so outgoing connections do not take our ports. */
const LOW = 20000;
const HIGH = 32000;
const handedOut = new Set<number>();

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port on `host` that could be bound just now and that this process has not handed out before. */
export async function pickFreePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port, host)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port found on ${host} in ${LOW}-${HIGH}`);
}

/** Lets pickFreePort hand the port out again (after the server using it is gone for good). */
export function releasePort(port: number): void {
  handedOut.delete(port);
}
