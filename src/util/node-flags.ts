// V8 flags the server process runs with (`npm start`, the container image's NODE_OPTIONS and the processes tests and `tessera bench memory` spawn).
//
// --max-semi-space-size=16 (MiB): Node 24's V8 lets the young generation grow to several times
// the 16 MiB of Node 20/22 and keeps it, so a server that served a burst of listings holds
// 240-280 MiB instead of ~150, and four large uploads then peak past the 300 MiB goal. On
// Node 20 and 22 it is the default already. Not in the bin's shebang: `env -S` is not
// portable to every shell and npm's Windows shims; `npx tessera server` on 24 takes it from NODE_OPTIONS.
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
