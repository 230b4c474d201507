// A member's host as routing targets need it: IP addresses. An IP literal is itself; a DNS name is
// resolved and the answer kept briefly, so a pass at rest does not resolve every member again, while a
// changed answer is picked up within the TTL.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export const RESOLVE_TTL_MS = 30_000;

const cache = new Map<string, { at: number; addresses: string[] }>();

/** The addresses of a host, IPv4 first; throws one line naming the host when it does not resolve. */
export async function resolveHost(host: string, nowMs = Date.now()): Promise<string[]> {
  if (isIP(host)) return [host];
  const hit = cache.get(host);
  if (hit && nowMs - hit.at < RESOLVE_TTL_MS) return hit.addresses;
  try {
    const answers = await lookup(host, { all: true, order: 'ipv4first' });
    const addresses = [...new Set(answers.map((a) => a.address))];
    cache.set(host, { at: nowMs, addresses });
    return addresses;
  } catch (e) {
    throw new Error(
      `${host}: does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
