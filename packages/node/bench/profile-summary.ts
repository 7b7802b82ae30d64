/**
 * Summarizes the `.cpuprofile` files of a directory (one per thread, as
 * `node --cpu-prof` writes them): the share of each thread's busy samples by
 * where the code lives, and the functions with the most self time. Samples
 * taken while a thread waits in `Atomics.wait` land on the function that
 * called it (the worker's receive loop): the profiler cannot tell waiting
 * from running there.
 *
 *   node bench/profile-summary.ts /tmp/prof
 */
import { readdirSync, readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

const where = ({ functionName, url }: Node["callFrame"]): string => {
  if (functionName === "(idle)") return "idle"
  if (functionName === "(garbage collector)") return "garbage collector"
  if (functionName === "(program)") return "V8 (program)"
  if (url === "") return `native ${functionName}`
  if (url.includes("/effect/")) {
    return url.includes("Schema")
      ? "effect Schema"
      : "effect (fibers, Deferred, Context, ...)"
  }
  if (url.includes("/packages/executor/")) return "@taskscope/executor"
  if (url.includes("/packages/node/src/")) return `@taskscope/node ${url.split("/").pop()}`
  if (url.includes("platform-node")) return "@effect/platform-node"
  if (url.startsWith("node:")) return `node internals (${url.split("/").pop()})`
  return url.split("/").slice(-2).join("/")
}

const dir = process.argv[2] ?? "."
for (const file of readdirSync(dir).filter((name) => name.endsWith(".cpuprofile")).sort()) {
  const profile = JSON.parse(readFileSync(`${dir}/${file}`, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const places = new Map<string, number>()
  const functions = new Map<string, number>()
  let busy = 0
  for (const id of profile.samples) {
    const frame = byId.get(id)!.callFrame
    const place = where(frame)
    if (place === "idle") continue
    busy++
    places.set(place, (places.get(place) ?? 0) + 1)
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber + 1}`
    functions.set(name, (functions.get(name) ?? 0) + 1)
  }
  const ms = (profile.endTime - profile.startTime) / 1000
  const share = (n: number) => `${(100 * n / busy).toFixed(1)}%`
  console.log(
    `\n${file}: ${ms.toFixed(0)} ms profiled, ${
      (100 * busy / profile.samples.length).toFixed(0)
    }% of the samples not idle`
  )
  console.log("  by place:")
  for (const [place, n] of [...places].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    console.log(`    ${share(n).padStart(6)}  ${place}`)
  }
  console.log("  most self time:")
  for (const [name, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`    ${share(n).padStart(6)}  ${name}`)
  }
}
