// When the start-up and SIGHUP logs warn about the certificate's validity period.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateWarning, type CertificateInfo } from '../../src/http/server.js';

const now = new Date('2026-06-01T12:00:00Z');
const day = 24 * 60 * 60 * 1000;
const cert = (fromDays: number, toDays: number): CertificateInfo => ({
  subject: 'CN=s3',
  altNames: 'DNS:s3',
  validFrom: new Date(now.getTime() + fromDays * day),
  validTo: new Date(now.getTime() + toDays * day),
});

test('a certificate valid for weeks more gets no warning', { timeout: 5000 }, () => {
  assert.equal(certificateWarning(cert(-30, 60), now), undefined);
  assert.equal(certificateWarning(cert(-30, 14.5), now), undefined);
});

test('expired, not yet valid, and expiring within 14 days are each named', { timeout: 5000 }, () => {
  assert.match(certificateWarning(cert(-30, -1), now)!, /EXPIRED on 2026-05-31/);
  assert.match(certificateWarning(cert(2, 90), now)!, /not valid before 2026-06-03/);
  assert.match(certificateWarning(cert(-30, 3.5), now)!, /expires in 3 days .*send SIGHUP/);
  assert.match(certificateWarning(cert(-30, 1.2), now)!, /expires in 1 day \(/);
});
