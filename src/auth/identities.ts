// Who may sign requests: the root key, users (each with up to two access keys and attached
// policies) and the policies themselves. Users made through the admin API are kept in the
// metadata store (records 'user', 'key', 'policy'; secrets sealed by SecretBox); users
// declared in the config live only there and cannot be changed through the API.
//
// Every request looks a key up, so everything is held in memory and the store is written
// through on each change. Changes are serialised (one admin change at a time), and the
// in-memory maps change only after the store accepted the write.

import { generateKeyPair, type KeyPair } from '../config/credentials.js';
import { USER_NAME, type ConfigUser } from '../config/users.js';
import { S3Error } from '../errors.js';
import type { IamKind, MetaOp, MetaStore } from '../meta/types.js';
import { BUILTIN_POLICIES, BUILTIN_POLICY_DOCUMENTS, parsePolicy, type Policy } from './policy.js';
import { SecretBox, type SealedSecret } from './secret-box.js';
import type { Credentials } from './verify.js';
import { createHash } from 'node:crypto';

export const MAX_KEYS_PER_USER = 2;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export type Principal =
  | { kind: 'root'; accessKeyId: string }
  | { kind: 'user'; name: string; accessKeyId: string }
  | { kind: 'anonymous' };

interface UserRecord {
  name: string;
  created: number;
  enabled: boolean;
  policies: string[];
}

interface KeyRecord {
  accessKeyId: string;
  user: string;
  created: number;
  secret: SealedSecret;
}

interface PolicyRecord {
  name: string;
  created: number;
  document: string;
}

/** What the admin API shows of a user. Secrets never leave, except once at creation. */
export interface UserInfo {
  user: string;
  enabled: boolean;
  policies: string[];
  accessKeys: Array<{ accessKey: string; created: string }>;
  created: string;
  /** Declared in the config file: read-only here. */
  fromConfig: boolean;
  /** The canonical id S3 shows as the owner of this user's buckets. */
  canonicalId: string;
}

export interface PolicyInfo {
  name: string;
  builtin: boolean;
  document: unknown;
  users: string[];
}

export interface NewKey {
  user: string;
  accessKey: string;
  secretKey: string;
}

interface LiveKey {
  user: string;
  secret: string | undefined; // undefined: sealed under another root secret
  created: number;
  fromConfig: boolean;
}

export class Identities implements Credentials {
  private readonly users = new Map<string, UserRecord & { fromConfig: boolean }>();
  private readonly keys = new Map<string, LiveKey>();
  private readonly policies = new Map<string, PolicyRecord & { parsed: Policy }>();
  private readonly box: SecretBox;
  private queue: Promise<unknown> = Promise.resolve();
  /** Keys whose secret could not be unsealed (root secret changed): they cannot sign. */
  unreadableKeys = 0;
  /** Stored policies the parser refuses: they deny everything until replaced. */
  readonly unreadablePolicies: string[] = [];

  constructor(
    private readonly meta: MetaStore,
    readonly root: KeyPair,
    private readonly configUsers: ConfigUser[] = [],
    private readonly now: () => number = Date.now,
  ) {
    this.box = new SecretBox(root.secretAccessKey);
  }

  async load(): Promise<void> {
    for (const { record } of await this.meta.listIam('policy')) {
      const p = record as PolicyRecord;
      // A stored document was valid when it was stored. One a later parser refuses must not
      // silently lose its Deny statements: it denies everything to the users it is attached to
      // until it is replaced (the server logs its name at start).
      let parsed: Policy;
      try {
        parsed = parsePolicy(p.document, 'identity');
      } catch {
        parsed = parsePolicy('{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}', 'identity');
        this.unreadablePolicies.push(p.name);
      }
      this.policies.set(p.name, { ...p, parsed });
    }
    for (const { record } of await this.meta.listIam('user')) {
      const u = record as UserRecord;
      this.users.set(u.name, { ...u, fromConfig: false });
    }
    for (const { record } of await this.meta.listIam('key')) {
      const k = record as KeyRecord;
      const secret = this.box.open(k.accessKeyId, k.secret);
      if (secret === undefined) this.unreadableKeys++;
      this.keys.set(k.accessKeyId, { user: k.user, secret, created: k.created, fromConfig: false });
    }
    for (const c of this.configUsers) {
      if (this.users.has(c.name)) continue; // a stored user of that name wins; the config one is reported by `user list`
      this.users.set(c.name, { name: c.name, created: 0, enabled: true, policies: c.policies, fromConfig: true });
      this.keys.set(c.accessKeyId, { user: c.name, secret: c.secretAccessKey, created: 0, fromConfig: true });
    }
  }

  // ------------------------------------------------------------------ request path

  lookup(accessKeyId: string): string | undefined {
    if (accessKeyId === this.root.accessKeyId) return this.root.secretAccessKey;
    const k = this.keys.get(accessKeyId);
    if (!k || k.secret === undefined) return undefined;
    return this.users.get(k.user)?.enabled ? k.secret : undefined;
  }

  principalOf(accessKeyId: string): Principal {
    if (accessKeyId === this.root.accessKeyId) return { kind: 'root', accessKeyId };
    const k = this.keys.get(accessKeyId);
    if (!k) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
    return { kind: 'user', name: k.user, accessKeyId };
  }

  /** The parsed policies attached to a user (unknown names grant nothing). */
  policiesOf(user: string): Policy[] {
    const u = this.users.get(user);
    if (!u) return [];
    const out: Policy[] = [];
    for (const name of u.policies) {
      const p = builtin(name) ?? this.policies.get(name)?.parsed;
      if (p) out.push(p);
    }
    return out;
  }

  hasUser(name: string): boolean {
    return this.users.has(name);
  }

  // ------------------------------------------------------------------ admin: users

  listUsers(): UserInfo[] {
    return [...this.users.keys()].sort().map((n) => this.userInfo(n));
  }

  userInfo(name: string): UserInfo {
    const u = this.mustUser(name);
    const accessKeys = [...this.keys.entries()]
      .filter(([, k]) => k.user === name)
      .sort((a, b) => a[1].created - b[1].created)
      .map(([accessKey, k]) => ({ accessKey, created: new Date(k.created).toISOString() }));
    return {
      user: name,
      enabled: u.enabled,
      policies: [...u.policies],
      accessKeys,
      created: new Date(u.created).toISOString(),
      fromConfig: u.fromConfig,
      canonicalId: canonicalIdOf(name),
    };
  }

  addUser(name: string, policies: string[]): Promise<NewKey> {
    return this.serial(async () => {
      if (!USER_NAME.test(name)) throw new S3Error('InvalidInput', `User name must be 1-64 letters, digits or +=,.@_- characters: ${JSON.stringify(name)}`);
      if (this.users.has(name)) throw new S3Error('EntityAlreadyExists', `User ${name} already exists.`);
      const unique = [...new Set(policies)];
      for (const p of unique) this.mustPolicy(p);
      const user: UserRecord = { name, created: this.now(), enabled: true, policies: unique };
      const { op, live, pair } = this.newKey(name);
      await this.meta.batch([iamPut('user', name, user), op]);
      this.users.set(name, { ...user, fromConfig: false });
      this.keys.set(pair.accessKeyId, live);
      return { user: name, accessKey: pair.accessKeyId, secretKey: pair.secretAccessKey };
    });
  }

  removeUser(name: string): Promise<void> {
    return this.serial(async () => {
      this.mutableUser(name);
      // Ownership is by name: a later user of the same name would inherit these buckets.
      const owned = (await this.meta.listBuckets()).filter((b) => b.owner === name).map((b) => b.name);
      if (owned.length > 0) {
        throw new S3Error('DeleteConflict', `User ${name} owns ${owned.length} bucket(s) (${owned.slice(0, 5).join(', ')}${owned.length > 5 ? ', …' : ''}); delete them first.`);
      }
      const keys = [...this.keys.entries()].filter(([, k]) => k.user === name).map(([id]) => id);
      await this.meta.batch([...keys.map((id) => iamDel('key', id)), iamDel('user', name)]);
      for (const id of keys) this.keys.delete(id);
      this.users.delete(name);
    });
  }

  setEnabled(name: string, enabled: boolean): Promise<void> {
    return this.serial(async () => {
      const u = this.mutableUser(name);
      const next: UserRecord = { name, created: u.created, enabled, policies: u.policies };
      await this.meta.batch([iamPut('user', name, next)]);
      this.users.set(name, { ...next, fromConfig: false });
    });
  }

  addKey(name: string): Promise<NewKey> {
    return this.serial(async () => {
      this.mutableUser(name);
      const have = [...this.keys.values()].filter((k) => k.user === name).length;
      if (have >= MAX_KEYS_PER_USER) {
        throw new S3Error('LimitExceeded', `User ${name} already has ${MAX_KEYS_PER_USER} access keys; remove one first.`);
      }
      const { op, live, pair } = this.newKey(name);
      await this.meta.batch([op]);
      this.keys.set(pair.accessKeyId, live);
      return { user: name, accessKey: pair.accessKeyId, secretKey: pair.secretAccessKey };
    });
  }

  removeKey(accessKeyId: string): Promise<void> {
    return this.serial(async () => {
      const k = this.keys.get(accessKeyId);
      if (!k) throw new S3Error('NoSuchEntity', `Access key ${accessKeyId} does not exist.`);
      if (k.fromConfig) throw new S3Error('InvalidInput', `Access key ${accessKeyId} is declared in the config file; change it there.`);
      await this.meta.batch([iamDel('key', accessKeyId)]);
      this.keys.delete(accessKeyId);
    });
  }

  attach(name: string, policy: string): Promise<void> {
    return this.serial(async () => {
      const u = this.mutableUser(name);
      this.mustPolicy(policy);
      if (u.policies.includes(policy)) return;
      const next: UserRecord = { name, created: u.created, enabled: u.enabled, policies: [...u.policies, policy] };
      await this.meta.batch([iamPut('user', name, next)]);
      this.users.set(name, { ...next, fromConfig: false });
    });
  }

  detach(name: string, policy: string): Promise<void> {
    return this.serial(async () => {
      const u = this.mutableUser(name);
      if (!u.policies.includes(policy)) throw new S3Error('NoSuchEntity', `Policy ${policy} is not attached to user ${name}.`);
      const next: UserRecord = { name, created: u.created, enabled: u.enabled, policies: u.policies.filter((p) => p !== policy) };
      await this.meta.batch([iamPut('user', name, next)]);
      this.users.set(name, { ...next, fromConfig: false });
    });
  }

  // ------------------------------------------------------------------ admin: policies

  listPolicies(): PolicyInfo[] {
    const names = [...Object.keys(BUILTIN_POLICIES), ...[...this.policies.keys()].sort()];
    return names.map((n) => this.policyInfo(n));
  }

  policyInfo(name: string): PolicyInfo {
    const b = builtin(name);
    const users = [...this.users.values()].filter((u) => u.policies.includes(name)).map((u) => u.name).sort();
    if (b) return { name, builtin: true, document: builtinDocument(name), users };
    const p = this.policies.get(name);
    if (!p) throw new S3Error('NoSuchEntity', `Policy ${name} does not exist.`);
    return { name, builtin: false, document: JSON.parse(p.document) as unknown, users };
  }

  /** Adds or replaces a stored policy (users that have it attached get the new one at once). */
  putPolicy(name: string, document: string): Promise<void> {
    return this.serial(async () => {
      if (!POLICY_NAME.test(name)) throw new S3Error('InvalidInput', `Policy name must be 1-128 letters, digits or +=,.@_- characters: ${JSON.stringify(name)}`);
      if (builtin(name)) throw new S3Error('InvalidInput', `Policy ${name} is built in and cannot be changed.`);
      const parsed = parsePolicy(document, 'identity');
      const rec: PolicyRecord = { name, created: this.policies.get(name)?.created ?? this.now(), document };
      await this.meta.batch([iamPut('policy', name, rec)]);
      this.policies.set(name, { ...rec, parsed });
    });
  }

  removePolicy(name: string): Promise<void> {
    return this.serial(async () => {
      if (builtin(name)) throw new S3Error('InvalidInput', `Policy ${name} is built in and cannot be removed.`);
      if (!this.policies.has(name)) throw new S3Error('NoSuchEntity', `Policy ${name} does not exist.`);
      const users = [...this.users.values()].filter((u) => u.policies.includes(name)).map((u) => u.name);
      if (users.length > 0) throw new S3Error('DeleteConflict', `Policy ${name} is attached to ${users.join(', ')}; detach it first.`);
      await this.meta.batch([iamDel('policy', name)]);
      this.policies.delete(name);
    });
  }

  // ------------------------------------------------------------------ internals

  private newKey(user: string): { op: MetaOp; live: LiveKey; pair: KeyPair } {
    let pair = generateKeyPair();
    while (this.keys.has(pair.accessKeyId) || pair.accessKeyId === this.root.accessKeyId) pair = generateKeyPair();
    const rec: KeyRecord = { accessKeyId: pair.accessKeyId, user, created: this.now(), secret: this.box.seal(pair.accessKeyId, pair.secretAccessKey) };
    return { op: iamPut('key', pair.accessKeyId, rec), live: { user, secret: pair.secretAccessKey, created: rec.created, fromConfig: false }, pair };
  }

  private mustUser(name: string): UserRecord & { fromConfig: boolean } {
    const u = this.users.get(name);
    if (!u) throw new S3Error('NoSuchEntity', `User ${name} does not exist.`);
    return u;
  }

  private mutableUser(name: string): UserRecord {
    const u = this.mustUser(name);
    if (u.fromConfig) throw new S3Error('InvalidInput', `User ${name} is declared in the config file; change it there.`);
    return u;
  }

  private mustPolicy(name: string): void {
    if (!builtin(name) && !this.policies.has(name)) throw new S3Error('NoSuchEntity', `Policy ${name} does not exist.`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function builtin(name: string): Policy | undefined {
  return Object.prototype.hasOwnProperty.call(BUILTIN_POLICIES, name) ? BUILTIN_POLICIES[name as keyof typeof BUILTIN_POLICIES] : undefined;
}

function builtinDocument(name: string): unknown {
  return JSON.parse(BUILTIN_POLICY_DOCUMENTS[name as keyof typeof BUILTIN_POLICY_DOCUMENTS]) as unknown;
}

function iamPut(kind: IamKind, name: string, record: unknown): MetaOp {
  return { type: 'putIam', kind, name, record };
}

function iamDel(kind: IamKind, name: string): MetaOp {
  return { type: 'delIam', kind, name };
}

/** A stable 64-hex-digit id per user, shaped like S3's canonical user ids. */
export function canonicalIdOf(user: string): string {
  return createHash('sha256').update(`tessera-user:${user}`).digest('hex');
}
