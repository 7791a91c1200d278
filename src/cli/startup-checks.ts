// What start-up found, logged once: each disk's format state and free space, what the
// temporary-file recovery did, and whether several disk directories share one filesystem.
//
// Several "disks" on one device are a valid set-up (a laptop, a test, a single-disk VM), but
// erasure coding then protects against bit rot and a lost or wiped directory, not against the
// drive failing: every shard of every object is on it. That deserves a warning, not a refusal.

import { promises as fs } from 'node:fs';
import type { Config } from '../config/config.js';
import type { Engine } from '../object/engine.js';
import type { Logger } from '../ops/log.js';
import { crc32cIsNative } from '../erasure/bitrot.js';

export interface StartupFindings {
  /** Groups of disk directories (configured paths) that share a filesystem device. */
  sharedDevices: string[][];
}

/** Groups of paths on the same device (st_dev); paths that cannot be read are left out. */
export async function sharedDeviceGroups(dirs: readonly string[]): Promise<string[][]> {
  const byDev = new Map<string, string[]>();
  for (const d of dirs) {
    try {
      const dev = String((await fs.stat(d)).dev);
      byDev.set(dev, [...(byDev.get(dev) ?? []), d]);
    } catch {
      // An offline disk: reported as such elsewhere.
    }
  }
  return [...byDev.values()].filter((g) => g.length > 1);
}

export function sharedDeviceWarning(groups: string[][], diskCount: number): string | undefined {
  if (groups.length === 0) return undefined;
  const all = groups.length === 1 && groups[0]!.length === diskCount;
  const which = all ? 'all disk directories are on one filesystem device' : `disk directories share a filesystem device (${groups.map((g) => g.join(' + ')).join('; ')})`;
  return `${which}: erasure coding protects against bit rot and lost directories there, not against a failed drive; use one directory per physical drive for that`;
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

export async function startupChecks(config: Config, engine: Engine, log: Logger): Promise<StartupFindings> {
  const usage = await engine.usage().catch(() => []);
  config.disks.forEach((dir, i) => {
    const state = engine.offlineDisks.includes(i) ? 'OFFLINE' : engine.replacedDisks.includes(i) ? 'blank, formatted, healing' : 'formatted';
    const u = usage.find((x) => x.index === i);
    const space = u?.freeBytes !== undefined && u.totalBytes !== undefined ? `, ${gib(u.freeBytes)} free of ${gib(u.totalBytes)}` : '';
    log(state === 'OFFLINE' ? 'warn' : 'info', `disk ${i + 1} ${dir}: ${state}${space}`, { disk: dir, state, ...(u?.freeBytes !== undefined ? { freeBytes: u.freeBytes, totalBytes: u.totalBytes } : {}) });
  });
  const r = engine.recovery;
  log('info', `temporary files at start-up: ${r.published} published (committed before a stop), ${r.removed} removed (never committed)`, { published: r.published, removed: r.removed });
  if (!crc32cIsNative()) {
    // An install without a C++ compiler (or with the addon's install script skipped) gets
    // fast-crc32c's JavaScript fallback: correct, but every block checksum costs ~20x more CPU.
    log('warn', 'CRC32C: the native addon (sse4_crc32) is not built, using the JavaScript fallback (about 0.4-0.6 GB/s per core instead of 5-12 GB/s); see "Installing as a dependency" in the README', { crc32c: 'js' });
  }
  const sharedDevices = await sharedDeviceGroups(config.disks);
  const warning = sharedDeviceWarning(sharedDevices, config.disks.length);
  if (warning) log('warn', warning, { groups: sharedDevices });
  return { sharedDevices };
}
