// Validation of bucket names and object keys, with S3's error codes.
import { S3Error } from '../errors.js';

/** S3's general purpose bucket naming rules. */
export function validateBucketName(name: string): void {
  const bad = (why: string) => new S3Error('InvalidBucketName', `The specified bucket is not valid. ${why}`, { BucketName: name });
  if (name.length < 3 || name.length > 63) throw bad('Bucket names must be between 3 and 63 characters long.');
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) throw bad('Bucket names can consist only of lowercase letters, numbers, dots and hyphens, and must begin and end with a letter or number.');
  if (name.includes('..')) throw bad('Bucket names must not contain two adjacent periods.');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) throw bad('Bucket names must not be formatted as an IP address.');
  if (name.startsWith('xn--') || name.startsWith('sthree-') || name.startsWith('amzn-s3-demo-')) throw bad('Bucket names must not start with a reserved prefix.');
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3') || name.endsWith('.mrap') || name.endsWith('--x-s3') || name.endsWith('--table-s3')) throw bad('Bucket names must not end with a reserved suffix.');
}

/** Object keys: any UTF-8 up to 1024 bytes. NUL cannot be carried by S3's XML, so we refuse it. */
export function validateKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > 1024) throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: '1024', Size: String(Buffer.byteLength(key, 'utf8')) });
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object key contains a character that cannot be stored.', { ArgumentName: 'key' });
}
