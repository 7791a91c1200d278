// The admin API: users, access keys and policies, on the S3 port under /tessera/admin/v1/.
// Requests are signed with SigV4 exactly like S3 requests (any region in the scope, so the
// CLI need not know the server's), bodies and replies are JSON, errors are
// {"code", "message", "requestId"} with the HTTP status of the code. Only the root key and
// users whose policies allow the admin:* action may call it.
//
//   GET    users                      list users            admin:ListUsers
//   POST   users {user, policies}     add a user (+ key)    admin:CreateUser
//   GET    users/NAME                 one user              admin:GetUser
//   DELETE users/NAME                 remove a user         admin:DeleteUser
//   POST   users/NAME/enable|disable                        admin:EnableUser / admin:DisableUser
//   POST   users/NAME/keys            add an access key     admin:CreateAccessKey
//   DELETE keys/ACCESS_KEY            remove an access key  admin:DeleteAccessKey
//   PUT    users/NAME/policies/P      attach a policy       admin:AttachUserPolicy
//   DELETE users/NAME/policies/P      detach it             admin:DetachUserPolicy
//   GET    policies                   list policies         admin:ListPolicies
//   GET    policies/NAME              one policy            admin:GetPolicy
//   PUT    policies/NAME (document)   add or replace        admin:CreatePolicy
//   DELETE policies/NAME              remove                admin:DeletePolicy
//   GET    bucket-quota?bucket=B      quota and usage       admin:GetBucketQuota
//   PUT    bucket-quota?bucket=B {maxBytes}  set (null: remove)  admin:SetBucketQuota
//   DELETE bucket-quota?bucket=B      remove the quota      admin:SetBucketQuota
//   GET    info                       version, uptime, memory, disks, erasure, usage  admin:ServerInfo
//   POST   heal {bucket?, prefix?, dryRun?, bytesPerSecond?}  start a heal job     admin:Heal
//   GET    heal                       the running or last heal job           admin:Heal
//   DELETE heal                       stop the running heal job              admin:Heal
//   POST   scan {bucket?, prefix?, bytesPerSecond?}  start a scan job (changes nothing)  admin:Scan
//   GET    scan | DELETE scan         as for heal                             admin:Scan
//
// The info reply's keys are a contract (scripts and `tessera bench memory` read them); add
// keys, never rename them: {"version", "uptime" (seconds), "memory": {"rss", "heapUsed",
// "budget", "budgetInUse", "budgetHighWater"} (bytes), "disks": [{"disk" (1-based), "path",
// "state" (ok|offline|healing), "totalBytes", "usedBytes", "freeBytes"}], "erasure": {"dataShards",
// "parityShards", "blockSize", "inlineThreshold", "readQuorum", "writeQuorum"}, "usage":
// {"buckets", "objects", "bytes", "bucketsWithoutUsage", "perBucket": [{"bucket", "objects",
// "bytes"}]}, "job" (the running heal/scan job's status, or null)}.
// One heal or scan job runs at a time (object/maintenance.ts): starting one while another runs
// answers 409 XTesseraJobRunning; GET answers the job's status (JobStatus) for the CLI to poll.

import type { Identities } from '../auth/identities.js';
import type { ObjectStore } from '../object/store.js';
import { verifyRequest } from '../auth/verify.js';
import { S3Error, isS3Error } from '../errors.js';
import { readSmallBody, type S3Ctx, type S3Deps } from '../s3/context.js';
import { validateBucketReference } from '../s3/validate.js';
import { readQuorum, writeQuorum } from '../erasure/quorum.js';
import { JobRunningError, type JobKind, type JobScope, type JobStatus, type MaintenanceJobs } from '../object/maintenance.js';
import { openBody } from './body.js';
import { splitUrl } from './routing.js';
import { serveEventStream } from './event-stream.js';

export const ADMIN_PREFIX = '/tessera/admin/v1/';
const MAX_BODY = 64 * 1024;

export interface AdminDeps {
  identities: Identities;
  store: ObjectStore;
  region: string;
  now: () => number;
  log: S3Deps['log'];
  authorize: S3Deps['authorize'];
  /** What GET info answers (the keys below are added to it here). */
  info(): ServerInfo;
  /** Heal and scan jobs; absent: those routes answer NotImplemented. */
  jobs?: MaintenanceJobs;
}

export interface DiskInfo {
  /** 1-based position in the configured disk list. */
  disk: number;
  path: string;
  state: 'ok' | 'offline' | 'healing';
  totalBytes: number | null;
  usedBytes: number | null;
  freeBytes: number | null;
}

export interface FullServerInfo extends ServerInfo {
  disks: DiskInfo[];
  erasure: { dataShards: number; parityShards: number; blockSize: number; inlineThreshold: number; readQuorum: number; writeQuorum: number };
  usage: { buckets: number; objects: number; bytes: number; bucketsWithoutUsage: number; perBucket: Array<{ bucket: string; objects: number | null; bytes: number | null }> };
  job: JobStatus | null;
}

export interface ServerInfo {
  version: string;
  /** Seconds since the server started. */
  uptime: number;
  memory: { rss: number; heapUsed: number; budget: number; budgetInUse: number; budgetHighWater: number };
}

interface AdminRoute {
  action: string;
  run(ctx: S3Ctx, d: AdminDeps, params: string[]): Promise<unknown>;
}

/** [method, path pattern with ':' for a parameter segment, route] */
const ROUTES: Array<[string, string[], AdminRoute]> = [
  ['GET', ['users'], { action: 'admin:ListUsers', run: async (_c, d) => ({ users: d.identities.listUsers() }) }],
  ['POST', ['users'], {
    action: 'admin:CreateUser',
    run: async (c, d) => {
      const body = await readJson(c);
      const user = field(body, 'user', 'string') as string;
      const policies = (field(body, 'policies', 'array', true) ?? []) as unknown[];
      if (policies.some((p) => typeof p !== 'string')) throw new S3Error('InvalidInput', 'policies must be a list of policy names');
      return d.identities.addUser(user, policies as string[]);
    },
  }],
  ['GET', ['users', ':'], { action: 'admin:GetUser', run: async (_c, d, [n]) => d.identities.userInfo(n!) }],
  ['DELETE', ['users', ':'], { action: 'admin:DeleteUser', run: async (_c, d, [n]) => d.identities.removeUser(n!) }],
  ['POST', ['users', ':', 'enable'], { action: 'admin:EnableUser', run: async (_c, d, [n]) => d.identities.setEnabled(n!, true) }],
  ['POST', ['users', ':', 'disable'], { action: 'admin:DisableUser', run: async (_c, d, [n]) => d.identities.setEnabled(n!, false) }],
  ['POST', ['users', ':', 'keys'], { action: 'admin:CreateAccessKey', run: async (_c, d, [n]) => d.identities.addKey(n!) }],
  ['DELETE', ['keys', ':'], { action: 'admin:DeleteAccessKey', run: async (_c, d, [k]) => d.identities.removeKey(k!) }],
  ['PUT', ['users', ':', 'policies', ':'], { action: 'admin:AttachUserPolicy', run: async (_c, d, [n, p]) => d.identities.attach(n!, p!) }],
  ['DELETE', ['users', ':', 'policies', ':'], { action: 'admin:DetachUserPolicy', run: async (_c, d, [n, p]) => d.identities.detach(n!, p!) }],
  ['GET', ['policies'], { action: 'admin:ListPolicies', run: async (_c, d) => ({ policies: d.identities.listPolicies() }) }],
  ['GET', ['policies', ':'], { action: 'admin:GetPolicy', run: async (_c, d, [n]) => d.identities.policyInfo(n!) }],
  ['PUT', ['policies', ':'], {
    action: 'admin:CreatePolicy',
    run: async (c, d, [n]) => d.identities.putPolicy(n!, (await readBody(c)).toString('utf8')),
  }],
  ['DELETE', ['policies', ':'], { action: 'admin:DeletePolicy', run: async (_c, d, [n]) => d.identities.removePolicy(n!) }],
  ['GET', ['bucket-quota'], { action: 'admin:GetBucketQuota', run: async (c, d) => quotaInfo(d, quotaBucket(c)) }],
  ['PUT', ['bucket-quota'], {
    action: 'admin:SetBucketQuota',
    run: async (c, d) => {
      const bucket = quotaBucket(c);
      const max = (await readJson(c)).maxBytes;
      if (max !== null && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 0)) {
        throw new S3Error('InvalidInput', '"maxBytes" must be a whole number of bytes (0 or more), or null to remove the quota.');
      }
      await d.store.setQuota(bucket, max ?? undefined);
      return quotaInfo(d, bucket);
    },
  }],
  ['DELETE', ['bucket-quota'], { action: 'admin:SetBucketQuota', run: async (c, d) => void (await d.store.setQuota(quotaBucket(c), undefined)) }],
  ['GET', ['info'], { action: 'admin:ServerInfo', run: async (_c, d) => fullInfo(d) }],
  ...jobRoutes('heal', 'admin:Heal'),
  ...jobRoutes('scan', 'admin:Scan'),
];

function jobRoutes(kind: JobKind, action: string): Array<[string, string[], AdminRoute]> {
  return [
    ['POST', [kind], { action, run: async (c, d) => startJob(c, d, kind) }],
    ['GET', [kind], {
      action,
      run: async (_c, d) => jobsOf(d).status(kind) ?? notFound(`No ${kind} job has run since the server started.`),
    }],
    ['DELETE', [kind], {
      action,
      run: async (_c, d) => {
        const running = jobsOf(d).running();
        if (!running || running.kind !== kind) return notFound(`No ${kind} job is running.`);
        return jobsOf(d).stopCurrent();
      },
    }],
  ];
}

function notFound(message: string): never {
  throw new S3Error('NoSuchEntity', message);
}

function jobsOf(d: AdminDeps): MaintenanceJobs {
  if (!d.jobs) throw new S3Error('NotImplemented', 'This server runs no heal or scan jobs.');
  return d.jobs;
}

async function startJob(ctx: S3Ctx, d: AdminDeps, kind: JobKind): Promise<JobStatus> {
  const jobs = jobsOf(d);
  const body = await readJson(ctx, true);
  const scope: JobScope = {};
  const bucket = field(body, 'bucket', 'string', true) as string | undefined;
  if (bucket !== undefined) {
    validateBucketReference(bucket);
    await d.store.getBucket(bucket); // NoSuchBucket when it is not there
    scope.bucket = bucket;
  }
  const prefix = field(body, 'prefix', 'string', true) as string | undefined;
  if (prefix) scope.prefix = prefix;
  if (body.dryRun !== undefined) {
    if (typeof body.dryRun !== 'boolean') throw new S3Error('InvalidInput', '"dryRun" must be true or false.');
    if (kind !== 'heal') throw new S3Error('InvalidInput', '"dryRun" is for heal only: a scan never changes anything.');
    scope.dryRun = body.dryRun;
  }
  const rate = body.bytesPerSecond;
  if (rate !== undefined) {
    if (!(typeof rate === 'number' && Number.isSafeInteger(rate) && rate >= 0)) throw new S3Error('InvalidInput', '"bytesPerSecond" must be a whole number of bytes per second (0: unpaced).');
    scope.bytesPerSecond = rate;
  }
  try {
    return await jobs.start(kind, scope);
  } catch (e) {
    if (!(e instanceof JobRunningError)) throw e;
    const j = e.job;
    throw new S3Error('XTesseraJobRunning', `A ${j.kind}${j.auto ? ' (started by the server)' : ''} job is already running: ${j.id}, started ${j.startedAt}, ${j.objectsChecked} object(s) checked. Follow it with \`tessera admin ${j.kind} --status\`, stop it with \`tessera admin ${j.kind} --stop\`.`);
  }
}

async function fullInfo(d: AdminDeps): Promise<FullServerInfo> {
  const store = d.store;
  const healing = d.jobs?.healingDisks() ?? new Set<number>();
  const disks = await Promise.all(store.disks.map(async (disk): Promise<DiskInfo> => {
    const base = { disk: disk.index + 1, path: disk.root };
    const space = disk.online ? await disk.usage().catch(() => undefined) : undefined;
    const state = !disk.online ? 'offline' : healing.has(disk.index) ? 'healing' : 'ok';
    return { ...base, state, totalBytes: space?.totalBytes ?? null, usedBytes: space?.usedBytes ?? null, freeBytes: space?.freeBytes ?? null };
  }));
  // The usage records are kept with every commit: one read per bucket, no object is visited.
  const perBucket: FullServerInfo['usage']['perBucket'] = [];
  for (const b of await store.meta.listBuckets()) {
    const u = await store.meta.getUsage(b.name);
    perBucket.push({ bucket: b.name, objects: u?.versions ?? null, bytes: u?.bytes ?? null });
  }
  const sum = (f: (u: (typeof perBucket)[number]) => number | null) => perBucket.reduce((a, u) => a + (f(u) ?? 0), 0);
  return {
    ...d.info(),
    disks,
    erasure: {
      dataShards: store.k,
      parityShards: store.m,
      blockSize: store.blockSize,
      inlineThreshold: store.inlineThreshold,
      readQuorum: readQuorum(store.k),
      writeQuorum: writeQuorum(store.k, store.m),
    },
    usage: {
      buckets: perBucket.length,
      objects: sum((u) => u.objects),
      bytes: sum((u) => u.bytes),
      bucketsWithoutUsage: perBucket.filter((u) => u.objects === null).length,
      perBucket,
    },
    job: d.jobs?.running() ?? null,
  };
}

/** The bucket named by ?bucket=; it must exist. */
function quotaBucket(ctx: S3Ctx): string {
  const b = ctx.query.bucket;
  if (typeof b !== 'string' || b === '') throw new S3Error('InvalidInput', 'Name the bucket: ?bucket=NAME.');
  validateBucketReference(b);
  return b;
}

async function quotaInfo(d: AdminDeps, bucket: string): Promise<unknown> {
  const b = await d.store.getBucket(bucket);
  const usage = await d.store.bucketUsage(bucket);
  return { bucket, maxBytes: b.quota?.maxBytes ?? null, usedBytes: usage?.bytes ?? null, versions: usage?.versions ?? null };
}

export async function serveAdmin(ctx: S3Ctx, d: AdminDeps): Promise<void> {
  try {
    const { rawPath, rawQuery } = splitUrl(ctx.req.url ?? '/');
    ctx.state.target = { rawPath, rawQuery, virtualHost: false };
    const auth = verifyRequest({ method: ctx.method, rawPath, rawQuery, headers: ctx.req.headers }, d.identities, { region: d.region, now: d.now, anyRegion: true });
    if (auth.anonymous) throw new S3Error('AccessDenied', 'The admin API needs a signed request.');
    ctx.state.auth = auth;
    ctx.state.principal = d.identities.principalOf(auth.accessKeyId);
    const segments = rawPath.slice(ADMIN_PREFIX.length).split('/').filter((s) => s !== '').map(decodeSegment);
    // The live event stream answers with a stream, authorized per bucket (http/event-stream.ts).
    if (segments.length === 1 && segments[0] === 'events') return await serveEventStream(ctx, d);
    const match = findRoute(ctx.method, segments);
    await d.authorize(ctx, match.route.action);
    const result = await match.route.run(ctx, d, match.params);
    if (result === undefined) {
      ctx.status = 204;
      ctx.body = null;
    } else {
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(result);
    }
  } catch (err) {
    const e = isS3Error(err) ? err : new S3Error('InternalError');
    if (!isS3Error(err)) d.log('error', 'admin request failed', { requestId: ctx.state.requestId, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    ctx.status = e.status;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ code: e.code, message: e.message, requestId: ctx.state.requestId });
  }
}

function findRoute(method: string, segments: string[]): { route: AdminRoute; params: string[] } {
  let pathKnown = false;
  for (const [m, pattern, route] of ROUTES) {
    if (pattern.length !== segments.length) continue;
    const params: string[] = [];
    if (!pattern.every((p, i) => (p === ':' ? (params.push(segments[i]!), true) : p === segments[i]))) continue;
    pathKnown = true;
    if (m === method) return { route, params };
  }
  if (pathKnown) throw new S3Error('MethodNotAllowed', `${method} is not allowed on this admin resource.`);
  throw new S3Error('NoSuchEntity', `No admin resource at /${segments.join('/')}.`);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
}

function readBody(ctx: S3Ctx): Promise<Buffer> {
  return readSmallBody({ openBody }, ctx, MAX_BODY);
}

async function readJson(ctx: S3Ctx, emptyIsObject = false): Promise<Record<string, unknown>> {
  const text = (await readBody(ctx)).toString('utf8');
  if (emptyIsObject && text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new S3Error('InvalidInput', 'The request body is not valid JSON.');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new S3Error('InvalidInput', 'The request body must be a JSON object.');
  return v as Record<string, unknown>;
}

function field(body: Record<string, unknown>, name: string, type: 'string' | 'array', optional = false): unknown {
  const v = body[name];
  if (v === undefined && optional) return undefined;
  if (type === 'array' ? !Array.isArray(v) : typeof v !== type) throw new S3Error('InvalidInput', `"${name}" must be a${type === 'array' ? ' list' : ' string'}.`);
  return v;
}
