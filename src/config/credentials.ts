// Root credentials that Tessera makes up itself when none are configured. They are generated
// once, kept in the metadata directory and read back on every later start, so clients keep
// working across restarts. Like all metadata they must survive the loss of that directory, so
// every disk keeps a copy (`<disk>/meta/credentials.json`, 0600); a blank replacement disk
// simply gets one. Configured credentials are never written anywhere. (A disk sent away for
// repair carries the generated secret: configure credentials where that matters.)

import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseAccessKey, parseSecretKey } from './values.js';

export const CREDENTIALS_FILE = 'credentials.json';

export type RandomBytes = (size: number) => Uint8Array;

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ACCESS_KEY_PREFIX = 'TSR';
const ACCESS_KEY_LENGTH = 20;

/**
 * A new key pair shaped like AWS's: a 20-character upper-case access key ("TSR" + 17 random
 * characters, so a Tessera key is recognisable in logs) and a 40-character secret of 240
 * random bits in base64url, which needs no escaping in shells, URLs or YAML.
 */
export function generateKeyPair(randomBytes: RandomBytes = cryptoRandomBytes): KeyPair {
  let accessKeyId = ACCESS_KEY_PREFIX;
  // Rejection sampling: 252 is the largest multiple of 36 below 256, so taking bytes below it
  // modulo 36 gives every character the same chance.
  while (accessKeyId.length < ACCESS_KEY_LENGTH) {
    for (const byte of randomBytes(32)) {
      if (byte < 252 && accessKeyId.length < ACCESS_KEY_LENGTH) accessKeyId += ACCESS_KEY_ALPHABET[byte % 36];
    }
  }
  const secretAccessKey = Buffer.from(randomBytes(30)).toString('base64url');
  return { accessKeyId, secretAccessKey };
}

export interface StoredKeyPair extends KeyPair {
  /** True when this call created the pair (first start); false when it was read back. */
  generated: boolean;
  /** Where the pair is kept. */
  file: string;
}

/**
 * Returns the key pair kept in `<metaDir>/credentials.json`, creating it first if there is
 * none. Safe against two servers starting at once on the same metadata directory: the file
 * is published with link(), which never replaces an existing file, so the loser reads the
 * winner's pair instead of overwriting it.
 */
export async function loadOrCreateKeyPair(
  metaDir: string,
  opts: { randomBytes?: RandomBytes; now?: () => Date; mirrors?: string[] } = {},
): Promise<StoredKeyPair> {
  const file = path.join(metaDir, CREDENTIALS_FILE);
  const mirrors = opts.mirrors ?? [];
  const existing = await readKeyPair(file);
  if (existing) {
    await mirrorKeyPair(existing, mirrors);
    return { ...existing, generated: false, file };
  }
  // A lost metadata directory must not change the keys every client uses: the disks keep copies.
  const restored = await readMirrors(mirrors);
  const pair = restored ?? generateKeyPair(opts.randomBytes);
  const body = JSON.stringify({ ...pair, createdAt: (opts.now?.() ?? new Date()).toISOString() }, null, 2) + '\n';
  const tmp = `${file}.tmp-${process.pid}-${Buffer.from((opts.randomBytes ?? cryptoRandomBytes)(6)).toString('hex')}`;
  try {
    await writeSecretFile(tmp, body, 'wx');
    try {
      await fs.link(tmp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        // Another process got there first: use its pair.
        const theirs = await readKeyPair(file);
        if (theirs) return { ...theirs, generated: false, file };
        throw err;
      }
      // Filesystems without hard links: fall back to rename, which is still atomic.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        await fs.rename(tmp, file);
      } else {
        throw err;
      }
    }
    await syncDir(metaDir);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot store generated root credentials in ${file}: ${(err as Error).message}`);
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
  await mirrorKeyPair(pair, mirrors);
  return { ...pair, generated: !restored, file };
}

async function readMirrors(dirs: string[]): Promise<KeyPair | undefined> {
  for (const dir of dirs) {
    const pair = await readKeyPair(path.join(dir, CREDENTIALS_FILE)).catch(() => undefined);
    if (pair) return pair;
  }
  return undefined;
}

/**
 * Keeps a copy of the generated pair (mode 0600) in each `dirs` entry (`<disk>/meta`), so the
 * pair survives the loss of the metadata directory like the rest of the metadata. Best effort:
 * a disk that cannot take a copy now gets it at a later start.
 */
/**
 * Writes a file holding a secret and syncs it. Created 0600 from the first byte, so the secret
 * is never readable by others, not even briefly; chmod again because the mode given to open()
 * is filtered through the umask.
 */
async function writeSecretFile(file: string, body: string, flag: 'w' | 'wx'): Promise<void> {
  const handle = await fs.open(file, flag, 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.chmod(file, 0o600);
}

async function mirrorKeyPair(pair: KeyPair, dirs: string[]): Promise<void> {
  const body = JSON.stringify({ ...pair, copy: true }, null, 2) + '\n';
  for (const dir of dirs) {
    try {
      const file = path.join(dir, CREDENTIALS_FILE);
      const have = await readKeyPair(file).catch(() => undefined);
      if (have && have.accessKeyId === pair.accessKeyId && have.secretAccessKey === pair.secretAccessKey) continue;
      await fs.mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      const tmp = `${file}.tmp-${process.pid}`;
      await writeSecretFile(tmp, body, 'w');
      await fs.rename(tmp, file);
      await syncDir(dir);
    } catch {
      // Best effort (see above).
    }
  }
}

/** Reads a stored pair; undefined when the file does not exist, ConfigError when it is bad. */
async function readKeyPair(file: string): Promise<KeyPair | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read stored root credentials ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(`stored root credentials ${file} are not valid JSON; fix or delete the file (deleting it generates a new key pair)`);
  }
  const record = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  let pair: KeyPair;
  try {
    pair = { accessKeyId: parseAccessKey(record.accessKeyId), secretAccessKey: parseSecretKey(record.secretAccessKey) };
  } catch (err) {
    throw new ConfigError(`stored root credentials ${file} are damaged: ${(err as Error).message}`);
  }
  // Someone may have copied the file around and loosened its mode; a secret readable by other
  // users is worth tightening rather than refusing to start over.
  try {
    const st = await fs.stat(file);
    if ((st.mode & 0o077) !== 0) await fs.chmod(file, 0o600);
  } catch {
    // Best effort: the pair itself was read fine.
  }
  return pair;
}

/** Makes a rename/link in `dir` durable. Not every platform can fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Ignored: the file content itself was fsynced; at worst a crash right now loses the
    // name and the next start generates a new pair, before any client could have used it.
  } finally {
    await handle?.close();
  }
}
