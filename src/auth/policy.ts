// TEMPORARY stub (replaced by the policy engine branch).
export interface Policy { version: string; statements: unknown[] }
export function parsePolicy(text: string, kind: 'identity' | 'bucket', bucket?: string): Policy { void kind; void bucket; return JSON.parse(text) as Policy; }
export type PolicyPrincipal = { kind: 'anonymous' } | { kind: 'user'; name: string };
export interface RequestContext { action: string; resource: string; principal: PolicyPrincipal; conditions: Map<string, string[]> }
export type Decision = 'Deny' | 'Allow' | 'NotApplicable';
export function evaluate(policy: Policy, req: RequestContext): Decision { void policy; void req; return 'NotApplicable'; }
export function isPublicPolicy(policy: Policy): boolean { void policy; return false; }
export const BUILTIN_POLICIES = {} as Record<'readonly' | 'readwrite' | 'writeonly' | 'admin', Policy>;
