import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import xml2js from 'xml2js';
import { S3Error } from '../../src/errors.js';
import type { BucketRecord, MultipartUpload, ObjectVersion, UploadPart } from '../../src/meta/types.js';
import {
  MAX_XML_BODY,
  S3_XMLNS,
  XML_DECLARATION,
  completeMultipartUploadXml,
  copyObjectResultXml,
  copyPartResultXml,
  deleteResultXml,
  errorXml,
  escapeXml,
  initiateMultipartUploadXml,
  isoTime,
  listBucketsXml,
  listMultipartUploadsXml,
  listObjectsV1Xml,
  listObjectsV2Xml,
  listPartsXml,
  listVersionsXml,
  locationXml,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDelete,
  parseTagging,
  parseTaggingHeader,
  parseVersioningConfiguration,
  quoteEtag,
  s3UrlEncode,
  taggingXml,
  versioningXml,
} from '../../src/s3/xml.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const OWNER = { id: 'owner-id-1', displayName: 'tessera' };
const T = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const T_ISO = '2024-01-02T03:04:05.000Z';

function obj(key: string, extra: Partial<ObjectVersion> = {}): ObjectVersion {
  return {
    bucket: 'b',
    key,
    versionId: 'null',
    sortKey: '0',
    isDeleteMarker: false,
    lastModified: T,
    size: 5,
    etag: '5d41402abc4b2a76b9719d911017c592',
    headers: {},
    userMeta: {},
    ...extra,
  };
}

/** Parses with plain xml2js (any standard parser would do) to show the output is well formed. */
async function parse(xml: string): Promise<any> {
  return xml2js.parseStringPromise(xml, { explicitArray: false, trim: false, normalize: false, emptyTag: '' });
}

/** Names of the root's child elements in document order. */
function childOrder(xml: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const m of xml.replace(XML_DECLARATION, '').matchAll(/<(\/?)([A-Za-z][\w]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (close) { depth--; continue; }
    if (depth === 1) names.push(name!);
    if (!selfClose) depth++;
  }
  return names;
}

/** Distinct root child names in first-seen order (collapses repeated Contents etc.). */
function distinctOrder(xml: string): string[] {
  return [...new Set(childOrder(xml))];
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, message?: string): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (e: unknown) => {
      assert.ok(e instanceof S3Error, `expected S3Error, got ${String(e)}`);
      assert.equal(e.code, code);
      if (message !== undefined) assert.equal(e.message, message);
      return true;
    },
  );
}

function xmlBody(root: string, inner: string, ns = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?><${root}${ns ? ` xmlns="${S3_XMLNS}"` : ''}>${inner}</${root}>`;
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ---------------------------------------------------------------------------------------------

describe('escaping', () => {
  test('escapes the five XML specials', () => {
    assert.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
    assert.equal(escapeXml('plain/key.txt'), 'plain/key.txt');
  });

  test('characters XML 1.0 cannot hold literally become character references', () => {
    assert.equal(escapeXml('a\u0001b\u001Fc'), 'a&#x1;b&#x1F;c');
    assert.equal(escapeXml('\r'), '&#xD;');
    assert.equal(escapeXml('\uFFFE'), '&#xFFFE;');
    // TAB and LF are allowed as they are.
    assert.equal(escapeXml('a\tb\nc'), 'a\tb\nc');
  });

  test('unicode passes through; a lone surrogate becomes U+FFFD', () => {
    assert.equal(escapeXml('日本語/😀'), '日本語/😀');
    assert.equal(escapeXml('a\uD800b'), 'a\uFFFDb');
    assert.equal(escapeXml('a\uDC00'), 'a\uFFFD');
  });

  test('keys with specials, unicode and CR round-trip through a parser', async () => {
    const keys = [`a&b<c>"d'e`, '日本語/ファイル 😀.txt', 'cr\rlf\n', ']]>', '&amp;'];
    const xml = listObjectsV2Xml({ name: 'b', maxKeys: 1000, isTruncated: false, contents: keys.map((k) => obj(k)), commonPrefixes: [] });
    const r = await parse(xml);
    assert.deepEqual(r.ListBucketResult.Contents.map((c: any) => c.Key), keys);
  });
});

describe('s3UrlEncode', () => {
  test('matches what S3 sends for encoding-type=url', () => {
    assert.equal(s3UrlEncode('a b.txt'), 'a%20b.txt');
    assert.equal(s3UrlEncode('test_file(3).png'), 'test_file%283%29.png');
    assert.equal(s3UrlEncode("~x-y_z.!*'"), '~x-y_z.%21%2A%27');
    assert.equal(s3UrlEncode('line\nbreak'), 'line%0Abreak');
    assert.equal(s3UrlEncode('a+b.txt'), 'a%2Bb.txt');
    assert.equal(s3UrlEncode('100%.csv'), '100%25.csv');
    assert.equal(s3UrlEncode('한글/x.txt'), '%ED%95%9C%EA%B8%80/x.txt');
    assert.equal(s3UrlEncode('run books/x.txt'), 'run%20books/x.txt');
  });

  test('keeps A-Z a-z 0-9 . - _ ~ /, encodes the rest', () => {
    assert.equal(s3UrlEncode('Az09.-_~/'), 'Az09.-_~/');
    assert.equal(s3UrlEncode("*!'()&=?# +\u0001"), '%2A%21%27%28%29%26%3D%3F%23%20%2B%01');
    assert.equal(s3UrlEncode(''), '');
  });

  test('a lone surrogate does not throw', () => {
    assert.equal(s3UrlEncode('a\uD800'), 'a%EF%BF%BD');
  });

  test('decoding as a form value (unquote_plus) gives the key back', () => {
    for (const k of ['a b+c', 'ü/ö ä', '😀%20', "x'y\"z<&>", '\u0001\r\n']) {
      assert.equal(decodeURIComponent(s3UrlEncode(k).replace(/\+/g, ' ')), k);
    }
  });
});

describe('time and etag', () => {
  test('isoTime: ISO 8601 with milliseconds, at second precision', () => {
    assert.equal(isoTime(T), T_ISO);
    assert.equal(isoTime(new Date(T)), T_ISO);
  });

  test('quoteEtag quotes once', () => {
    assert.equal(quoteEtag('abc'), '"abc"');
    assert.equal(quoteEtag('"abc"'), '"abc"');
    assert.equal(quoteEtag('abc-2'), '"abc-2"');
  });
});

describe('errorXml', () => {
  test('Code, Message, fields, Resource, RequestId, HostId; no namespace', async () => {
    const err = new S3Error('NoSuchKey', undefined, { Key: 'a&b', BucketName: 'bkt' });
    const xml = errorXml(err, '/bkt/a&b', 'REQ1', 'HOST1');
    assert.ok(xml.startsWith(XML_DECLARATION + '<Error>'));
    assert.ok(!xml.includes('xmlns'));
    assert.deepEqual(childOrder(xml), ['Code', 'Message', 'Key', 'BucketName', 'Resource', 'RequestId', 'HostId']);
    const r = await parse(xml);
    assert.equal(r.Error.Code, 'NoSuchKey');
    assert.equal(r.Error.Message, 'The specified key does not exist.');
    assert.equal(r.Error.Key, 'a&b');
    assert.equal(r.Error.Resource, '/bkt/a&b');
    assert.equal(r.Error.RequestId, 'REQ1');
    assert.equal(r.Error.HostId, 'HOST1');
  });

  test('Resource is left out when empty; reserved and invalid field names are skipped', () => {
    const err = new S3Error('AccessDenied', undefined, { RequestId: 'x', 'bad name': 'y', Code: 'z' });
    const xml = errorXml(err, '', 'R', 'H');
    assert.deepEqual(childOrder(xml), ['Code', 'Message', 'RequestId', 'HostId']);
    assert.ok(xml.includes('<RequestId>R</RequestId>'));
  });
});

describe('bucket-level builders', () => {
  test('listBucketsXml', async () => {
    const buckets: BucketRecord[] = [
      { name: 'alpha', created: T, region: 'us-east-1', versioning: 'Unversioned' },
      { name: 'beta', created: T + 1000, region: 'eu-west-1', versioning: 'Enabled' },
    ];
    const xml = listBucketsXml(buckets, OWNER);
    assert.ok(xml.startsWith(`${XML_DECLARATION}<ListAllMyBucketsResult xmlns="${S3_XMLNS}">`));
    assert.deepEqual(childOrder(xml), ['Owner', 'Buckets']);
    assert.ok(xml.includes('<Owner><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Owner>'));
    assert.ok(xml.includes(`<Bucket><Name>alpha</Name><CreationDate>${T_ISO}</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket>`));
    const r = await parse(xml);
    assert.equal(r.ListAllMyBucketsResult.Buckets.Bucket[1].BucketRegion, 'eu-west-1');
    const empty = listBucketsXml([], OWNER, { continuationToken: 'tok', prefix: 'p' });
    assert.deepEqual(childOrder(empty), ['Owner', 'Buckets', 'ContinuationToken', 'Prefix']);
  });

  test('locationXml: us-east-1 is an empty element', () => {
    assert.equal(locationXml('us-east-1'), `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}"/>`);
    assert.equal(locationXml(''), `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}"/>`);
    assert.equal(locationXml('eu-west-1'), `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}">eu-west-1</LocationConstraint>`);
  });

  test('versioningXml', async () => {
    assert.equal(versioningXml('Unversioned'), `${XML_DECLARATION}<VersioningConfiguration xmlns="${S3_XMLNS}"/>`);
    assert.equal(versioningXml('Enabled'), `${XML_DECLARATION}<VersioningConfiguration xmlns="${S3_XMLNS}"><Status>Enabled</Status></VersioningConfiguration>`);
    assert.ok(versioningXml('Suspended').includes('<Status>Suspended</Status>'));
    assert.ok(versioningXml('Enabled', 'Disabled').includes('<Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>'));
    // What we build, we parse.
    assert.deepEqual(await parseVersioningConfiguration(versioningXml('Suspended')), { status: 'Suspended' });
    assert.deepEqual(await parseVersioningConfiguration(versioningXml('Unversioned')), {});
  });

  test('taggingXml round-trips through parseTagging', async () => {
    const tags = { 'a&b': '<v>', 'sp ace': '', '日本': 'ü 😀' };
    const xml = taggingXml(tags);
    assert.ok(xml.includes('<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a&amp;b</Key><Value>&lt;v&gt;</Value></Tag>'));
    assert.deepEqual(await parseTagging(xml), tags);
    assert.equal(taggingXml({}), `${XML_DECLARATION}<Tagging xmlns="${S3_XMLNS}"><TagSet></TagSet></Tagging>`);
  });
});

describe('listObjectsV1Xml', () => {
  test('shape, order, owner, quoted ETag, checksum, storage class', async () => {
    const xml = listObjectsV1Xml({
      name: 'bkt',
      prefix: 'p/',
      delimiter: '/',
      maxKeys: 2,
      marker: 'p/a',
      nextMarker: 'p/z/',
      isTruncated: true,
      contents: [obj('p/b', { checksum: { algorithm: 'CRC32', value: 'AAAAAA==', type: 'FULL_OBJECT' } }), obj('p/c', { storageClass: 'REDUCED_REDUNDANCY', etag: 'abc-3' })],
      commonPrefixes: ['p/z/'],
      owner: OWNER,
    });
    assert.deepEqual(distinctOrder(xml), ['Name', 'Prefix', 'Marker', 'NextMarker', 'MaxKeys', 'Delimiter', 'IsTruncated', 'Contents', 'CommonPrefixes']);
    assert.ok(xml.includes(
      `<Contents><Key>p/b</Key><LastModified>${T_ISO}</LastModified><ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag>` +
        '<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>5</Size>' +
        '<Owner><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>',
    ));
    const r = (await parse(xml)).ListBucketResult;
    assert.equal(r.IsTruncated, 'true');
    assert.equal(r.MaxKeys, '2');
    assert.equal(r.Contents[1].ETag, '"abc-3"');
    assert.equal(r.Contents[1].StorageClass, 'REDUCED_REDUNDANCY');
    assert.equal(r.Contents[1].ChecksumAlgorithm, undefined);
    assert.equal(r.CommonPrefixes.Prefix, 'p/z/');
  });

  test('empty listing: Prefix and Marker present and empty, no Delimiter, no NextMarker', () => {
    const xml = listObjectsV1Xml({ name: 'bkt', maxKeys: 1000, isTruncated: false, contents: [], commonPrefixes: [], owner: OWNER, delimiter: '' });
    assert.equal(
      xml,
      `${XML_DECLARATION}<ListBucketResult xmlns="${S3_XMLNS}"><Name>bkt</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
    );
  });

  test('encoding-type=url encodes Marker, NextMarker, Delimiter, Key and CommonPrefixes (v1 echoes Prefix as sent)', async () => {
    const xml = listObjectsV1Xml({
      name: 'bkt',
      prefix: 'a b/',
      delimiter: ' ',
      maxKeys: 10,
      marker: 'a b/ü',
      nextMarker: 'a b/+',
      isTruncated: true,
      encodingType: 'url',
      contents: [obj('a b/x&y')],
      commonPrefixes: ['a b/c '],
      owner: OWNER,
    });
    const r = (await parse(xml)).ListBucketResult;
    assert.equal(r.Prefix, 'a b/');
    assert.equal(r.Delimiter, '%20');
    assert.equal(r.Marker, 'a%20b/%C3%BC');
    assert.equal(r.NextMarker, 'a%20b/%2B');
    assert.equal(r.EncodingType, 'url');
    assert.equal(r.Contents.Key, 'a%20b/x%26y');
    assert.equal(r.CommonPrefixes.Prefix, 'a%20b/c%20');
    assert.deepEqual(distinctOrder(xml).slice(0, 8), ['Name', 'Prefix', 'Marker', 'NextMarker', 'MaxKeys', 'Delimiter', 'EncodingType', 'IsTruncated']);
  });
});

describe('listObjectsV2Xml', () => {
  test('shape and order; no Owner without fetchOwner; KeyCount counts prefixes too', async () => {
    const xml = listObjectsV2Xml({
      name: 'bkt',
      prefix: '',
      delimiter: '/',
      maxKeys: 3,
      continuationToken: 'tok+/=',
      nextContinuationToken: 'next+/=',
      startAfter: 'a b',
      isTruncated: true,
      encodingType: 'url',
      contents: [obj('k 1'), obj('k2')],
      commonPrefixes: ['d/'],
      owner: OWNER,
    });
    assert.deepEqual(distinctOrder(xml), [
      'Name', 'Prefix', 'ContinuationToken', 'NextContinuationToken', 'StartAfter', 'KeyCount', 'MaxKeys', 'Delimiter', 'EncodingType', 'IsTruncated', 'Contents', 'CommonPrefixes',
    ]);
    assert.ok(!xml.includes('<Owner>'));
    const r = (await parse(xml)).ListBucketResult;
    assert.equal(r.KeyCount, '3');
    // Tokens are opaque: never URL-encoded. StartAfter is.
    assert.equal(r.ContinuationToken, 'tok+/=');
    assert.equal(r.NextContinuationToken, 'next+/=');
    assert.equal(r.StartAfter, 'a%20b');
    assert.equal(r.Delimiter, '/');
    assert.equal(r.Contents[0].Key, 'k%201');
  });

  test('Owner with fetchOwner; explicit keyCount; optional elements absent', async () => {
    const xml = listObjectsV2Xml({ name: 'bkt', maxKeys: 1000, isTruncated: false, contents: [obj('k')], commonPrefixes: [], fetchOwner: true, owner: OWNER, keyCount: 7 });
    assert.deepEqual(distinctOrder(xml), ['Name', 'Prefix', 'KeyCount', 'MaxKeys', 'IsTruncated', 'Contents']);
    const r = (await parse(xml)).ListBucketResult;
    assert.equal(r.KeyCount, '7');
    assert.deepEqual(r.Contents.Owner, { ID: 'owner-id-1', DisplayName: 'tessera' });
    assert.equal(r.Contents.StorageClass, 'STANDARD');
    assert.equal(r.Contents.LastModified, T_ISO);
  });
});

describe('listVersionsXml', () => {
  test('versions and delete markers interleaved in the given order', async () => {
    const xml = listVersionsXml({
      name: 'bkt',
      prefix: 'p',
      maxKeys: 3,
      keyMarker: 'p0',
      versionIdMarker: 'v0',
      nextKeyMarker: 'p2',
      nextVersionIdMarker: 'v9',
      isTruncated: true,
      versions: [
        { version: obj('p1', { versionId: 'v3', isDeleteMarker: true, size: 0, etag: '' }), isLatest: true },
        { version: obj('p1', { versionId: 'v2', checksum: { algorithm: 'SHA256', value: 'x', type: 'FULL_OBJECT' } }), isLatest: false },
        { version: obj('p2', { versionId: 'null' }), isLatest: true },
      ],
      commonPrefixes: [],
      owner: OWNER,
    });
    assert.deepEqual(childOrder(xml), [
      'Name', 'Prefix', 'KeyMarker', 'VersionIdMarker', 'NextKeyMarker', 'NextVersionIdMarker', 'MaxKeys', 'IsTruncated', 'DeleteMarker', 'Version', 'Version',
    ]);
    assert.ok(xml.includes(
      `<DeleteMarker><Key>p1</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest><LastModified>${T_ISO}</LastModified>` +
        '<Owner><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Owner></DeleteMarker>',
    ));
    assert.ok(xml.includes(
      `<Version><Key>p1</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest><LastModified>${T_ISO}</LastModified>` +
        '<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>' +
        '<Size>5</Size><StorageClass>STANDARD</StorageClass><Owner><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Owner></Version>',
    ));
    const r = (await parse(xml)).ListVersionsResult;
    assert.equal(r.Version[1].VersionId, 'null');
  });

  test('markers are always present; url encoding applies to keys and key markers, not version ids', async () => {
    const xml = listVersionsXml({
      name: 'bkt', maxKeys: 1000, isTruncated: false, encodingType: 'url', delimiter: '/',
      keyMarker: 'a b', versionIdMarker: 'v+1',
      versions: [{ version: obj('x y', { versionId: 'v+2' }), isLatest: true }], commonPrefixes: ['c d/'], owner: OWNER,
    });
    const r = (await parse(xml)).ListVersionsResult;
    assert.equal(r.KeyMarker, 'a%20b');
    assert.equal(r.VersionIdMarker, 'v+1');
    assert.equal(r.Version.Key, 'x%20y');
    assert.equal(r.Version.VersionId, 'v+2');
    assert.equal(r.CommonPrefixes.Prefix, 'c%20d/');
    assert.equal(r.EncodingType, 'url');
    const plain = listVersionsXml({ name: 'bkt', maxKeys: 1000, isTruncated: false, versions: [], commonPrefixes: [], owner: OWNER });
    assert.ok(plain.includes('<Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys>'));
  });
});

describe('copy and delete results', () => {
  test('copyObjectResultXml', async () => {
    assert.equal(
      copyObjectResultXml('abc', T),
      `${XML_DECLARATION}<CopyObjectResult xmlns="${S3_XMLNS}"><LastModified>${T_ISO}</LastModified><ETag>&quot;abc&quot;</ETag></CopyObjectResult>`,
    );
    const xml = copyObjectResultXml('abc', T, { algorithm: 'CRC64NVME', value: 'AAAAAAAAAAA=', type: 'FULL_OBJECT' });
    const r = (await parse(xml)).CopyObjectResult;
    assert.equal(r.ETag, '"abc"');
    assert.equal(r.ChecksumCRC64NVME, 'AAAAAAAAAAA=');
    assert.equal(r.ChecksumType, 'FULL_OBJECT');
  });

  test('copyPartResultXml', async () => {
    assert.equal(
      copyPartResultXml('abc', new Date(T)),
      `${XML_DECLARATION}<CopyPartResult xmlns="${S3_XMLNS}"><LastModified>${T_ISO}</LastModified><ETag>&quot;abc&quot;</ETag></CopyPartResult>`,
    );
    assert.ok(copyPartResultXml('abc', T, { algorithm: 'CRC32C', value: 'q==' }).includes('<ChecksumCRC32C>q==</ChecksumCRC32C></CopyPartResult>'));
  });

  test('deleteResultXml lists Deleted then Error; quiet lists only errors', async () => {
    const deleted = [
      { key: 'a&b' },
      { key: 'v', versionId: 'v1' },
      { key: 'm', deleteMarker: true, deleteMarkerVersionId: 'dm1' },
    ];
    const errors = [{ key: 'x', versionId: 'bad', code: 'NoSuchVersion', message: 'The specified version does not exist.' }];
    const xml = deleteResultXml(deleted, errors, false);
    assert.deepEqual(childOrder(xml), ['Deleted', 'Deleted', 'Deleted', 'Error']);
    assert.ok(xml.includes('<Deleted><Key>m</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>dm1</DeleteMarkerVersionId></Deleted>'));
    assert.ok(xml.includes('<Error><Key>x</Key><VersionId>bad</VersionId><Code>NoSuchVersion</Code><Message>The specified version does not exist.</Message></Error>'));
    const r = (await parse(xml)).DeleteResult;
    assert.equal(r.Deleted[0].Key, 'a&b');
    assert.equal(r.Deleted[1].VersionId, 'v1');
    assert.deepEqual(childOrder(deleteResultXml(deleted, errors, true)), ['Error']);
    assert.equal(deleteResultXml(deleted, [], true), `${XML_DECLARATION}<DeleteResult xmlns="${S3_XMLNS}"></DeleteResult>`);
  });
});

describe('multipart builders', () => {
  test('initiateMultipartUploadXml', () => {
    assert.equal(
      initiateMultipartUploadXml('bkt', 'a&b', 'up1'),
      `${XML_DECLARATION}<InitiateMultipartUploadResult xmlns="${S3_XMLNS}"><Bucket>bkt</Bucket><Key>a&amp;b</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`,
    );
  });

  test('completeMultipartUploadXml', async () => {
    const xml = completeMultipartUploadXml('http://h/bkt/k', 'bkt', 'k', 'abc-2', { algorithm: 'CRC32', value: 'AAAAAA==-2', type: 'COMPOSITE' });
    assert.deepEqual(childOrder(xml), ['Location', 'Bucket', 'Key', 'ETag', 'ChecksumCRC32', 'ChecksumType']);
    const r = (await parse(xml)).CompleteMultipartUploadResult;
    assert.equal(r.ETag, '"abc-2"');
    assert.equal(r.ChecksumType, 'COMPOSITE');
    assert.deepEqual(childOrder(completeMultipartUploadXml('l', 'b', 'k', 'e')), ['Location', 'Bucket', 'Key', 'ETag']);
  });

  test('listPartsXml', async () => {
    const part = (n: number, checksum?: string): UploadPart => ({
      uploadId: 'up1', partNumber: n, size: 5 * 1024 * 1024, etag: `e${n}`, lastModified: T, checksum,
      data: { kind: 'inline', dataId: 'd', size: 1, crc32c: 0 },
    });
    const xml = listPartsXml({
      bucket: 'bkt', key: 'k', uploadId: 'up1', owner: OWNER, partNumberMarker: 0, nextPartNumberMarker: 2, maxParts: 2, isTruncated: true,
      checksumAlgorithm: 'SHA1', checksumType: 'COMPOSITE', parts: [part(1, 'c1'), part(2, 'c2')],
    });
    assert.deepEqual(distinctOrder(xml), [
      'Bucket', 'Key', 'UploadId', 'Initiator', 'Owner', 'StorageClass', 'PartNumberMarker', 'NextPartNumberMarker', 'MaxParts', 'IsTruncated', 'ChecksumAlgorithm', 'ChecksumType', 'Part',
    ]);
    assert.ok(xml.includes(`<Part><PartNumber>1</PartNumber><LastModified>${T_ISO}</LastModified><ETag>&quot;e1&quot;</ETag><ChecksumSHA1>c1</ChecksumSHA1><Size>5242880</Size></Part>`));
    const r = (await parse(xml)).ListPartsResult;
    assert.equal(r.Part[1].PartNumber, '2');
    assert.equal(r.Initiator.ID, 'owner-id-1');
    const bare = listPartsXml({ bucket: 'b', key: 'k', uploadId: 'u', owner: OWNER, partNumberMarker: 0, maxParts: 1000, isTruncated: false, parts: [part(1)] });
    assert.ok(!bare.includes('Checksum'));
    assert.ok(!bare.includes('NextPartNumberMarker'));
  });

  test('listMultipartUploadsXml', async () => {
    const up = (key: string, extra: Partial<MultipartUpload> = {}): MultipartUpload => ({
      bucket: 'bkt', key, uploadId: `id-${key}`, initiated: T, headers: {}, userMeta: {}, ...extra,
    });
    const xml = listMultipartUploadsXml({
      bucket: 'bkt', maxUploads: 2, isTruncated: true, delimiter: '/', prefix: 'p ', encodingType: 'url',
      nextKeyMarker: 'p b', nextUploadIdMarker: 'id-p b',
      uploads: [up('p a', { checksumAlgorithm: 'CRC32', checksumType: 'FULL_OBJECT' }), up('p b')],
      commonPrefixes: ['p c/'], owner: OWNER,
    });
    assert.deepEqual(distinctOrder(xml), [
      'Bucket', 'KeyMarker', 'UploadIdMarker', 'NextKeyMarker', 'NextUploadIdMarker', 'Delimiter', 'Prefix', 'EncodingType', 'MaxUploads', 'IsTruncated', 'Upload', 'CommonPrefixes',
    ]);
    assert.ok(xml.includes(
      '<Upload><Key>p%20a</Key><UploadId>id-p a</UploadId><Initiator><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Initiator>' +
        `<Owner><ID>owner-id-1</ID><DisplayName>tessera</DisplayName></Owner><StorageClass>STANDARD</StorageClass><Initiated>${T_ISO}</Initiated>` +
        '<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType></Upload>',
    ));
    const r = (await parse(xml)).ListMultipartUploadsResult;
    assert.equal(r.NextKeyMarker, 'p%20b');
    assert.equal(r.NextUploadIdMarker, 'id-p b');
    assert.equal(r.KeyMarker, '');
    assert.equal(r.Prefix, 'p%20');
    assert.equal(r.CommonPrefixes.Prefix, 'p%20c/');
    assert.equal(r.Upload[1].ChecksumAlgorithm, undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Parsers

describe('parser basics (shared by every parser)', () => {
  test('malformed documents', async () => {
    const bad = [
      'not xml',
      '<Delete><Object><Key>a</Key></Object>',             // unclosed root
      '<Delete><Object><Key>a</Object></Delete>',          // mismatched
      '<Delete><Object><Key>&bogus;</Key></Object></Delete>', // unknown entity
      '<Delete><Object><Key>a</Key></Object></Delete>trailing',
      '<Delete><Object><Key>a</Key></Object></Delete><Delete/>', // second root
      '<Delete a="1" a="2"><Object><Key>a</Key></Object></Delete>'.replace('a="2"', 'b=3'), // unquoted attribute
      '<Delete><Object><Key>&#0;</Key></Object></Delete>',
    ];
    for (const b of bad) await rejectsWith(parseDelete(b), 'MalformedXML');
  });

  test('wrong root element', async () => {
    await rejectsWith(parseDelete(xmlBody('Tagging', '<TagSet/>')), 'MalformedXML');
    await rejectsWith(parseTagging(xmlBody('Delete', '<Object><Key>a</Key></Object>')), 'MalformedXML');
    await rejectsWith(parseCreateBucketConfiguration('<LocationConstraint>x</LocationConstraint>'), 'MalformedXML');
    await rejectsWith(parseVersioningConfiguration('<Versioning><Status>Enabled</Status></Versioning>'), 'MalformedXML');
    await rejectsWith(parseCompleteMultipartUpload('<CompleteMultipartUploadResult/>'), 'MalformedXML');
  });

  test('DOCTYPE and ENTITY declarations are refused', async () => {
    await rejectsWith(parseDelete('<!DOCTYPE Delete [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>'), 'MalformedXML');
    await rejectsWith(parseDelete('<!doctype Delete><Delete><Object><Key>a</Key></Object></Delete>'), 'MalformedXML');
    await rejectsWith(
      parseTagging('<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>k</Key><Value>&xxe;</Value></Tag></TagSet></Tagging>'),
      'MalformedXML',
    );
  });

  test('bodies over MAX_XML_BODY are refused, string or Buffer', async () => {
    assert.equal(MAX_XML_BODY, 2 * 1024 * 1024);
    const big = xmlBody('Delete', `<Object><Key>a</Key></Object><!--${'x'.repeat(MAX_XML_BODY)}-->`);
    await rejectsWith(parseDelete(big), 'MaxMessageLengthExceeded');
    await rejectsWith(parseDelete(Buffer.from(big)), 'MaxMessageLengthExceeded');
    // The limit counts bytes, not UTF-16 units.
    const multibyte = xmlBody('Delete', `<Object><Key>${'é'.repeat(MAX_XML_BODY / 2)}</Key></Object>`);
    await rejectsWith(parseDelete(multibyte), 'MaxMessageLengthExceeded');
  });

  test('Buffer and Uint8Array bodies; invalid UTF-8 is malformed; a BOM is fine', async () => {
    const x = xmlBody('Delete', '<Object><Key>ü</Key></Object>');
    assert.deepEqual((await parseDelete(Buffer.from(x))).objects, [{ key: 'ü' }]);
    assert.deepEqual((await parseDelete(new Uint8Array(Buffer.from(x)))).objects, [{ key: 'ü' }]);
    assert.deepEqual((await parseDelete(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(x)]))).objects, [{ key: 'ü' }]);
    const bad = Buffer.concat([Buffer.from('<Delete><Object><Key>'), Buffer.from([0xff, 0xfe]), Buffer.from('</Key></Object></Delete>')]);
    await rejectsWith(parseDelete(bad), 'MalformedXML');
  });

  test('namespace prefixes are accepted', async () => {
    const x = `<s3:Delete xmlns:s3="${S3_XMLNS}"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>`;
    assert.deepEqual(await parseDelete(x), { quiet: false, objects: [{ key: 'k' }] });
  });

  test('errors carry S3 status codes', async () => {
    await assert.rejects(parseDelete('x'), (e: S3Error) => e.status === 400);
    await assert.rejects(parseVersioningConfiguration(xmlBody('VersioningConfiguration', '<MfaDelete>Enabled</MfaDelete>')), (e: S3Error) => e.status === 501);
  });
});

describe('parseCreateBucketConfiguration', () => {
  test('empty body means no configuration', async () => {
    assert.deepEqual(await parseCreateBucketConfiguration(''), {});
    assert.deepEqual(await parseCreateBucketConfiguration(Buffer.alloc(0)), {});
    assert.deepEqual(await parseCreateBucketConfiguration('  \n'), {});
  });

  test('LocationConstraint', async () => {
    assert.deepEqual(
      await parseCreateBucketConfiguration(xmlBody('CreateBucketConfiguration', '<LocationConstraint>eu-west-1</LocationConstraint>')),
      { locationConstraint: 'eu-west-1' },
    );
    assert.deepEqual(await parseCreateBucketConfiguration('<CreateBucketConfiguration><LocationConstraint> us-west-2\n</LocationConstraint></CreateBucketConfiguration>'), { locationConstraint: 'us-west-2' });
    assert.deepEqual(await parseCreateBucketConfiguration('<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>'), { locationConstraint: '' });
    assert.deepEqual(await parseCreateBucketConfiguration(xmlBody('CreateBucketConfiguration', '')), {});
  });

  test('errors', async () => {
    await rejectsWith(parseCreateBucketConfiguration('<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>'), 'MalformedXML');
    await rejectsWith(parseCreateBucketConfiguration('<CreateBucketConfiguration><LocationConstraint><x/></LocationConstraint></CreateBucketConfiguration>'), 'MalformedXML');
    await rejectsWith(parseCreateBucketConfiguration('<CreateBucketConfiguration>'), 'MalformedXML');
  });
});

describe('parseDelete', () => {
  test('objects, version ids, quiet', async () => {
    const r = await parseDelete(xmlBody('Delete', '<Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>v1</VersionId></Object>'));
    assert.deepEqual(r, { quiet: true, objects: [{ key: 'a' }, { key: 'b', versionId: 'v1' }] });
    assert.equal((await parseDelete('<Delete><Quiet>false</Quiet><Object><Key>a</Key></Object></Delete>')).quiet, false);
    assert.equal((await parseDelete('<Delete><Quiet>TRUE</Quiet><Object><Key>a</Key></Object></Delete>')).quiet, true);
    assert.equal((await parseDelete('<Delete><Object><Key>a</Key></Object></Delete>')).quiet, false);
  });

  test('keys are taken exactly: whitespace, entities, CR, unicode, CDATA', async () => {
    const keys = [' ', '  lead and trail  ', 'a&b<c>"d\'e', '日本/😀', 'tab\there', 'line\nbreak'];
    const inner = keys.map((k) => `<Object><Key>${xmlText(k)}</Key></Object>`).join('') +
      '<Object><Key>cr&#13;key</Key></Object><Object><Key><![CDATA[<raw> & ]]></Key></Object><Object><Key>&#x1F600;</Key></Object>';
    const r = await parseDelete(xmlBody('Delete', inner));
    assert.deepEqual(r.objects.map((o) => o.key), [...keys, 'cr\rkey', '<raw> & ', '😀']);
  });

  test('element names that collide with parser internals are harmless', async () => {
    const r = await parseDelete('<Delete><Object><Key>k</Key><_>x</_><__proto__>y</__proto__></Object><_/></Delete>');
    assert.deepEqual(r.objects, [{ key: 'k' }]);
  });

  test('up to 1000 objects; 0 or 1001 is MalformedXML', async () => {
    const n = (count: number) => xmlBody('Delete', Array.from({ length: count }, (_, i) => `<Object><Key>${'k'.repeat(1000)}${i}</Key></Object>`).join(''));
    assert.equal((await parseDelete(n(1000))).objects.length, 1000);
    await rejectsWith(parseDelete(n(1001)), 'MalformedXML');
    await rejectsWith(parseDelete(n(0)), 'MalformedXML');
    await rejectsWith(parseDelete('<Delete><Quiet>true</Quiet></Delete>'), 'MalformedXML');
    await rejectsWith(parseDelete('<Delete/>'), 'MalformedXML');
  });

  test('shape errors', async () => {
    const cases = [
      '',                                                               // empty body
      '<Delete><Object></Object></Delete>',                             // no Key
      '<Delete><Object><VersionId>v</VersionId></Object></Delete>',     // no Key
      '<Delete><Object><Key></Key></Object></Delete>',                  // empty Key
      '<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>',     // two Keys
      '<Delete><Object><Key>a<b/></Key></Object></Delete>',             // element inside Key
      '<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object></Delete>',
      '<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>',
      '<Delete><Quiet>1</Quiet><Object><Key>a</Key></Object></Delete>',
      '<Delete><Quiet>true</Quiet><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>',
    ];
    for (const c of cases) await rejectsWith(parseDelete(c), 'MalformedXML');
  });
});

describe('parseCompleteMultipartUpload', () => {
  test('parts with quoted ETags (literal or &quot;) and checksums', async () => {
    const body = xmlBody(
      'CompleteMultipartUpload',
      '<Part><PartNumber>1</PartNumber><ETag>"aaa"</ETag></Part>' +
        '<Part><ETag>&quot;bbb&quot;</ETag><PartNumber> 2 </PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumSHA256>c2hh</ChecksumSHA256></Part>' +
        '<Part><PartNumber>3</PartNumber><ETag>ccc</ETag><ChecksumCRC64NVME>x</ChecksumCRC64NVME><ChecksumCRC32C>y</ChecksumCRC32C><ChecksumSHA1>z</ChecksumSHA1></Part>',
    );
    assert.deepEqual(await parseCompleteMultipartUpload(body), {
      parts: [
        { partNumber: 1, etag: 'aaa' },
        { partNumber: 2, etag: 'bbb', checksums: { CRC32: 'AAAAAA==', SHA256: 'c2hh' } },
        { partNumber: 3, etag: 'ccc', checksums: { CRC32C: 'y', CRC64NVME: 'x', SHA1: 'z' } },
      ],
    });
  });

  test('order and range are left to the handler', async () => {
    const r = await parseCompleteMultipartUpload('<CompleteMultipartUpload><Part><PartNumber>3</PartNumber><ETag>a</ETag></Part><Part><PartNumber>0</PartNumber><ETag>b</ETag></Part><Part><PartNumber>99999</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>');
    assert.deepEqual(r.parts.map((p) => p.partNumber), [3, 0, 99999]);
  });

  test('errors', async () => {
    const cases = [
      '',
      '   ',
      '<CompleteMultipartUpload/>',
      '<CompleteMultipartUpload></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1.5</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>12345678901234567890</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag><ETag>b</ETag></Part></CompleteMultipartUpload>',
    ];
    for (const c of cases) await rejectsWith(parseCompleteMultipartUpload(c), 'MalformedXML');
  });
});

describe('parseTagging', () => {
  const tagging = (pairs: [string, string][]) =>
    xmlBody('Tagging', `<TagSet>${pairs.map(([k, v]) => `<Tag><Key>${xmlText(k)}</Key><Value>${xmlText(v)}</Value></Tag>`).join('')}</TagSet>`);
  const many = (n: number) => Array.from({ length: n }, (_, i): [string, string] => [`k${i}`, `v${i}`]);

  test('tags, empty values, empty TagSet', async () => {
    assert.deepEqual(await parseTagging(tagging([['a', '1'], ['b b', ''], [' sp ', ' v ']])), { a: '1', 'b b': '', ' sp ': ' v ' });
    assert.deepEqual(await parseTagging('<Tagging><TagSet/></Tagging>'), {});
    assert.deepEqual(await parseTagging('<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>'), { k: '' });
  });

  test('a key named __proto__ is an ordinary tag', async () => {
    const tags = await parseTagging(tagging([['__proto__', 'x']]));
    assert.deepEqual(Object.keys(tags), ['__proto__']);
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
  });

  test('count limits: 10 for objects, 50 for buckets', async () => {
    assert.equal(Object.keys(await parseTagging(tagging(many(10)))).length, 10);
    await rejectsWith(parseTagging(tagging(many(11))), 'InvalidTag', 'Object tags cannot be greater than 10');
    assert.equal(Object.keys(await parseTagging(tagging(many(50)), 'bucket')).length, 50);
    await rejectsWith(parseTagging(tagging(many(51)), 'bucket'), 'InvalidTag', 'Bucket tag count cannot be greater than 50');
  });

  test('length limits count characters', async () => {
    assert.ok(await parseTagging(tagging([['k'.repeat(128), 'v'.repeat(256)]])));
    assert.ok(await parseTagging(tagging([['😀'.repeat(128), '😀'.repeat(256)]])));
    await rejectsWith(parseTagging(tagging([['k'.repeat(129), 'v']])), 'InvalidTag', 'The TagKey you have provided is too long, max 128');
    await rejectsWith(parseTagging(tagging([['k', 'v'.repeat(257)]])), 'InvalidTag', 'The TagValue you have provided is too long, max 256');
  });

  test('duplicate, empty and reserved keys', async () => {
    await rejectsWith(parseTagging(tagging([['a', '1'], ['a', '2']])), 'InvalidTag', 'Cannot provide multiple Tags with the same key');
    await rejectsWith(parseTagging(tagging([['', '1']])), 'InvalidTag', 'The TagKey you have provided is invalid');
    await rejectsWith(parseTagging(tagging([['aws:created', '1']])), 'InvalidTag');
    await rejectsWith(parseTagging(tagging([['AWS:x', '1']])), 'InvalidTag');
  });

  test('shape errors', async () => {
    const cases = [
      '',
      '<Tagging/>',
      '<Tagging><TagSet/><TagSet/></Tagging>',
      '<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>k</Key><Key>j</Key><Value>v</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>k</Key><Value>v<x/></Value></Tag></TagSet></Tagging>',
    ];
    for (const c of cases) await rejectsWith(parseTagging(c), 'MalformedXML');
  });
});

describe('parseTaggingHeader', () => {
  test('query-string form', () => {
    assert.deepEqual(parseTaggingHeader('a=1&b=two%20words&c=x+y'), { a: '1', b: 'two words', c: 'x y' });
    assert.deepEqual(parseTaggingHeader('k%26=v%3D&empty=&bare'), { 'k&': 'v=', empty: '', bare: '' });
    assert.deepEqual(parseTaggingHeader(''), {});
    assert.deepEqual(parseTaggingHeader('%E6%97%A5=%F0%9F%98%80'), { '日': '😀' });
  });

  test('same validation as the body', () => {
    assert.throws(() => parseTaggingHeader('a=1&a=2'), (e: S3Error) => e.code === 'InvalidTag' && e.message === 'Cannot provide multiple Tags with the same key');
    const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    assert.throws(() => parseTaggingHeader(eleven), (e: S3Error) => e.code === 'InvalidTag' && e.message === 'Object tags cannot be greater than 10');
    assert.equal(Object.keys(parseTaggingHeader(eleven, 'bucket')).length, 11);
    assert.throws(() => parseTaggingHeader(`${'k'.repeat(129)}=v`), (e: S3Error) => e.code === 'InvalidTag' && e.message === 'The TagKey you have provided is too long, max 128');
    assert.throws(() => parseTaggingHeader(`k=${'v'.repeat(257)}`), (e: S3Error) => e.code === 'InvalidTag' && e.message === 'The TagValue you have provided is too long, max 256');
    assert.throws(() => parseTaggingHeader('=v'), (e: S3Error) => e.code === 'InvalidTag');
  });
});

describe('parseVersioningConfiguration', () => {
  test('Status', async () => {
    assert.deepEqual(await parseVersioningConfiguration(xmlBody('VersioningConfiguration', '<Status>Enabled</Status>')), { status: 'Enabled' });
    assert.deepEqual(await parseVersioningConfiguration('<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>'), { status: 'Suspended' });
    assert.deepEqual(await parseVersioningConfiguration('<VersioningConfiguration/>'), {});
  });

  test('MfaDelete: Disabled accepted, Enabled not implemented', async () => {
    assert.deepEqual(
      await parseVersioningConfiguration('<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>'),
      { status: 'Enabled', mfaDelete: 'Disabled' },
    );
    await rejectsWith(parseVersioningConfiguration('<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>'), 'NotImplemented');
    await rejectsWith(parseVersioningConfiguration('<VersioningConfiguration><MfaDelete>On</MfaDelete></VersioningConfiguration>'), 'MalformedXML');
  });

  test('errors', async () => {
    const cases = [
      '',
      '<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>',
      '<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>',
      '<VersioningConfiguration><Status></Status></VersioningConfiguration>',
      '<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status></VersioningConfiguration>',
    ];
    for (const c of cases) await rejectsWith(parseVersioningConfiguration(c), 'MalformedXML');
  });
});
