// Certificates for TLS tests, made with the openssl command line (Debian's openssl): a small CA, a server
// certificate for 127.0.0.1/localhost signed by it, and a client certificate. Files land in `dir` (the
// sandbox's own directory, so they go away with it).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** Paths. */
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  /** PEM text of the same, for Secrets. */
  pem: { ca: string; clientCert: string; clientKey: string };
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/**
 * A CA named `name` and certificates signed by it: the server's with subjectAltName IP:127.0.0.1 and
 * DNS:localhost (what verify-identity checks), a client's for the operator. RSA 2048, valid two days.
 */
export async function makeCertificates(dir: string, name = 'test'): Promise<TestCertificates> {
  const f = (x: string) => join(dir, `${name}-${x}`);
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    `/CN=Tributary ${name} CA`,
  );
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  writeFileSync(f('client.ext'), 'basicConstraints=CA:FALSE\n');
  for (const [who, cn] of [
    ['server', 'localhost'],
    ['client', 'tributary'],
  ] as const) {
    await openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${who}.ext`),
    );
  }
  const read = (x: string) => readFileSync(f(x), 'utf8');
  return {
    ca: f('ca.crt'),
    cert: f('server.crt'),
    key: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    pem: { ca: read('ca.crt'), clientCert: read('client.crt'), clientKey: read('client.key') },
  };
}
