// The SSE-S3 master key: 32 random bytes in the file named by sse.master_key_file
// (TESSERA_SSE_MASTER_KEY_FILE), either raw (a 32-byte file) or as base64 text (44 characters,
// surrounding whitespace ignored), e.g. made with `openssl rand -base64 32 > master.key`.
//
// The key opens every SSE-S3 object, so a file that other local users can read is refused
// (as ssh refuses a private key with loose permissions) rather than used: start-up fails
// with the chmod that fixes it.

import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from './config.js';

const MASTER_KEY_BYTES = 32;

export async function loadMasterKey(file: string, platform: NodeJS.Platform = process.platform): Promise<Buffer> {
  let raw: Buffer;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new ConfigError(`sse.master_key_file ${file} is not a regular file`);
    // Windows has no POSIX modes; everywhere else, group or other access is refused.
    if (platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ConfigError(`sse.master_key_file ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}); run: chmod 600 ${file}`);
    }
    raw = await readFile(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`sse.master_key_file ${file} cannot be read: ${(e as Error).message}`);
  }
  if (raw.length === MASTER_KEY_BYTES) return raw;
  const text = raw.toString('latin1').trim();
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === MASTER_KEY_BYTES) return key;
  }
  throw new ConfigError(`sse.master_key_file ${file} must hold exactly 32 random bytes, raw or base64 (make one with: openssl rand -base64 32 > ${file} && chmod 600 ${file})`);
}
