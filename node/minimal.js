'use strict';
// The leanest idiomatic Node.js echo server, the yardstick for node/server.js in
// scripts/fidelity.sh: `socket.pipe(socket)` per connection. Prints `listening on IP:PORT` first,
// as the suite's servers do, and takes only --addr.
//
//   node node/minimal.js --addr 127.0.0.1:0

const net = require('net');

const i = process.argv.indexOf('--addr');
const [, host, port] = /^(.*):([0-9]+)$/.exec(i > 0 ? process.argv[i + 1] : '127.0.0.1:7878');
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => {
  const { address, port: bound } = server.address();
  process.stdout.write(`listening on ${address}:${bound}\n`);
});
