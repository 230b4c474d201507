// Local MariaDB servers for `tributary demo` and the integration tests.
export {
  ADMIN_PASSWORD,
  ADMIN_USER,
  DEFAULT_SLAVE_NET_TIMEOUT,
  REPL_PASSWORD,
  REPL_USER,
  SANDBOX_HOST,
  SANDBOX_ROOT_ENV,
  TEMPLATE_CACHE_ENV,
} from './constants.js';
export { createSandbox, type AddOptions, type Sandbox, type SandboxOptions } from './sandbox.js';
export { SandboxServer, SandboxStartError, type Row } from './server.js';
export { ensureTemplate, type TemplateInfo, type TemplateOptions } from './template.js';
export { findMariadbd, MariadbNotFoundError, INSTALL_HINT } from './binaries.js';
export { reapSandboxDir, reapSandboxes, type ReapResult } from './cleanup.js';
export type { CnfValue } from './config.js';
