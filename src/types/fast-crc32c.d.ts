declare module 'fast-crc32c' {
  export function calculate(input: Buffer | string, initial?: number): number;
}
declare module 'fast-crc32c/impls/sse4_crc32c' {
  export function calculate(input: Buffer | string, initial?: number): number;
}
