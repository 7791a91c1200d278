// Modes for everything Tessera keeps at rest. Object data and metadata belong to the server's
// user alone: directories 0700, files 0600, whatever the process umask says (the umask is not
// changed, so nothing else the process creates is affected). Modes given to mkdir()/open()
// only apply to what is created; directories that already exist are tightened with chmod.

import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** mkdir with mode 0700 (parents too with `recursive`); an existing directory is fine and is left as it is. */
export async function mkdirPrivate(dir: string, recursive = false): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: PRIVATE_DIR_MODE, recursive });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/**
 * Removes group and other permissions from a path (0700 for a directory, 0600 for a file)
 * when it has any. Returns true when the mode was changed. Throws when the path cannot be
 * examined or changed (not our file, read-only file system): callers decide how loud to be.
 */
export async function makePrivate(p: string): Promise<boolean> {
  const st = await fsp.stat(p);
  if ((st.mode & 0o077) === 0) return false;
  await fsp.chmod(p, st.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE);
  return true;
}

/** makePrivate that never throws; for tightening on the way, where a miss is reported elsewhere. */
export async function makePrivateQuietly(p: string): Promise<void> {
  await makePrivate(p).catch(() => undefined);
}

/** Tightens a directory and the entries directly inside it (not deeper). Best effort. */
export async function makePrivateWithEntries(dir: string): Promise<void> {
  await makePrivateQuietly(dir);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) await makePrivateQuietly(path.join(dir, name));
}
