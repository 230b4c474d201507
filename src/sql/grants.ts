// The least privileges of the two accounts Tributary uses, as the exact GRANT statements docs/security.md
// shows (a unit test keeps the two equal) and the sandbox gives its `tributary` account. Found by running
// every statement of a pass (probe, convergence, failover, switchover, rotation) on MariaDB 10.11.19 and
// MySQL 9.7.4 with exactly these grants; each line says which statements need it.
import { lit, quoteString, sql, type SqlFragment } from './escape.js';

/** The flavors whose grants differ: MariaDB (10.5.9+) and MySQL (8.0.23+, 8.4, 9.x). */
export type GrantFlavor = 'mariadb' | 'mysql';

export interface Grant {
  /** The statement, with the account written as `'user'@'host'`. */
  sql: string;
  /** What needs it. */
  why: string;
}

/**
 * The host part of the replication account the operator creates, rotates and checks for: any host (replicas
 * connect from wherever they run). An account of the same user on another host is not it.
 */
export const REPLICATION_ACCOUNT_HOST = '%';

/**
 * A column saying whether the replication account exists: user and host, a `repl`@`10.%` made by hand is
 * not the account channels log in with. Reading only these two columns needs only SELECT (User, Host) ON
 * mysql.user: no password hashes.
 */
export const accountExistsColumn = (a: { user: string; host: string }): SqlFragment =>
  sql`, (SELECT COUNT(*) FROM mysql.user WHERE User = ${lit(a.user, 'replication user')} AND Host = ${lit(a.host, 'replication host')}) AS replication_account`;

/** What accountExistsColumn read: undefined when the row has no such column (not asked). */
export const replicationAccountExists = (row: Record<string, unknown>): boolean | undefined =>
  row.replication_account === undefined ? undefined : Number(row.replication_account) > 0;

/** `'user'@'host'`, quoted as a string literal would be. */
export const account = (user: string, host: string): string => `${quoteString(user)}@${quoteString(host)}`;

/**
 * The operator's account. No ALL PRIVILEGES and no SUPER; what remains powerful is said in security.md:
 * CREATE USER lets an account change any account's password (rotation needs it), MariaDB's READ_ONLY
 * ADMIN lets it write despite read_only (setting read_only needs it), RELOAD is what RESET REPLICA needs.
 */
export function operatorGrants(flavor: GrantFlavor, to: string): Grant[] {
  if (flavor === 'mariadb') {
    return [
      {
        sql: `GRANT SLAVE MONITOR, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, RELOAD, CREATE USER ON *.* TO ${to}`,
        why: 'SLAVE MONITOR: SHOW ALL REPLICAS STATUS; REPLICATION SLAVE ADMIN: CHANGE MASTER, START/STOP REPLICA, per-channel filters, SET GLOBAL gtid_slave_pos; READ_ONLY ADMIN: SET GLOBAL read_only, and gtid_slave_pos on a read-only replica; RELOAD: RESET REPLICA … ALL; CREATE USER: CREATE USER / ALTER USER of the replication account',
      },
      {
        sql: `GRANT SELECT (User, Host) ON mysql.user TO ${to}`,
        why: 'whether the replication account exists (two columns only: no password hashes)',
      },
    ];
  }
  return [
    {
      sql: `GRANT REPLICATION CLIENT, REPLICATION_SLAVE_ADMIN, SYSTEM_VARIABLES_ADMIN, PERSIST_RO_VARIABLES_ADMIN, RELOAD, CREATE USER ON *.* TO ${to}`,
      why: 'REPLICATION CLIENT: SHOW REPLICA STATUS; REPLICATION_SLAVE_ADMIN: CHANGE REPLICATION SOURCE/FILTER, START/STOP REPLICA; SYSTEM_VARIABLES_ADMIN: SET GLOBAL super_read_only/read_only; with PERSIST_RO_VARIABLES_ADMIN: SET PERSIST_ONLY super_read_only; RELOAD: RESET REPLICA … ALL; CREATE USER: CREATE USER / ALTER USER of the replication account',
    },
    {
      sql: `GRANT SELECT (User, Host) ON mysql.user TO ${to}`,
      why: 'whether the replication account exists (two columns only: no password hashes)',
    },
    {
      sql: `GRANT SELECT ON performance_schema.replication_connection_configuration TO ${to}`,
      why: "each channel's heartbeat period (filled with performance_schema OFF too)",
    },
  ];
}

/**
 * Only when the operator is to create the replication account itself (it does when the account is
 * missing): GRANT needs the grant option and the privilege granted. The grant option covers every global
 * privilege the account holds, so creating the replication account by hand is the narrower choice.
 */
export function accountCreationGrant(to: string): Grant {
  return {
    sql: `GRANT REPLICATION SLAVE ON *.* TO ${to} WITH GRANT OPTION`,
    why: 'GRANT REPLICATION SLAVE to a replication account the operator creates',
  };
}

/** The replication account (SOURCE_USER of every channel): the same on both flavors. */
export function replicationGrants(to: string): Grant[] {
  return [{ sql: `GRANT REPLICATION SLAVE ON *.* TO ${to}`, why: 'replicas read the binary log with it' }];
}
