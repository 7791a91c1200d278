// Encrypts the secret keys of users before they reach the metadata store, so a copy of the
// metadata directory (or of the journal on the disks) does not hand out working keys. The
// encryption key is derived from the root secret, which is kept outside the metadata store
// (config file or environment): back up the root secret with the data.
//
// AES-256-GCM with a random 96-bit nonce per secret; the access key id is bound in as
// additional data, so a ciphertext copied onto another key's record does not decrypt.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SealedSecret {
  /** base64 nonce, ciphertext and tag */
  iv: string;
  data: string;
  tag: string;
}

export class SecretBox {
  private readonly key: Buffer;

  constructor(rootSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(rootSecret, 'utf8'), 'tessera', 'user secret keys v1', 32));
  }

  seal(accessKeyId: string, secret: string): SealedSecret {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(accessKeyId, 'utf8'));
    const data = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
    return { iv: iv.toString('base64'), data: data.toString('base64'), tag: c.getAuthTag().toString('base64') };
  }

  /** The secret, or undefined when it was sealed under another root secret (or damaged). */
  open(accessKeyId: string, s: SealedSecret): string | undefined {
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(s.iv, 'base64'));
      d.setAAD(Buffer.from(accessKeyId, 'utf8'));
      d.setAuthTag(Buffer.from(s.tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
