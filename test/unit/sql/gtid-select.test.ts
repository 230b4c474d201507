// Parts of a GTID text chosen by origin: what failover catch-up counts of one group on a multi-source replica.
import { describe, expect, it } from 'vitest';
import { inDomains, ofServers } from '../../../src/sql/gtid/select.js';

const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';

describe('ofServers (MySQL)', () => {
  it('keeps the entries of the given servers, tagged ones included, in canonical form', () => {
    expect(ofServers(`${B}:1-3,\n${A.toUpperCase()}:1-5:7,${A}:tx:1-2`, new Set([A]))).toBe(
      `${A}:1-5:7:tx:1-2`,
    );
    expect(ofServers(`${B}:1-3`, new Set([A]))).toBe('');
    expect(ofServers('', new Set([A]))).toBe('');
  });
});

describe('inDomains (MariaDB)', () => {
  it('keeps the entries of the given domains', () => {
    expect(inDomains('1-1-10,2-2-5,4-4-3', [1, 4])).toBe('1-1-10,4-4-3');
    expect(inDomains('2-2-5', [1])).toBe('');
  });
});
