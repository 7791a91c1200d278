// Serialises read-modify-write of one key inside the process (the commit step of a PUT,
// DELETE or multipart Complete), so two writers never both think they replaced the same
// previous version. Locks are short: they cover metadata reads and one batch, not uploads.

export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(name, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}
