import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUILTIN_POLICIES,
  S3_ACTIONS,
  evaluate,
  isPublicPolicy,
  parsePolicy,
  type Decision,
  type Policy,
  type PolicyPrincipal,
  type RequestContext,
} from '../../src/auth/policy.js';
import { S3Error } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const ARN = 'arn:aws:s3:::';
const ALICE: PolicyPrincipal = { kind: 'user', name: 'alice' };
const BOB: PolicyPrincipal = { kind: 'user', name: 'bob' };
const ANONYMOUS: PolicyPrincipal = { kind: 'anonymous' };

type Doc = Record<string, unknown>;

/** An identity policy; `version` null leaves the Version element out. */
function identity(statements: Doc[], version: string | null = '2012-10-17'): Policy {
  const doc = version === null ? { Statement: statements } : { Version: version, Statement: statements };
  return parsePolicy(JSON.stringify(doc), 'identity');
}

function bucketPolicy(statements: Doc[], bucket = 'photos'): Policy {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'bucket', bucket);
}

/** An identity policy of one Allow statement with this condition, on every s3 action. */
function withCondition(condition: Doc): Policy {
  return identity([{ Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: condition }]);
}

function req(
  action: string,
  resource: string,
  o: { principal?: PolicyPrincipal; keys?: Record<string, string | string[]> } = {},
): RequestContext {
  const conditions = new Map<string, string[]>();
  for (const [k, v] of Object.entries(o.keys ?? {})) conditions.set(k, Array.isArray(v) ? v : [v]);
  return { action, resource, principal: o.principal ?? ALICE, conditions };
}

/** The decision of `policy` for s3:GetObject on photos/a.jpg with these condition keys. */
function decideWith(policy: Policy, keys: Record<string, string | string[]> = {}): Decision {
  return evaluate(policy, req('s3:GetObject', `${ARN}photos/a.jpg`, { keys }));
}

/** The MalformedPolicy message parsePolicy throws for this document text. */
function malformed(text: string, kind: 'identity' | 'bucket' = 'identity', bucket?: string): string {
  try {
    parsePolicy(text, kind, bucket);
  } catch (e) {
    assert.ok(e instanceof S3Error, `expected S3Error, got ${String(e)}`);
    assert.equal(e.code, 'MalformedPolicy');
    assert.equal(e.status, 400);
    return e.message;
  }
  assert.fail(`policy was accepted: ${text}`);
}

function malformedDoc(doc: unknown, kind: 'identity' | 'bucket' = 'identity', bucket?: string): string {
  return malformed(JSON.stringify(doc), kind, bucket);
}

function malformedStatement(statement: Doc, kind: 'identity' | 'bucket' = 'identity'): string {
  return malformedDoc({ Version: '2012-10-17', Statement: [statement] }, kind, kind === 'bucket' ? 'photos' : undefined);
}

const ALLOW_ALL = { Effect: 'Allow', Action: 's3:*', Resource: '*' };

// ---------------------------------------------------------------------------------------------
// Parsing

test('invalid JSON and documents that are not objects are MalformedPolicy', () => {
  assert.equal(malformed('{"Version": "2012-10-17",'), 'This policy contains invalid Json');
  assert.match(malformed('[1, 2]'), /invalid Json.*JSON object/);
  assert.match(malformed('"text"'), /invalid Json/);
});

test('the document level: Version, Statement and unknown fields', () => {
  assert.match(malformedDoc({ Version: '2020-01-01', Statement: [ALLOW_ALL] }), /invalid Version "2020-01-01"/);
  assert.match(malformedDoc({ Version: '2012-10-17' }), /Missing required field Statement/);
  assert.match(malformedDoc({ Version: '2012-10-17', Statement: [] }), /at least one statement/);
  assert.match(malformedDoc({ Version: '2012-10-17', Statement: [ALLOW_ALL], Extra: 1 }), /Unknown field Extra/);
  assert.match(malformedDoc({ Version: '2012-10-17', Id: 7, Statement: [ALLOW_ALL] }), /Id must be a string/);
  // A single statement may be an object rather than a list; Version may be absent.
  const p = parsePolicy(JSON.stringify({ Statement: ALLOW_ALL }), 'identity');
  assert.equal(p.version, '2008-10-17');
  assert.equal(p.statements.length, 1);
});

test('statement errors name the field and the statement', () => {
  const noEffect = malformedDoc({ Version: '2012-10-17', Statement: [ALLOW_ALL, { Sid: 'Second', Action: 's3:*', Resource: '*' }] });
  assert.equal(noEffect, 'Missing required field Effect in Statement[1] (Sid "Second")');
  assert.match(malformedStatement({ ...ALLOW_ALL, Effect: 'allow' }), /Invalid effect in Statement\[0\]: "allow"/);
  assert.match(malformedStatement({ Effect: 'Allow', Resource: '*' }), /Missing required field Action in Statement\[0\]/);
  assert.match(malformedStatement({ ...ALLOW_ALL, NotAction: 's3:GetObject' }), /both Action and NotAction/);
  assert.match(malformedStatement({ Effect: 'Allow', Action: '*' }), /Missing required field Resource/);
  assert.match(malformedStatement({ ...ALLOW_ALL, Action: [] }), /Action in Statement\[0\] must be a string or a non-empty list/);
  assert.match(malformedStatement({ ...ALLOW_ALL, Colour: 'red' }), /Unknown field Colour in Statement\[0\]/);
  const dup = malformedDoc({ Version: '2012-10-17', Statement: [{ ...ALLOW_ALL, Sid: 'A' }, { ...ALLOW_ALL, Sid: 'A' }] });
  assert.match(dup, /SID.*unique: "A"/);
});

test('actions: unknown s3 names and other services are refused; wildcards and admin names are not', () => {
  assert.equal(malformedStatement({ ...ALLOW_ALL, Action: 's3:Frobnicate' }), 'Policy has invalid action in Statement[0]: "s3:Frobnicate"');
  assert.match(malformedStatement({ ...ALLOW_ALL, Action: 'iam:CreateUser' }), /invalid action.*iam:CreateUser/);
  assert.match(malformedStatement({ ...ALLOW_ALL, Action: 'GetObject' }), /invalid action/);
  assert.match(malformedStatement({ ...ALLOW_ALL, Action: ['s3:GetObject', 's3:Get Object'] }), /invalid action.*"s3:Get Object"/);
  // Case-insensitive names, wildcard names, Tessera's own admin actions.
  identity([{ ...ALLOW_ALL, Action: ['S3:getobject', 's3:Frob*', 's3:?etObject', 'admin:CreateUser', 'admin:*', '*'] }]);
  assert.ok(S3_ACTIONS.includes('ListBucketMultipartUploads'));
  assert.ok(S3_ACTIONS.includes('GetBucketPolicyStatus'));
});

test('resources: only "*" and arn:aws:s3::: ARNs', () => {
  assert.match(malformedStatement({ ...ALLOW_ALL, Resource: 'photos/*' }), /Policy has invalid resource in Statement\[0\]: "photos\/\*"/);
  assert.match(malformedStatement({ ...ALLOW_ALL, Resource: 'arn:aws:iam::1:user/x' }), /invalid resource/);
  identity([{ ...ALLOW_ALL, Resource: ['*', `${ARN}*`, `${ARN}photos/*`] }]);
});

test('identity policies must not name a principal', () => {
  assert.match(malformedStatement({ ...ALLOW_ALL, Principal: '*' }), /^Policy document should not specify a principal\. \(Statement\[0\]\)$/);
  assert.match(malformedStatement({ ...ALLOW_ALL, NotPrincipal: { AWS: 'bob' } }), /should not specify a principal/);
});

test('bucket policies: a principal is required and every resource is in the bucket', () => {
  const s = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject' };
  assert.match(malformedStatement({ ...s, Resource: `${ARN}photos/*`, Principal: undefined }, 'bucket'), /Missing required field Principal in Statement\[0\]/);
  assert.match(malformedStatement({ ...s, Resource: `${ARN}other/*` }, 'bucket'), /^Policy has invalid resource in Statement\[0\]: "arn:aws:s3:::other\/\*"$/);
  assert.match(malformedStatement({ ...s, Resource: `${ARN}photosextra/*` }, 'bucket'), /invalid resource/);
  assert.match(malformedStatement({ ...s, Resource: '*' }, 'bucket'), /invalid resource/);
  assert.match(malformedStatement({ ...s, Resource: `${ARN}*` }, 'bucket'), /invalid resource/);
  assert.match(malformedStatement({ ...s, NotResource: `${ARN}other` }, 'bucket'), /invalid resource/);
  bucketPolicy([{ ...s, Resource: [`${ARN}photos`, `${ARN}photos/*`, `${ARN}photos*`, `${ARN}photos/\${aws:username}/*`] }]);
});

test('bucket policies larger than 20 KiB are refused', () => {
  const statement = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${ARN}photos/*` };
  const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, Sid: 'x'.repeat(20 * 1024) }] });
  assert.equal(malformed(big, 'bucket', 'photos'), 'Policies must be less than 20 KB');
  // The same size is fine for an identity policy, which S3 does not limit here.
  const bigIdentity = JSON.stringify({ Version: '2012-10-17', Statement: [{ ...ALLOW_ALL, Sid: 'x'.repeat(20 * 1024) }] });
  parsePolicy(bigIdentity, 'identity');
});

test('principals: only "*" and AWS users; other kinds are invalid', () => {
  const s = { Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}photos/*` };
  for (const principal of [{ Service: 's3.amazonaws.com' }, { Federated: 'x' }, { CanonicalUser: 'abc' }, { AWS: [] }, 'alice', { AWS: 'arn:aws:iam::1:role/r' }]) {
    assert.match(malformedStatement({ ...s, Principal: principal }, 'bucket'), /^Invalid principal in policy in Statement\[0\]/);
  }
  assert.match(malformedStatement({ ...s, Principal: '*', NotPrincipal: '*' }, 'bucket'), /both Principal and NotPrincipal/);
});

test('conditions: unknown operators and malformed values are refused', () => {
  const bad = (condition: Doc): string => malformedStatement({ ...ALLOW_ALL, Condition: condition });
  assert.equal(bad({ StringEqualz: { 's3:prefix': 'a' } }), 'Policy has an invalid condition operator in Statement[0]: "StringEqualz"');
  assert.match(bad({ 'ForSomeValues:StringEquals': { k: 'a' } }), /invalid condition operator.*"ForSomeValues:StringEquals"/);
  assert.match(bad({ NullIfExists: { k: 'true' } }), /invalid condition operator/);
  assert.match(bad({ IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } }), /invalid condition value for IpAddress aws:SourceIp in Statement\[0\]: "10\.0\.0\.0\/33"/);
  assert.match(bad({ IpAddress: { 'aws:SourceIp': '300.0.0.1' } }), /invalid condition value/);
  assert.match(bad({ NotIpAddress: { 'aws:SourceIp': 'fe80::/129' } }), /invalid condition value/);
  assert.match(bad({ NumericLessThan: { 's3:max-keys': 'ten' } }), /invalid condition value for NumericLessThan s3:max-keys.*"ten"/);
  assert.match(bad({ DateGreaterThan: { 'aws:CurrentTime': 'yesterday' } }), /invalid condition value.*"yesterday"/);
  assert.match(bad({ Bool: { 'aws:SecureTransport': 'yes' } }), /invalid condition value.*"yes"/);
  assert.match(bad({ Null: { 's3:prefix': 'maybe' } }), /invalid condition value/);
  assert.match(bad({ StringEquals: { 's3:prefix': [] } }), /has no values/);
  assert.match(bad({ StringEquals: { 's3:prefix': { a: 1 } } }), /not a string, number or boolean/);
  assert.match(bad({ StringEquals: 'x' }), /must be a JSON object/);
  assert.match(bad({ StringLike: { 's3:prefix': '${aws:username' } }), /invalid policy variable/);
});

// ---------------------------------------------------------------------------------------------
// Actions, resources, effects

test('Deny beats Allow whatever the order; nothing matching is NotApplicable', () => {
  const deny = { Effect: 'Deny', Action: 's3:DeleteObject', Resource: `${ARN}photos/*` };
  for (const statements of [[ALLOW_ALL, deny], [deny, ALLOW_ALL]]) {
    const p = identity(statements);
    assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a.jpg`)), 'Deny');
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a.jpg`)), 'Allow');
  }
  const p = identity([deny]);
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a.jpg`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a.jpg`)), 'Deny');
});

test('NotAction and NotResource apply to everything but what they list', () => {
  const p = identity([{ Effect: 'Allow', NotAction: ['s3:DeleteObject', 's3:Put*'], NotResource: `${ARN}secret/*` }]);
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a`)), 'Allow');
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:PutObjectTagging', `${ARN}photos/a`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}secret/a`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}secret`)), 'Allow');
  const deny = identity([ALLOW_ALL, { Effect: 'Deny', NotAction: 's3:GetObject', Resource: `${ARN}archive/*` }]);
  assert.equal(evaluate(deny, req('s3:GetObject', `${ARN}archive/a`)), 'Allow');
  assert.equal(evaluate(deny, req('s3:PutObject', `${ARN}archive/a`)), 'Deny');
});

test('action wildcards are case-insensitive; resource wildcards are case-sensitive', () => {
  const p = identity([{ Effect: 'Allow', Action: ['s3:get*', 's3:?istBucket'], Resource: [`${ARN}photos/2024-??/*`, `${ARN}photos`] }]);
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/2024-05/a/b.jpg`)), 'Allow');
  assert.equal(evaluate(p, req('s3:GETOBJECTTAGGING', `${ARN}photos/2024-05/x`)), 'Allow');
  assert.equal(evaluate(p, req('s3:ListBucket', `${ARN}photos`)), 'Allow');
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}photos/2024-05/x`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/2024-5/x`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}Photos/2024-05/x`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photosx`)), 'NotApplicable');
  // '*' alone matches admin actions and every resource.
  const all = identity([{ Effect: 'Allow', Action: '*', Resource: '*' }]);
  assert.equal(evaluate(all, req('admin:CreateUser', '*')), 'Allow');
});

test('ListAllMyBuckets ("*") is granted by Resource "*" and by arn:aws:s3:::*, admin actions only by "*"', () => {
  const p = identity([{ Effect: 'Allow', Action: ['s3:ListAllMyBuckets', 'admin:*'], Resource: `${ARN}*` }]);
  assert.equal(evaluate(p, req('s3:ListAllMyBuckets', '*')), 'Allow');
  assert.equal(evaluate(p, req('admin:CreateUser', '*')), 'NotApplicable');
  const other = identity([{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: `${ARN}photos` }]);
  assert.equal(evaluate(other, req('s3:ListAllMyBuckets', '*')), 'NotApplicable');
});

// ---------------------------------------------------------------------------------------------
// Policy variables

test('${aws:username} is the user in 2012-10-17 policies; anonymous matches nothing', () => {
  const p = identity([{ Effect: 'Allow', Action: 's3:*', Resource: `${ARN}home/\${aws:username}/*` }]);
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}home/alice/notes.txt`)), 'Allow');
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}home/bob/notes.txt`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}home/bob/notes.txt`, { principal: BOB })), 'Allow');
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}home/\${aws:username}/x`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}home//x`, { principal: ANONYMOUS })), 'NotApplicable');
  // A value that holds wildcard characters is taken literally, not as a pattern.
  const star = req('s3:GetObject', `${ARN}home/alice/x`, { principal: { kind: 'user', name: '*' } });
  assert.equal(evaluate(p, star), 'NotApplicable');
});

test('2008-10-17 and Version-less policies take ${...} literally', () => {
  for (const version of ['2008-10-17', null]) {
    const p = identity([{ Effect: 'Allow', Action: 's3:*', Resource: `${ARN}home/\${aws:username}/*` }], version);
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}home/alice/a`)), 'NotApplicable');
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}home/\${aws:username}/a`)), 'Allow');
  }
});

test('variables in conditions, defaults and the ${*} ${?} ${$} escapes', () => {
  const p = withCondition({ StringLike: { 's3:prefix': ['${aws:username}/*', 'shared/${s3:delimiter}'] } });
  assert.equal(decideWith(p, { 's3:prefix': 'alice/docs/' }), 'Allow');
  assert.equal(decideWith(p, { 's3:prefix': 'bob/docs/' }), 'NotApplicable');
  assert.equal(decideWith(p, { 's3:prefix': 'shared//', 's3:delimiter': '/' }), 'Allow');
  assert.equal(decideWith(p, { 's3:prefix': 'shared//' }), 'NotApplicable');

  const withDefault = identity([{ Effect: 'Allow', Action: 's3:*', Resource: `${ARN}teams/\${aws:PrincipalTag/team, 'common'}/*` }]);
  assert.equal(evaluate(withDefault, req('s3:GetObject', `${ARN}teams/common/x`)), 'Allow');
  const tagged = req('s3:GetObject', `${ARN}teams/red/x`, { keys: { 'aws:principaltag/team': 'red' } });
  assert.equal(evaluate(withDefault, tagged), 'Allow');

  const escaped = identity([{ Effect: 'Allow', Action: 's3:*', Resource: `${ARN}odd/\${*}\${?}\${$}` }]);
  assert.equal(evaluate(escaped, req('s3:GetObject', `${ARN}odd/*?$`)), 'Allow');
  assert.equal(evaluate(escaped, req('s3:GetObject', `${ARN}odd/ab$`)), 'NotApplicable');
});

// ---------------------------------------------------------------------------------------------
// Principals

test('Principal "*" and {"AWS":"*"} match anonymous requests and every user', () => {
  const everyone: PolicyPrincipal[] = [ANONYMOUS, ALICE, BOB];
  const principals: unknown[] = ['*', { AWS: '*' }, { AWS: ['*'] }];
  for (const principal of principals) {
    const p = bucketPolicy([{ Effect: 'Allow', Principal: principal, Action: 's3:GetObject', Resource: `${ARN}photos/*` }]);
    for (const who of everyone) {
      const decision: Decision = evaluate(p, req('s3:GetObject', `${ARN}photos/a`, { principal: who }));
      assert.equal(decision, 'Allow');
    }
  }
});

test('a named principal (plain name or user ARN) matches that user only', () => {
  for (const name of ['arn:aws:iam::123456789012:user/alice', 'arn:aws:iam::123456789012:user/team/alice', 'alice']) {
    const p = bucketPolicy([{ Effect: 'Allow', Principal: { AWS: [name] }, Action: 's3:GetObject', Resource: `${ARN}photos/*` }]);
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a`, { principal: ALICE })), 'Allow', name);
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a`, { principal: BOB })), 'NotApplicable', name);
    assert.equal(evaluate(p, req('s3:GetObject', `${ARN}photos/a`, { principal: ANONYMOUS })), 'NotApplicable', name);
  }
});

test('NotPrincipal applies to everyone but the listed', () => {
  const p = bucketPolicy([
    { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `${ARN}photos/*` },
    { Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::1:user/alice' }, Action: 's3:DeleteObject', Resource: `${ARN}photos/*` },
  ]);
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a`, { principal: ALICE })), 'Allow');
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a`, { principal: BOB })), 'Deny');
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}photos/a`, { principal: ANONYMOUS })), 'Deny');
});

// ---------------------------------------------------------------------------------------------
// Condition operators

test('String operators: exact, ignore-case, like; negated ones', () => {
  const eq = withCondition({ StringEquals: { 's3:prefix': ['docs/', 'img/'] } });
  assert.equal(decideWith(eq, { 's3:prefix': 'img/' }), 'Allow');
  assert.equal(decideWith(eq, { 's3:prefix': 'IMG/' }), 'NotApplicable');
  // StringEquals takes '*' literally.
  const star = withCondition({ StringEquals: { 's3:prefix': 'a*' } });
  assert.equal(decideWith(star, { 's3:prefix': 'abc' }), 'NotApplicable');
  assert.equal(decideWith(star, { 's3:prefix': 'a*' }), 'Allow');
  const ic = withCondition({ StringEqualsIgnoreCase: { 's3:prefix': 'Docs/' } });
  assert.equal(decideWith(ic, { 's3:prefix': 'DOCS/' }), 'Allow');
  const like = withCondition({ StringLike: { 's3:prefix': 'docs/*/v?' } });
  assert.equal(decideWith(like, { 's3:prefix': 'docs/a/b/v2' }), 'Allow');
  assert.equal(decideWith(like, { 's3:prefix': 'docs/a/v10' }), 'NotApplicable');
  const ne = withCondition({ StringNotEquals: { 's3:prefix': ['docs/', 'img/'] } });
  assert.equal(decideWith(ne, { 's3:prefix': 'img/' }), 'NotApplicable');
  assert.equal(decideWith(ne, { 's3:prefix': 'other/' }), 'Allow');
  const neic = withCondition({ StringNotEqualsIgnoreCase: { 's3:prefix': 'docs/' } });
  assert.equal(decideWith(neic, { 's3:prefix': 'DOCS/' }), 'NotApplicable');
  const nl = withCondition({ StringNotLike: { 's3:prefix': 'private/*' } });
  assert.equal(decideWith(nl, { 's3:prefix': 'private/x' }), 'NotApplicable');
  assert.equal(decideWith(nl, { 's3:prefix': 'public/x' }), 'Allow');
  // Condition keys are case-insensitive; values per operator.
  const mixed = withCondition({ StringEquals: { 'S3:Prefix': 'docs/' } });
  assert.equal(decideWith(mixed, { 's3:prefix': 'docs/' }), 'Allow');
});

test('a key absent from the request: positive operators fail, negated ones hold', () => {
  const absent = (condition: Doc): Decision => decideWith(withCondition(condition));
  assert.equal(absent({ StringEquals: { 's3:prefix': 'a' } }), 'NotApplicable');
  assert.equal(absent({ StringLike: { 's3:prefix': '*' } }), 'NotApplicable');
  assert.equal(absent({ NumericLessThan: { 's3:max-keys': '10' } }), 'NotApplicable');
  assert.equal(absent({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }), 'NotApplicable');
  assert.equal(absent({ Bool: { 'aws:SecureTransport': 'true' } }), 'NotApplicable');
  assert.equal(absent({ StringNotEquals: { 's3:prefix': 'a' } }), 'Allow');
  assert.equal(absent({ StringNotLike: { 's3:prefix': '*' } }), 'Allow');
  assert.equal(absent({ NumericNotEquals: { 's3:max-keys': '10' } }), 'Allow');
  assert.equal(absent({ DateNotEquals: { 'aws:CurrentTime': '2024-01-01' } }), 'Allow');
  assert.equal(absent({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), 'Allow');
  assert.equal(absent({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::x' } }), 'Allow');
});

test('...IfExists: an absent key holds, a present one is tested', () => {
  const p = withCondition({ StringEqualsIfExists: { 's3:x-amz-acl': 'private' } });
  assert.equal(decideWith(p), 'Allow');
  assert.equal(decideWith(p, { 's3:x-amz-acl': 'private' }), 'Allow');
  assert.equal(decideWith(p, { 's3:x-amz-acl': 'public-read' }), 'NotApplicable');
  const num = withCondition({ NumericLessThanEqualsIfExists: { 's3:max-keys': 100 } });
  assert.equal(decideWith(num), 'Allow');
  assert.equal(decideWith(num, { 's3:max-keys': '1000' }), 'NotApplicable');
  // A Deny guarded by IfExists denies when the key is absent too.
  const deny = identity([ALLOW_ALL, { Effect: 'Deny', Action: '*', Resource: '*', Condition: { NotIpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } } }]);
  assert.equal(decideWith(deny, { 'aws:sourceip': '192.0.2.1' }), 'Deny');
  assert.equal(decideWith(deny, { 'aws:sourceip': '10.1.2.3' }), 'Allow');
});

test('Null tests the presence of a key', () => {
  const absent = withCondition({ Null: { 's3:x-amz-server-side-encryption': 'true' } });
  assert.equal(decideWith(absent), 'Allow');
  assert.equal(decideWith(absent, { 's3:x-amz-server-side-encryption': 'AES256' }), 'NotApplicable');
  const present = withCondition({ Null: { 's3:x-amz-server-side-encryption': false } });
  assert.equal(decideWith(present), 'NotApplicable');
  assert.equal(decideWith(present, { 's3:x-amz-server-side-encryption': 'AES256' }), 'Allow');
});

test('Numeric operators compare the request value with the policy value', () => {
  const cases: [string, string, Decision][] = [
    ['NumericEquals', '10', 'Allow'], ['NumericEquals', '11', 'NotApplicable'],
    ['NumericNotEquals', '11', 'Allow'], ['NumericNotEquals', '10', 'NotApplicable'],
    ['NumericLessThan', '9', 'Allow'], ['NumericLessThan', '10', 'NotApplicable'],
    ['NumericLessThanEquals', '10', 'Allow'], ['NumericLessThanEquals', '10.5', 'NotApplicable'],
    ['NumericGreaterThan', '11', 'Allow'], ['NumericGreaterThan', '10', 'NotApplicable'],
    ['NumericGreaterThanEquals', '10.0', 'Allow'], ['NumericGreaterThanEquals', '-3', 'NotApplicable'],
    ['NumericEquals', 'many', 'NotApplicable'],
  ];
  for (const [op, requestValue, expected] of cases) {
    assert.equal(decideWith(withCondition({ [op]: { 's3:max-keys': '10' } }), { 's3:max-keys': requestValue }), expected, `${op} ${requestValue}`);
  }
});

test('Date operators take ISO 8601 and epoch seconds', () => {
  const after = withCondition({ DateGreaterThan: { 'aws:CurrentTime': '2024-06-01T00:00:00Z' } });
  assert.equal(decideWith(after, { 'aws:currenttime': '2024-06-01T00:00:01Z' }), 'Allow');
  assert.equal(decideWith(after, { 'aws:currenttime': '2024-05-31T23:59:59Z' }), 'NotApplicable');
  assert.equal(decideWith(after, { 'aws:currenttime': String(Date.UTC(2024, 6, 1) / 1000) }), 'Allow');
  // The same instant written with an offset, and a date alone (midnight UTC).
  const eq = withCondition({ DateEquals: { 'aws:CurrentTime': '2024-06-01T02:00:00+02:00' } });
  assert.equal(decideWith(eq, { 'aws:currenttime': '2024-06-01T00:00:00Z' }), 'Allow');
  assert.equal(decideWith(eq, { 'aws:currenttime': '2024-06-01' }), 'Allow');
  const before = withCondition({ DateLessThanEquals: { 'aws:EpochTime': 1717200000 } });
  assert.equal(decideWith(before, { 'aws:epochtime': '1717200000' }), 'Allow');
  assert.equal(decideWith(before, { 'aws:epochtime': '1717200001' }), 'NotApplicable');
  const range = withCondition({ DateGreaterThanEquals: { 'aws:CurrentTime': '2024-01-01' }, DateLessThan: { 'aws:CurrentTime': '2025-01-01' } });
  assert.equal(decideWith(range, { 'aws:currenttime': '2024-12-31T23:59:59Z' }), 'Allow');
  assert.equal(decideWith(range, { 'aws:currenttime': '2025-01-01T00:00:00Z' }), 'NotApplicable');
});

test('Bool compares true and false', () => {
  const p = identity([ALLOW_ALL, { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': false } } }]);
  assert.equal(decideWith(p, { 'aws:securetransport': 'false' }), 'Deny');
  assert.equal(decideWith(p, { 'aws:securetransport': 'true' }), 'Allow');
  assert.equal(decideWith(p), 'Allow');
  const t = withCondition({ Bool: { 'aws:SecureTransport': 'True' } });
  assert.equal(decideWith(t, { 'aws:securetransport': 'true' }), 'Allow');
});

test('IpAddress and NotIpAddress: IPv4, IPv6 and IPv4-mapped IPv6', () => {
  const p = withCondition({ IpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '2001:db8::/32', '203.0.113.7'] } });
  const from = (ip: string): Decision => decideWith(p, { 'aws:sourceip': ip });
  assert.equal(from('192.0.2.200'), 'Allow');
  assert.equal(from('192.0.3.1'), 'NotApplicable');
  assert.equal(from('203.0.113.7'), 'Allow');
  assert.equal(from('203.0.113.8'), 'NotApplicable');
  assert.equal(from('2001:db8:1::5'), 'Allow');
  assert.equal(from('2001:db9::5'), 'NotApplicable');
  assert.equal(from('::ffff:192.0.2.9'), 'Allow');
  assert.equal(from('::ffff:c000:0209'), 'Allow');
  assert.equal(from('::ffff:198.51.100.1'), 'NotApplicable');
  assert.equal(from('not an ip'), 'NotApplicable');
  // Prefixes that are not whole bytes.
  const odd = withCondition({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/9', 'fe80::/10'] } });
  assert.equal(decideWith(odd, { 'aws:sourceip': '10.127.255.255' }), 'Allow');
  assert.equal(decideWith(odd, { 'aws:sourceip': '10.128.0.0' }), 'NotApplicable');
  assert.equal(decideWith(odd, { 'aws:sourceip': 'febf::1' }), 'Allow');
  assert.equal(decideWith(odd, { 'aws:sourceip': 'fec0::1' }), 'NotApplicable');
  // A mapped block in the policy is its IPv4 block.
  const mapped = withCondition({ IpAddress: { 'aws:SourceIp': '::ffff:127.0.0.0/104' } });
  assert.equal(decideWith(mapped, { 'aws:sourceip': '127.0.0.1' }), 'Allow');
  const not = withCondition({ NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } });
  assert.equal(decideWith(not, { 'aws:sourceip': '::ffff:127.0.0.1' }), 'NotApplicable');
  assert.equal(decideWith(not, { 'aws:sourceip': '::1' }), 'Allow');
});

test('Arn operators match per ARN part, case-sensitively', () => {
  const like = withCondition({ ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::logs-*' } });
  assert.equal(decideWith(like, { 'aws:sourcearn': 'arn:aws:s3:::logs-2024/a:b' }), 'Allow');
  assert.equal(decideWith(like, { 'aws:sourcearn': 'arn:aws:s3:::Logs-2024' }), 'NotApplicable');
  // A wildcard before the resource part does not reach into the next part.
  const acct = withCondition({ ArnEquals: { 'aws:SourceArn': 'arn:aws:sns:*:123456789012:topic' } });
  assert.equal(decideWith(acct, { 'aws:sourcearn': 'arn:aws:sns:eu-west-1:123456789012:topic' }), 'Allow');
  assert.equal(decideWith(acct, { 'aws:sourcearn': 'arn:aws:sns:eu:west:123456789012:topic' }), 'NotApplicable');
  const notLike = withCondition({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::logs-*' } });
  assert.equal(decideWith(notLike, { 'aws:sourcearn': 'arn:aws:s3:::logs-1' }), 'NotApplicable');
  assert.equal(decideWith(notLike, { 'aws:sourcearn': 'arn:aws:s3:::other' }), 'Allow');
  const notEq = withCondition({ ArnNotEquals: { 'aws:SourceArn': 'arn:aws:s3:::logs' } });
  assert.equal(decideWith(notEq, { 'aws:sourcearn': 'arn:aws:s3:::other' }), 'Allow');
});

test('ForAnyValue and ForAllValues on multi-valued keys', () => {
  const key = 's3:requestobjecttagkeys';
  const any = withCondition({ 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['project', 'owner'] } });
  assert.equal(decideWith(any, { [key]: ['colour', 'owner'] }), 'Allow');
  assert.equal(decideWith(any, { [key]: ['colour'] }), 'NotApplicable');
  assert.equal(decideWith(any), 'NotApplicable');

  const all = withCondition({ 'ForAllValues:StringLike': { 's3:RequestObjectTagKeys': ['project', 'owner-*'] } });
  assert.equal(decideWith(all, { [key]: ['project', 'owner-x'] }), 'Allow');
  assert.equal(decideWith(all, { [key]: ['project', 'colour'] }), 'NotApplicable');
  assert.equal(decideWith(all), 'Allow');

  // Negated with a qualifier: "a value that matches none" (any) / "no value matches" (all).
  const anyNot = withCondition({ 'ForAnyValue:StringNotEquals': { 's3:RequestObjectTagKeys': 'project' } });
  assert.equal(decideWith(anyNot, { [key]: ['project', 'colour'] }), 'Allow');
  assert.equal(decideWith(anyNot, { [key]: ['project'] }), 'NotApplicable');
  assert.equal(decideWith(anyNot), 'NotApplicable');
  const allNot = withCondition({ 'ForAllValues:StringNotLike': { 's3:RequestObjectTagKeys': 'secret*' } });
  assert.equal(decideWith(allNot, { [key]: ['a', 'b'] }), 'Allow');
  assert.equal(decideWith(allNot, { [key]: ['a', 'secret-x'] }), 'NotApplicable');

  // Without a qualifier, a positive operator holds when one of the values matches.
  const plain = withCondition({ StringEquals: { 's3:RequestObjectTagKeys': 'owner' } });
  assert.equal(decideWith(plain, { [key]: ['colour', 'owner'] }), 'Allow');
  const plainNot = withCondition({ StringNotEquals: { 's3:RequestObjectTagKeys': 'owner' } });
  assert.equal(decideWith(plainNot, { [key]: ['colour', 'owner'] }), 'NotApplicable');
});

test('all operators and all keys of a Condition must hold', () => {
  const p = withCondition({
    StringEquals: { 's3:prefix': 'docs/', 's3:delimiter': '/' },
    IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
  });
  assert.equal(decideWith(p, { 's3:prefix': 'docs/', 's3:delimiter': '/', 'aws:sourceip': '10.0.0.1' }), 'Allow');
  assert.equal(decideWith(p, { 's3:prefix': 'docs/', 'aws:sourceip': '10.0.0.1' }), 'NotApplicable');
  assert.equal(decideWith(p, { 's3:prefix': 'docs/', 's3:delimiter': '/', 'aws:sourceip': '11.0.0.1' }), 'NotApplicable');
});

// ---------------------------------------------------------------------------------------------
// Public or not

test('isPublicPolicy: a grant to everyone without a narrowing condition', () => {
  const grant = (s: Doc): Policy => bucketPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}photos/*`, ...s }]);
  assert.equal(isPublicPolicy(grant({ Principal: '*' })), true);
  assert.equal(isPublicPolicy(grant({ Principal: { AWS: '*' } })), true);
  assert.equal(isPublicPolicy(grant({ NotPrincipal: { AWS: 'bob' } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: { AWS: 'arn:aws:iam::1:user/alice' } })), false);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Effect: 'Deny' })), false);
  // Narrowed by fixed values of a source key: not public.
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } })), false);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1a2b' } } })), false);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringEquals: { 'aws:username': 'alice' } } })), false);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::logs' } } })), false);
  // Conditions that do not narrow to known callers: still public.
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringLike: { 'aws:SourceVpce': 'vpce-*' } } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringEquals: { 'aws:username': '${aws:username}' } } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringEqualsIfExists: { 'aws:SourceVpc': 'vpc-1' } } })), true);
  assert.equal(isPublicPolicy(grant({ Principal: '*', Condition: { StringEquals: { 's3:prefix': 'docs/' } } })), true);
  assert.equal(isPublicPolicy(BUILTIN_POLICIES.admin), false);
});

// ---------------------------------------------------------------------------------------------
// Built-in policies

test('built-in readonly: reads and lists, no writes, no administration', () => {
  const p = BUILTIN_POLICIES.readonly;
  assert.equal(evaluate(p, req('s3:GetObject', `${ARN}any-bucket/any/key`)), 'Allow');
  assert.equal(evaluate(p, req('s3:ListBucket', `${ARN}any-bucket`)), 'Allow');
  assert.equal(evaluate(p, req('s3:ListAllMyBuckets', '*')), 'Allow');
  assert.equal(evaluate(p, req('s3:PutObject', `${ARN}b/k`)), 'NotApplicable');
  assert.equal(evaluate(p, req('s3:DeleteObject', `${ARN}b/k`)), 'NotApplicable');
  assert.equal(evaluate(p, req('admin:ListUsers', '*')), 'NotApplicable');
});

test('built-in readwrite: every s3 action, no administration', () => {
  const p = BUILTIN_POLICIES.readwrite;
  for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteBucket', 's3:PutBucketPolicy']) {
    assert.equal(evaluate(p, req(action, `${ARN}b/k`)), 'Allow', action);
  }
  assert.equal(evaluate(p, req('s3:ListAllMyBuckets', '*')), 'Allow');
  assert.equal(evaluate(p, req('admin:CreateUser', '*')), 'NotApplicable');
});

test('built-in writeonly: put objects and manage uploads, nothing else', () => {
  const p = BUILTIN_POLICIES.writeonly;
  for (const action of ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:ListBucketMultipartUploads']) {
    assert.equal(evaluate(p, req(action, `${ARN}b/k`)), 'Allow', action);
  }
  for (const action of ['s3:GetObject', 's3:ListBucket', 's3:DeleteObject', 's3:PutObjectAcl']) {
    assert.equal(evaluate(p, req(action, `${ARN}b/k`)), 'NotApplicable', action);
  }
  assert.equal(evaluate(p, req('s3:ListAllMyBuckets', '*')), 'NotApplicable');
});

test('built-in admin: everything', () => {
  const p = BUILTIN_POLICIES.admin;
  assert.equal(evaluate(p, req('s3:DeleteBucket', `${ARN}b`)), 'Allow');
  assert.equal(evaluate(p, req('admin:CreateUser', '*')), 'Allow');
  assert.equal(evaluate(p, req('s3:ListAllMyBuckets', '*', { principal: ANONYMOUS })), 'Allow');
});

test('wildcards match in time proportional to pattern × value, whatever the value (no ReDoS)', () => {
  // Backtracking regexes took seconds on these (a key the caller picks, a policy any bucket owner stores).
  const resources = identity([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}photos/*/*/*/*/*.jpg` }]);
  const like = withCondition({ StringLike: { 's3:prefix': '*a*a*a*a*a*a*a*a*c' } });
  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    assert.equal(evaluate(resources, req('s3:GetObject', `${ARN}photos/${'/'.repeat(1000)}x`)), 'NotApplicable');
    assert.equal(decideWith(like, { 's3:prefix': 'a'.repeat(2000) }), 'NotApplicable');
  }
  assert.ok(Date.now() - started < 2000, `40 hostile matches took ${Date.now() - started} ms`);
  // …and still match what they should.
  assert.equal(evaluate(resources, req('s3:GetObject', `${ARN}photos/a/b/c/d/e.jpg`)), 'Allow');
  assert.equal(decideWith(like, { 's3:prefix': 'xaaaaaaaayc' }), 'Allow');
});
