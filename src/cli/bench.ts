export async function runBench(_argv: string[]): Promise<void> { throw new Error("not yet"); }
