// Loopback helpers for tests that start servers of their own.
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (for a child process to listen on). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
