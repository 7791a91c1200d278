// boto3, in a python3 subprocess per operation, with the calls people write: put_object /
// get_object / head_object for small objects, the transfer manager (upload_file,
// download_file: multipart from 8 MiB, parallel ranged GETs) for big ones,
// generate_presigned_url, and the resource API's objects.all().delete() to empty a bucket.
// Keys and region come from a temporary AWS config; the endpoint is passed to the client.

import { clientEnv, exec, probe, type Driver, type Endpoint, type Op, type Session } from '../lib.js';
import { awsConfigEnv } from './aws-config.js';

const PYTHON = 'python3';

/** Runs `body` with `s3`, `P` (the parameters), `out(value)` in scope. */
const PRELUDE = `
import sys, json, os, traceback
P = json.loads(sys.argv[1])
def out(v):
    print(json.dumps(v))
try:
    import boto3, botocore
    s3 = boto3.client('s3', endpoint_url=P['endpoint'])
    exec(compile(sys.argv[2], '<conformance>', 'exec'))
except Exception as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    traceback.print_exc()
    sys.exit(1)
`;

const WRITE_BODY = `
with open(P['dest'], 'wb') as f:
    for chunk in r['Body'].iter_chunks(1024 * 1024):
        f.write(chunk)
`;

export const boto3: Driver = {
  name: 'boto3',
  multipartAt20MiB: true,
  async detect() {
    const v = await probe(PYTHON, ['-c', 'import boto3, botocore; print(boto3.__version__, botocore.__version__)'], clientEnv());
    if (!v.ok) return { available: false, reason: /could not start|ENOENT/.test(v.output) ? 'no python3 on PATH' : 'python3 cannot import boto3' };
    const [b, bc] = v.output.trim().split(/\s+/);
    return { available: true, version: b ?? '?', detail: `boto3 ${b}, botocore ${bc}` };
  },
  async open(ep, dir) {
    return boto3Session(ep, await awsConfigEnv(ep, dir));
  },
};

function boto3Session(ep: Endpoint, env: NodeJS.ProcessEnv): Session {
  const py = async <T = unknown>(op: Op, display: string, params: Record<string, unknown>, body: string): Promise<T> => {
    const r = await exec(op, PYTHON, ['-c', PRELUDE, JSON.stringify({ endpoint: ep.url, region: ep.region, ...params }), body], { env, display: `boto3: ${display}` });
    const lines = r.stdout.trim().split('\n');
    const last = lines[lines.length - 1] ?? '';
    return (last === '' ? undefined : JSON.parse(last)) as T;
  };
  return {
    async createBucket(op, bucket) {
      await py(op, `s3.create_bucket(Bucket=${JSON.stringify(bucket)})`, { bucket }, `
kw = {} if P['region'] == 'us-east-1' else {'CreateBucketConfiguration': {'LocationConstraint': P['region']}}
s3.create_bucket(Bucket=P['bucket'], **kw)
`);
    },
    async listBuckets(op) {
      return py<string[]>(op, 's3.list_buckets()', {}, `out([b['Name'] for b in s3.list_buckets()['Buckets']])`);
    },
    async putObject(op, bucket, key, file, o) {
      await py(op, `s3.put_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)}, Body=open(…), ContentType=${JSON.stringify(o.contentType)}, Metadata=${JSON.stringify(o.metadata)})`, { bucket, key, file, ...o }, `
with open(P['file'], 'rb') as f:
    s3.put_object(Bucket=P['bucket'], Key=P['key'], Body=f, ContentType=P['contentType'], Metadata=P['metadata'])
`);
    },
    async headObject(op, bucket, key) {
      const h = await py<{ size?: number; contentType?: string; etag?: string; metadata?: Record<string, string> }>(
        op,
        `s3.head_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)})`,
        { bucket, key },
        `
h = s3.head_object(Bucket=P['bucket'], Key=P['key'])
out({'size': h.get('ContentLength'), 'contentType': h.get('ContentType'), 'etag': h.get('ETag'), 'metadata': h.get('Metadata', {})})
`,
      );
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(h.metadata ?? {})) metadata[k.toLowerCase()] = v;
      return { size: h.size, contentType: h.contentType, etag: h.etag?.replace(/"/g, ''), metadata };
    },
    async getObject(op, bucket, key, dest) {
      await py(op, `s3.get_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)})['Body'] → file`, { bucket, key, dest }, `
r = s3.get_object(Bucket=P['bucket'], Key=P['key'])
${WRITE_BODY}`);
    },
    async uploadFile(op, bucket, key, file) {
      await py(op, `s3.upload_file(${JSON.stringify(file)}, ${JSON.stringify(bucket)}, ${JSON.stringify(key)})`, { bucket, key, file }, `s3.upload_file(P['file'], P['bucket'], P['key'])`);
    },
    async downloadFile(op, bucket, key, dest) {
      await py(op, `s3.download_file(${JSON.stringify(bucket)}, ${JSON.stringify(key)}, ${JSON.stringify(dest)})`, { bucket, key, dest }, `s3.download_file(P['bucket'], P['key'], P['dest'])`);
    },
    async getRange(op, bucket, key, start, end, dest) {
      await py(op, `s3.get_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)}, Range='bytes=${start}-${end}')`, { bucket, key, dest, range: `bytes=${start}-${end}` }, `
r = s3.get_object(Bucket=P['bucket'], Key=P['key'], Range=P['range'])
${WRITE_BODY}`);
    },
    async list(op, bucket, prefix, delimiter) {
      return py(op, `s3.get_paginator('list_objects_v2').paginate(Bucket=${JSON.stringify(bucket)}, Prefix=${JSON.stringify(prefix)}${delimiter ? `, Delimiter=${JSON.stringify(delimiter)}` : ''})`, { bucket, prefix, delimiter: delimiter ?? null }, `
kw = {'Bucket': P['bucket'], 'Prefix': P['prefix']}
if P['delimiter']:
    kw['Delimiter'] = P['delimiter']
keys, prefixes = [], []
for page in s3.get_paginator('list_objects_v2').paginate(**kw):
    keys += [c['Key'] for c in page.get('Contents', [])]
    prefixes += [c['Prefix'] for c in page.get('CommonPrefixes', [])]
out({'keys': keys, 'prefixes': prefixes})
`);
    },
    async copy(op, bucket, srcKey, dstKey) {
      await py(op, `s3.copy_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(dstKey)}, CopySource={'Bucket': ${JSON.stringify(bucket)}, 'Key': ${JSON.stringify(srcKey)}})`, { bucket, srcKey, dstKey }, `
s3.copy_object(Bucket=P['bucket'], Key=P['dstKey'], CopySource={'Bucket': P['bucket'], 'Key': P['srcKey']})
`);
    },
    async uploadDir(op, bucket, prefix, dir) {
      await py(op, `for each file under ${dir}: s3.upload_file(file, ${JSON.stringify(bucket)}, ${JSON.stringify(prefix)} + relpath)`, { bucket, prefix, dir }, `
for root, dirs, files in os.walk(P['dir']):
    for name in files:
        full = os.path.join(root, name)
        rel = os.path.relpath(full, P['dir']).replace(os.sep, '/')
        s3.upload_file(full, P['bucket'], P['prefix'] + rel)
`);
    },
    async downloadDir(op, bucket, prefix, dir) {
      await py(op, `for each key under ${JSON.stringify(prefix)}: s3.download_file(${JSON.stringify(bucket)}, key, ${dir}/…)`, { bucket, prefix, dir }, `
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=P['bucket'], Prefix=P['prefix']):
    for c in page.get('Contents', []):
        dest = os.path.join(P['dir'], *c['Key'][len(P['prefix']):].split('/'))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        s3.download_file(P['bucket'], c['Key'], dest)
`);
    },
    async presign(op, bucket, key, seconds) {
      return py<string>(op, `s3.generate_presigned_url('get_object', Params={'Bucket': ${JSON.stringify(bucket)}, 'Key': ${JSON.stringify(key)}}, ExpiresIn=${seconds})`, { bucket, key, seconds }, `
out(s3.generate_presigned_url('get_object', Params={'Bucket': P['bucket'], 'Key': P['key']}, ExpiresIn=P['seconds']))
`);
    },
    async deleteObject(op, bucket, key) {
      await py(op, `s3.delete_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)})`, { bucket, key }, `s3.delete_object(Bucket=P['bucket'], Key=P['key'])`);
    },
    async deleteBucket(op, bucket) {
      await py(op, `b = boto3.resource('s3').Bucket(${JSON.stringify(bucket)}); b.objects.all().delete(); b.delete()`, { bucket }, `
b = boto3.resource('s3', endpoint_url=P['endpoint']).Bucket(P['bucket'])
b.objects.all().delete()
b.delete()
`);
    },
    async close() {},
  };
}
