// Accounts and names every sandbox server shares. Tests and `tributary demo` read the passwords from here
// (the demo writes the same values into its Secrets), so there is one source of truth.

/** Every sandbox server listens on loopback only. */
export const SANDBOX_HOST = '127.0.0.1';

/** `admin`@'%': ALL PRIVILEGES WITH GRANT OPTION — the operator's login. */
export const ADMIN_USER = 'admin';
export const ADMIN_PASSWORD = 'adminpass';

/**
 * `tributary`@'%': exactly the grants docs/security.md gives the operator's account (src/sql/grants.ts), no
 * more — the account the integration suites run the operator with.
 */
export const OPERATOR_USER = 'tributary';
export const OPERATOR_PASSWORD = 'tq7-0p-pass';

/** `repl`@'%': REPLICATION SLAVE — the MASTER_USER of channels. */
export const REPL_USER = 'repl';
export const REPL_PASSWORD = 'replpass';

/** When set, sandboxes are created under this directory by default (the test run sets it, see test/harness). */
export const SANDBOX_ROOT_ENV = 'TRIBUTARY_SANDBOX_ROOT';

/** When set, the template cache lives here instead of os.tmpdir(). */
export const TEMPLATE_CACHE_ENV = 'TRIBUTARY_TEMPLATE_CACHE';

/** When set, the mariadbd binary to use (otherwise PATH, /usr/sbin, /usr/local/sbin). */
export const MARIADBD_ENV = 'TRIBUTARY_MARIADBD';

/** When set, the MySQL root folder (Debian sid with mysql-server-core) to run mysqld from. */
export const MYSQL_ROOT_ENV = 'TRIBUTARY_MYSQL_ROOT';

/** Where scripts/ensure-mysql-root.mjs builds the MySQL root folder by default. */
export const DEFAULT_MYSQL_ROOT = '/var/cache/tributary/mysql-sid';

/** When set, the MariaDB 11.8 root folder (Debian sid with mariadb-server-core) to run mariadbd from. */
export const MARIADB_ROOT_ENV = 'TRIBUTARY_MARIADB_ROOT';

/** Where scripts/ensure-mariadb-root.mjs builds the MariaDB 11.8 root folder by default. */
export const DEFAULT_MARIADB_ROOT = '/var/cache/tributary/mariadb-sid';

/** The file a finished root build writes last (scripts/debian-root.mjs): its absence means incomplete. */
export const ROOT_MARKER = '.tributary-root.json';

/**
 * Default replica-side `slave_net_timeout` / `replica_net_timeout` (seconds): a dead source is noticed in
 * seconds, not a minute.
 */
export const DEFAULT_SLAVE_NET_TIMEOUT = 4;

/** The registry file each sandbox directory holds, so a later teardown can kill what a crashed process left. */
export const REGISTRY_FILE = 'sandbox.json';

/** Prefix of sandbox directories (under the base directory). */
export const SANDBOX_DIR_PREFIX = 'tributary-sandbox-';
