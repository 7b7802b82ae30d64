import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Otlp from "effect/observability/Otlp"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { BackgroundExecutor } from "../src/index.ts"

/** What an OTLP/HTTP JSON receiver got, by path. */
interface Received {
  readonly "/v1/traces": Array<any>
  readonly "/v1/metrics": Array<any>
  readonly "/v1/logs": Array<any>
}

/** A real OTLP/HTTP receiver on a free localhost port: it keeps every JSON body it is sent. */
const receiver = Effect.acquireRelease(
  Effect.callback<{ server: Server; url: string; received: Received }>((resume) => {
    const received: Received = { "/v1/traces": [], "/v1/metrics": [], "/v1/logs": [] }
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const list = received[request.url as keyof Received]
        if (request.method === "POST" && list !== undefined) {
          list.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        } else {
          response.writeHead(404).end()
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, received }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

/** An OTLP attribute list as a plain object. */
const attributes = (list: ReadonlyArray<any> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, Object.values(value)[0]]))

describe("OTLP export", () => {
  it.live("spans and metric series reach an OTLP receiver: names, attributes, parent links, outcomes", () =>
    Effect.gen(function*() {
      const { received, url } = yield* receiver
      const Exporter = Otlp.layerJson({
        baseUrl: url,
        resource: { serviceName: "taskscope-test" },
        tracerExportInterval: "10 millis",
        metricsExportInterval: "10 millis"
      }).pipe(Layer.provide(FetchHttpClient.layer))

      // the layer flushes what it holds when it is released, at the end of this effect
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            yield* executor.submit(
              Effect.asVoid(executor.submit(Effect.sleep(5), { name: "child" })),
              { name: "parent" }
            )
            yield* executor.submit(Effect.fail("boom"), { name: "broken", reraiseOnExit: false })
            yield* executor.submit(Effect.void) // unnamed: no span by default
            yield* executor.awaitIdle
          }),
        { name: "otlp", maxConcurrency: 1 }
      ).pipe(
        Effect.withSpan("request"),
        Effect.provide(Exporter),
        Effect.provideService(Metric.MetricRegistry, new Map())
      )

      const spans = received["/v1/traces"].flatMap((body) =>
        body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))
      )
      const byName = (name: string) => {
        const found = spans.filter((span: any) => span.name === name)
        assert.strictEqual(found.length, 1, `one span ${name} in ${spans.map((s: any) => s.name).join(", ")}`)
        return found[0]
      }
      const request = byName("request")
      const parent = byName("parent")
      const child = byName("child")
      const broken = byName("broken")
      assert.deepStrictEqual(spans.map((s: any) => s.name).sort(), ["broken", "child", "parent", "request"])
      assert.strictEqual(parent.parentSpanId, request.spanId)
      assert.strictEqual(child.parentSpanId, parent.spanId)
      assert.strictEqual(broken.parentSpanId, request.spanId)
      assert.strictEqual(child.traceId, request.traceId)
      const parentAttributes = attributes(parent.attributes)
      assert.strictEqual(Number(parentAttributes["taskscope.task.id"]), 1)
      assert.strictEqual(parentAttributes["taskscope.task.name"], "parent")
      assert.strictEqual(parentAttributes["taskscope.executor"], "otlp")
      assert.strictEqual(parentAttributes["taskscope.outcome"], "success")
      assert.isTrue(Number.isFinite(Number(parentAttributes["taskscope.queue_wait_ms"])))
      assert.strictEqual(attributes(broken.attributes)["taskscope.outcome"], "failure")
      // the child waited for the permit held by the parent and "broken"
      assert.isAbove(Number(attributes(child.attributes)["taskscope.queue_wait_ms"]), 0)

      // the last metrics export holds the final values
      const last = received["/v1/metrics"].at(-1)
      assert.isDefined(last, "no metrics export arrived")
      const metrics: Array<any> = last.resourceMetrics.flatMap((r: any) =>
        r.scopeMetrics.flatMap((s: any) => s.metrics)
      )
      const points = (name: string) => {
        const metric = metrics.find((m) => m.name === name)
        assert.isDefined(metric, `series ${name} in ${metrics.map((m) => m.name).join(", ")}`)
        const data = metric.sum ?? metric.gauge ?? metric.histogram
        return data.dataPoints.map((point: any) => ({
          attributes: attributes(point.attributes),
          value: Number(point.asInt ?? point.asDouble ?? point.count)
        }))
      }
      assert.deepStrictEqual(points("taskscope_tasks_submitted"), [{ attributes: { executor: "otlp" }, value: 4 }])
      const completed = points("taskscope_tasks_completed")
      const outcome = (name: string) => completed.find((p: any) => p.attributes.outcome === name)?.value
      assert.strictEqual(outcome("success"), 3)
      assert.strictEqual(outcome("failure"), 1)
      assert.strictEqual(outcome("interrupted"), 0)
      assert.deepStrictEqual(points("taskscope_tasks_running"), [{ attributes: { executor: "otlp" }, value: 0 }])
      assert.deepStrictEqual(points("taskscope_tasks_queued"), [{ attributes: { executor: "otlp" }, value: 0 }])
      // the timers observe 1 task in 256, named or not: the first submitted (the parent)
      assert.strictEqual(points("taskscope_task_duration")[0].value, 1)
      assert.strictEqual(points("taskscope_task_queue_wait")[0].value, 1)
      assert.deepStrictEqual(points("taskscope_tasks_rejected").map((p: any) => p.attributes.reason).sort(), [
        "closed",
        "queue_full"
      ])
    }).pipe(Effect.scoped))
})
