// The multi-process Probot of bench/webhooks.py, with node's cluster module (as a Node
// deployment fills the cores). The primary forks WORKERS workers; each runs the same
// Probot server as the one-process row (`probot run ./app.js`: the no-op app, the same
// environment) and listens on the same PORT. The primary serves nothing: it owns the
// listening socket and hands each accepted connection to a worker in turn (cluster's
// default round-robin scheduling on Linux).
//
//   node probot_cluster.mjs WORKERS PROBOT_BIN run ./app.js     (cwd: the probot install)
//
// It prints "probot-cluster: N workers listening" once every worker listens (the bench
// waits for that line). If a worker dies, the primary stops the others and exits 1, so
// the bench sees the server die; SIGTERM or SIGINT stops every worker, then the primary.
import cluster from "node:cluster";

const [workersArg, exec, ...args] = process.argv.slice(2);
const workers = Number.parseInt(workersArg ?? "", 10);
if (!(workers >= 1) || !exec) {
  console.error("usage: node probot_cluster.mjs WORKERS PROBOT_BIN [ARGS...]");
  process.exit(2);
}

cluster.setupPrimary({ exec, args });

let stopping = false;
let exitCode = 0;
let listening = 0;
let alive = 0; // forked workers that have not exited (cluster.workers lags behind "exit")

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const worker of Object.values(cluster.workers)) {
    if (worker.process.exitCode === null && worker.process.signalCode === null) {
      worker.process.kill("SIGTERM");
    }
  }
  if (alive === 0) process.exit(exitCode);
}

cluster.on("listening", () => {
  listening += 1;
  if (listening === workers) console.log(`probot-cluster: ${workers} workers listening`);
});

cluster.on("exit", (worker, code, signal) => {
  if (!stopping) {
    console.error(`probot-cluster: worker ${worker.process.pid} exited (${signal ?? code})`);
    stopAll(1);
  }
  alive -= 1;
  if (alive === 0) process.exit(exitCode);
});

process.on("SIGTERM", () => stopAll(0));
process.on("SIGINT", () => stopAll(0));

for (let i = 0; i < workers; i++) {
  cluster.fork();
  alive += 1;
}
