// The audit log (`log.audit_file`, TESSERA_AUDIT_LOG): one JSON line per request that changed
// something (PUT, POST, DELETE, whatever its outcome) and per request refused for its
// credentials (401/403), appended to a file of its own. Reads are not in it; the request log
// on stderr has every request.
//
// The file is opened for append with mode 0600 (it names who did what); SIGHUP reopens it, so
// logrotate can move it away. A write that fails (full disk) is reported once in the main
// log and the audit line is lost: the server keeps serving.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Logger } from './log.js';
import { scrubLine } from './log.js';

type SonicBoom = ReturnType<typeof pino.destination>;

/** Longest backlog of unwritten audit bytes kept in memory; beyond it lines are dropped (and counted). */
const MAX_BACKLOG = 16 * 1024 * 1024;

export class AuditLog {
  private failing = false;
  /** Lines lost to a full backlog or a failing file since the last report. */
  dropped = 0;

  private constructor(private readonly out: SonicBoom, readonly file: string, private readonly log: Logger) {
    out.on('error', (e: Error) => {
      if (!this.failing) log('error', `audit log ${file}: write failed; audit lines are being lost: ${e.message}`);
      this.failing = true;
    });
    out.on('drop', () => {
      this.dropped++;
    });
  }

  static async open(file: string, log: Logger): Promise<AuditLog> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Created 0600 before sonic-boom opens it (it would use the umask's mode).
    const h = await fs.open(file, 'a', 0o600);
    await h.close();
    const out = pino.destination({ dest: file, append: true, sync: false, maxLength: MAX_BACKLOG, mkdir: false });
    await new Promise<void>((resolve, reject) => {
      out.once('ready', resolve);
      out.once('error', reject);
    });
    return new AuditLog(out, file, log);
  }

  write(record: Record<string, unknown>): void {
    try {
      this.out.write(scrubLine(JSON.stringify({ time: new Date().toISOString(), ...record })) + '\n');
    } catch {
      this.dropped++;
    }
  }

  /** After logrotate moved the file: write to a new one under the same name. */
  reopen(): void {
    this.failing = false;
    try {
      this.out.reopen();
    } catch (e) {
      this.log('error', `audit log ${this.file}: cannot reopen: ${(e as Error).message}`);
    }
  }

  /** Writes out what is pending and closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      if ((this.out as unknown as { destroyed?: boolean }).destroyed) return resolve();
      this.out.once('close', () => resolve());
      this.out.once('error', () => resolve());
      this.out.end();
    });
  }
}
