// Users declared in the config file (`users:`) or in TESSERA_USERS (the same list as JSON), for
// deployments that describe everything in files. They sign like users made through the admin
// API, but live only in the config: the admin API lists them and refuses to change them.

import { ConfigError, parseAccessKey, parseSecretKey, show } from './values.js';

export interface ConfigUser {
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Names of built-in or stored policies. */
  policies: string[];
}

/** IAM's user-name alphabet and length. */
export const USER_NAME = /^[\w+=,.@-]{1,64}$/;

export function parseUsers(value: unknown): ConfigUser[] {
  let list = value;
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      throw new ConfigError('expected a JSON list of users ([{"name": …, "access_key": …, "secret_key": …, "policies": […]}])');
    }
  }
  if (!Array.isArray(list)) throw new ConfigError(`expected a list of users, got ${show(value)}`);
  const names = new Set<string>();
  const keys = new Set<string>();
  return list.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ConfigError(`users[${i}]: expected name, access_key, secret_key and policies`);
    const r = item as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (!['name', 'access_key', 'secret_key', 'policies'].includes(k)) throw new ConfigError(`users[${i}]: unknown key ${JSON.stringify(k)} (expected name, access_key, secret_key, policies)`);
    }
    const name = typeof r.name === 'string' ? r.name.trim() : '';
    if (!USER_NAME.test(name)) throw new ConfigError(`users[${i}]: name must be 1-64 letters, digits or +=,.@_-, got ${show(r.name)}`);
    if (names.has(name)) throw new ConfigError(`users[${i}]: user ${name} is declared twice`);
    names.add(name);
    let accessKeyId: string;
    let secretAccessKey: string;
    try {
      accessKeyId = parseAccessKey(r.access_key);
      secretAccessKey = parseSecretKey(r.secret_key);
    } catch (e) {
      throw new ConfigError(`users[${i}] (${name}): ${(e as Error).message}`);
    }
    if (keys.has(accessKeyId)) throw new ConfigError(`users[${i}] (${name}): access key ${accessKeyId} is used twice`);
    keys.add(accessKeyId);
    const policies = r.policies === undefined || r.policies === null ? [] : r.policies;
    if (!Array.isArray(policies) || policies.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new ConfigError(`users[${i}] (${name}): policies must be a list of policy names`);
    }
    return { name, accessKeyId, secretAccessKey, policies: policies.map((p: string) => p.trim()) };
  });
}
