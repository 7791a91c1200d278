// Child process for the crash test: writes, overwrites and deletes objects in a loop until it
// is killed. Before each operation it prints "start <op> <key> <gen> <md5>", after the engine
// acknowledged it "ack <op> <key> <gen> <md5>". Writes to a pipe are synchronous on Linux, so
// every printed ack really happened before the kill.

import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { openEngine } from '../../src/object/engine.js';
import { patternBuffer } from './data.js';

const [root, seedArg] = process.argv.slice(2);
const disks = [1, 2, 3, 4].map((i) => `${root}/disk${i}`);
const SIZES = [0, 700, 3000, 70_000, 300_000, 1_100_000];

function say(line: string): void {
  process.stdout.write(line + '\n');
}

async function main(): Promise<void> {
  const e = await openEngine({ disks, metaDir: `${root}/meta`, parity: 2, blockSize: 64 * 1024, inlineThreshold: 4096 });
  try {
    await e.store.createBucket('crash', 'us-east-1');
  } catch {
    /* exists from an earlier round */
  }
  say('ready');
  let seed = Number(seedArg);
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const gens = new Map<string, number>();
  const worker = async (w: number) => {
    for (;;) {
      const key = `k${w}-${Math.floor(rnd() * 4)}`;
      const gen = (gens.get(key) ?? 0) + 1 + Math.floor(rnd() * 1000) * 1000 + Number(seedArg) * 1_000_000;
      gens.set(key, gen);
      if (rnd() < 0.15) {
        say(`start del ${key} ${gen} -`);
        await e.store.deleteObject('crash', key);
        say(`ack del ${key} ${gen} -`);
      } else {
        const size = SIZES[Math.floor(rnd() * SIZES.length)];
        const data = patternBuffer(size, gen);
        const md5 = createHash('md5').update(data).digest('hex');
        say(`start put ${key} ${gen} ${md5}`);
        await e.store.putObject('crash', key, Readable.from([data]), { expectedSize: size });
        say(`ack put ${key} ${gen} ${md5}`);
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(1);
});
