// Small real filesystems for tests of full disks: a tmpfs of a given size mounted on a
// directory (needs root; a failing mount throws, so such a test fails rather than passing
// without having run), and a file that takes all the space left on one.

import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';

export function mountTmpfs(dir: string, sizeMiB: number): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
}

/** Unmounts; lazily when the filesystem is still busy (a test that failed half-way). */
export function unmountTmpfs(dir: string, lazyIfBusy = false): void {
  try {
    execFileSync('umount', [dir]);
  } catch (e) {
    if (!lazyIfBusy) throw e;
    execFileSync('umount', ['-l', dir]);
  }
}

/** Writes `file` in blocks of `block` bytes until the filesystem is full (ENOSPC); returns its size. */
export async function fillUntilFull(file: string, block = 1024 * 1024): Promise<number> {
  const fh = await open(file, 'w');
  const zeros = Buffer.alloc(block);
  let size = 0;
  try {
    for (;;) size += (await fh.write(zeros)).bytesWritten;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await fh.close();
  }
  return size;
}
