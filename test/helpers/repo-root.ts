// The repository root, for tests that read files of the checkout (config.example.yaml, deploy/…).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Found by walking up to the package.json that sits next to config.example.yaml: first from
 * this compiled file (dist/test/helpers), then from the current directory, because a private
 * --outDir may live outside the checkout.
 */
export function repoRoot(): string {
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'config.example.yaml'))) return dir;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error('cannot find the repository root (package.json next to config.example.yaml)');
}
