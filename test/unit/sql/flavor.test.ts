import { describe, expect, it } from 'vitest';
import { UnsupportedServerError } from '../../../src/sql/errors.js';
import { atLeast, detectFlavor, dialectFor, parseVersion, versionQuery } from '../../../src/sql/flavor.js';

describe('detectFlavor', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1', 'mariadb'],
    ['10.11.19-MariaDB-0+deb12u1-log', 'mariadb'],
    ['10.5.0-MariaDB', 'mariadb'],
    ['10.6.18-MariaDB-log', 'mariadb'],
    ['11.4.3-MariaDB-ubu2404', 'mariadb'],
    ['5.5.5-10.11.6-MariaDB', 'mariadb'],
    ['5.7.0', 'mysql-legacy'],
    ['5.7.44-log', 'mysql-legacy'],
    ['8.0.0-dmr', 'mysql-legacy'],
    ['8.0.21', 'mysql-legacy'],
    ['8.0.22', 'mysql-legacy'],
    ['8.0.23', 'mysql'],
    ['8.0.36-28', 'mysql'],
    ['8.0.40-0ubuntu0.22.04.1', 'mysql'],
    ['8.4.3', 'mysql'],
    ['9.1.0', 'mysql'],
    ['10.0.0', 'mysql'],
  ] as const)('%s → %s', (version, flavor) => {
    expect(detectFlavor(version)).toBe(flavor);
  });

  it.each([
    [
      '5.6.51-log',
      'MySQL 5.6.51 is not supported: Tributary needs MySQL 5.7 or newer (replication channels)',
    ],
    ['5.1.73', 'MySQL 5.1.73 is not supported'],
    ['10.4.32-MariaDB', 'MariaDB 10.4.32 is not supported: Tributary needs MariaDB 10.5 or newer'],
    ['10.3.39-MariaDB-0+deb10u1', 'MariaDB 10.3.39 is not supported'],
    ['5.5.5-10.4.1-MariaDB', 'MariaDB 10.4.1 is not supported'],
    ['', 'cannot read the server version ""'],
    ['garbage', 'cannot read the server version "garbage"'],
    ['8.0', 'cannot read the server version "8.0"'],
  ])('%j is refused: %s', (version, message) => {
    let err: unknown;
    try {
      detectFlavor(version);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedServerError);
    expect((err as Error).message).toContain(message);
    expect((err as UnsupportedServerError).version).toBe(version);
  });
});

describe('versions', () => {
  it('parseVersion and atLeast', () => {
    expect(parseVersion('8.0.23-log')).toEqual({ major: 8, minor: 0, patch: 23, mariadb: false });
    expect(parseVersion('10.11.19-MariaDB')).toEqual({ major: 10, minor: 11, patch: 19, mariadb: true });
    const v = parseVersion('8.0.26');
    expect([atLeast(v, 8, 0, 26), atLeast(v, 8, 0, 27), atLeast(v, 5, 7, 99), atLeast(v, 8, 1, 0)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it('versionQuery', () => {
    expect(versionQuery()).toEqual({
      sql: 'SELECT VERSION() AS version',
      display: 'SELECT VERSION() AS version',
    });
  });
});

describe('dialectFor', () => {
  it.each(['mysql', 'mysql-legacy', 'mariadb'] as const)('%s', (flavor) => {
    expect(dialectFor(flavor).flavor).toBe(flavor);
  });

  it('detected flavor and version together pick the words', () => {
    for (const [version, show, change] of [
      ['5.7.44-log', 'SHOW SLAVE STATUS', /^CHANGE MASTER TO /],
      ['8.0.22', 'SHOW SLAVE STATUS', /^CHANGE MASTER TO /],
      ['8.0.23', 'SHOW REPLICA STATUS', /^CHANGE REPLICATION SOURCE TO /],
      ['10.11.19-MariaDB-0+deb12u1', 'SHOW ALL REPLICAS STATUS', /^CHANGE MASTER 'c' TO /],
    ] as const) {
      const d = dialectFor(detectFlavor(version), version);
      expect(d.showChannels().sql).toBe(show);
      expect(
        d.changeSource('c', {
          host: 'h',
          port: 1,
          user: 'u',
          password: 'p',
          connectRetry: 1,
          retryCount: 1,
          heartbeatPeriod: 1,
          delaySeconds: 0,
        }).sql,
      ).toMatch(change);
    }
  });
});
