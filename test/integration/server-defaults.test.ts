// The server defaults that differ between the versions the suite runs (MariaDB 10.11 and 11.8, MySQL 9.7),
// checked on live servers against test/harness/flavors.ts's `defaults` table (docs/mysql.md §8 tells what
// each means for Tributary). The operator states every TLS option of the channels it manages, so the channel
// defaults below reach only hand-made channels; the test shows them with one such channel.
import { describe, expect, it } from 'vitest';
import { channelRow, FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(FLAVORS)('server defaults of $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['src', 'rep'] });

  it('character set, collation and snapshot isolation', async () => {
    const rep = sb().server('rep');
    expect(String(await rep.scalar('SELECT VERSION()'))).toMatch(f.version);
    const [row] = await rep.sql('SELECT @@character_set_server AS cs, @@collation_server AS co');
    expect(row).toEqual({ cs: f.defaults.characterSetServer, co: f.defaults.collationServer });
    const si = await rep.sql("SHOW GLOBAL VARIABLES LIKE 'innodb_snapshot_isolation'");
    expect(si.map((r) => r.Value)).toEqual(
      f.defaults.snapshotIsolation === null ? [] : [f.defaults.snapshotIsolation ? 'ON' : 'OFF'],
    );
  });

  it('TLS offered with no certificate configured', async () => {
    // The sandbox configures no certificate unless told to: what a login asking for TLS gets is the default.
    const login = sb()
      .server('src')
      .admin({ ssl: { rejectUnauthorized: false } });
    if (f.defaults.tlsWithoutCertificates) {
      const conn = await login;
      try {
        const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
        expect(String((rows as { Value: string }[])[0]?.Value)).toMatch(/^TLS_/);
      } finally {
        conn.destroy();
      }
    } else await expect(login).rejects.toThrow(/does not support secure connection/);
  });

  it('a channel made with no TLS option: TLS or not, verified or not, and the columns it lists', async () => {
    const [src, rep] = [sb().server('src'), sb().server('rep')];
    const tlsAccepts = async () => Number((await src.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'"))[0]?.Value);
    const before = await tlsAccepts();
    await rep.sql(f.changeSource('plain', { port: src.port }));
    await rep.sql(f.startChannel('plain'));
    let row = await channelRow(f, rep, 'plain');
    for (let i = 0; i < 300 && row?.[f.col.io] !== 'Yes'; i++) {
      await sleep(50);
      row = await channelRow(f, rep, 'plain');
    }
    expect(row?.[f.col.io]).toBe('Yes');
    expect([row?.[f.col.sslAllowed], row?.[f.col.sslVerify]]).toEqual([
      f.defaults.channelTls ? 'Yes' : 'No',
      f.defaults.channelVerifiesServerCert ? 'Yes' : 'No',
    ]);
    // The source counts the receiver's TLS handshake (the admin logins of this test do not ask for TLS).
    expect((await tlsAccepts()) - before).toBe(f.defaults.channelTls ? 1 : 0);
    const all = await rep.sql(f.showAll);
    expect(all).toHaveLength(1);
    expect(Object.keys(all[0]!)).toHaveLength(f.defaults.showAllColumns);
    await rep.sql(f.stopChannel('plain'));
  });
});
