// Opening the set of disks of one deployment: first start formats every disk; later starts
// check that each disk belongs to this deployment and sits in its slot. A blank directory in
// a formatted set is a replaced disk: it is formatted for its slot and reported for healing.

import { promises as fsp } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { isResourceError } from '../util/process-errors.js';
import { Disk, type DiskFormat } from './disk.js';
import { isNoSpace } from './space.js';
import { mkdirPrivate } from '../util/private-files.js';

export class DiskSetError extends Error {}

export interface OpenedDiskSet {
  disks: Disk[];
  deploymentId: string;
  /** Disks that were blank (new or replaced) in an existing deployment: they need healing. */
  replaced: number[];
  /** Disks that could not be used at all (unreadable); the set runs degraded without them. */
  offline: number[];
  /** True on the first start of a deployment (every disk was blank and has just been formatted). */
  created: boolean;
}

export async function openDiskSet(roots: string[], newId: () => string = randomUUID): Promise<OpenedDiskSet> {
  const disks = roots.map((r, i) => new Disk(r, i));
  const formats: (DiskFormat | undefined | Error)[] = [];
  for (const d of disks) {
    try {
      await mkdirPrivate(d.root, true);
      formats.push(await d.readFormat());
    } catch (e) {
      formats.push(e as Error);
    }
  }

  const known = formats.filter((f): f is DiskFormat => !!f && !(f instanceof Error));
  const offline: number[] = [];
  const replaced: number[] = [];

  if (known.length === 0) {
    // First start: everything blank (or unreadable, which we refuse to format around).
    const bad = formats.findIndex((f) => f instanceof Error);
    if (bad >= 0) throw new DiskSetError(`disk ${roots[bad]} is unreadable: ${(formats[bad] as Error).message}`);
    const deploymentId = newId();
    for (const d of disks) {
      await d.writeFormat({ format: 'tessera-disk', version: 1, deploymentId, diskId: newId(), index: d.index, count: disks.length });
    }
    return { disks, deploymentId, replaced, offline, created: true };
  }

  const deploymentId = known[0].deploymentId;
  for (const f of known) {
    if (f.deploymentId !== deploymentId) {
      const i = formats.indexOf(f);
      throw new DiskSetError(`disk ${roots[i]} belongs to another deployment (${f.deploymentId}, expected ${deploymentId})`);
    }
  }
  for (let i = 0; i < disks.length; i++) {
    const f = formats[i];
    const d = disks[i];
    if (f instanceof Error) {
      d.online = false;
      offline.push(i);
      continue;
    }
    if (f === undefined) {
      await d.writeFormat({ format: 'tessera-disk', version: 1, deploymentId, diskId: newId(), index: i, count: disks.length });
      replaced.push(i);
      continue;
    }
    if (f.count !== disks.length) {
      throw new DiskSetError(`disk ${roots[i]} was formatted for a set of ${f.count} disks, but ${disks.length} are configured`);
    }
    if (f.index !== i) {
      throw new DiskSetError(`disk ${roots[i]} is in slot ${i + 1} but was formatted for slot ${f.index + 1}; restore the original disk order`);
    }
    d.format = f;
    await d.ensureDirs();
    await d.makeShardDirsPrivate();
  }
  return { disks, deploymentId, replaced, offline, created: false };
}

/**
 * Checks a running disk: if its directory was wiped (format file gone), it is a replacement
 * and gets a fresh format for the same slot. Returns 'ok', 'reformatted' or 'offline', or
 * 'unknown' when the process itself is out of descriptors or memory, or the filesystem is full
 * (ENOSPC re-creating tmp/): that says nothing about the disk's health, so its state is left as
 * it was: its shards stay readable, and the next check, once there is room, re-creates tmp/.
 */
export async function recheckDisk(d: Disk, deploymentId: string, count: number, newId: () => string = randomUUID): Promise<'ok' | 'reformatted' | 'offline' | 'unknown'> {
  try {
    const f = await d.readFormat();
    if (f && f.deploymentId === deploymentId && f.index === d.index) {
      d.format = f;
      await d.ensureDirs();
      d.online = true;
      return 'ok';
    }
    if (f) {
      d.online = false;
      return 'offline';
    }
    await d.writeFormat({ format: 'tessera-disk', version: 1, deploymentId, diskId: newId(), index: d.index, count });
    d.online = true;
    return 'reformatted';
  } catch (e) {
    if (isResourceError(e) || isNoSpace(e)) return 'unknown';
    d.online = false;
    return 'offline';
  }
}
