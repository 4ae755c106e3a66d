// The baseline of bench/api.ts: a bare Express handler answering with a fixed JSON body.
import express from 'express';

const body = process.argv[3];
const app = express();
app.get('/api/v1/pipelines/:pipelineId', (_req, res) => {
  res.type('application/json').send(body);
});
const server = app.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
