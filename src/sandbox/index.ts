// Local MariaDB (10.11, 11.8) and MySQL servers for `tributary demo`, the integration tests and the
// benchmarks.
export {
  ADMIN_PASSWORD,
  ADMIN_USER,
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  DEFAULT_SLAVE_NET_TIMEOUT,
  REPL_PASSWORD,
  REPL_USER,
  SANDBOX_HOST,
  DEFAULT_MARIADB_ROOT,
  DEFAULT_MYSQL_ROOT,
  MARIADB_ROOT_ENV,
  MYSQL_ROOT_ENV,
  SANDBOX_ROOT_ENV,
  TEMPLATE_CACHE_ENV,
} from './constants.js';
export { createSandbox, type AddOptions, type Sandbox, type SandboxOptions } from './sandbox.js';
export { SandboxServer, SandboxStartError, type Row } from './server.js';
export { ensureTemplate, type TemplateInfo, type TemplateOptions } from './template.js';
export {
  findMariadbd,
  findMariadbRoot,
  findMysqlRoot,
  MariadbNotFoundError,
  MariadbRootNotFoundError,
  MysqlNotFoundError,
  INSTALL_HINT,
  MARIADB_ROOT_INSTALL_HINT,
  MYSQL_INSTALL_HINT,
} from './binaries.js';
export { reapSandboxDir, reapSandboxes, type ReapResult } from './cleanup.js';
export {
  SANDBOX_FLAVORS,
  sandboxFamily,
  type CnfValue,
  type SandboxFamily,
  type SandboxFlavor,
  type SandboxTls,
} from './config.js';
export { loginSecret, sandboxManifests, sandboxMember, type Login } from './manifests.js';
