// docs/security.md gives the exact GRANT statements the sandbox's least-privilege account gets and the
// integration suites run with: the page and src/sql/grants.ts must not drift apart.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountCreationGrant, account, operatorGrants, replicationGrants } from '../../../src/sql/grants.js';
import { renderUsersSql } from '../../../src/sandbox/config.js';

const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
const op = account('tributary', '%');

describe('least privilege, as documented', () => {
  it.each(['mariadb', 'mysql'] as const)('docs/security.md lists every %s grant verbatim', (flavor) => {
    for (const g of operatorGrants(flavor, op)) expect(doc).toContain(`${g.sql};`);
    expect(doc).toContain(`${replicationGrants(account('repl', '%'))[0]!.sql};`);
    expect(doc).toContain(`${accountCreationGrant(op).sql};`);
  });

  it.each(['mariadb', 'mysql'] as const)('no ALL PRIVILEGES, no SUPER, no grant option for %s', (flavor) => {
    for (const g of operatorGrants(flavor, op)) {
      expect(g.sql).not.toMatch(/ALL PRIVILEGES|\bSUPER\b|GRANT OPTION/);
      expect(g.why).not.toBe('');
    }
  });

  it.each(['mariadb', 'mysql'] as const)(
    'the %s sandbox gives its operator account exactly these',
    (flavor) => {
      const users = renderUsersSql(
        flavor,
        { user: 'admin', password: 'a' },
        { user: 'repl', password: 'r' },
        { user: 'tributary', password: 'o' },
      );
      const granted = users.split('\n').filter((l) => l.includes("TO 'tributary'@'%'"));
      expect(granted).toEqual(operatorGrants(flavor, op).map((g) => `${g.sql};`));
    },
  );
});
