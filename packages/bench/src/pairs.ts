/**
 * Paired measurements: several variants of the executor timed in turn inside
 * one process, the ratio to the first taken within each process, over many
 * processes (see `paired.ts` for why). Used by `paired.ts` and, for what
 * metrics cost, by `pnpm bench` itself.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { workload } from "./copies.ts"

/** A variant: where its executor comes from, whether its metrics are on, and whether its tasks have priorities and keys. */
export interface Variant {
  readonly label: string
  readonly source: string
  readonly metrics: boolean
  readonly ordered?: boolean | undefined
  /** Each task submitted from a context of its own (see `workload` in `copies.ts`). */
  readonly contexts?: boolean | undefined
}

/** Tasks per timed run: (a) trivial, (b) I/O-like. */
export const PAIR_SIZES = { trivial: 50_000, suspend: 20_000 } as const
export type PairWorkload = keyof typeof PAIR_SIZES

export const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const entry = fileURLToPath(new URL("./paired.ts", import.meta.url))

/** The child side (`paired.ts --child`): every variant, `runs` times each, in rotating order; prints the medians. */
export const childMain = async (
  variantsJson: string,
  kind: string,
  runsText: string,
  size: string | undefined
): Promise<void> => {
  const variants = JSON.parse(variantsJson) as Array<Variant>
  if (!(kind in PAIR_SIZES)) throw new Error(`--workload must be one of ${Object.keys(PAIR_SIZES).join(", ")}`)
  const runs = Number(runsText)
  const runners = await Promise.all(
    variants.map(({ contexts, metrics, ordered, source }) => workload(source, kind, metrics, ordered, contexts))
  )
  const n = size === undefined ? PAIR_SIZES[kind as PairWorkload] : Number(size)
  for (let warm = 0; warm < 3; warm++) for (const { run } of runners) await run(n / 2)
  const times = runners.map((): Array<number> => [])
  for (let round = 0; round < runs; round++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + round) % runners.length
      const { done, reset, run } = runners[i]!
      reset()
      const start = performance.now()
      await run(n)
      times[i]!.push(((performance.now() - start) * 1e6) / n)
      if (done() !== n) throw new Error(`${variants[i]!.label}: ${done()} of ${n} tasks ran`)
    }
  }
  console.log(JSON.stringify(times.map(median)))
}

/**
 * Runs `procs` processes, each loading the variants in another order; returns,
 * per variant, the ns per task and the ratio to the first variant of each process.
 */
export const measurePairs = (
  variants: ReadonlyArray<Variant>,
  kind: PairWorkload,
  options: {
    readonly procs: number
    readonly runs: number
    readonly fifo: boolean
    /** Tasks per timed run, instead of {@link PAIR_SIZES}. */
    readonly n?: number | undefined
  }
): { readonly perTask: Array<Array<number>>; readonly ratios: Array<Array<number>> } => {
  const ratios = variants.map((): Array<number> => [])
  const perTask = variants.map((): Array<number> => [])
  for (let p = 0; p < options.procs; p++) {
    const order = variants.map((_, i) => (i + p) % variants.length)
    const command = [
      process.execPath,
      entry,
      "--child",
      JSON.stringify(order.map((i) => variants[i]!)),
      "--workload",
      kind,
      "--runs",
      String(options.runs),
      ...(options.n === undefined ? [] : ["--n", String(options.n)])
    ]
    const out = options.fifo
      ? spawnSync("chrt", ["-f", "10", ...command], { encoding: "utf8" })
      : spawnSync(command[0]!, command.slice(1), { encoding: "utf8" })
    if (out.status !== 0) throw new Error(`paired ${kind}: ${out.stderr}`)
    const medians = JSON.parse(out.stdout) as Array<number>
    const byVariant = variants.map((_, i) => medians[order.indexOf(i)]!)
    byVariant.forEach((ns, i) => {
      perTask[i]!.push(ns)
      ratios[i]!.push(ns / byVariant[0]!)
    })
  }
  return { perTask, ratios }
}
