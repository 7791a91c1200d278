// The one place that builds and parses S3 XML (see docs/architecture.md). Handlers import from here;
// the work is split into a builder module (responses) and a parser module (request bodies).

export * from './xml-build.js';
export * from './xml-parse.js';
export * from './xml-lifecycle.js';
