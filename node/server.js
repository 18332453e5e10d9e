'use strict';
// node: the suite's TCP echo server in Node.js's own idiom: `net.createServer` on one libuv event
// loop, a 'data' handler per connection that writes the chunk back, pausing the socket while the
// peer is not reading (the backpressure `socket.pipe` applies).
//
// The same contract as every server of the suite (crates/common): the same flags, `listening on
// IP:PORT` first, TCP_NODELAY, a backlog of 4096, the connection cap (`server.maxConnections`)
// and its log line, and on SIGINT or SIGTERM: stop accepting, close every connection, print a
// one-line JSON summary with the same keys, exit 0. Two things Node decides itself: reads are
// libuv's (up to 64 KiB at a time; `--buffer` is accepted and has no effect), and there is one
// loop (`--threads` is accepted, as the Python servers accept it).
//
// The work kinds, in Node's idiom:
//   sleep         an awaited timer (`timers/promises`): the loop serves everyone else
//   block         a synchronous sleep on the loop (`Atomics.wait`): the loop stops
//   cpu           a busy loop on the loop
//   offload       the same synchronous sleep on a pool of worker threads (`worker_threads`)
//   file-block    `fs.readFileSync`, on the loop
//   file-offload  `fs.promises.readFile`, on libuv's thread pool (4 threads unless
//                 UV_THREADPOOL_SIZE says otherwise)
//   sqlite-block  better-sqlite3 (synchronous by design), on the loop
//   sqlite-offload  the same query on the worker threads, each with its own connection
// better-sqlite3 is the one npm package (node/package.json; scripts/setup.sh node installs it into
// node/node_modules/): Node 20 has no SQLite of its own (node:sqlite is Node 22).
//
//   node node/server.js --addr 127.0.0.1:0 [--work block:1ms] ...

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const { setTimeout: sleep } = require('timers/promises');
const { Worker } = require('worker_threads');

const TARGET = 'node';
const ABOUT = 'Node.js net.createServer, one event loop';

// The same defaults as crates/common/src/config.rs, for the reasons given there.
const DEFAULTS = {
  addr: '127.0.0.1:7878', threads: os.availableParallelism(), buffer: 16 * 1024,
  'max-connections': 16384, backlog: 4096, work: 'none', 'work-every': 1, 'msg-size': 64,
};
// How long connections may take to close after the shutdown signal before the server exits
// regardless (crates/common/src/server.rs: SHUTDOWN_GRACE).
const SHUTDOWN_GRACE_MS = 5000;
// How often the loop-lag probe samples (crates/common/src/lag.rs: LAG_PERIOD), which is also
// monitorEventLoopDelay's default.
const LAG_PERIOD_MS = 10;
// Worker threads for `offload`: piscina's default size, one and a half per CPU.
const OFFLOAD_WORKERS = Math.ceil(os.availableParallelism() * 1.5);
// The exit status for work this server does not do (sysexits' EX_UNAVAILABLE), which loadgen
// reports as not measured.
const EXIT_UNAVAILABLE = 69;

// ------------------------------------------------------------------------------------------------
// Flags

function fail(message) {
  process.stderr.write(`echo-node: error: ${message}\n`);
  process.exit(2);
}

function parseDuration(s) {
  const m = /^([0-9.]+)(ns|us|µs|ms|s|m|min)$/.exec(s.trim());
  if (!m || Number.isNaN(Number(m[1]))) throw new Error(`'${s}' is not a duration: write e.g. 500us, 1ms, 10s`);
  const scale = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, min: 60e3 }[m[2]];
  return Number(m[1]) * scale; // milliseconds
}

function parseBytes(s) {
  const m = /^([0-9]+)(|B|K|KiB|k|M|MiB|G|GiB)$/.exec(s.trim());
  if (!m) throw new Error(`'${s}' is not a byte count: write e.g. 64, 16KiB, 1MiB`);
  const scale = { '': 1, B: 1, K: 1024, KiB: 1024, k: 1024, M: 1 << 20, MiB: 1 << 20, G: 1 << 30, GiB: 1 << 30 }[m[2]];
  return Number(m[1]) * scale;
}

function parseWork(spelling) {
  const [kind, ...rest] = spelling.split(':');
  const arg = rest.join(':');
  const bad = (reason) => fail(`invalid work '${spelling}': ${reason}`);
  const work = { kind, ms: 0, bytes: 0 };
  try {
    if (['sleep', 'block', 'offload', 'cpu'].includes(kind)) {
      if (!arg) bad('needs a duration');
      work.ms = parseDuration(arg);
      if (!(work.ms > 0)) bad('the duration must be more than zero');
    } else if (['file-block', 'file-offload'].includes(kind)) {
      if (!arg) bad('needs a size');
      work.bytes = parseBytes(arg);
      if (work.bytes === 0) bad('the size must be more than zero');
    } else if (['none', 'sqlite-block', 'sqlite-offload'].includes(kind)) {
      if (arg) bad(`${kind} takes no argument`);
    } else {
      bad(`unknown kind '${kind}'`);
    }
  } catch (e) {
    bad(e.message);
  }
  return work;
}

function parseConfig(argv) {
  const raw = { ...DEFAULTS, nagle: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`TCP echo server: ${ABOUT}.\n\nFlags: --addr, --threads, --buffer, ` +
        '--max-connections, --backlog, --nagle, --work, --work-every, --msg-size (as every server ' +
        'of the suite).\nPrints `listening on IP:PORT` first; on SIGINT or SIGTERM stops ' +
        'accepting, closes its connections, prints a one-line JSON summary and exits 0.\n');
      process.exit(0);
    }
    let [name, value] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s) : [null];
    if (name === 'nagle' && value === undefined) { raw.nagle = true; continue; }
    if (!(name in DEFAULTS)) fail(`unexpected argument '${arg}'`);
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`--${name} needs a value`);
      value = argv[++i];
    }
    raw[name] = value;
  }
  const positive = (name) => {
    const n = Number(raw[name]);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} ${raw[name]}: must be a whole number, at least 1`);
    return n;
  };
  const m = /^\[?([^\]]+?)\]?:([0-9]+)$/.exec(String(raw.addr));
  if (!m || net.isIP(m[1]) === 0) fail(`--addr '${raw.addr}' is not IP:PORT`);
  const config = {
    host: m[1], port: Number(m[2]), threads: positive('threads'), buffer: positive('buffer'),
    maxConnections: positive('max-connections'), backlog: positive('backlog'), nagle: raw.nagle,
    work: parseWork(String(raw.work)), workEvery: positive('work-every'), msgSize: positive('msg-size'),
  };
  if (config.buffer > 64 << 20) fail(`--buffer ${config.buffer}: more than the 64 MiB allowed`);
  return config;
}

// ------------------------------------------------------------------------------------------------
// Work

// Counts a connection's bytes into messages, to find the working ones (work.rs: Framer).
class Framer {
  constructor(msgSize, every) { this.cycle = msgSize * every; this.offset = 0; }
  received(n) {
    const end = this.offset + n;
    this.offset = end % this.cycle;
    return Math.floor(end / this.cycle);
  }
}

// A synchronous sleep: the thread waits on a futex no one will wake.
function blockFor(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Burns CPU until `ms` have passed.
function spin(ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  let x = 0n;
  while (process.hrtime.bigint() < end) {
    for (let i = 0n; i < 64n; i++) x = (x * 6364136223846793005n + i) & 0xFFFFFFFFFFFFFFFFn;
  }
  return x;
}

// A fixed pool of worker threads, each doing one job at a time in the order asked: what piscina
// does, in the few lines these two jobs need. A job is a synchronous sleep (`offload`) or the
// SQLite query on the worker's own read-only connection (`sqlite-offload`).
class OffloadPool {
  constructor(size, database) {
    const code = `const { parentPort, workerData } = require('worker_threads');
      let query = null;
      if (workerData) {
        const Database = require(workerData.module);
        const db = new Database(workerData.path, { readonly: true });
        const statement = db.prepare(workerData.sql).raw();
        query = () => statement.get();
      }
      parentPort.on('message', (ms) => {
        if (query) { parentPort.postMessage(query()); return; }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        parentPort.postMessage(null);
      });`;
    const workerData = database ? { module: SQLITE_MODULE, path: database.path, sql: SQLITE_QUERY } : null;
    this.idle = [];
    this.queue = [];
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(code, { eval: true, workerData });
      worker.unref();
      worker.on('message', (result) => {
        const done = worker.done;
        worker.done = null;
        this.release(worker);
        done(result);
      });
      this.idle.push(worker);
      return worker;
    });
  }
  run(ms) {
    return new Promise((resolve) => { this.queue.push([ms, resolve]); this.dispatch(); });
  }
  release(worker) { this.idle.push(worker); this.dispatch(); }
  dispatch() {
    while (this.idle.length && this.queue.length) {
      const worker = this.idle.pop();
      const [ms, resolve] = this.queue.shift();
      worker.done = resolve;
      worker.postMessage(ms);
    }
  }
  close() { return Promise.all(this.workers.map((w) => w.terminate())); }
}

// The SQLite work's table and query (crates/common/src/work.rs: SQLITE_ROWS, SQLITE_QUERY).
const SQLITE_ROWS = 20000;
const SQLITE_QUERY = "SELECT count(*), sum(amount) FROM orders WHERE note LIKE '%7%'";
// better-sqlite3, found beside this script (node/node_modules/), or null if not installed.
const SQLITE_MODULE = (() => {
  try { return require.resolve('better-sqlite3'); } catch { return null; }
})();

// The `orders` table of the sqlite-* work, built by the same recipe as work.rs, and its answer.
function prepareDatabase() {
  const Database = require(SQLITE_MODULE);
  const file = path.join(os.tmpdir(), `echo-bench-${process.pid}-sqlite-0`);
  const db = new Database(file);
  db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT)');
  const insert = db.prepare('INSERT INTO orders (customer, amount, note) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < SQLITE_ROWS; i++) insert.run(i % 97, i % 1000, `order ${i} for customer ${i % 97}`);
  })();
  const expected = JSON.stringify(db.prepare(SQLITE_QUERY).raw().get());
  db.close();
  const readOnly = new Database(file, { readonly: true });
  const statement = readOnly.prepare(SQLITE_QUERY).raw();
  const check = (row) => {
    if (JSON.stringify(row) !== expected) throw new Error(`query returned ${JSON.stringify(row)}, expected ${expected}`);
  };
  return { path: file, query: () => check(statement.get()), check, close: () => readOnly.close() };
}

// Why this server does not do `work`, or null if it does.
function refusal(work) {
  if (work.kind.startsWith('sqlite-') && !SQLITE_MODULE) {
    return 'Node 20 has no SQLite of its own (node:sqlite needs Node 22) and better-sqlite3 is not ' +
      'installed: run scripts/setup.sh node';
  }
  return null;
}

// The work as a function: synchronous (returns undefined) for the kinds that hold the loop,
// returning a promise for the kinds that wait.
function makeWork(work, dataFile, database, pool) {
  switch (work.kind) {
    case 'none': return null;
    case 'sleep': return () => sleep(work.ms);
    case 'block': return () => blockFor(work.ms);
    case 'cpu': return () => { spin(work.ms); };
    case 'offload': return () => pool.run(work.ms);
    case 'file-block': return () => checkSize(fs.readFileSync(dataFile));
    case 'file-offload': return () => fs.promises.readFile(dataFile).then(checkSize);
    case 'sqlite-block': return () => database.query();
    case 'sqlite-offload': return () => pool.run(0).then(database.check);
  }
  function checkSize(data) {
    if (data.length !== work.bytes) throw new Error(`read ${data.length} bytes of ${dataFile}, expected ${work.bytes}`);
  }
}

// The file the file-* kinds read, named as crates/common/src/work.rs names it.
function prepareFile(bytes) {
  const file = path.join(os.tmpdir(), `echo-bench-${process.pid}-data-0`);
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 'e');
  for (let left = bytes; left > 0; left -= chunk.length) {
    fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return file;
}

// ------------------------------------------------------------------------------------------------
// The server

function main() {
  // Set-up: flags, the work, the counters, the loop-lag probe.
  const config = parseConfig(process.argv.slice(2));
  const why = refusal(config.work);
  if (why) {
    process.stderr.write(`echo-node: --work ${config.work.kind} is not measured: ${why}\n`);
    process.exit(EXIT_UNAVAILABLE);
  }
  const dataFile = config.work.bytes ? prepareFile(config.work.bytes) : null;
  const database = config.work.kind.startsWith('sqlite-') ? prepareDatabase() : null;
  const pool = ['offload', 'sqlite-offload'].includes(config.work.kind)
    ? new OffloadPool(OFFLOAD_WORKERS, config.work.kind === 'sqlite-offload' ? database : null) : null;
  const work = makeWork(config.work, dataFile, database, pool);
  const stats = { accepted: 0, closed: 0, refused: 0, bytes_echoed: 0, errors: 0, resets_by_peer: 0 };
  const sockets = new Set();
  // Samples only while a connection is open, as the other servers' probes do.
  const lag = monitorEventLoopDelay({ resolution: LAG_PERIOD_MS });
  let stopping = false;

  // One connection: echo each chunk, after the work its completed messages are due.
  function onConnection(socket) {
    if (stopping) { socket.destroy(); return; }
    stats.accepted++;
    if (sockets.size === 0) lag.enable();
    sockets.add(socket);
    socket.setNoDelay(!config.nagle);
    const framer = new Framer(config.msgSize, config.workEvery);
    let echoed = 0;
    let error = null;
    let busy = false;
    let ended = false;

    const resume = () => { if (!busy && !socket.writableNeedDrain) socket.resume(); };
    const echo = (chunk) => {
      echoed += chunk.length;
      if (!socket.write(chunk)) {
        socket.pause(); // The peer is not reading: stop reading it until it does.
        socket.once('drain', resume);
      }
    };
    socket.on('data', (chunk) => {
      const due = work ? framer.received(chunk.length) : 0;
      if (due === 0) { echo(chunk); return; }
      let waiting = null;
      try {
        for (let i = 0; i < due; i++) {
          waiting = waiting ? waiting.then(work) : work();
        }
      } catch (e) {
        socket.destroy(e);
        return;
      }
      if (!waiting) { echo(chunk); return; } // Synchronous work, done on the loop.
      busy = true;
      socket.pause();
      waiting.then(() => {
        busy = false;
        if (socket.destroyed) return;
        echo(chunk);
        if (ended) socket.end(); else resume();
      }, (e) => socket.destroy(e));
    });
    // The peer has finished sending: finish the echo, then close (allowHalfOpen).
    socket.on('end', () => { ended = true; if (!busy) socket.end(); });
    socket.on('error', (e) => { error = e; });
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) lag.disable();
      stats.closed++;
      stats.bytes_echoed += echoed;
      if (error && ['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(error.code)) {
        stats.resets_by_peer++; // The peer's doing, counted apart as the Rust servers do.
      } else if (error) {
        stats.errors++;
      }
      if (stopping && sockets.size === 0) finish();
    });
  }

  const server = net.createServer({ allowHalfOpen: true, noDelay: !config.nagle }, onConnection);
  server.maxConnections = config.maxConnections;
  server.on('drop', (peer) => {
    stats.refused++;
    // Logged at 1, 2, 4, 8, ... so a flood of refusals cannot flood the log.
    if ((stats.refused & (stats.refused - 1)) === 0) {
      process.stderr.write(`connection limit of ${config.maxConnections} reached: closed the new ` +
        `connection from ${peer.remoteAddress}:${peer.remotePort} (${stats.refused} turned away so ` +
        'far; raise --max-connections to allow more)\n');
    }
  });
  server.on('error', (e) => {
    process.stderr.write(`echo-node: error: cannot listen on ${config.host}:${config.port}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen({ host: config.host, port: config.port, backlog: config.backlog }, () => {
    const { address, port } = server.address();
    process.stdout.write(`listening on ${net.isIPv6(address) ? `[${address}]` : address}:${port}\n`);
  });

  // Shutdown: stop accepting, close every connection, report.
  let printed = false;
  function printSummary() {
    if (printed) return;
    printed = true;
    lag.disable();
    const lagNs = (ns) => Math.max(0, Math.round(ns - LAG_PERIOD_MS * 1e6)); // Node adds the period.
    const samples = lag.count;
    const summary = {
      target: TARGET, ...stats,
      loop_lag_ns: {
        samples, mean: samples ? lagNs(lag.mean) : 0, p50: samples ? lagNs(lag.percentile(50)) : 0,
        p99: samples ? lagNs(lag.percentile(99)) : 0, p999: samples ? lagNs(lag.percentile(99.9)) : 0,
        max: samples ? lagNs(lag.max) : 0,
      },
      runtime: `node ${process.version}, libuv ${process.versions.uv}, V8 ${process.versions.v8}`,
    };
    fs.writeSync(1, JSON.stringify(summary) + '\n');
  }
  function finish() {
    printSummary();
    if (dataFile) fs.rmSync(dataFile, { force: true });
    if (database) {
      database.close();
      fs.rmSync(database.path, { force: true });
    }
    process.exit(0);
  }
  function onSignal(signal) {
    if (stopping) {
      process.stderr.write('second signal: exiting without waiting for connections to close\n');
      process.exit(128 + os.constants.signals[signal]);
    }
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`${sockets.size} connections still open ${SHUTDOWN_GRACE_MS / 1000}s ` +
        'after the shutdown signal; exiting anyway\n');
      finish();
    }, SHUTDOWN_GRACE_MS).unref();
    server.close();
    if (pool) pool.close();
    for (const socket of sockets) socket.destroy();
    if (sockets.size === 0) finish();
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main();
