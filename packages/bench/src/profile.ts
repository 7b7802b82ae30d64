/**
 * `--profile PEER:WORKLOAD:N`: runs one child under `node --cpu-prof` and
 * prints where its time went (self time by function and by file).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  }>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const top = (totals: Map<string, number>, all: number, count: number): Array<string> =>
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) =>
      `${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / all).toFixed(1).padStart(5)} %  ${name}`
    )

const shortUrl = (url: string): string => {
  const at = url.lastIndexOf("node_modules/")
  const tail = at >= 0 ? url.slice(at + "node_modules/".length) : url.replace(/^file:\/\/.*\/packages\//, "")
  return tail.length > 0 ? tail : "(native)"
}

/** Profiles one child run and returns the summary as lines, with the path of the .cpuprofile. */
export const profile = (spec: string, rows = 30): ReadonlyArray<string> => {
  const [peerId = "", w = "", n = ""] = spec.split(":")
  const dir = mkdtempSync(join(tmpdir(), "taskscope-prof-"))
  const child = fileURLToPath(new URL("./child.ts", import.meta.url))
  const result = spawnSync(
    process.execPath,
    [
      "--expose-gc",
      "--max-old-space-size=8192",
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      child,
      peerId,
      w,
      String(Number(n))
    ],
    { encoding: "utf8" }
  )
  if (result.status !== 0) throw new Error(`profiled child failed: ${result.stderr}`)
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error("no .cpuprofile written")
  const prof = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile
  // only the measured window (the child prints it on stderr), not start-up and warm-up
  const window = /WINDOW (\d+) (\d+)/.exec(result.stderr)
  const [from, to] = window === null ? [0, Infinity] : [Number(window[1]), Number(window[2])]
  const byId = new Map(prof.nodes.map((node) => [node.id, node.callFrame]))
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  let all = 0
  let clock = prof.startTime
  prof.samples.forEach((id, i) => {
    const frame = byId.get(id)
    const us = prof.timeDeltas[i] ?? 0
    clock += us
    if (frame === undefined || clock < from || clock > to) return
    const where = shortUrl(frame.url)
    const name = `${frame.functionName || "(anonymous)"}  ${where}:${frame.lineNumber + 1}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    byFile.set(where, (byFile.get(where) ?? 0) + us)
    all += us
  })
  return [
    `profile of ${peerId} ${w} n=${n}: ${result.stdout.trim()}`,
    `(${join(dir, file)}; ${window === null ? "whole process" : "measured window only, without start-up and warm-up"})`,
    "",
    "self time by function:",
    ...top(byFunction, all, rows),
    "",
    "self time by file:",
    ...top(byFile, all, 15)
  ]
}
