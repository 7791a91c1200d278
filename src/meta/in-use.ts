// Is the metadata store open in another process? LevelDB holds an exclusive lock on its LOCK
// file while open, so a second server on the same directory used to fail deep inside start-up
// with "Database failed to open" (and could take that for a damaged index). Trying the lock
// first, before anything else is opened, turns that into one clear line.

import { Level } from 'level';

/** The metadata directory is open in another Tessera process. */
export class MetaInUseError extends Error {}

export async function assertMetaNotInUse(metaDir: string, leveldbDir: string): Promise<void> {
  const db = new Level(leveldbDir, { createIfMissing: false });
  try {
    await db.open();
  } catch (e) {
    if (isLocked(e)) throw new MetaInUseError(`metadata directory ${metaDir} is in use by another Tessera process (stop it first, or give this one its own meta_dir)`);
    // Missing (a new server) or damaged: the engine's own start-up deals with that.
    return;
  }
  await db.close();
}

function isLocked(e: unknown): boolean {
  for (let c: unknown = e; c && typeof c === 'object'; c = (c as { cause?: unknown }).cause) {
    const err = c as { code?: string; message?: string };
    if (err.code === 'LEVEL_LOCKED' || /\block\b.*(unavailable|held)|Resource temporarily unavailable/i.test(err.message ?? '')) return true;
  }
  return false;
}
