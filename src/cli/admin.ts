// `tessera admin …`: administration. The `meta` commands work on the configured disks and
// metadata directory directly, with the server stopped (LevelDB admits one process):
//
//   tessera admin meta verify  [--config PATH] [--json]   compare the index with the disks
//   tessera admin meta rebuild [--config PATH] [--json]   rebuild the index from the disks
//
// Both read the same configuration as `tessera server` (--config, TESSERA_CONFIG, TESSERA_*).
// verify exits 0 when index and disks agree, 1 when they do not.

import path from 'node:path';
import { loadConfig } from '../config/config.js';
import { openDiskSet } from '../disk/disk-set.js';
import { writeQuorum } from '../erasure/quorum.js';
import { formatDigest } from '../meta/digest.js';
import { metaWriteQuorum } from '../meta/journal/quorum-journal.js';
import { openMetaIndex } from '../object/meta-open.js';
import { verifyMeta } from '../object/meta-verify.js';
import { assertMetaNotInUse } from '../meta/in-use.js';
import { CliError, REMOTE_USAGE, runRemote, VALUE_OPTIONS } from './admin-remote.js';

const USAGE = `usage: tessera admin meta verify|rebuild [--config PATH] [--json]
  verify    compare the metadata index with the journal and checkpoint on the disks (server stopped)
  rebuild   rebuild the metadata index from the disks (server stopped); the old index is kept aside
`;

export async function runAdmin(argv: string[]): Promise<void> {
  // Help, at any depth (`admin meta rebuild --help`), never runs the command.
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + REMOTE_USAGE);
    return;
  }
  const json = argv.includes('--json');
  const words = positional(argv);
  if (words[0] === 'meta' && (words[1] === 'verify' || words[1] === 'rebuild')) {
    process.exitCode = await runMeta(words[1], argv, json);
    return;
  }
  if (['user', 'key', 'policy', 'bucket', 'info', 'heal', 'scan'].includes(words[0] ?? '')) {
    try {
      const code = await runRemote(argv);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      process.stderr.write(`tessera admin: ${e instanceof CliError ? e.message : (e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
    return;
  }
  process.stderr.write(words.length ? `tessera admin: unknown command "${words.join(' ')}"\n${USAGE}${REMOTE_USAGE}` : USAGE + REMOTE_USAGE);
  process.exitCode = 2;
}

/** Words that are not options or option values. */
function positional(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || VALUE_OPTIONS.includes(a)) i++;
    else if (!a.startsWith('--')) out.push(a);
  }
  return out;
}

async function runMeta(cmd: 'verify' | 'rebuild', argv: string[], json: boolean): Promise<number> {
  const config = await loadConfig({ argv });
  // Never next to a running server: rebuilding under it would move its open index aside.
  await assertMetaNotInUse(config.metaDir, path.join(config.metaDir, 'leveldb'));
  const say = (msg: string) => {
    if (!json) process.stderr.write(msg + '\n');
  };
  const set = await openDiskSet(config.disks);
  const dir = path.join(config.metaDir, 'leveldb');
  const k = config.disks.length - config.parity;
  if (cmd === 'verify') {
    const r = await verifyMeta({ disks: set.disks, deploymentId: set.deploymentId, dir, log: say });
    if (json) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      const lines = [
        `disks:   ${r.disks.read} journal(s) read, ${r.disks.records} record(s), ${r.disks.damagedRecords} damaged, head ${r.disks.head}`,
        `         checkpoint: ${r.disks.checkpoint ? `at ${r.disks.checkpoint.at}, ${r.disks.checkpoint.records} records, ${r.disks.checkpoint.bytes} bytes` : 'none'}`,
        `index:   at ${r.index.applied ?? '?'}, ${r.index.readDigest ? formatDigest(r.index.readDigest) : 'unreadable'}`,
        `rebuilt: ${r.rebuilt ? `${formatDigest(r.rebuilt.digest)} in ${r.rebuilt.ms} ms` : 'not possible'}`,
        ...r.differences.map((d) => `  ${d.index.padEnd(9)} ${d.key}`),
        r.ok ? 'OK: the metadata index matches the disks' : `PROBLEMS:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    return r.ok ? 0 : 1;
  }
  const started = Date.now();
  const index = await openMetaIndex({
    disks: set.disks,
    k,
    m: config.parity,
    blockSize: config.blockSize,
    dir,
    deploymentId: set.deploymentId,
    quorum: metaWriteQuorum(config.disks.length, writeQuorum(k, config.parity)),
    forceRebuild: true,
    replacedDisks: set.replaced,
    newDeployment: set.created,
    log: say,
  });
  const r = { ...index.report, digest: index.meta.digest, ms: Date.now() - started };
  await index.close();
  if (json) process.stdout.write(JSON.stringify(r) + '\n');
  else process.stdout.write(`rebuilt the metadata index from the disks in ${r.ms} ms: ${r.loaded} checkpoint record(s), ${r.replayed} journal record(s), ${formatDigest(r.digest)}${r.movedTo ? `; the old index is in ${r.movedTo}` : ''}\n`);
  return 0;
}
