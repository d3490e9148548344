// The observability listener: `/metrics` (Prometheus text), `/status.json`, `/history.json` (the
// page's charts and timelines, src/metrics/history.ts) and `/` (the status page). Loopback by default; it listens elsewhere only when the topology says so.
import * as http from 'node:http';
import { Histogram, Registry } from 'prom-client';
import { registerScrapeMetrics, renderRegistry, ScrapeSources } from './scrape';
import { statusPage } from './page';
import { bigintReplacer } from '../common/json';
import type { StatusHistory } from './history';

/** What the listener serves from: the scrape's sources and, for the page, the history it samples while listening. */
export interface MetricsSources extends ScrapeSources {
  history?: StatusHistory;
}

export interface MetricsServer {
  registry: Registry;
  /** Records one health check's duration (seconds). */
  observeCheck(service: string, real: string, seconds: number): void;
  address(): { host: string; port: number };
  close(): Promise<void>;
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`metrics.listen "${listen}" is not host:port`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

function createRegistry(src: ScrapeSources): { registry: Registry; checkDuration: Histogram } {
  const registry = new Registry();
  registerScrapeMetrics(registry, src);
  const checkDuration = new Histogram({
    name: 'xlvs_health_check_duration_seconds',
    help: 'Duration of health checks per real.',
    labelNames: ['vip', 'real'],
    // From 1 ms (local TCP connect) to the longest sensible timeout.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, checkDuration };
}

export async function startMetricsServer(listen: string, src: MetricsSources): Promise<MetricsServer> {
  const { registry, checkDuration } = createRegistry(src);
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      renderRegistry(registry).then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${e.message}\n`),
      );
    } else if (url === '/status.json') {
      let body: string;
      try {
        body = JSON.stringify(src.snapshot(), bigintReplacer);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`status failed: ${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
    } else if (url === '/history.json') {
      const h = src.history?.toJSON() ?? { intervalMs: 0, capacity: 0, at: [], reals: [], health: [], vrrp: [] };
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(h));
    } else if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(statusPage());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /metrics, /status.json or /history.json\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  src.history?.start();
  return {
    registry,
    observeCheck: (service, real, seconds) => checkDuration.observe({ vip: service, real }, seconds),
    address: () => {
      const a = server.address();
      return typeof a === 'object' && a ? { host: a.address, port: a.port } : { host, port };
    },
    close: () => {
      src.history?.stop();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
