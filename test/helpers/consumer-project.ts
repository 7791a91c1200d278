// An empty project outside the repository that depends on the packed Tessera tarball, for
// install tests. It installs offline, from the npm cache alone: `npm ci` in the repository
// fetched every package tarball into the cache, but not the registry's package documents that
// `npm install <name>` needs to pick versions. So the project gets a lockfile, cut from the
// repository's own: the packages its dependencies need, at the versions the repository was
// tested with, and the tarball itself. `npm ci --offline` then reads only the cache.
//
// The closure is computed from the tarball's package.json (what a user's install sees), so a
// runtime package missing from "dependencies" is missing from the project too.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [k: string]: unknown;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  requires: boolean;
  packages: Record<string, LockEntry>;
}

export interface ConsumerProjectOptions {
  /** The project directory (exists, empty). */
  dir: string;
  /** The repository root, whose package-lock.json supplies versions and integrities. */
  repo: string;
  /** The packed tarball (absolute path). */
  tarball: string;
  /** The tarball's package.json. */
  manifest: { name: string; version: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string>; license?: string };
  /** Further dependencies of the project (names and exact versions found in the repository's lockfile). */
  extra: Record<string, string>;
}

/** Writes package.json and package-lock.json for the project. */
export async function writeConsumerProject(o: ConsumerProjectOptions): Promise<void> {
  const repoLock = JSON.parse(await readFile(path.join(o.repo, 'package-lock.json'), 'utf8')) as Lock;
  const pkgs = repoLock.packages;
  const tarballName = path.relative(o.dir, o.tarball);
  const spec = `file:${tarballName}`;
  const out: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { [o.manifest.name]: spec, ...o.extra } },
    [`node_modules/${o.manifest.name}`]: {
      version: o.manifest.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(await readFile(o.tarball)).digest('base64')}`,
      ...(o.manifest.license ? { license: o.manifest.license } : {}),
      ...(o.manifest.dependencies ? { dependencies: o.manifest.dependencies } : {}),
      ...(o.manifest.optionalDependencies ? { optionalDependencies: o.manifest.optionalDependencies } : {}),
      ...(o.manifest.bin ? { bin: o.manifest.bin } : {}),
      ...(o.manifest.engines ? { engines: o.manifest.engines } : {}),
    },
  };

  /** Node's lookup: the nearest node_modules/<name> from `from` up to the root. */
  const locate = (from: string, name: string): string | undefined => {
    for (let dir = from; ; ) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (pkgs[candidate]) return candidate;
      if (!dir) return undefined;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
  };
  const visit = (from: string, deps: Record<string, string>, optional: boolean): void => {
    for (const name of Object.keys(deps)) {
      const at = locate(from, name);
      if (at === undefined) {
        if (optional) continue;
        throw new Error(`consumer project: ${name} (needed by ${from || 'the project'}) is not in the repository's lockfile`);
      }
      if (out[at]) continue;
      const entry: LockEntry = { ...pkgs[at]! };
      // In the repository these may be dev-only; here they are what the project runs on.
      delete entry.dev;
      delete entry.devOptional;
      out[at] = entry;
      visit(at, entry.dependencies ?? {}, false);
      visit(at, entry.optionalDependencies ?? {}, true);
      const peers = entry.peerDependencies ?? {};
      visit(at, Object.fromEntries(Object.entries(peers).filter(([n]) => !entry.peerDependenciesMeta?.[n]?.optional)), true);
    }
  };
  // Tessera's own dependencies resolve from its directory first (nothing nests there in a
  // fresh install, so they land at the top, as in the repository).
  visit('', o.manifest.dependencies ?? {}, false);
  visit('', o.manifest.optionalDependencies ?? {}, true);
  visit('', o.extra, false);

  const lock: Lock = { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages: out };
  await writeFile(path.join(o.dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [o.manifest.name]: spec, ...o.extra } }, null, 2) + '\n');
  await writeFile(path.join(o.dir, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
}
