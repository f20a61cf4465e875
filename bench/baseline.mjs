// The baseline: bare Koa + @koa/router answering a GET, the ceiling chartd's own GET is compared with.
// Usage: node bench/baseline.mjs [--port 0]; prints `baseline listening on URL`.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import Koa from 'koa';
import Router from '@koa/router';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const app = new Koa();
const router = new Router();
// Same path and body as chartd's `GET /state?state=open`, so both send answers of the same size.
router.get('/state', (ctx) => {
  ctx.type = 'text/plain';
  ctx.body = 'open';
});
app.use(router.routes());

const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`baseline listening on http://127.0.0.1:${server.address().port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
