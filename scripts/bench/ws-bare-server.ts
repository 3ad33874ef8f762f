/**
 * The DESIGN.md anchor: a bare `ws` server that only holds idle sockets (no auth, no state per
 * socket beyond what `ws` keeps). It answers one `{"type":"ready"}` frame per socket, so the same
 * load generator drives it and the gateway, and serves GET /metrics with the two series ws-idle.ts
 * reads from the gateway. Prints {"port":…} on stdout once listening.
 *   node --import tsx scripts/bench/ws-bare-server.ts
 */
import { createServer } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { WebSocketServer } from 'ws';

const http = createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res
    .writeHead(200, { 'content-type': 'text/plain' })
    .end(
      `nodejs_heap_size_used_bytes ${getHeapStatistics().used_heap_size}\n` +
        `process_resident_memory_bytes ${process.memoryUsage.rss()}\n`,
    );
});
const wss = new WebSocketServer({
  server: http,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('parley.v1') ? 'parley.v1' : false),
});
wss.on('connection', (ws) => {
  ws.on('error', () => undefined);
  ws.send('{"type":"ready"}');
});
http.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (http.address() as { port: number }).port }));
});
process.on('SIGTERM', () => process.exit(0));
