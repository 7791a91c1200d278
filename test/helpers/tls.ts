// Certificates for HTTPS tests, made with the `openssl` command: a self-signed CA and server
// certificates it signs for 127.0.0.1 and localhost, as an operator would make them.

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`);
  }
}

export interface TestCa {
  /** PEM file of the CA certificate (what clients are told to trust). */
  caFile: string;
  caKeyFile: string;
  ca: Buffer;
  dir: string;
}

export interface ServerCert {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as Node's getPeerCertificate() reports it ("AB:CD:…"). */
  fingerprint256: string;
}

/** A self-signed CA in `dir` (ca.pem, ca.key). */
export async function makeCa(dir: string): Promise<TestCa> {
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca.key');
  await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKeyFile, '-out', caFile,
      '-days', '2', '-subj', '/CN=Tessera Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { caFile, caKeyFile, ca: await readFile(caFile), dir };
}

/**
 * A server certificate for 127.0.0.1 and localhost signed by `ca`, written to `<name>.pem` and
 * `<name>.key` in the CA's directory.
 */
export async function makeServerCert(ca: TestCa, name: string): Promise<ServerCert> {
  const keyFile = path.join(ca.dir, `${name}.key`);
  const csrFile = path.join(ca.dir, `${name}.csr`);
  const certFile = path.join(ca.dir, `${name}.pem`);
  const extFile = path.join(ca.dir, `${name}.ext`);
  await writeFile(extFile, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`], ca.dir);
  await openssl(['x509', '-req', '-in', csrFile, '-CA', ca.caFile, '-CAkey', ca.caKeyFile, '-CAcreateserial', '-days', '2', '-out', certFile, '-extfile', extFile], ca.dir);
  const fingerprint256 = new X509Certificate(await readFile(certFile)).fingerprint256;
  return { certFile, keyFile, fingerprint256 };
}
