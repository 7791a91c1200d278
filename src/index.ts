// The package's entry point: `import { startTessera } from 'tessera'` (embedded mode, see
// embed/start-tessera.ts). The server itself is the `tessera` command (bin/tessera.js).

export { startTessera } from './embed/start-tessera.js';
export type { CloseOptions, StartTesseraOptions, Tessera, TesseraClientConfig } from './embed/start-tessera.js';
export { ConfigError } from './config/values.js';
export { VERSION } from './version.js';
