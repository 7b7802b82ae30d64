/**
 * The one list of test projects in this workspace. Vitest 4+ no longer reads
 * this file on its own; `vitest.config.ts` passes it as `test.projects`.
 */
export default ["packages/executor", "packages/node", "packages/cluster", "packages/demo"]
